package io.jpipe.internal.posix;

import java.io.IOException;
import java.io.Serial;

/** An {@link IOException} from a libc call that failed, carrying its errno. */
public final class ErrnoException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  private final int errno;

  /**
   * Creates the exception.
   *
   * @param message what failed and why
   * @param errno the error number
   */
  public ErrnoException(String message, int errno) {
    super(message);
    this.errno = errno;
  }

  /**
   * The errno of the failed call.
   *
   * @return the errno
   */
  public int errno() {
    return errno;
  }
}
