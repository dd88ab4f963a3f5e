package io.jpipe.internal.io;

import java.io.OutputStream;
import java.util.Arrays;

/**
 * A growable in-memory frame that codecs encode into: the first 4 bytes are left free for the
 * length header, so the frame is sent without another copy. Each thread reuses one buffer; a buffer
 * that grew past {@link #RETAINED} is dropped after use rather than kept.
 */
public final class FrameBuffer extends OutputStream {
  /** Largest buffer kept for reuse between messages. */
  static final int RETAINED = 1 << 20;

  private static final ThreadLocal<FrameBuffer> CURRENT = ThreadLocal.withInitial(FrameBuffer::new);

  private byte[] buf = new byte[256];
  private int count;
  private boolean inUse;

  private FrameBuffer() {}

  /**
   * The calling thread's buffer, emptied, with the header space reserved. Returns a fresh buffer if
   * the thread's own one is in use (a codec that sends from inside {@code encode}).
   *
   * @return an empty frame buffer; give it back with {@link #release}
   */
  public static FrameBuffer acquire() {
    FrameBuffer b = CURRENT.get();
    if (b.inUse) {
      b = new FrameBuffer();
    }
    b.inUse = true;
    b.count = 4;
    return b;
  }

  /** Ends the use begun by {@link #acquire}. */
  public void release() {
    inUse = false;
    if (buf.length > RETAINED) {
      buf = new byte[256];
    }
  }

  /**
   * The frame so far: header space then payload.
   *
   * @return the backing array (not a copy)
   */
  public byte[] array() {
    return buf;
  }

  /**
   * Header plus payload bytes written so far.
   *
   * @return the frame length
   */
  public int frameLength() {
    return count;
  }

  /**
   * Payload bytes written so far.
   *
   * @return the payload length
   */
  public int payloadLength() {
    return count - 4;
  }

  private void ensure(int extra) {
    int need = count + extra;
    if (need < 0 || need > Frames.MAX_ARRAY_LENGTH) {
      throw new OutOfMemoryError("encoded object exceeds " + Frames.MAX_ARRAY_LENGTH + " bytes");
    }
    if (need > buf.length) {
      int grown = (int) Math.min(Frames.MAX_ARRAY_LENGTH, Math.max(need, 2L * buf.length));
      buf = Arrays.copyOf(buf, grown);
    }
  }

  @Override
  public void write(int b) {
    ensure(1);
    buf[count++] = (byte) b;
  }

  @Override
  public void write(byte[] b, int off, int len) {
    java.util.Objects.checkFromIndexSize(off, len, b.length);
    ensure(len);
    System.arraycopy(b, off, buf, count, len);
    count += len;
  }
}
