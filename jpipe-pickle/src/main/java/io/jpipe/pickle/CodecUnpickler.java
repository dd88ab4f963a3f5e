package io.jpipe.pickle;

import io.jpipe.codec.DecodeLimitException;
import io.jpipe.codec.DecodeLimits;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StreamCorruptedException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;
import net.razorvine.pickle.objects.SetConstructor;

/**
 * Razorvine's unpickler with the changes {@link PickleCodec} documents: a length that runs past the
 * end of the message is refused before anything is allocated for it, dicts keep their order, every
 * {@code int} is the smallest of Integer, Long and BigInteger that holds it, and the protocol 0-3
 * forms of {@code float('inf')} / {@code nan} and {@code frozenset} are understood.
 *
 * <p>Every message is held to {@link DecodeLimits}: each opcode is a step of work and each value it
 * pushes (or memo entry it makes) an object; integers are refused by their digits or bytes before
 * they are parsed; before a value is hashed into a set or as a dict key, its elements are walked
 * without recursion (refused if it contains itself, nests too deep, or would cost more work than is
 * left); and the result is walked once for its depth and expanded size (exponential sharing through
 * the memo). Razorvine itself never recurses while unpickling. One instance unpickles one message,
 * on one thread.
 */
final class CodecUnpickler extends Unpickler {
  /** Protocols 0-3 pickle a frozenset as {@code frozenset(list)}; Razorvine has no constructor. */
  private static final IObjectConstructor FROZENSET =
      args -> args.length == 0 ? new HashSet<>() : new HashSet<>((Collection<?>) args[0]);

  /**
   * A key whose hashing would visit more than this many times the elements it holds, and more than
   * {@link #SHARING_FLOOR} in all, shares its elements exponentially (SerialDOS): Java would hash
   * them over and over, at every level, before the budget caught it.
   */
  private static final long SHARING_RATIO = 16;

  private static final long SHARING_FLOOR = 1_000;

  private final DecodeLimits limits;

  /**
   * Whether a container was pushed twice (memo GET, DUP): without, the containers form a tree
   * (strings and numbers fetched again from the memo do not matter).
   */
  private boolean shared;

  private long objects;
  private long work;

  /** The hashes of the keys in each set or dict being filled that has more than a few. */
  private final IdentityHashMap<Object, HashCounts> chains = new IdentityHashMap<>();

  CodecUnpickler(DecodeLimits limits) {
    this.limits = limits;
  }

  Object unpickle(byte[] message, int offset, int length) throws IOException {
    Object result = load(new ByteArrayInputStream(message, offset, length));
    long[] shape = walk(result, false);
    charge(shape[0], "the value, expanded (shared objects count once per reference)");
    return result;
  }

  @Override
  protected Object dispatch(short key) throws IOException {
    charge(1, "opcodes");
    if (pushes(key) && ++objects > limits.maxObjects()) {
      throw new DecodeLimitException(
          "maxObjects", limits.maxObjects(), "more values and memo entries than that");
    }
    switch (key) {
      case Opcodes.BINBYTES, Opcodes.BINUNICODE, Opcodes.BINSTRING -> checkLength(4);
      case Opcodes.LONG4 -> checkIntBytes(checkLength(4));
      case Opcodes.LONG1 -> {
        input.mark(1);
        int n = input.read();
        input.reset();
        checkIntBytes(n);
      }
      case Opcodes.INT, Opcodes.LONG -> checkDigits();
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
      case Opcodes.SETITEM -> {
        Object value = stack.pop();
        Object k = stack.pop();
        @SuppressWarnings("unchecked")
        Map<Object, Object> dict = (Map<Object, Object>) stack.peek();
        checkKey(dict, k);
        dict.put(k, value);
        checkSize(dict.size());
        return NO_RETURN_VALUE;
      }
      case Opcodes.ADDITEMS -> {
        List<Object> items = stack.pop_all_since_marker();
        @SuppressWarnings("unchecked")
        Collection<Object> set = (Collection<Object>) stack.peek();
        checkKeys(set, items);
        set.addAll(items);
        checkSize(set.size());
        return NO_RETURN_VALUE;
      }
      case Opcodes.FROZENSET -> {
        List<Object> items = stack.pop_all_since_marker();
        checkKeys(null, items);
        HashSet<Object> set = new HashSet<>(items);
        checkSize(set.size());
        stack.add(set);
        return NO_RETURN_VALUE;
      }
      case Opcodes.BUILD -> {
        // Razorvine finds __setstate__(HashMap) by the state's exact class; it then puts the
        // state's keys into the object: they are hashed twice.
        Object state = stack.pop();
        if (state instanceof Map<?, ?> m) {
          checkKeys(null, m.keySet());
          checkKeys(null, m.keySet());
        }
        stack.add(state instanceof LinkedHashMap<?, ?> m ? new HashMap<>(m) : state);
      }
      case Opcodes.REDUCE, Opcodes.NEWOBJ -> {
        Object args = stack.pop();
        Object constructor = stack.peek();
        stack.add(args);
        if (args instanceof Object[] a) {
          checkCall(constructor, a);
        }
      }
      case Opcodes.NEWOBJ_EX -> { // cls, args, kwargs: the same call as NEWOBJ
        Object kwargs = stack.pop();
        Object args = stack.pop();
        Object constructor = stack.peek();
        stack.add(args);
        stack.add(kwargs);
        if (args instanceof Object[] a) {
          checkCall(constructor, a);
        }
      }
      case Opcodes.APPENDS -> {
        // Razorvine trims the list after every APPENDS, and the stack after every POP_MARK: one
        // item at a time, that copies the whole list each time (quadratic).
        List<Object> items = stack.pop_all_since_marker();
        @SuppressWarnings("unchecked")
        ArrayList<Object> list = (ArrayList<Object>) stack.peek();
        list.addAll(items);
        checkSize(list.size());
        return NO_RETURN_VALUE;
      }
      case Opcodes.POP_MARK -> {
        stack.pop_all_since_marker();
        return NO_RETURN_VALUE;
      }
      case Opcodes.OBJ -> {
        List<Object> items = stack.pop_all_since_marker();
        stack.add_mark();
        items.forEach(stack::add);
        if (!items.isEmpty()) {
          checkCall(items.getFirst(), items.subList(1, items.size()).toArray());
        }
      }
      case Opcodes.INST -> {
        input.mark(0); // a ByteArrayInputStream: reset() always comes back here
        String module = PickleUtils.readline(input);
        String name = PickleUtils.readline(input);
        input.reset();
        List<Object> items = stack.pop_all_since_marker();
        stack.add_mark();
        items.forEach(stack::add);
        checkCall(objectConstructors.get(module + "." + name), items.toArray());
      }
      case Opcodes.GLOBAL -> {
        input.mark(0);
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
    switch (key) {
      case Opcodes.GET, Opcodes.BINGET, Opcodes.LONG_BINGET, Opcodes.DUP -> {
        Object again = stack.peek();
        if (again instanceof Collection<?>
            || again instanceof Map<?, ?>
            || again instanceof Object[]) {
          shared = true;
        }
      }
      case Opcodes.LONG, Opcodes.LONG1, Opcodes.LONG4 -> {
        if (stack.peek() instanceof Long n && n == n.intValue()) {
          stack.pop();
          stack.add(n.intValue());
        }
      }
      case Opcodes.APPEND, Opcodes.LIST -> {
        if (stack.peek() instanceof Collection<?> c) {
          checkSize(c.size());
        }
      }
      case Opcodes.TUPLE -> {
        if (stack.peek() instanceof Object[] t) {
          checkSize(t.length);
        }
      }
      default -> {}
    }
    return result;
  }

  /** Whether an opcode leaves a new value on the stack or in the memo. */
  private static boolean pushes(short key) {
    return switch (key) {
      case Opcodes.MARK,
          Opcodes.STOP,
          Opcodes.POP,
          Opcodes.POP_MARK,
          Opcodes.PROTO,
          Opcodes.FRAME,
          Opcodes.APPEND,
          Opcodes.APPENDS,
          Opcodes.SETITEM,
          Opcodes.SETITEMS,
          Opcodes.ADDITEMS,
          Opcodes.BUILD,
          Opcodes.READONLY_BUFFER ->
          false;
      default -> true;
    };
  }

  /**
   * Refuses a length field (4 or 8 bytes, little-endian, at the current position) that announces
   * more bytes than the message has left, before Razorvine allocates an array of that length.
   *
   * @return the length announced
   */
  private long checkLength(int width) throws IOException {
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
    return announced;
  }

  /** LONG1 and LONG4: a binary int of {@code n} bytes. */
  private void checkIntBytes(long n) throws DecodeLimitException {
    if (n > limits.maxIntBytes()) {
      throw new DecodeLimitException(
          "maxIntDigits",
          limits.maxIntDigits(),
          "an int of " + n + " bytes (more than " + limits.maxIntBytes() + ")");
    }
  }

  /** INT and LONG: an int in decimal text, up to the end of the line. */
  private void checkDigits() throws IOException {
    input.mark(0);
    long digits = 0;
    int c;
    while ((c = input.read()) != -1 && c != '\n') {
      if (c >= '0' && c <= '9') {
        digits++;
      }
    }
    input.reset();
    checkDigitCount(digits);
  }

  private void checkDigitCount(long digits) throws DecodeLimitException {
    if (digits > limits.maxIntDigits()) {
      throw new DecodeLimitException(
          "maxIntDigits", limits.maxIntDigits(), "a number of " + digits + " decimal digits");
    }
  }

  /**
   * Before a constructor is called: a set constructor hashes the elements of its argument, and
   * {@code decimal.Decimal} parses its digits.
   */
  private void checkCall(Object constructor, Object[] args) throws DecodeLimitException {
    if (args.length == 0) {
      return;
    }
    if ((constructor == FROZENSET || constructor instanceof SetConstructor)
        && args[0] instanceof Collection<?> items) {
      checkKeys(null, items);
    } else if (constructor != null
        && constructor == objectConstructors.get("decimal.Decimal")
        && args[0] instanceof String text) {
      checkDigitCount(text.chars().filter(Character::isDigit).count());
    }
  }

  private Map<Object, Object> putPairs(Map<Object, Object> dict, List<Object> pairs)
      throws DecodeLimitException {
    if (pairs.size() % 2 != 0) {
      throw new IllegalArgumentException("odd number of items for a dict");
    }
    List<Object> keys = new ArrayList<>(pairs.size() / 2);
    for (int i = 0; i < pairs.size(); i += 2) {
      keys.add(pairs.get(i));
    }
    checkKeys(dict, keys);
    for (int i = 0; i < pairs.size(); i += 2) {
      dict.put(pairs.get(i), pairs.get(i + 1));
    }
    checkSize(dict.size());
    return dict;
  }

  private void checkSize(int size) throws DecodeLimitException {
    if (size > limits.maxArrayLength()) {
      throw new DecodeLimitException(
          "maxArrayLength", limits.maxArrayLength(), "a container of " + size + " elements");
    }
  }

  /**
   * Before {@code key} is put into {@code container}, a set or dict being filled: {@link
   * #checkKeys}.
   */
  private void checkKey(Object container, Object key) throws DecodeLimitException {
    checkKeys(container, Collections.singletonList(key));
  }

  /**
   * Before {@code keys} are put into {@code container}, a set or dict being filled (null: a new
   * one): {@link #checkHashed} each, and charge the keys already there with the same hash. Java's
   * {@code HashMap} compares a key with every key of its bucket (a tree bucket orders only keys of
   * one comparable class), so many distinct keys of one hash cost the square of their number.
   */
  private void checkKeys(Object container, Collection<?> keys) throws DecodeLimitException {
    HashCounts counts = container == null ? null : chains.get(container);
    if (counts == null) {
      Collection<?> present =
          switch (container) {
            case null -> List.of();
            case Map<?, ?> m -> m.keySet();
            default -> (Collection<?>) container;
          };
      if (present.size() + keys.size() >= HashCounts.UNTRACKED) {
        counts = new HashCounts(); // below, a few keys cost little however they collide
        for (Object k : present) {
          counts.add(Objects.hashCode(k));
        }
        if (container != null) {
          chains.put(container, counts);
        }
      }
    }
    for (Object key : keys) {
      long size = checkHashed(key);
      if (counts != null) {
        chargeCollisions(counts.add(Objects.hashCode(key)), size);
      }
    }
  }

  /**
   * A key of {@code size} elements meets {@code before} keys of its hash: {@link
   * DecodeLimits#HASHING_STEPS} steps per element compared, as for hashing.
   */
  private void chargeCollisions(int before, long size) throws DecodeLimitException {
    if (before > 0) {
      long each =
          size > Long.MAX_VALUE / DecodeLimits.HASHING_STEPS
              ? Long.MAX_VALUE
              : size * DecodeLimits.HASHING_STEPS;
      long steps = each > Long.MAX_VALUE / before ? Long.MAX_VALUE : before * each;
      charge(steps, "keys whose hashes collide");
    }
  }

  /**
   * Before {@code key} is hashed into a set or a dict: Java hashes lists, sets and dicts by their
   * elements, recursively, where CPython refuses them or caches the hash. Walks the key without
   * recursion; refuses it if it contains itself or nests too deep, and charges its expanded size.
   *
   * @return its expanded size: what comparing it with another key may cost
   */
  private long checkHashed(Object key) throws DecodeLimitException {
    if (key instanceof Collection<?> || key instanceof Map<?, ?>) {
      long[] shape = walk(key, true);
      if (shape[0] > SHARING_FLOOR && shape[0] / SHARING_RATIO > shape[2]) {
        throw new DecodeLimitException(
            "maxWork",
            limits.maxWork(),
            "a set element or dict key holds "
                + shape[2]
                + " elements but hashing it would visit "
                + (shape[0] == Long.MAX_VALUE ? "more than 2^63" : shape[0])
                + ": its elements are shared over and over (nested sets, SerialDOS)");
      }
      long inside = shape[0] - 1;
      long steps =
          inside > Long.MAX_VALUE / DecodeLimits.HASHING_STEPS
              ? Long.MAX_VALUE
              : inside * DecodeLimits.HASHING_STEPS;
      charge(steps, "hashing set elements and dict keys");
      return shape[0];
    }
    return 1;
  }

  private void charge(long steps, String what) throws DecodeLimitException {
    work = add(work, steps);
    if (work > limits.maxWork()) {
      throw new DecodeLimitException(
          "maxWork", limits.maxWork(), "more steps than that for " + what);
    }
  }

  /** How many keys had each hash: an open-addressing table of ints. */
  private static final class HashCounts {
    /** Containers with fewer keys than this are not tracked. */
    static final int UNTRACKED = 8;

    private int[] hashes = new int[32];
    private int[] counts = new int[32];
    private int used;

    /** Counts {@code hash} once more; returns how many times it was counted before. */
    int add(int hash) {
      if (2 * (used + 1) > hashes.length) {
        grow();
      }
      int mask = hashes.length - 1;
      int i = mix(hash) & mask;
      while (counts[i] != 0 && hashes[i] != hash) {
        i = (i + 1) & mask;
      }
      int before = counts[i];
      if (before == 0) {
        hashes[i] = hash;
        used++;
      }
      counts[i] = before == Integer.MAX_VALUE ? before : before + 1;
      return before;
    }

    private void grow() {
      int[] oldHashes = hashes;
      int[] oldCounts = counts;
      hashes = new int[oldHashes.length * 2];
      counts = new int[oldCounts.length * 2];
      int mask = hashes.length - 1;
      for (int j = 0; j < oldHashes.length; j++) {
        if (oldCounts[j] != 0) {
          int i = mix(oldHashes[j]) & mask;
          while (counts[i] != 0) {
            i = (i + 1) & mask;
          }
          hashes[i] = oldHashes[j];
          counts[i] = oldCounts[j];
        }
      }
    }

    /** Spreads the hash, as linear probing needs (keys such as 0, 32, 64 would cluster). */
    private static int mix(int h) {
      int x = h * 0x9E3779B9;
      return x ^ (x >>> 16);
    }
  }

  /** One container on the walk's path. */
  private static final class Frame {
    final Object node;
    final Iterator<?> children;
    long size = 1;
    long height;

    Frame(Object node, Iterator<?> children) {
      this.node = node;
      this.children = children;
    }
  }

  /**
   * Walks the containers under {@code root} without recursion: returns its expanded size (each
   * reference to a shared container counts its whole size again), its depth (containers on the
   * longest path) and the elements the walk itself visited (each container's once). A reference
   * back to a container on the path counts 1 and no depth; {@code hashing} refuses it instead, and
   * descends only into what Java hashes by content (collections and maps, not tuples).
   */
  private long[] walk(Object root, boolean hashing) throws DecodeLimitException {
    Iterator<?> top = children(root, hashing);
    if (top == null) {
      return new long[] {1, 0, 1};
    }
    // Without shared values there is neither a cycle nor a container reached twice.
    IdentityHashMap<Object, long[]> done = shared ? new IdentityHashMap<>() : null;
    IdentityHashMap<Object, Boolean> onPath = shared ? new IdentityHashMap<>() : null;
    ArrayDeque<Frame> path = new ArrayDeque<>();
    path.push(new Frame(root, top));
    if (onPath != null) {
      onPath.put(root, Boolean.TRUE);
    }
    long[] result = null;
    long visits = 1;
    while (result == null) {
      Frame f = path.peek();
      if (f.children.hasNext()) {
        Object c = f.children.next();
        visits++;
        Iterator<?> grandchildren;
        long[] known;
        if (done != null && (known = done.get(c)) != null) {
          f.size = add(f.size, known[0]);
          f.height = Math.max(f.height, known[1]);
        } else if (onPath != null && onPath.containsKey(c)) {
          if (hashing) {
            throw new DecodeLimitException(
                "maxDepth",
                limits.maxDepth(),
                "a set element or dict key contains itself: hashing it would never end");
          }
          f.size = add(f.size, 1);
        } else if ((grandchildren = children(c, hashing)) == null) {
          f.size = add(f.size, 1);
        } else {
          if (path.size() >= limits.maxDepth()) {
            throw new DecodeLimitException(
                "maxDepth",
                limits.maxDepth(),
                hashing ? "a set element or dict key nested deeper than that" : "nested deeper");
          }
          path.push(new Frame(c, grandchildren));
          if (onPath != null) {
            onPath.put(c, Boolean.TRUE);
          }
        }
      } else {
        path.pop();
        if (onPath != null) {
          onPath.remove(f.node);
        }
        long[] shape = {f.size, f.height + 1};
        if (shape[0] > limits.maxWork()) {
          throw new DecodeLimitException(
              "maxWork",
              limits.maxWork(),
              "a container whose expanded size is over that (exponential sharing)");
        }
        if (done != null) {
          done.put(f.node, shape);
        }
        Frame parent = path.peek();
        if (parent == null) {
          result = new long[] {shape[0], shape[1], visits};
        } else {
          parent.size = add(parent.size, shape[0]);
          parent.height = Math.max(parent.height, shape[1]);
        }
      }
    }
    return result;
  }

  /** The values inside a container, or null for anything else. */
  private static Iterator<?> children(Object o, boolean hashing) {
    return switch (o) {
      case Collection<?> c -> c.iterator();
      case Map<?, ?> m -> new KeysAndValues(m);
      case Object[] t when !hashing -> new ArrayIterator(t);
      case null, default -> null;
    };
  }

  private static long add(long a, long b) {
    long s = a + b;
    return s < 0 ? Long.MAX_VALUE : s;
  }

  /** A tuple's items (may hold nulls, which List.of refuses). */
  private static final class ArrayIterator implements Iterator<Object> {
    private final Object[] items;
    private int next;

    ArrayIterator(Object[] items) {
      this.items = items;
    }

    @Override
    public boolean hasNext() {
      return next < items.length;
    }

    @Override
    public Object next() {
      if (next >= items.length) {
        throw new NoSuchElementException();
      }
      return items[next++];
    }
  }

  /** A map's keys and values, alternately. */
  private static final class KeysAndValues implements Iterator<Object> {
    private final Iterator<? extends Map.Entry<?, ?>> entries;
    private Map.Entry<?, ?> current;

    KeysAndValues(Map<?, ?> map) {
      this.entries = map.entrySet().iterator();
    }

    @Override
    public boolean hasNext() {
      return current != null || entries.hasNext();
    }

    @Override
    public Object next() {
      if (current != null) {
        Object v = current.getValue();
        current = null;
        return v;
      }
      current = entries.next();
      return current.getKey();
    }
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
