package io.jpipe.internal.posix;

import io.jpipe.BrokenPipeException;
import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.SocketException;
import java.util.Map;

/**
 * Turns an errno into the exception callers see: the one place where errno is translated.
 *
 * <p>The mapping follows the JDK: EPIPE is a {@link BrokenPipeException}, ECONNRESET a {@link
 * SocketException}, EADDRINUSE a {@link BindException}, ECONNREFUSED a {@link ConnectException};
 * anything else an {@link ErrnoException} naming the call and the error.
 */
public final class Errno {
  private Errno() {}

  private static final Map<Integer, String> NAMES =
      Map.ofEntries(
          Map.entry(Linux.EPERM, "EPERM"),
          Map.entry(Linux.ENOENT, "ENOENT"),
          Map.entry(Linux.ESRCH, "ESRCH"),
          Map.entry(Linux.EINTR, "EINTR"),
          Map.entry(Linux.EBADF, "EBADF"),
          Map.entry(Linux.ECHILD, "ECHILD"),
          Map.entry(Linux.EAGAIN, "EAGAIN"),
          Map.entry(Linux.ENOMEM, "ENOMEM"),
          Map.entry(Linux.EACCES, "EACCES"),
          Map.entry(Linux.EBUSY, "EBUSY"),
          Map.entry(Linux.EINVAL, "EINVAL"),
          Map.entry(Linux.EMFILE, "EMFILE"),
          Map.entry(Linux.EPIPE, "EPIPE"),
          Map.entry(Linux.EDEADLK, "EDEADLK"),
          Map.entry(Linux.ENOSYS, "ENOSYS"),
          Map.entry(Linux.ENOTSOCK, "ENOTSOCK"),
          Map.entry(Linux.EOPNOTSUPP, "EOPNOTSUPP"),
          Map.entry(Linux.EADDRINUSE, "EADDRINUSE"),
          Map.entry(Linux.EADDRNOTAVAIL, "EADDRNOTAVAIL"),
          Map.entry(Linux.ENETUNREACH, "ENETUNREACH"),
          Map.entry(Linux.ECONNRESET, "ECONNRESET"),
          Map.entry(Linux.ENOTCONN, "ENOTCONN"),
          Map.entry(Linux.ETIMEDOUT, "ETIMEDOUT"),
          Map.entry(Linux.ECONNREFUSED, "ECONNREFUSED"),
          Map.entry(Linux.EHOSTUNREACH, "EHOSTUNREACH"),
          Map.entry(Linux.EALREADY, "EALREADY"),
          Map.entry(Linux.EINPROGRESS, "EINPROGRESS"),
          Map.entry(Linux.EOWNERDEAD, "EOWNERDEAD"),
          Map.entry(Linux.ENOTRECOVERABLE, "ENOTRECOVERABLE"));

  /**
   * The symbolic name of an errno, such as {@code "EPIPE"}.
   *
   * @param errno the value
   * @return its name, or {@code "errno N"}
   */
  public static String name(int errno) {
    String name = NAMES.get(errno);
    return name != null ? name : "errno " + errno;
  }

  /**
   * The message for a failed call: {@code "write: Broken pipe (EPIPE)"}.
   *
   * @param call what failed
   * @param errno the error
   * @return the message
   */
  public static String message(String call, int errno) {
    return call + ": " + Libc.strerror(errno) + " (" + name(errno) + ")";
  }

  /**
   * The exception for a call that failed with {@code errno}.
   *
   * @param call what failed, such as {@code "write"} or {@code "connect /tmp/x"}
   * @param errno the error
   * @return the exception to throw
   */
  public static IOException exception(String call, int errno) {
    String message = message(call, errno);
    return switch (errno) {
      case Linux.EPIPE -> new BrokenPipeException(message);
      case Linux.ECONNRESET, Linux.ENOTCONN -> new SocketException(message);
      case Linux.EADDRINUSE, Linux.EADDRNOTAVAIL -> new BindException(message);
      case Linux.ECONNREFUSED, Linux.ENETUNREACH, Linux.EHOSTUNREACH, Linux.ETIMEDOUT ->
          new ConnectException(message);
      default -> new ErrnoException(message, errno);
    };
  }
}
