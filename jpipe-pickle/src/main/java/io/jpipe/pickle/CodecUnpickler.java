package io.jpipe.pickle;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StreamCorruptedException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;

/**
 * Razorvine's unpickler with the changes {@link PickleCodec} documents: a length that runs past the
 * end of the message is refused before anything is allocated for it, dicts keep their order, every
 * {@code int} is the smallest of Integer, Long and BigInteger that holds it, and the protocol 0-3
 * forms of {@code float('inf')} / {@code nan} and {@code frozenset} are understood. One instance
 * unpickles one message, on one thread.
 */
final class CodecUnpickler extends Unpickler {
  /** Protocols 0-3 pickle a frozenset as {@code frozenset(list)}; Razorvine has no constructor. */
  private static final IObjectConstructor FROZENSET =
      args -> args.length == 0 ? new HashSet<>() : new HashSet<>((Collection<?>) args[0]);

  Object unpickle(byte[] message, int offset, int length) throws IOException {
    return load(new ByteArrayInputStream(message, offset, length));
  }

  @Override
  protected Object dispatch(short key) throws IOException {
    switch (key) {
      case Opcodes.BINBYTES, Opcodes.BINUNICODE, Opcodes.BINSTRING, Opcodes.LONG4 -> checkLength(4);
      case Opcodes.BINBYTES8, Opcodes.BINUNICODE8, Opcodes.BYTEARRAY8, Opcodes.FRAME ->
          checkLength(8);
      case Opcodes.FLOAT -> {
        stack.add(parseFloat(PickleUtils.readline(input)));
        return NO_RETURN_VALUE;
      }
      case Opcodes.EMPTY_DICT -> {
        stack.add(new LinkedHashMap<>());
        return NO_RETURN_VALUE;
      }
      case Opcodes.DICT -> {
        List<Object> pairs = stack.pop_all_since_marker();
        stack.add(putPairs(new LinkedHashMap<>(), pairs));
        return NO_RETURN_VALUE;
      }
      case Opcodes.SETITEMS -> {
        List<Object> pairs = stack.pop_all_since_marker();
        @SuppressWarnings("unchecked")
        Map<Object, Object> dict = (Map<Object, Object>) stack.peek();
        putPairs(dict, pairs);
        return NO_RETURN_VALUE;
      }
      case Opcodes.BUILD -> {
        // Razorvine finds __setstate__(HashMap) by the state's exact class.
        Object state = stack.pop();
        stack.add(state instanceof LinkedHashMap<?, ?> m ? new HashMap<>(m) : state);
      }
      case Opcodes.GLOBAL -> {
        input.mark(0); // a ByteArrayInputStream: reset() always comes back here
        String module = PickleUtils.readline(input);
        String name = PickleUtils.readline(input);
        if (name.equals("frozenset")
            && (module.equals("builtins") || module.equals("__builtin__"))) {
          stack.add(FROZENSET);
          return NO_RETURN_VALUE;
        }
        input.reset();
      }
      default -> {}
    }
    Object result = super.dispatch(key);
    if ((key == Opcodes.LONG || key == Opcodes.LONG1 || key == Opcodes.LONG4)
        && stack.peek() instanceof Long n
        && n == n.intValue()) {
      stack.pop();
      stack.add(n.intValue());
    }
    return result;
  }

  /**
   * Refuses a length field (4 or 8 bytes, little-endian, at the current position) that announces
   * more bytes than the message has left, before Razorvine allocates an array of that length.
   */
  private void checkLength(int width) throws IOException {
    input.mark(width);
    byte[] field = input.readNBytes(width);
    int left = input.available();
    input.reset();
    if (field.length < width) {
      throw new StreamCorruptedException("pickle is cut short in a length field");
    }
    ByteBuffer le = ByteBuffer.wrap(field).order(ByteOrder.LITTLE_ENDIAN);
    long announced = width == 4 ? Integer.toUnsignedLong(le.getInt()) : le.getLong();
    if (announced < 0 || announced > left) {
      throw new StreamCorruptedException(
          "pickle announces "
              + Long.toUnsignedString(announced)
              + " bytes where only "
              + left
              + " are left in the message");
    }
  }

  private static Map<Object, Object> putPairs(Map<Object, Object> dict, List<Object> pairs) {
    if (pairs.size() % 2 != 0) {
      throw new IllegalArgumentException("odd number of items for a dict");
    }
    for (int i = 0; i < pairs.size(); i += 2) {
      dict.put(pairs.get(i), pairs.get(i + 1));
    }
    return dict;
  }

  /**
   * FLOAT's text is CPython's {@code repr}, which writes {@code inf}, {@code -inf}, {@code nan}.
   */
  private static double parseFloat(String repr) {
    return switch (repr.strip()) {
      case "inf" -> Double.POSITIVE_INFINITY;
      case "-inf" -> Double.NEGATIVE_INFINITY;
      case "nan" -> Double.NaN;
      default -> Double.parseDouble(repr);
    };
  }
}
