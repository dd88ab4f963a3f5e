package io.jpipe.codec;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Turns the objects given to {@code Connection.send} into message bytes and back (CPython's
 * pickling step). One codec instance serves many threads at once.
 *
 * <p>The default is {@link JavaSerializationCodec}. The {@code jpipe-pickle} module has a codec
 * that speaks Python's pickle, for talking to CPython processes.
 */
public interface Codec {
  /**
   * Writes the encoding of {@code value} to {@code out}, an in-memory buffer. If this throws, the
   * buffer is discarded and nothing is sent.
   *
   * @param value the object to encode (may be null if the codec allows it)
   * @param out where the encoding goes
   * @throws IOException if the value cannot be encoded, such as {@link
   *     java.io.NotSerializableException}
   */
  void encode(Object value, OutputStream out) throws IOException;

  /**
   * Decodes one whole message.
   *
   * <p>The array is the connection's receive buffer and is reused for the next message as soon as
   * this returns: a codec must copy what it keeps and never return or retain the array itself (or a
   * view of it, such as a {@link java.nio.ByteBuffer#wrap wrapping} buffer).
   *
   * @param message the array holding the message
   * @param offset where the message starts
   * @param length the message's length in bytes (may be 0)
   * @return the decoded object
   * @throws IOException if the bytes are not a valid encoding, or decoding is refused (for example
   *     {@link java.io.InvalidClassException} from a filter, or {@link DecodeLimitException} for a
   *     message over the codec's {@link DecodeLimits}); never an {@link Error} for what a peer sent
   */
  Object decode(byte[] message, int offset, int length) throws IOException;

  /**
   * The default codec: Java serialization of any class on the class path, behind the default {@link
   * DecodeLimits} (see {@link JavaSerializationCodec}).
   *
   * @return the shared default codec
   */
  static Codec javaSerialization() {
    return JavaSerializationCodec.DEFAULT;
  }
}
