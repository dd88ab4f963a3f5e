package io.jpipe.pickle;

import java.io.IOException;
import java.io.NotSerializableException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Pickler;

/**
 * Razorvine's pickler with the changes {@link PickleCodec} documents: the stream says protocol 4,
 * {@code byte[]} becomes {@code bytes} (not {@code bytearray}), a {@link Set} becomes a {@code set}
 * through the protocol 4 opcodes, the memo works by identity as CPython's does, and in strict mode
 * only the table's types are accepted. One instance pickles one object, on one thread.
 */
final class CodecPickler extends Pickler {
  private final boolean lenient;

  CodecPickler(boolean lenient) {
    super(true, false); // memo on, by identity: shared and self-containing containers survive
    this.lenient = lenient;
  }

  /** Pickles {@code o} as one protocol 4 stream, PROTO to STOP. */
  @Override
  public void dump(Object o, OutputStream stream) throws IOException {
    out = stream;
    recurse = 0;
    memo = new HashMap<>();
    out.write(Opcodes.PROTO);
    out.write(PickleCodec.PROTOCOL);
    save(o);
    out.write(Opcodes.STOP);
    memo = null;
  }

  @Override
  public void save(Object o) throws IOException {
    if (o instanceof byte[] bytes) {
      putBytes(bytes);
    } else if (o instanceof Set<?> set) {
      if (++recurse > MAX_RECURSE_DEPTH) {
        throw new NotSerializableException(PickleCodec.TOO_DEEP);
      }
      putSet(set);
      recurse--;
    } else if (lenient || o == null || isTableType(o)) {
      super.save(o);
    } else {
      throw new NotSerializableException(
          o.getClass().getName() + " (PickleCodec.create() pickles only the types in its table)");
    }
  }

  /**
   * The Java types of {@link PickleCodec}'s table that Razorvine itself pickles as the table says.
   */
  private static boolean isTableType(Object o) {
    return o instanceof Boolean
        || o instanceof Integer
        || o instanceof Long
        || o instanceof Short
        || o instanceof Byte
        || o instanceof BigInteger
        || o instanceof Double
        || o instanceof Float
        || o instanceof String
        || o instanceof Object[]
        || o instanceof Collection
        || o instanceof Map;
  }

  /** CPython's {@code save_bytes}: SHORT_BINBYTES or BINBYTES (protocol 3), not memoized. */
  private void putBytes(byte[] bytes) throws IOException {
    if (bytes.length <= 0xff) {
      out.write(Opcodes.SHORT_BINBYTES);
      out.write(bytes.length);
    } else {
      out.write(Opcodes.BINBYTES);
      out.write(PickleUtils.integer_to_bytes(bytes.length));
    }
    out.write(bytes);
  }

  /** CPython's {@code save_set}: EMPTY_SET, memoized, then MARK, the items, ADDITEMS. */
  private void putSet(Set<?> set) throws IOException {
    if (writeMemoGet(set)) {
      return;
    }
    out.write(Opcodes.EMPTY_SET);
    writeMemo(set);
    if (!set.isEmpty()) {
      out.write(Opcodes.MARK);
      for (Object element : set) {
        save(element);
      }
      out.write(Opcodes.ADDITEMS);
    }
  }

  /** Writes a memo GET if {@code o} itself was pickled already, as Razorvine's own lookup does. */
  private boolean writeMemoGet(Object o) throws IOException {
    Memo m = memo.get(System.identityHashCode(o));
    if (m == null || m.obj != o) {
      return false;
    }
    if (m.index <= 0xff) {
      out.write(Opcodes.BINGET);
      out.write(m.index);
    } else {
      out.write(Opcodes.LONG_BINGET);
      out.write(PickleUtils.integer_to_bytes(m.index));
    }
    return true;
  }
}
