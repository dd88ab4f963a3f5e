package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * The message received by {@code recvBytesInto} did not fit in the space left in the caller's
 * buffer (CPython's {@code BufferTooShort}). The message has been consumed, so the stream stays in
 * step, and this exception carries all of it: {@link #message()}.
 */
public class BufferTooShortException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /** The whole message. */
  private final byte[] message;

  /**
   * Creates the exception.
   *
   * @param message the whole message that was received (not copied)
   * @param space the bytes that were available in the caller's buffer
   */
  public BufferTooShortException(byte[] message, long space) {
    super("message of " + message.length + " bytes does not fit in " + space + " bytes");
    this.message = message;
  }

  /**
   * The whole message that did not fit (the array itself, not a copy).
   *
   * @return the message
   */
  public byte[] message() {
    return message;
  }
}
