package io.jpipe.cli;

import io.jpipe.Connection;
import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * {@code shutdown(fd, SHUT_WR)} on a connection's socket: tells the peer that nothing more will be
 * sent (it reads end of file) while this end can still receive. {@code send} uses it to learn,
 * without guessing at timing, whether the server answered with an authentication challenge.
 */
final class HalfClose {
  private HalfClose() {}

  private static final int SHUT_WR = 1;

  private static final class Holder {
    static final MethodHandle SHUTDOWN = link();

    @SuppressWarnings("restricted")
    private static MethodHandle link() {
      Linker linker = Linker.nativeLinker();
      return linker.downcallHandle(
          linker
              .defaultLookup()
              .find("shutdown")
              .orElseThrow(() -> new UnsatisfiedLinkError("libc has no shutdown()")),
          FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }
  }

  /**
   * Shuts down the sending side of the connection's socket.
   *
   * @param conn a connection over a socket
   * @return true if done; false if the socket refused (for example, the peer already reset it)
   * @throws IOException if the connection is closed
   */
  static boolean shutdownOutput(Connection conn) throws IOException {
    int fd = conn.fileno();
    try {
      return (int) Holder.SHUTDOWN.invokeExact(fd, SHUT_WR) == 0;
    } catch (Error | RuntimeException e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t); // invokeExact declares Throwable; shutdown throws none
    }
  }
}
