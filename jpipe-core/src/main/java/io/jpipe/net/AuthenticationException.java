package io.jpipe.net;

import java.io.IOException;
import java.io.Serial;

/**
 * The authentication handshake of a {@link Listener} or {@link Client} failed (CPython's {@code
 * AuthenticationError}): the keys differ, the peer spoke something else, went silent past the
 * handshake timeout, or closed halfway. The connection is closed and nothing was decoded from it.
 * The cause, if any, tells which ({@link java.net.SocketTimeoutException}, {@link
 * java.io.EOFException}...).
 */
public class AuthenticationException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what failed
   */
  public AuthenticationException(String message) {
    super(message);
  }

  /**
   * Creates the exception with a cause.
   *
   * @param message what failed
   * @param cause why
   */
  public AuthenticationException(String message, Throwable cause) {
    super(message, cause);
  }
}
