package io.jpipe.internal.io;

import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.ValueLayout;

/** Creating kernel pipes and socket pairs, always close-on-exec. */
public final class Fds {
  private Fds() {}

  /**
   * {@code socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)}.
   *
   * @return the two connected sockets
   * @throws IOException if the kernel refuses (EMFILE...)
   */
  public static int[] socketpair() throws IOException {
    Scratch s = Scratch.get();
    int r =
        Libc.socketpair(s.errno, Linux.AF_UNIX, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC, 0, s.small);
    if (r != 0) {
      throw Errno.exception("socketpair", Native.errno(s.errno));
    }
    return new int[] {
      s.small.getAtIndex(ValueLayout.JAVA_INT, 0), s.small.getAtIndex(ValueLayout.JAVA_INT, 1)
    };
  }

  /**
   * {@code pipe2(O_CLOEXEC)}.
   *
   * @return the read end, then the write end
   * @throws IOException if the kernel refuses
   */
  public static int[] pipe() throws IOException {
    Scratch s = Scratch.get();
    if (Libc.pipe2(s.errno, s.small, Linux.O_CLOEXEC) != 0) {
      throw Errno.exception("pipe2", Native.errno(s.errno));
    }
    return new int[] {
      s.small.getAtIndex(ValueLayout.JAVA_INT, 0), s.small.getAtIndex(ValueLayout.JAVA_INT, 1)
    };
  }

  /**
   * Duplicates a descriptor, close-on-exec.
   *
   * @param fd the descriptor
   * @return the copy
   * @throws IOException if the kernel refuses
   */
  public static int dupCloexec(int fd) throws IOException {
    Scratch s = Scratch.get();
    int copy = Libc.fcntl(s.errno, fd, Linux.F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      throw Errno.exception("fcntl F_DUPFD_CLOEXEC", Native.errno(s.errno));
    }
    return copy;
  }

  /**
   * Closes a channel whose close cannot fail.
   *
   * @param channel the channel
   */
  public static void closeQuietly(FdChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      throw new IllegalStateException(e); // implCloseChannel throws nothing
    }
  }

  /**
   * Closes a descriptor that no channel owns yet (error paths); errors are ignored.
   *
   * @param fd the descriptor, or -1 for none
   */
  public static void closeQuietly(int fd) {
    if (fd >= 0) {
      Libc.close(Scratch.get().errno, fd);
    }
  }
}
