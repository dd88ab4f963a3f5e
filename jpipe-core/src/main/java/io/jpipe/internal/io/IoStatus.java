package io.jpipe.internal.io;

import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * What a system call's result means, in one place (the JDK's {@code IOStatus} tier): a count, "not
 * now" ({@code EAGAIN}), "call again" ({@code EINTR}), or an error, thrown as the exception {@link
 * Errno} picks.
 */
public final class IoStatus {
  private IoStatus() {}

  /** Nothing can be done now ({@code EAGAIN}/{@code EWOULDBLOCK}): wait, then try again. */
  public static final long UNAVAILABLE = -1;

  /** A signal interrupted the call ({@code EINTR}): call again at once. */
  public static final long INTERRUPTED = -2;

  /**
   * Interprets a non-blocking call's result.
   *
   * @param r what the call returned
   * @param errno the call's errno capture
   * @param call the call's name, for the exception
   * @return {@code r} if it is not negative, else {@link #UNAVAILABLE} or {@link #INTERRUPTED}
   * @throws IOException for any other error
   */
  public static long of(long r, MemorySegment errno, String call) throws IOException {
    if (r >= 0) {
      return r;
    }
    int e = Native.errno(errno);
    if (e == Linux.EAGAIN) {
      return UNAVAILABLE;
    }
    if (e == Linux.EINTR) {
      return INTERRUPTED;
    }
    throw Errno.exception(call, e);
  }

  /**
   * Interprets the result of a call that cannot say {@code EAGAIN}: the result, or {@link
   * #INTERRUPTED}.
   *
   * @param r what the call returned
   * @param errno the call's errno capture
   * @param call the call's name, for the exception
   * @return {@code r} if it is not negative, else {@link #INTERRUPTED}
   * @throws IOException for any error but {@code EINTR}
   */
  public static int check(int r, MemorySegment errno, String call) throws IOException {
    if (r >= 0) {
      return r;
    }
    int e = Native.errno(errno);
    if (e == Linux.EINTR) {
      return (int) INTERRUPTED;
    }
    throw Errno.exception(call, e);
  }
}
