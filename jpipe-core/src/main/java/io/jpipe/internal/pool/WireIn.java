package io.jpipe.internal.pool;

import java.io.StreamCorruptedException;
import java.nio.charset.StandardCharsets;

/** Reads what {@link WireOut} wrote, from one received message. */
final class WireIn {
  private final byte[] buf;
  private int pos;
  private final int end;

  WireIn(byte[] buf) {
    this(buf, 0, buf.length);
  }

  WireIn(byte[] buf, int offset, int length) {
    this.buf = buf;
    this.pos = offset;
    this.end = offset + length;
  }

  /** Skips the rest of the message. */
  void skipRest() {
    pos = end;
  }

  boolean hasMore() {
    return pos < end;
  }

  private void need(int n) throws StreamCorruptedException {
    if (n < 0 || end - pos < n) {
      throw new StreamCorruptedException("pool message ends early");
    }
  }

  /**
   * Checks that {@code count} items of {@code size} bytes each are left, before reading them with
   * the unchecked reads.
   */
  void need(int count, int size) throws StreamCorruptedException {
    if (count < 0 || (long) count * size > end - pos) {
      throw new StreamCorruptedException("pool message ends early");
    }
  }

  /** An int whose bytes {@link #need(int, int)} has checked. */
  int readIntUnchecked() {
    int v =
        ((buf[pos] & 0xff) << 24)
            | ((buf[pos + 1] & 0xff) << 16)
            | ((buf[pos + 2] & 0xff) << 8)
            | (buf[pos + 3] & 0xff);
    pos += 4;
    return v;
  }

  /** A long whose bytes {@link #need(int, int)} has checked. */
  long readLongUnchecked() {
    long hi = readIntUnchecked();
    return (hi << 32) | (readIntUnchecked() & 0xffffffffL);
  }

  int readByte() throws StreamCorruptedException {
    need(1);
    return buf[pos++];
  }

  int readInt() throws StreamCorruptedException {
    need(4);
    return readIntUnchecked();
  }

  long readLong() throws StreamCorruptedException {
    need(8);
    return readLongUnchecked();
  }

  byte[] readBlob() throws StreamCorruptedException {
    int n = readInt();
    need(n);
    byte[] b = new byte[n];
    System.arraycopy(buf, pos, b, 0, n);
    pos += n;
    return b;
  }

  /** Skips {@code n} bytes and returns where they start; for decoding in place. */
  int skip(int n) throws StreamCorruptedException {
    need(n);
    int at = pos;
    pos += n;
    return at;
  }

  byte[] array() {
    return buf;
  }

  String readString() throws StreamCorruptedException {
    int n = readInt();
    if (n == -1) {
      return null;
    }
    need(n);
    String s = new String(buf, pos, n, StandardCharsets.UTF_8);
    pos += n;
    return s;
  }
}
