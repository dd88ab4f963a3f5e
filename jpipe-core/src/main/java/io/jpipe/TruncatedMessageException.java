package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * End of file arrived inside a message: the peer closed (or died) after sending part of a header or
 * part of a body (CPython's {@code OSError('got end of file during message')}). Compare {@link
 * java.io.EOFException}, which means the peer closed at a message boundary.
 *
 * <p>Unlike CPython, a complete header followed by end of file is also a truncated message, not a
 * clean end of file: the peer announced a message it never sent.
 */
public class TruncatedMessageException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param expected the bytes the header or body should have had
   * @param received the bytes that arrived before end of file
   * @param what {@code "header"} or {@code "body"}
   */
  public TruncatedMessageException(long expected, long received, String what) {
    super(
        "got end of file during message: "
            + what
            + " has "
            + received
            + " of "
            + expected
            + " bytes");
  }
}
