package io.jpipe.codec;

import java.io.StreamCorruptedException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a Java serialization stream as the grammar of the Object Serialization Specification
 * (chapter 6) describes it, without loading a class or making an object, and refuses it if decoding
 * would go over a {@link DecodeLimits}: nesting (in the stream, and of the graph it builds),
 * objects, lengths that the message cannot hold, digits of a {@code BigInteger}, the expanded size
 * of the graph, and the hashing that {@code HashMap}, {@code HashSet}, {@code Hashtable}, {@code
 * ConcurrentHashMap} and {@code Set.of}/{@code Map.of} do while they are read (SerialDOS). It reads
 * exactly what {@link java.io.ObjectInputStream#readObject()} reads, so the real decode that
 * follows never sees anything this did not count.
 *
 * <p>Class data written by a {@code writeObject} method is read as the specification requires it to
 * be laid out: the fields ({@code defaultWriteObject} or {@code writeFields}) first, then block
 * data and objects up to the end marker. Externalizable data must be in block data mode (protocol
 * 2, the default since Java 1.2).
 *
 * <p>Recursion follows the stream's nesting and stops at {@code depthCap}: the caller runs this on
 * a thread with a large stack when the message is deeper than a small cap allows ({@link
 * TooDeepForThisStack}).
 */
final class StreamScan {
  // Stream constants, java.io.ObjectStreamConstants.
  private static final int TC_NULL = 0x70;
  private static final int TC_REFERENCE = 0x71;
  private static final int TC_CLASSDESC = 0x72;
  private static final int TC_OBJECT = 0x73;
  private static final int TC_STRING = 0x74;
  private static final int TC_ARRAY = 0x75;
  private static final int TC_CLASS = 0x76;
  private static final int TC_BLOCKDATA = 0x77;
  private static final int TC_ENDBLOCKDATA = 0x78;
  private static final int TC_RESET = 0x79;
  private static final int TC_BLOCKDATALONG = 0x7A;
  private static final int TC_EXCEPTION = 0x7B;
  private static final int TC_LONGSTRING = 0x7C;
  private static final int TC_PROXYCLASSDESC = 0x7D;
  private static final int TC_ENUM = 0x7E;
  private static final int BASE_WIRE_HANDLE = 0x7E0000;
  private static final int SC_WRITE_METHOD = 0x01;
  private static final int SC_SERIALIZABLE = 0x02;
  private static final int SC_EXTERNALIZABLE = 0x04;
  private static final int SC_BLOCK_DATA = 0x08;

  /** A cost that never ends: hashing a structure that contains itself. */
  private static final long INFINITE = Long.MAX_VALUE;

  /** Thrown, without a stack trace, when the stream nests deeper than {@code depthCap}. */
  static final class TooDeepForThisStack extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TooDeepForThisStack() {
      super("nested deeper than this thread's stack allows", null, false, false);
    }
  }

  static final TooDeepForThisStack TOO_DEEP = new TooDeepForThisStack();

  /** What a class desc says; what the scan needs of it. */
  private static final class Desc {
    final String name;
    final int flags;
    final boolean proxy;
    final char[] fieldTypes;
    final String[] fieldNames;
    Desc superDesc;

    /** How the class hashes what its custom data holds: 0 not, 1 every object, 2 keys of pairs. */
    final int hashing;

    /** Whether hashCode of an instance hashes its contents; null until asked. */
    Boolean structural;

    Desc(String name, int flags, boolean proxy, char[] fieldTypes, String[] fieldNames) {
      this.name = name;
      this.flags = flags;
      this.proxy = proxy;
      this.fieldTypes = fieldTypes;
      this.fieldNames = fieldNames;
      this.hashing =
          switch (name) {
            case "java.util.HashSet" -> 1;
            case "java.util.HashMap",
                "java.util.Hashtable",
                "java.util.concurrent.ConcurrentHashMap" ->
                2;
            case "java.util.CollSer" -> 3; // decided by its tag: Set.of or Map.of
            default -> 0;
          };
    }

    boolean hasObjectFields() {
      for (char t : fieldTypes) {
        if (t == 'L' || t == '[') {
          return true;
        }
      }
      return false;
    }
  }

  /** One object of the graph: what hashing it, walking it, and nesting into it cost. */
  private static final class Node {
    /** Whether hashCode walks its contents (collections, maps, records). */
    final boolean structural;

    boolean inProgress = true;

    /** Nodes in the graph drawn as a tree; a reference back to an enclosing object counts 1. */
    long expanded = 1;

    /** Elements a structural hashCode visits; INFINITE if it would never end. */
    long hashCost = 1;

    /** Longest path below it, references back to enclosing objects not counted. */
    int height;

    Node(boolean structural) {
      this.structural = structural;
    }
  }

  /** Anything with no contents: strings, enums, classes, null, primitive arrays, descs. */
  private static final Node LEAF = new Node(false);

  static {
    LEAF.inProgress = false;
  }

  private final byte[] b;
  private final int end;
  private int pos;
  private final DecodeLimits limits;
  private final int depthCap;
  private final ClassLoader loader;
  private final List<Object> handles = new ArrayList<>();
  private int depth;
  private long objects;
  private long work;
  private int maxHeight;
  private int maxStreamDepth;

  /** Length of the array read last (for BigInteger's magnitude). */
  private int lastArrayLength;

  private StreamScan(
      byte[] b, int offset, int length, DecodeLimits limits, int depthCap, ClassLoader loader) {
    this.b = b;
    this.pos = offset;
    this.end = offset + length;
    this.limits = limits;
    this.depthCap = depthCap;
    this.loader = loader;
  }

  /** What the scan found: deepest nesting in the stream and in the graph. */
  record Result(int streamDepth, int height, long objects, long work) {}

  /**
   * Scans the stream that {@code readObject()} would read from the message (magic and version
   * included).
   *
   * @param depthCap deepest stream nesting to follow on this thread; past it, {@link
   *     TooDeepForThisStack} if it is below {@code limits.maxDepth()}
   * @throws DecodeLimitException if a limit is exceeded
   * @throws StreamCorruptedException if the stream is malformed
   */
  static Result scan(
      byte[] message, int offset, int length, DecodeLimits limits, int depthCap, ClassLoader loader)
      throws StreamCorruptedException, DecodeLimitException {
    StreamScan s = new StreamScan(message, offset, length, limits, depthCap, loader);
    return s.run();
  }

  private Result run() throws StreamCorruptedException, DecodeLimitException {
    if (u2() != 0xACED || u2() != 5) {
      throw new StreamCorruptedException("not a Java serialization stream (magic or version)");
    }
    while (peek() == TC_RESET) {
      pos++;
      handles.clear();
    }
    Node root = content();
    charge(root.expanded, "the value, expanded (shared objects count once per reference)");
    return new Result(maxStreamDepth, maxHeight, objects, work);
  }

  // ---- grammar

  /** One object where readObject0 reads one. */
  private Node content() throws StreamCorruptedException, DecodeLimitException {
    int tc = peek();
    if (++depth > depthCap) {
      if (depthCap < limits.maxDepth()) {
        throw TOO_DEEP;
      }
      throw new DecodeLimitException(
          "maxDepth", limits.maxDepth(), "objects nested deeper than that in the stream");
    }
    maxStreamDepth = Math.max(maxStreamDepth, depth);
    count();
    try {
      return switch (tc) {
        case TC_NULL -> {
          pos++;
          yield LEAF;
        }
        case TC_REFERENCE -> {
          pos++;
          Object h = handle();
          yield h instanceof Node n ? n : LEAF;
        }
        case TC_CLASS -> {
          pos++;
          if (classDesc() == null) {
            throw corrupt("a class object without a class");
          }
          handles.add(LEAF);
          yield LEAF;
        }
        case TC_CLASSDESC, TC_PROXYCLASSDESC -> {
          classDesc();
          yield LEAF;
        }
        case TC_STRING, TC_LONGSTRING -> {
          string();
          yield LEAF;
        }
        case TC_ARRAY -> {
          pos++;
          yield array();
        }
        case TC_ENUM -> {
          pos++;
          if (classDesc() == null) {
            throw corrupt("an enum constant without a class");
          }
          handles.add(LEAF);
          int t = peek();
          if (t != TC_STRING && t != TC_LONGSTRING) {
            throw corrupt("an enum constant without a name");
          }
          string();
          yield LEAF;
        }
        case TC_OBJECT -> {
          pos++;
          yield object();
        }
        case TC_EXCEPTION -> throw corrupt("the writer aborted (TC_EXCEPTION)");
        case TC_RESET -> throw corrupt("a reset inside an object");
        default ->
            throw corrupt("type code 0x" + Integer.toHexString(tc) + " where an object should be");
      };
    } finally {
      depth--;
    }
  }

  private Node object() throws StreamCorruptedException, DecodeLimitException {
    Desc desc = classDesc();
    if (desc == null) {
      throw corrupt("an object without a class");
    }
    Node node = new Node(structural(desc));
    int handle = handles.size();
    handles.add(node);
    if ((desc.flags & SC_EXTERNALIZABLE) != 0) {
      if ((desc.flags & SC_BLOCK_DATA) == 0) {
        throw corrupt(desc.name + ": externalizable data of stream protocol 1 is not accepted");
      }
      annotation(node, 0);
    } else {
      List<Desc> chain = new ArrayList<>();
      for (Desc d = desc; d != null; d = d.superDesc) {
        chain.add(d);
      }
      for (int i = chain.size() - 1; i >= 0; i--) {
        Desc d = chain.get(i);
        if (d.proxy || (d.flags & SC_SERIALIZABLE) == 0) {
          continue;
        }
        int tag = fields(node, d);
        if ((d.flags & SC_WRITE_METHOD) != 0) {
          int hashing = d.hashing == 3 ? (tag == 2 ? 1 : tag == 3 ? 2 : 0) : d.hashing;
          annotation(node, hashing);
        }
      }
    }
    return finish(node, handle);
  }

  /** Reads the field values of one class; returns CollSer's tag (or 0). */
  private int fields(Node node, Desc d) throws StreamCorruptedException, DecodeLimitException {
    int tag = 0;
    boolean bigInteger = d.name.equals("java.math.BigInteger");
    for (int i = 0; i < d.fieldTypes.length; i++) {
      char t = d.fieldTypes[i];
      switch (t) {
        case 'B', 'Z' -> skip(1);
        case 'C', 'S' -> skip(2);
        case 'F' -> skip(4);
        case 'I' -> {
          if (d.hashing == 3 && d.fieldNames[i].equals("tag")) {
            need(4);
            tag = (b[pos + 3] & 0xff);
          }
          skip(4);
        }
        case 'D', 'J' -> skip(8);
        default -> {
          boolean magnitude =
              bigInteger && d.fieldNames[i].equals("magnitude") && peek() == TC_ARRAY;
          attach(node, content(), false);
          if (magnitude && lastArrayLength > limits.maxIntBytes()) {
            throw new DecodeLimitException(
                "maxIntDigits",
                limits.maxIntDigits(),
                "a BigInteger of "
                    + lastArrayLength
                    + " bytes (more than "
                    + limits.maxIntBytes()
                    + ")");
          }
        }
      }
    }
    return tag;
  }

  /**
   * Block data and objects up to TC_ENDBLOCKDATA. {@code hashing}: 1 if every object is hashed as
   * it is read back, 2 if the objects are key-value pairs and the keys are hashed.
   */
  private void annotation(Node node, int hashing)
      throws StreamCorruptedException, DecodeLimitException {
    long index = 0;
    while (true) {
      int tc = peek();
      switch (tc) {
        case TC_ENDBLOCKDATA -> {
          pos++;
          return;
        }
        case TC_BLOCKDATA -> {
          pos++;
          need(1);
          skip(b[pos++] & 0xff);
        }
        case TC_BLOCKDATALONG -> {
          pos++;
          int n = s4();
          if (n < 0) {
            throw corrupt("block data of negative length");
          }
          skip(n);
        }
        default -> {
          Node child = content();
          boolean hashed = hashing == 1 || (hashing == 2 && index % 2 == 0);
          attach(node, child, hashed);
          index++;
        }
      }
    }
  }

  private Node array() throws StreamCorruptedException, DecodeLimitException {
    Desc desc = classDesc();
    if (desc == null || desc.name.length() < 2 || desc.name.charAt(0) != '[') {
      throw corrupt("an array without an array class");
    }
    int handle = handles.size();
    Node node = new Node(false);
    handles.add(node);
    int n = s4();
    if (n < 0) {
      throw corrupt("an array of negative length " + n);
    }
    if (n > limits.maxArrayLength()) {
      throw new DecodeLimitException(
          "maxArrayLength", limits.maxArrayLength(), "an array of " + n + " elements");
    }
    int width =
        switch (desc.name.charAt(1)) {
          case 'B', 'Z' -> 1;
          case 'C', 'S' -> 2;
          case 'I', 'F' -> 4;
          case 'J', 'D' -> 8;
          case 'L', '[' -> 0;
          default -> throw corrupt("an array of unknown element type " + desc.name);
        };
    if (width > 0) {
      long bytes = (long) n * width;
      if (bytes > end - pos) {
        throw corrupt(
            "an array announces "
                + n
                + " elements ("
                + bytes
                + " bytes) where only "
                + (end - pos)
                + " bytes are left in the message");
      }
      pos += (int) bytes;
    } else {
      if (n > end - pos) {
        throw corrupt(
            "an array announces "
                + n
                + " elements where only "
                + (end - pos)
                + " bytes are left in the message");
      }
      for (int i = 0; i < n; i++) {
        attach(node, content(), false);
      }
    }
    Node done = finish(node, handle);
    lastArrayLength = n;
    return done;
  }

  private void string() throws StreamCorruptedException {
    long n = pos < end && (b[pos] & 0xff) == TC_LONGSTRING ? longLength() : shortLength();
    skip(n);
    handles.add(LEAF);
  }

  private int shortLength() throws StreamCorruptedException {
    pos++;
    return u2();
  }

  private long longLength() throws StreamCorruptedException {
    pos++;
    need(8);
    long n = 0;
    for (int i = 0; i < 8; i++) {
      n = (n << 8) | (b[pos++] & 0xff);
    }
    if (n < 0) {
      throw corrupt("a string of negative length");
    }
    return n;
  }

  /** classDesc: TC_CLASSDESC, TC_PROXYCLASSDESC, TC_NULL or a reference to one. */
  private Desc classDesc() throws StreamCorruptedException, DecodeLimitException {
    int tc = peek();
    pos++;
    switch (tc) {
      case TC_NULL -> {
        return null;
      }
      case TC_REFERENCE -> {
        if (handle() instanceof Desc d) {
          return d;
        }
        throw corrupt("a reference to something that is not a class description");
      }
      case TC_CLASSDESC -> {
        String name = utf();
        skip(8); // serialVersionUID
        int handle = handles.size();
        handles.add(null);
        need(3);
        int flags = b[pos++] & 0xff;
        int count = u2();
        if (count > Short.MAX_VALUE) {
          throw corrupt(name + ": negative field count");
        }
        char[] types = new char[count];
        String[] names = new String[count];
        for (int i = 0; i < count; i++) {
          need(1);
          char t = (char) (b[pos++] & 0xff);
          names[i] = utf();
          if (t == 'L' || t == '[') {
            int st = peek();
            if (st != TC_STRING && st != TC_LONGSTRING && st != TC_REFERENCE && st != TC_NULL) {
              throw corrupt(name + ": a field type that is not a string");
            }
            if (st == TC_STRING || st == TC_LONGSTRING) {
              count();
              string();
            } else if (st == TC_REFERENCE) {
              pos++;
              handle();
            } else {
              pos++;
            }
          } else if ("BCDFIJSZ".indexOf(t) < 0) {
            throw corrupt(name + ": invalid field type code " + (int) t);
          }
          types[i] = t;
        }
        Desc d = new Desc(name, flags, false, types, names);
        descTail(d);
        handles.set(handle, d); // only now: a description cannot be its own superclass
        return d;
      }
      case TC_PROXYCLASSDESC -> {
        int handle = handles.size();
        handles.add(null);
        int n = s4();
        if (n < 0 || n > 65_535) {
          throw corrupt("a proxy class with " + n + " interfaces");
        }
        for (int i = 0; i < n; i++) {
          utf();
        }
        Desc d = new Desc("(proxy)", SC_SERIALIZABLE, true, new char[0], new String[0]);
        descTail(d);
        handles.set(handle, d);
        return d;
      }
      default ->
          throw corrupt("type code 0x" + Integer.toHexString(tc) + " where a class should be");
    }
  }

  /** A class desc's annotation and super class desc, one level deeper, as ObjectInputStream. */
  private void descTail(Desc d) throws StreamCorruptedException, DecodeLimitException {
    annotation(LEAF, 0);
    if (peek() == TC_NULL) {
      pos++; // no superclass: nothing one level deeper
      return;
    }
    count();
    if (++depth > depthCap) {
      depth--;
      if (depthCap < limits.maxDepth()) {
        throw TOO_DEEP;
      }
      throw new DecodeLimitException(
          "maxDepth", limits.maxDepth(), "class descriptions nested deeper than that");
    }
    try {
      d.superDesc = classDesc();
    } finally {
      depth--;
    }
  }

  // ---- accounting

  /** Adds a child's costs to its parent, and charges its hashing if the parent hashes it. */
  private void attach(Node parent, Node child, boolean hashed) throws DecodeLimitException {
    if (parent == LEAF) {
      return;
    }
    long childHash;
    if (child.inProgress) {
      // A reference back to an enclosing object: the graph has a cycle through here.
      parent.expanded = add(parent.expanded, 1);
      childHash = child.structural ? INFINITE : 1;
    } else {
      parent.expanded = add(parent.expanded, child.expanded);
      parent.height = Math.max(parent.height, child.height + 1);
      childHash = child.structural ? child.hashCost : 1;
    }
    if (parent.structural) {
      parent.hashCost = add(parent.hashCost, childHash);
    }
    if (hashed) {
      if (childHash == INFINITE) {
        throw new DecodeLimitException(
            "maxDepth",
            limits.maxDepth(),
            "a set element or map key contains itself: hashing it would never end");
      }
      if (childHash > 1) {
        charge(mul(childHash - 1, DecodeLimits.HASHING_STEPS), "hashing set elements and map keys");
      }
    }
  }

  private Node finish(Node node, int handle) throws DecodeLimitException {
    node.inProgress = false;
    if (node.height > limits.maxDepth()) {
      throw new DecodeLimitException(
          "maxDepth",
          limits.maxDepth(),
          "objects nested " + node.height + " deep (through shared references)");
    }
    maxHeight = Math.max(maxHeight, node.height);
    if (node.expanded > limits.maxWork()) {
      throw new DecodeLimitException(
          "maxWork",
          limits.maxWork(),
          "an object whose expanded size is over that (exponential sharing)");
    }
    if (node.expanded == 1 && node.height == 0 && node.hashCost == 1) {
      handles.set(handle, LEAF); // nothing inside: forget the node
      return LEAF;
    }
    return node;
  }

  private void charge(long steps, String what) throws DecodeLimitException {
    work = add(work, steps);
    if (work > limits.maxWork()) {
      throw new DecodeLimitException(
          "maxWork", limits.maxWork(), "more steps than that for " + what);
    }
  }

  private void count() throws DecodeLimitException {
    if (++objects > limits.maxObjects()) {
      throw new DecodeLimitException(
          "maxObjects", limits.maxObjects(), "more objects and references than that");
    }
  }

  private static long mul(long a, int b) {
    return a > INFINITE / b ? INFINITE : a * b;
  }

  private static long add(long a, long b) {
    long s = a + b;
    return s < 0 ? INFINITE : s;
  }

  /**
   * Whether instances hash their contents: java.util collections and maps, and records. Other
   * classes have an identity hash or their own, which the scan cannot see.
   */
  private boolean structural(Desc d) {
    if (d.structural == null) {
      boolean s;
      if (d.name.startsWith("java.util.")) {
        s = true;
      } else if (d.proxy
          || d.name.startsWith("java.")
          || d.name.startsWith("javax.")
          || d.name.startsWith("jdk.")
          || !d.hasObjectFields()) {
        s = false;
      } else {
        s = isRecord(d.name);
      }
      d.structural = s;
    }
    return d.structural;
  }

  private boolean isRecord(String name) {
    try {
      return Class.forName(name, false, loader).isRecord();
    } catch (ClassNotFoundException | LinkageError e) {
      return false; // ObjectInputStream will say what is wrong with it
    }
  }

  // ---- bytes

  /** The entry of a handle: a Node, a Desc, or null for a description still being read. */
  private Object handle() throws StreamCorruptedException {
    int h = s4() - BASE_WIRE_HANDLE;
    if (h < 0 || h >= handles.size()) {
      throw corrupt("a reference to handle 0x" + Integer.toHexString(h + BASE_WIRE_HANDLE));
    }
    return handles.get(h);
  }

  private String utf() throws StreamCorruptedException {
    int n = u2();
    need(n);
    String s;
    boolean ascii = true;
    for (int i = pos; i < pos + n; i++) {
      if (b[i] < 0) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      s = new String(b, pos, n, StandardCharsets.ISO_8859_1);
    } else {
      try {
        byte[] framed = new byte[n + 2];
        framed[0] = (byte) (n >>> 8);
        framed[1] = (byte) n;
        System.arraycopy(b, pos, framed, 2, n);
        s = new java.io.DataInputStream(new java.io.ByteArrayInputStream(framed)).readUTF();
      } catch (java.io.IOException e) {
        throw corrupt("a malformed modified UTF-8 string");
      }
    }
    pos += n;
    return s;
  }

  private int peek() throws StreamCorruptedException {
    need(1);
    return b[pos] & 0xff;
  }

  private int u2() throws StreamCorruptedException {
    need(2);
    int v = ((b[pos] & 0xff) << 8) | (b[pos + 1] & 0xff);
    pos += 2;
    return v;
  }

  private int s4() throws StreamCorruptedException {
    need(4);
    int v =
        ((b[pos] & 0xff) << 24)
            | ((b[pos + 1] & 0xff) << 16)
            | ((b[pos + 2] & 0xff) << 8)
            | (b[pos + 3] & 0xff);
    pos += 4;
    return v;
  }

  private void skip(long n) throws StreamCorruptedException {
    if (n > end - pos) {
      throw corrupt("the stream announces " + n + " bytes where only " + (end - pos) + " are left");
    }
    pos += (int) n;
  }

  private void need(int n) throws StreamCorruptedException {
    if (n > end - pos) {
      throw corrupt("the encoded object is cut short");
    }
  }

  private StreamCorruptedException corrupt(String what) {
    return new StreamCorruptedException(what + " (at byte " + pos + " of the stream)");
  }
}
