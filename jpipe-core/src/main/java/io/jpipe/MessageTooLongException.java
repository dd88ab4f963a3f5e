package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * A message header announced more bytes than the receiver accepts: more than the {@code maxLength}
 * given to {@code recvBytes}, or more than fits in the requested kind of buffer (CPython's {@code
 * OSError('bad message length')}).
 *
 * <p>The body was not read, so the byte stream is no longer at a message boundary. As in CPython,
 * the end stops being readable: a duplex end can still send ({@link Connection#isReadable()} turns
 * false), a receive-only end is closed.
 */
public class MessageTooLongException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /** The announced length. */
  private final long length;

  /** The acceptable limit. */
  private final long limit;

  /**
   * Creates the exception.
   *
   * @param length the length the header announced
   * @param limit the largest length that was acceptable
   */
  public MessageTooLongException(long length, long limit) {
    this(
        "bad message length: header announces " + length + " bytes, limit is " + limit,
        length,
        limit);
  }

  /**
   * Creates the exception with a message of your own.
   *
   * @param message what happened
   * @param length the length the header announced
   * @param limit the largest length that was acceptable
   */
  public MessageTooLongException(String message, long length, long limit) {
    super(message);
    this.length = length;
    this.limit = limit;
  }

  /**
   * The length the header announced.
   *
   * @return the announced length in bytes
   */
  public long length() {
    return length;
  }

  /**
   * The largest length that was acceptable.
   *
   * @return the limit in bytes
   */
  public long limit() {
    return limit;
  }
}
