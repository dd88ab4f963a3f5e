package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * A send failed because every copy of the peer's end is closed, in every process (EPIPE; CPython's
 * {@code BrokenPipeError}). Nothing more can be sent on this end; messages already received are
 * still readable on the other direction of a duplex end.
 */
public class BrokenPipeException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what failed
   */
  public BrokenPipeException(String message) {
    super(message);
  }
}
