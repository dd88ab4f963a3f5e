package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessStartException;
import io.jpipe.internal.posix.Linux;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The start handshake, both sides: how {@code ChildProcess.start()} learns that its child runs.
 *
 * <p>Once a child JVM has decoded its task, and before it runs it, it sends one message on its
 * status channel (a pipe for a spawned child, its socket for a warm spare) and closes it: empty
 * when it is ready, its stack trace when it cannot decode the task. If its JVM dies first, the
 * parent reads end of file. The parent waits for that message, up to the start timeout: ready
 * returns; an error, end of file, a garbled message or the timeout are a {@link
 * ProcessStartException}, thrown only once the child has exited (killed if need be), so that it has
 * an exit code.
 */
public final class StartHandshake {
  private StartHandshake() {}

  // ---------------------------------------------------------------- the parent's side

  /**
   * Waits for the child's answer; closes its status channel.
   *
   * @param launched the child
   * @param name its process name, for messages
   * @param timeout the start timeout
   * @throws ProcessStartException if the child does not start; it has exited then
   * @throws IOException if waiting on the status channel fails (an interrupt, say): the child may
   *     still run
   */
  public static void await(Launcher.Launched launched, String name, Duration timeout)
      throws IOException {
    ChildHandle child = launched.child();
    try (Connection status = launched.status()) {
      if (!status.poll(timeout)) {
        child.signal(Linux.SIGKILL);
        throw new ProcessStartException(
            name + ": the child JVM did not start within " + timeout + "; killed it",
            child.awaitExit());
      }
      byte[] message;
      try {
        message = status.recvBytes();
      } catch (EOFException | SocketException e) {
        // End of file, or a reset: the child's JVM died before running its target.
        int code = child.awaitExit();
        throw new ProcessStartException(
            name
                + ": the child JVM exited with code "
                + code
                + " before running its target (its stderr says why)",
            code);
      } catch (IOException e) {
        // A garbled status message: whatever that child is, it must not run on.
        child.signal(Linux.SIGKILL);
        throw new ProcessStartException(
            name + ": the child JVM sent a bad start status (" + e + "); killed it",
            child.awaitExit());
      }
      if (message.length > 0) {
        throw new ProcessStartException(
            name
                + ": the child JVM could not decode its task:\n"
                + new String(message, StandardCharsets.UTF_8),
            child.awaitExit());
      }
    }
  }

  // ---------------------------------------------------------------- the child's side

  /**
   * A spawned child's answer, written through a stream on {@code /proc/self/fd} (no native call is
   * linked for it), framed as every jpipe message: 4-byte big-endian length, payload.
   *
   * @param status the status pipe
   * @param failure why the task cannot run, or null when the child is ready
   * @throws IOException if the pipe cannot be written (the parent is gone)
   */
  static void answer(OutputStream status, Throwable failure) throws IOException {
    byte[] payload = message(failure);
    int n = payload.length;
    status.write(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
    status.write(payload);
    status.flush();
  }

  /**
   * A warm spare's answer, on the socket it was given its task on.
   *
   * @param ctl the spare's socket
   * @param failure why the task cannot run, or null when the child is ready
   * @throws IOException if the socket cannot be written (the parent is gone)
   */
  static void answer(Connection ctl, Throwable failure) throws IOException {
    ctl.sendBytes(message(failure));
  }

  private static byte[] message(Throwable failure) {
    if (failure == null) {
      return new byte[0];
    }
    StringWriter trace = new StringWriter();
    failure.printStackTrace(new PrintWriter(trace));
    return trace.toString().getBytes(StandardCharsets.UTF_8);
  }
}
