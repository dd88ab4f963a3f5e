package io.jpipe.internal.net;

import io.jpipe.ProtocolException;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.shm.ShmEnd;
import java.io.IOException;
import java.net.SocketTimeoutException;

/**
 * Switching a Unix-socket connection between two jpipe processes to shared memory, once both have
 * shown in the authentication handshake that they want it ({@link Handshake#SHM_MARK}).
 *
 * <pre>
 * (handshake: both challenges carry the mark, both sides authenticated)
 * listener -&gt; client   one byte 'S' + SCM_RIGHTS [socket of end 1, memfd]   upgrade
 *                   or one byte 'P', no descriptors                           stay on the wire
 * </pre>
 *
 * The listener makes a new shared-memory pipe, keeps end 0 and passes end 1; both sides then close
 * the Unix socket, so the pipe's own socketpair carries the connection's lifetime: end of file when
 * every copy of the other end is closed (a client that dies before it takes the descriptors drops
 * them, which closes them). Nothing here is ever sent to a peer that did not mark its challenge, so
 * a CPython peer sees CPython's wire only.
 */
public final class ShmUpgrade {
  private ShmUpgrade() {}

  private static final byte UPGRADE = 'S';
  private static final byte PLAIN = 'P';

  /**
   * The log2 of a ring capacity, as a mark carries it: the capacity rounded up to a power of two
   * between 4 KiB and 1 GiB.
   *
   * @param capacity requested bytes per ring, 1..1 GiB
   * @return the log2, {@value Handshake#SHM_MIN_LOG2}..{@value Handshake#SHM_MAX_LOG2}
   * @throws IllegalArgumentException if the capacity is out of range
   */
  public static int log2(long capacity) {
    if (capacity <= 0 || capacity > 1L << Handshake.SHM_MAX_LOG2) {
      throw new IllegalArgumentException(
          "shared memory capacity must be in 1.."
              + (1L << Handshake.SHM_MAX_LOG2)
              + ": "
              + capacity);
    }
    long c = Math.max(1L << Handshake.SHM_MIN_LOG2, capacity);
    return 64 - Long.numberOfLeadingZeros(c - 1);
  }

  /**
   * The listener's side: makes a pipe with rings of {@code 2^log2} bytes and passes its end 1 to
   * the client. If the pipe cannot be made (no memory, no descriptors), tells the client to stay on
   * the wire and returns null. The caller closes {@code ch} after a non-null return.
   *
   * @param ch the accepted, authenticated socket (a use count held by the caller)
   * @param log2 the ring capacity's log2
   * @return end 0 of the new pipe, or null to stay on {@code ch}
   * @throws IOException if the socket fails (the connection is then lost either way)
   */
  public static ShmEnd offer(FdChannel ch, int log2) throws IOException {
    ShmEnd[] ends;
    try {
      ends = ShmEnd.openPair(true, 1L << log2);
    } catch (IOException | RuntimeException e) {
      FdPassing.send(ch, PLAIN, new int[0]);
      return null;
    }
    boolean sent = false;
    try {
      FdPassing.send(ch, UPGRADE, new int[] {ends[1].channel().fd(), ends[1].memfd().fd()});
      sent = true;
      return ends[0];
    } finally {
      ends[1].close(); // the client has its copies (or none: then end 0 sees end of file)
      if (!sent) {
        ends[0].close();
      }
    }
  }

  /**
   * The client's side: waits for the listener's answer.
   *
   * @param ch the connected, authenticated socket (a use count held by the caller)
   * @param deadline a {@link System#nanoTime} deadline
   * @return end 1 of the pipe, or null to stay on {@code ch}
   * @throws IOException on end of file, timeout or a malformed answer
   */
  public static ShmEnd take(FdChannel ch, long deadline) throws IOException {
    Scratch s = Scratch.get();
    if (!ch.readyNow(s, Linux.POLLIN) && !ch.await(s, Linux.POLLIN, deadline)) {
      throw new SocketTimeoutException("timed out waiting for the shared-memory answer");
    }
    int[] fds = FdPassing.receive(ch.fd());
    if (fds.length == 0) {
      return null;
    }
    if (fds.length != 2) {
      for (int fd : fds) {
        Fds.closeQuietly(fd);
      }
      throw new ProtocolException(
          "shared-memory upgrade: expected 2 descriptors, got " + fds.length);
    }
    return ShmEnd.attach(fds[0], fds[1], 1, true, true); // takes both, closes both if it fails
  }
}
