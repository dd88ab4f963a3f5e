package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * The bytes on the wire are not a valid message stream, such as a negative length in a header
 * (CPython silently returns an empty message for those; jpipe refuses them).
 *
 * <p>As after {@link MessageTooLongException}, the end stops being readable: the stream cannot be
 * brought back to a message boundary.
 */
public class ProtocolException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what was wrong
   */
  public ProtocolException(String message) {
    super(message);
  }
}
