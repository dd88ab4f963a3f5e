package io.jpipe.internal.pool;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A growable byte buffer that pool messages are written into (big-endian), then sent as one
 * message. Reused: {@link #reset()} empties it and keeps its array.
 */
final class WireOut {
  private byte[] buf;
  private int size;

  WireOut(int capacity) {
    buf = new byte[Math.max(16, capacity)];
  }

  void reset() {
    size = 0;
  }

  int size() {
    return size;
  }

  /** Drops what was written after {@code mark}, a {@link #size()} seen earlier. */
  void truncate(int mark) {
    size = mark;
  }

  byte[] array() {
    return buf;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, size);
  }

  /** Makes room for {@code more} bytes, for the unchecked writes that follow. */
  void ensure(long more) {
    if (size + more > buf.length) {
      long want = Math.max((long) buf.length * 2, size + more);
      if (want > Integer.MAX_VALUE - 16) {
        throw new IllegalStateException("pool message larger than 2 GiB");
      }
      buf = Arrays.copyOf(buf, (int) want);
    }
  }

  void writeByte(int b) {
    ensure(1);
    buf[size++] = (byte) b;
  }

  void writeInt(int v) {
    ensure(4);
    writeIntUnchecked(v);
  }

  /** An int in room that {@link #ensure(long)} has made. */
  void writeIntUnchecked(int v) {
    buf[size] = (byte) (v >>> 24);
    buf[size + 1] = (byte) (v >>> 16);
    buf[size + 2] = (byte) (v >>> 8);
    buf[size + 3] = (byte) v;
    size += 4;
  }

  /** A long in room that {@link #ensure(long)} has made. */
  void writeLongUnchecked(long v) {
    writeIntUnchecked((int) (v >>> 32));
    writeIntUnchecked((int) v);
  }

  void writeLong(long v) {
    ensure(8);
    writeLongUnchecked(v);
  }

  void writeBytes(byte[] b) {
    writeBytes(b, 0, b.length);
  }

  void writeBytes(byte[] b, int off, int len) {
    ensure(len);
    System.arraycopy(b, off, buf, size, len);
    size += len;
  }

  /** A length-prefixed array. */
  void writeBlob(byte[] b) {
    writeInt(b.length);
    writeBytes(b);
  }

  /** A length-prefixed UTF-8 string, or -1 for null. */
  void writeString(String s) {
    if (s == null) {
      writeInt(-1);
      return;
    }
    int n = s.length();
    ensure(4 + n);
    int start = size + 4;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c >= 0x80) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        writeBlob(utf8);
        return;
      }
      buf[start + i] = (byte) c;
    }
    writeInt(n);
    size += n;
  }
}
