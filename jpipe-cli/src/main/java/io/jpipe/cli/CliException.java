package io.jpipe.cli;

import java.io.Serial;

/**
 * A failure the user can act on, such as a key file that others may read: the command prints its
 * message as one line on stderr, after the command's name, and exits with status 1.
 */
final class CliException extends Exception {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message the one line to print
   */
  CliException(String message) {
    super(message);
  }

  /**
   * Creates the exception with a cause.
   *
   * @param message the one line to print
   * @param cause what went wrong underneath
   */
  CliException(String message, Throwable cause) {
    super(message, cause);
  }
}
