package io.jpipe.internal.io;

import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Passing descriptors over a Unix socket ({@code SCM_RIGHTS}): one marker byte carries them.
 *
 * <pre>
 * struct cmsghdr {        // 16 bytes on 64-bit Linux, then the data
 *   size_t cmsg_len;      // 0: CMSG_LEN(4 * n) = 16 + 4n
 *   int    cmsg_level;    // 8: SOL_SOCKET
 *   int    cmsg_type;     // 12: SCM_RIGHTS
 *   int    fds[n];        // 16
 * };
 * </pre>
 */
public final class FdPassing {
  private FdPassing() {}

  /** The kernel's limit per message (SCM_MAX_FD). */
  public static final int MAX_FDS = 253;

  private static final long CMSG_HEADER = 16;

  private static long space(int n) {
    return CMSG_HEADER + ((4L * n + 7) & ~7L);
  }

  /**
   * Sends one marker byte with {@code fds} attached. The caller holds a use count on {@code ch}.
   *
   * @param ch a connected Unix socket
   * @param marker the byte
   * @param fds descriptors to pass (copies arrive in the receiver)
   * @throws IOException if sending fails
   */
  public static void send(FdChannel ch, byte marker, int[] fds) throws IOException {
    if (fds.length > MAX_FDS) {
      throw new IOException("too many descriptors to pass: " + fds.length + " > " + MAX_FDS);
    }
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment data = arena.allocateFrom(ValueLayout.JAVA_BYTE, marker);
      MemorySegment iov = arena.allocate(Linux.IOVEC);
      iov.set(ValueLayout.ADDRESS, Linux.IOVEC_BASE, data);
      iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_LEN, 1);
      MemorySegment msg = arena.allocate(Linux.MSGHDR);
      msg.set(ValueLayout.ADDRESS, Linux.MSGHDR_IOV, iov);
      msg.set(ValueLayout.JAVA_LONG, Linux.MSGHDR_IOVLEN, 1);
      if (fds.length > 0) {
        MemorySegment control = arena.allocate(space(fds.length), 8);
        control.set(ValueLayout.JAVA_LONG, 0, CMSG_HEADER + 4L * fds.length);
        control.set(ValueLayout.JAVA_INT, 8, Linux.SOL_SOCKET);
        control.set(ValueLayout.JAVA_INT, 12, Linux.SCM_RIGHTS);
        for (int i = 0; i < fds.length; i++) {
          control.set(ValueLayout.JAVA_INT, CMSG_HEADER + 4L * i, fds[i]);
        }
        msg.set(ValueLayout.ADDRESS, Linux.MSGHDR_CONTROL, control);
        msg.set(ValueLayout.JAVA_LONG, Linux.MSGHDR_CONTROLLEN, control.byteSize());
      }
      for (; ; ) {
        long r =
            IoStatus.of(
                Libc.sendmsgNonBlocking(
                    s.errno, ch.fd(), msg, Linux.MSG_DONTWAIT | Linux.MSG_NOSIGNAL),
                s.errno,
                "sendmsg SCM_RIGHTS");
        if (r == 1) {
          return;
        }
        if (r == IoStatus.UNAVAILABLE) {
          ch.await(s, Linux.POLLOUT, FdChannel.NO_DEADLINE);
        }
      }
    }
  }

  /**
   * Waits for one marker byte and the descriptors attached to it (blocking; close-on-exec).
   *
   * @param fd a connected Unix socket
   * @return the descriptors received (possibly none)
   * @throws EOFException if the peer closed instead
   * @throws IOException if receiving fails or descriptors were cut off
   */
  public static int[] receive(int fd) throws IOException {
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment data = arena.allocate(1);
      MemorySegment iov = arena.allocate(Linux.IOVEC);
      iov.set(ValueLayout.ADDRESS, Linux.IOVEC_BASE, data);
      iov.set(ValueLayout.JAVA_LONG, Linux.IOVEC_LEN, 1);
      MemorySegment control = arena.allocate(space(MAX_FDS), 8);
      MemorySegment msg = arena.allocate(Linux.MSGHDR);
      msg.set(ValueLayout.ADDRESS, Linux.MSGHDR_IOV, iov);
      msg.set(ValueLayout.JAVA_LONG, Linux.MSGHDR_IOVLEN, 1);
      msg.set(ValueLayout.ADDRESS, Linux.MSGHDR_CONTROL, control);
      msg.set(ValueLayout.JAVA_LONG, Linux.MSGHDR_CONTROLLEN, control.byteSize());
      long r;
      do {
        r =
            IoStatus.of(
                Libc.recvmsg(s.errno, fd, msg, Linux.MSG_CMSG_CLOEXEC),
                s.errno,
                "recvmsg SCM_RIGHTS");
      } while (r < 0); // EINTR (a blocking socket never says EAGAIN)
      if (r == 0) {
        throw new EOFException("the peer closed before passing descriptors");
      }
      long controlLength = msg.get(ValueLayout.JAVA_LONG, Linux.MSGHDR_CONTROLLEN);
      int flags = msg.get(ValueLayout.JAVA_INT, Linux.MSGHDR_FLAGS);
      int[] fds = new int[0];
      long at = 0;
      while (at + CMSG_HEADER <= controlLength) {
        long len = control.get(ValueLayout.JAVA_LONG, at);
        int level = control.get(ValueLayout.JAVA_INT, at + 8);
        int type = control.get(ValueLayout.JAVA_INT, at + 12);
        if (len < CMSG_HEADER) {
          break;
        }
        if (level == Linux.SOL_SOCKET && type == Linux.SCM_RIGHTS) {
          int n = (int) ((len - CMSG_HEADER) / 4);
          int[] more = new int[fds.length + n];
          System.arraycopy(fds, 0, more, 0, fds.length);
          for (int i = 0; i < n; i++) {
            more[fds.length + i] = control.get(ValueLayout.JAVA_INT, at + CMSG_HEADER + 4L * i);
          }
          fds = more;
        }
        at += (len + 7) & ~7L;
      }
      if ((flags & Linux.MSG_CTRUNC) != 0) {
        for (int f : fds) {
          Fds.closeQuietly(f);
        }
        throw new IOException("descriptors were cut off (MSG_CTRUNC)");
      }
      return fds;
    }
  }
}
