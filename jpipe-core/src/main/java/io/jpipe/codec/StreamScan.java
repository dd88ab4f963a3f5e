package io.jpipe.codec;

import java.io.StreamCorruptedException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Reads a Java serialization stream as the grammar of the Object Serialization Specification
 * (chapter 6) describes it, without making an object (classes are loaded, never initialised, to see
 * whether they are records and how they hash), and refuses it if decoding would go over a {@link
 * DecodeLimits}: nesting (in the stream, and of the graph it builds), objects, lengths that the
 * message cannot hold, digits of a {@code BigInteger}, the expanded size of the graph, and the
 * hashing that {@code HashMap}, {@code HashSet}, {@code Hashtable}, {@code ConcurrentHashMap} and
 * {@code Set.of}/{@code Map.of} do while they are read: visiting the contents of keys that hash
 * their contents (SerialDOS), and comparing keys whose hashes collide. It reads exactly what {@link
 * java.io.ObjectInputStream#readObject()} reads, so the real decode that follows never sees
 * anything this did not count.
 *
 * <p>To charge collisions, the scan computes the {@code hashCode} each object will have, as far as
 * it can ({@link ScanClass}): exactly for strings, boxed primitives, {@code BigInteger}, {@code
 * BigDecimal}, {@code UUID}, {@code Date}, {@code java.time} values, the {@code java.util} lists,
 * sets, maps and wrappers, and records; a random stand-in for objects with an identity hash (and
 * for the application's own hashCode, taken as well spread); "unknown" for other JDK classes that
 * hash their contents, which are then assumed to collide with anything.
 *
 * <p>Class data written by a {@code writeObject} method is read as the specification requires it to
 * be laid out: the fields ({@code defaultWriteObject} or {@code writeFields}) first, then block
 * data and objects up to the end marker. Externalizable data must be in block data mode (protocol
 * 2, the default since Java 1.2). A record's data is its fields only, as {@code ObjectInputStream}
 * reads it; a record's class description that claims {@code writeObject} data is refused.
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
  private static final int SC_EXTERNALIZABLE = 0x04;
  private static final int SC_BLOCK_DATA = 0x08;

  /** A cost that never ends: hashing a structure that contains itself. */
  private static final long INFINITE = Long.MAX_VALUE;

  /** Most bytes of block data kept to compute a hash from (java.time's forms are shorter). */
  private static final int BLOCK_KEPT = 256;

  /** Mixed into the stand-in hashes of enum constants and classes. */
  private static final long SALT = ThreadLocalRandom.current().nextLong();

  /** Desc.countAt: every object of the custom data is an element. */
  private static final int COUNT_NONE = -1;

  /** Desc.countAt: the class's field "size" (ArrayList). */
  private static final int COUNT_SIZE_FIELD = -2;

  /** Desc.countAt: pairs up to one with a null key or value (ConcurrentHashMap). */
  private static final int COUNT_UNTIL_NULL_PAIR = -3;

  /** Desc.countAt: pairs up to a null key (ConcurrentSkipListMap). */
  private static final int COUNT_UNTIL_NULL_KEY = -4;

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

    /** Collisions' model: how the class finds colliding keys among what its custom data holds. */
    final int keys;

    /** How its custom data makes the object's hash: a ScanClass LIST, SET or MAP; 0 not. */
    final int fold;

    /** Whether the first object of its custom data is not an element (TreeSet's comparator). */
    final boolean skipFirst;

    /** Whether its block data is kept (a Date's time, a Hashtable's sizes). */
    final boolean keepBlock;

    /**
     * Where its custom data says how many elements it holds, which are all its readObject reads
     * (objects after them are read and dropped): a byte offset into the block data before the first
     * element, or a COUNT_* below.
     */
    final int countAt;

    /** Objects per element counted: 2 for a map's pairs. */
    final int countScale;

    /** The class as the scan knows it; null until asked. */
    ScanClass facts;

    /** This description and its superclasses', subclass first; null until asked. */
    Desc[] chain;

    /** For a record: the component each field is, or -1; null until asked. */
    int[] componentOf;

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
      this.keys =
          switch (name) {
            case "java.util.Hashtable" -> Collisions.CHAIN;
            case "java.util.CollSer" -> Collisions.PROBE;
            case "java.util.concurrent.ConcurrentHashMap" -> Collisions.SPREAD_TREE;
            default -> hashing != 0 ? Collisions.TREE : 0;
          };
      this.fold =
          switch (name) {
            case "java.util.ArrayList",
                "java.util.LinkedList",
                "java.util.concurrent.CopyOnWriteArrayList" ->
                ScanClass.LIST;
            case "java.util.HashSet", "java.util.TreeSet" -> ScanClass.SET;
            case "java.util.HashMap",
                "java.util.TreeMap",
                "java.util.Hashtable",
                "java.util.EnumMap",
                "java.util.concurrent.ConcurrentHashMap",
                "java.util.concurrent.ConcurrentSkipListMap" ->
                ScanClass.MAP;
            default -> 0; // CollSer: by its tag
          };
      this.skipFirst = name.equals("java.util.TreeSet");
      this.countAt =
          switch (name) {
            case "java.util.ArrayList" -> COUNT_SIZE_FIELD;
            case "java.util.LinkedList",
                "java.util.concurrent.CopyOnWriteArrayList",
                "java.util.TreeSet",
                "java.util.TreeMap",
                "java.util.EnumMap",
                "java.util.CollSer" ->
                0;
            case "java.util.HashMap", "java.util.Hashtable" -> 4;
            case "java.util.HashSet" -> 8;
            case "java.util.concurrent.ConcurrentHashMap" -> COUNT_UNTIL_NULL_PAIR;
            case "java.util.concurrent.ConcurrentSkipListMap" -> COUNT_UNTIL_NULL_KEY;
            default -> COUNT_NONE;
          };
      this.countScale = fold == ScanClass.MAP ? 2 : 1;
      this.keepBlock = name.equals("java.util.Date") || name.equals("java.util.Hashtable");
    }
  }

  /**
   * One object of the graph: what hashing it, walking it, and nesting into it cost, and the hash it
   * will have.
   */
  private static final class Node {
    /** Whether hashCode walks its contents (collections, maps, records, own hashCodes). */
    final boolean structural;

    /** Its ScanClass kind (IDENTITY for strings, arrays, enums, classes). */
    final byte kind;

    boolean inProgress = true;

    /** Whether its hash is unknown: assumed to collide with anything. */
    boolean worst;

    /** ScanClass's ordered code: colliding keys of one such class are searched in order. */
    byte ordered;

    /** Longest path below it, references back to enclosing objects not counted. */
    int height;

    /** Its hashCode, as far as the scan knows it (see {@link #worst}). */
    int hash;

    /** Nodes in the graph drawn as a tree; a reference back to an enclosing object counts 1. */
    long expanded = 1;

    /** Elements its hashCode visits; INFINITE if it would never end. */
    long hashCost = 1;

    /** What is gathered while it is read; kept after for arrays, dropped for the rest. */
    Build build;

    Node(byte kind, boolean structural) {
      this.kind = kind;
      this.structural = structural;
    }
  }

  /** What an object's reading gathers to compute its hash and charge its keys. */
  private static final class Build {
    /** The class's facts, or null (arrays, or only keys to charge). */
    final ScanClass facts;

    /** The ScanClass LIST, SET or MAP that custom data was folded as; 0 if none was. */
    int foldedAs;

    int acc;
    boolean accWorst;
    int pendingKey;
    boolean pendingWorst;

    /** The fields the hash depends on (FIELD, ENTRY, and so on: field1, field2 of the facts). */
    Node ref1;

    Node ref2;

    /** A BigInteger's signum. */
    int signum;

    /** A Hashtable's load factor. */
    float loadFactor = 0.75f;

    /** An ArrayList's field "size": how many elements it reads; -1 if not read. */
    long sizeField = -1;

    byte[] block;
    int blockLength;
    boolean blockOverflow;

    Collisions.Keys keys;

    /** An array's length (-1 if not an array) and, for primitive arrays, where its bytes are. */
    int arrayLength = -1;

    int arrayStart;

    /** An array: elements a hash of its contents visits. */
    long contentCost = 1;

    Build(ScanClass facts) {
      this.facts = facts;
    }

    void keep(byte[] b, int off, int n) {
      if (block == null) {
        block = new byte[BLOCK_KEPT];
      }
      int kept = Math.min(n, BLOCK_KEPT - blockLength);
      System.arraycopy(b, off, block, blockLength, kept);
      blockLength += kept;
      blockOverflow |= kept < n;
    }
  }

  /** The parent of what a class description's annotation holds: nothing is charged to it. */
  private static final Node LEAF = leaf(0);

  /** null. */
  private static final Node NULL = leaf(0);

  private static Node leaf(int hash) {
    Node n = new Node(ScanClass.IDENTITY, false);
    n.hash = hash;
    n.inProgress = false;
    return n;
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

  private StreamScan(
      byte[] b, int offset, int length, DecodeLimits limits, int depthCap, ClassLoader loader) {
    this.b = b;
    this.pos = offset;
    this.end = offset + length;
    this.limits = limits;
    this.depthCap = depthCap;
    this.loader = loader;
  }

  /**
   * What the scan found: deepest nesting in the stream and in the graph, objects, work, and the
   * hash the value will have ({@code hashKnown} false if the scan cannot tell, or it is an identity
   * hash).
   */
  record Result(
      int streamDepth, int height, long objects, long work, int hash, boolean hashKnown) {}

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
    boolean known =
        !root.worst
                && root.kind != ScanClass.IDENTITY
                && root.kind != ScanClass.OPAQUE // a stand-in hash
            || root.ordered == ScanClass.ORDERED_STRING
            || root == NULL;
    return new Result(maxStreamDepth, maxHeight, objects, work, root.hash, known);
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
          "maxDepth",
          limits.maxDepth(),
          "objects nested deeper than that in the stream (each object inside another nests one"
              + " level, so a chain of objects that each hold the next, a linked list of plain"
              + " objects, nests once per link; DecodeLimits.withMaxDepth raises the limit)");
    }
    maxStreamDepth = Math.max(maxStreamDepth, depth);
    count();
    try {
      return switch (tc) {
        case TC_NULL -> {
          pos++;
          yield NULL;
        }
        case TC_REFERENCE -> {
          pos++;
          Object h = handle();
          yield h instanceof Node n ? n : identity(); // a class description, as an object
        }
        case TC_CLASS -> {
          pos++;
          Desc d = classDesc();
          if (d == null) {
            throw corrupt("a class object without a class");
          }
          Node c = leaf(constantHash(d.name, 0));
          handles.add(c);
          yield c;
        }
        case TC_CLASSDESC, TC_PROXYCLASSDESC -> {
          classDesc();
          yield identity();
        }
        case TC_STRING, TC_LONGSTRING -> string();
        case TC_ARRAY -> {
          pos++;
          yield array();
        }
        case TC_ENUM -> {
          pos++;
          Desc d = classDesc();
          if (d == null) {
            throw corrupt("an enum constant without a class");
          }
          Node constant = leaf(0);
          handles.add(constant);
          int t = peek();
          if (t != TC_STRING && t != TC_LONGSTRING) {
            throw corrupt("an enum constant without a name");
          }
          constant.hash = constantHash(d.name, string().hash); // Enum's hashCode: one per constant
          yield constant;
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
    ScanClass facts = facts(desc);
    Node node = new Node(facts.kind, facts.structural());
    node.ordered = facts.ordered;
    switch (facts.kind) {
      case ScanClass.IDENTITY, ScanClass.OPAQUE -> node.hash = random();
      case ScanClass.WORST -> node.worst = true;
      case ScanClass.CONSTANT -> node.hash = facts.constant;
      case ScanClass.BOXED, ScanClass.UUID -> {} // its fields, read below, make its hash
      case ScanClass.RECORD -> node.hash = facts.recordBase; // and its fields, read below
      default -> node.build = new Build(facts);
    }
    int handle = handles.size();
    handles.add(node);
    Desc[] chain = chain(desc);
    if (facts.record) {
      // ObjectInputStream reads a record's fields, class by class, and never custom data.
      for (int i = chain.length - 1; i >= 0; i--) {
        Desc d = chain[i];
        if ((d.flags & SC_WRITE_METHOD) != 0) {
          throw corrupt(
              d.name
                  + ": a record's class description claims writeObject data, which a record never"
                  + " has and ObjectInputStream would not read");
        }
        if (!d.proxy) {
          fields(node, d, facts);
        }
      }
    } else if ((desc.flags & SC_EXTERNALIZABLE) != 0) {
      if ((desc.flags & SC_BLOCK_DATA) == 0) {
        throw corrupt(desc.name + ": externalizable data of stream protocol 1 is not accepted");
      }
      annotation(node, desc, 0, 0, facts.kind == ScanClass.TIME);
    } else {
      // Every class in the description's chain has its fields read, serializable or not, as
      // ObjectInputStream reads them; then its custom data if it says it wrote some.
      for (int i = chain.length - 1; i >= 0; i--) {
        Desc d = chain[i];
        if (d.proxy) {
          continue;
        }
        int tag = fields(node, d, facts);
        if ((d.flags & SC_WRITE_METHOD) != 0) {
          int hashing = d.hashing;
          int fold = d.fold;
          if (d.hashing == 3) { // CollSer: List.of (tags 1, 4), Set.of (2), Map.of (3)
            hashing = tag == 2 ? 1 : tag == 3 ? 2 : 0;
            fold =
                switch (tag) {
                  case 1, 4 -> ScanClass.LIST;
                  case 2 -> ScanClass.SET;
                  case 3 -> ScanClass.MAP;
                  default -> 0;
                };
          }
          annotation(node, d, hashing, fold, d.keepBlock);
        }
      }
    }
    return finish(node, handle);
  }

  /** The description and its superclasses', subclass first. */
  private static Desc[] chain(Desc desc) {
    if (desc.chain == null) {
      int n = 0;
      for (Desc d = desc; d != null; d = d.superDesc) {
        n++;
      }
      Desc[] chain = new Desc[n];
      n = 0;
      for (Desc d = desc; d != null; d = d.superDesc) {
        chain[n++] = d;
      }
      desc.chain = chain;
    }
    return desc.chain;
  }

  /**
   * Reads the field values of one class in the chain of an object's class (of these facts); returns
   * CollSer's tag (or 0).
   */
  private int fields(Node node, Desc d, ScanClass facts)
      throws StreamCorruptedException, DecodeLimitException {
    int tag = 0;
    boolean bigInteger = d.name.equals("java.math.BigInteger");
    if (node.build == null && d.keys == Collisions.CHAIN) {
      node.build = new Build(null); // a Hashtable's load factor decides its chains
    }
    boolean take = d.keys == Collisions.CHAIN || d.name.equals(facts.owner);
    for (int i = 0; i < d.fieldTypes.length; i++) {
      char t = d.fieldTypes[i];
      if (t == 'L' || t == '[') {
        Node child = content();
        attach(node, child, false);
        if (take) {
          take(node, facts, d, i, t, 0, child);
        }
        if (bigInteger && d.fieldNames[i].equals("magnitude")) {
          checkMagnitude(child);
        }
        continue;
      }
      int width =
          switch (t) {
            case 'B', 'Z' -> 1;
            case 'C', 'S' -> 2;
            case 'I', 'F' -> 4;
            default -> 8; // 'D', 'J'
          };
      need(width);
      long v = 0;
      for (int k = 0; k < width; k++) {
        v = (v << 8) | (b[pos + k] & 0xff);
      }
      if (t == 'B') {
        v = (byte) v;
      } else if (t == 'S') {
        v = (short) v;
      }
      pos += width;
      if (t == 'I' && d.hashing == 3 && d.fieldNames[i].equals("tag")) {
        tag = (int) v & 0xff;
      }
      if (t == 'I' && d.countAt == COUNT_SIZE_FIELD && node.build != null) {
        if (d.fieldNames[i].equals("size")) {
          node.build.sizeField = v;
        }
      }
      if (take) {
        take(node, facts, d, i, t, v, null);
      }
    }
    return tag;
  }

  /**
   * Keeps what the object's hash needs of field {@code i} of {@code d}, the class that declares the
   * fields the hash depends on (or a Hashtable): a primitive's bits, or the node of an object
   * field.
   */
  private static void take(
      Node node, ScanClass facts, Desc d, int i, char type, long bits, Node ref) {
    String name = d.fieldNames[i];
    Build build = node.build;
    if (d.keys == Collisions.CHAIN) {
      if (type == 'F' && name.equals("loadFactor")) {
        build.loadFactor = Float.intBitsToFloat((int) bits);
      }
      return;
    }
    boolean object = type == 'L' || type == '[';
    switch (node.kind) {
      case ScanClass.BOXED -> {
        if (!object && name.equals("value")) {
          node.hash = ScanClass.primitiveHash(type, bits);
        }
      }
      case ScanClass.RECORD -> {
        // The generated hashCode is 31 * h + each component's hash in declaration order: a sum
        // of each component's hash times a power of 31, whatever order the fields come in.
        if (d.componentOf == null) {
          d.componentOf = facts.componentsOf(d.fieldNames);
        }
        int c = d.componentOf[i];
        if (c >= 0) {
          int h = object ? refHash(node, ref) : ScanClass.primitiveHash(type, bits);
          if (facts.booleanComponents[c]) {
            h -= 1237; // counted in the base, as if absent (false)
          }
          node.hash += h * facts.weights[c];
        }
      }
      case ScanClass.UUID -> {
        if (!object && (name.equals("mostSigBits") || name.equals("leastSigBits"))) {
          node.hash ^= (int) (bits >> 32) ^ (int) bits;
        }
      }
      case ScanClass.BIG_DECIMAL -> {
        if (object && name.equals("intVal")) {
          build.ref1 = ref;
          build.acc += 31 * refHash(node, ref);
        } else if (!object && name.equals("scale")) {
          build.acc += (int) bits;
        }
      }
      case ScanClass.BIG_INTEGER -> {
        if (object && name.equals("magnitude")) {
          build.ref1 = ref;
        } else if (!object && name.equals("signum")) {
          build.signum = (int) bits;
        }
      }
      case ScanClass.FIELD, ScanClass.SINGLETON_LIST, ScanClass.ARRAYS_AS_LIST, ScanClass.ENTRY -> {
        if (object && name.equals(build.facts.field1)) {
          build.ref1 = ref;
        } else if (object && name.equals(build.facts.field2)) {
          build.ref2 = ref;
        }
      }
      default -> {}
    }
  }

  /** A BigInteger's magnitude, new or a reference to an array read before, within the limit. */
  private void checkMagnitude(Node magnitude) throws DecodeLimitException {
    int length = magnitude.build != null ? magnitude.build.arrayLength : -1;
    if (length > limits.maxIntBytes()) {
      throw new DecodeLimitException(
          "maxIntDigits",
          limits.maxIntDigits(),
          "a BigInteger of " + length + " bytes (more than " + limits.maxIntBytes() + ")");
    }
  }

  /**
   * Block data and objects up to TC_ENDBLOCKDATA, written by {@code d}'s writeObject (or
   * writeExternal). {@code hashing}: 1 if every object is hashed as it is read back, 2 if the
   * objects are key-value pairs and the keys are hashed.
   */
  private void annotation(Node node, Desc d, int hashing, int fold, boolean keepBlock)
      throws StreamCorruptedException, DecodeLimitException {
    Build build = node.build;
    if (node != LEAF) {
      if (build == null && (hashing != 0 || keepBlock)) {
        build = node.build = new Build(null);
      }
      if (build != null && fold != 0) {
        build.foldedAs = fold;
        build.acc = fold == ScanClass.LIST ? 1 : 0;
      }
      if (hashing != 0) {
        if (build.keys == null) {
          build.keys = new Collisions.Keys(d.keys);
        }
      }
    }
    boolean skipFirst = d != null && d.skipFirst;
    if (build == null) {
      fold = 0;
    }
    // The hash folds only the elements the class's readObject reads: as many as its data says.
    int countAt = fold == 0 ? COUNT_NONE : d.countAt;
    long limit = Long.MAX_VALUE;
    if (countAt == COUNT_SIZE_FIELD && build.sizeField >= 0) {
      limit = build.sizeField;
    }
    boolean counted = countAt < 0;
    byte[] lead = counted ? null : new byte[countAt + 4];
    int leadLength = 0;
    long index = 0;
    while (true) {
      int tc = peek();
      switch (tc) {
        case TC_ENDBLOCKDATA -> {
          pos++;
          return;
        }
        case TC_BLOCKDATA, TC_BLOCKDATALONG -> {
          pos++;
          int n;
          if (tc == TC_BLOCKDATA) {
            need(1);
            n = b[pos++] & 0xff;
          } else {
            n = s4();
            if (n < 0) {
              throw corrupt("block data of negative length");
            }
          }
          need(n);
          if (keepBlock) {
            build.keep(b, pos, n);
          }
          if (!counted) {
            int kept = Math.min(n, lead.length - leadLength);
            System.arraycopy(b, pos, lead, leadLength, kept);
            leadLength += kept;
          }
          skip(n);
        }
        default -> {
          Node child = content();
          boolean hashed = hashing == 1 || (hashing == 2 && index % 2 == 0);
          long element = skipFirst ? index - 1 : index; // -1: TreeSet's comparator
          if (!counted && element >= 0) {
            counted = true;
            if (leadLength == lead.length) {
              limit = Math.max(0, (long) s4(lead, countAt)) * d.countScale;
              if (hashing != 0 && node != LEAF) {
                // Set.of and Map.of's table: as many slots as twice the keys
                build.keys.expect(hashing == 2 ? limit / 2 : limit, end - pos + 1L);
              }
            }
          } else if (!counted) {
            leadLength = 0; // TreeSet: its size comes after its comparator
          }
          attach(node, child, hashed);
          if (countAt == COUNT_UNTIL_NULL_PAIR && child == NULL
              || countAt == COUNT_UNTIL_NULL_KEY && child == NULL && element % 2 == 0) {
            limit = Math.min(limit, element - element % 2); // this pair and what follows: dropped
          }
          if (fold != 0 && element >= 0 && element < limit) {
            fold(build, fold, element, child);
          }
          index++;
        }
      }
    }
  }

  /** The big-endian int at {@code a[off]}. */
  static int s4(byte[] a, int off) {
    return ((a[off] & 0xff) << 24)
        | ((a[off + 1] & 0xff) << 16)
        | ((a[off + 2] & 0xff) << 8)
        | (a[off + 3] & 0xff);
  }

  /** Adds one element (or half a pair) to the hash of a list, set or map being read. */
  private static void fold(Build build, int fold, long index, Node child) {
    int h = child.hash;
    boolean unknown = child.worst || child.inProgress;
    switch (fold) {
      case ScanClass.LIST -> build.acc = 31 * build.acc + h;
      case ScanClass.SET -> build.acc += h;
      default -> { // MAP: the sum of key ^ value
        if (index % 2 == 0) {
          build.pendingKey = h;
          build.pendingWorst = unknown;
          return;
        }
        build.acc += build.pendingKey ^ h;
        unknown |= build.pendingWorst;
      }
    }
    build.accWorst |= unknown;
  }

  private Node array() throws StreamCorruptedException, DecodeLimitException {
    Desc desc = classDesc();
    if (desc == null || desc.name.length() < 2 || desc.name.charAt(0) != '[') {
      throw corrupt("an array without an array class");
    }
    int handle = handles.size();
    Node node = new Node(ScanClass.IDENTITY, false);
    node.hash = random();
    Build build = node.build = new Build(null);
    handles.add(node);
    int n = s4();
    if (n < 0) {
      throw corrupt("an array of negative length " + n);
    }
    if (n > limits.maxArrayLength()) {
      throw new DecodeLimitException(
          "maxArrayLength", limits.maxArrayLength(), "an array of " + n + " elements");
    }
    build.arrayLength = n;
    build.arrayStart = pos;
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
      build.accWorst = true; // Arrays.hashCode of primitives: not needed, not computed
    } else {
      if (n > end - pos) {
        throw corrupt(
            "an array announces "
                + n
                + " elements where only "
                + (end - pos)
                + " bytes are left in the message");
      }
      build.acc = 1; // as Arrays.hashCode(Object[]), for Arrays.asList
      for (int i = 0; i < n; i++) {
        Node child = content();
        attach(node, child, false);
        fold(build, ScanClass.LIST, i, child);
      }
    }
    return finish(node, handle);
  }

  private Node string() throws StreamCorruptedException {
    long n = pos < end && (b[pos] & 0xff) == TC_LONGSTRING ? longLength() : shortLength();
    int start = pos;
    skip(n);
    Node s = leaf(utfHash(b, start, pos));
    s.ordered = ScanClass.ORDERED_STRING;
    s.hashCost = 1 + n / 256; // comparing two long strings costs more than one step
    handles.add(s);
    return s;
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
        Desc d = new Desc("(proxy)", 0x02, true, new char[0], new String[0]);
        d.facts = ScanClass.PROXY;
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
    annotation(LEAF, null, 0, 0, false);
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

  private ScanClass facts(Desc d) {
    if (d.facts == null) {
      d.facts = ScanClass.of(d.name, loader);
    }
    return d.facts;
  }

  // ---- accounting

  /**
   * Adds a child's costs to its parent; if the parent hashes the child as it is read back, charges
   * that hashing and keeps the child's hash to charge collisions.
   */
  private void attach(Node parent, Node child, boolean hashed) throws DecodeLimitException {
    if (parent == LEAF) {
      return;
    }
    if (child.inProgress) {
      // A reference back to an enclosing object: the graph has a cycle through here.
      parent.expanded = add(parent.expanded, 1);
    } else {
      parent.expanded = add(parent.expanded, child.expanded);
      parent.height = Math.max(parent.height, child.height + 1);
    }
    Build pb = parent.build;
    boolean parentArray = pb != null && pb.arrayLength >= 0;
    if ((parent.structural && !selective(parent.kind)) || parentArray) {
      long cost = contentCost(parent, child, parentArray);
      if (parent.structural && !selective(parent.kind)) {
        parent.hashCost = add(parent.hashCost, cost);
      }
      if (parentArray) {
        pb.contentCost = add(pb.contentCost, cost);
      }
    }
    if (hashed) {
      long cost = elementCost(parent, child);
      if (cost == INFINITE) {
        throw new DecodeLimitException(
            "maxDepth",
            limits.maxDepth(),
            "a set element or map key contains itself: hashing it would never end");
      }
      if (cost > 1) {
        charge(mul(cost - 1, DecodeLimits.HASHING_STEPS), "hashing set elements and map keys");
      }
      charge(
          pb.keys.charge(
              child.hash,
              child.worst,
              child.ordered,
              cost,
              pb.loadFactor,
              pb.block,
              pb.blockLength),
          "comparing set elements and map keys whose hashes collide");
    }
  }

  /** Whether the hash of an object of this kind visits some of its fields only (see hash). */
  private static boolean selective(byte kind) {
    return switch (kind) {
      case ScanClass.BIG_INTEGER,
          ScanClass.BIG_DECIMAL,
          ScanClass.FIELD,
          ScanClass.SINGLETON_LIST,
          ScanClass.ENTRY,
          ScanClass.ARRAYS_AS_LIST ->
          true;
      default -> false;
    };
  }

  /** What hashing {@code child} costs when {@code parent} hashes it as an element. */
  private static long elementCost(Node parent, Node child) {
    if (child.inProgress) {
      // Hashing it would come back here: without end, unless a hashCode of the application's
      // (which the scan cannot see) stops first; the thread's stack is the backstop then.
      boolean loops =
          child.structural && child.kind != ScanClass.OPAQUE && parent.kind != ScanClass.OPAQUE;
      return loops ? INFINITE : 1;
    }
    return child.hashCost;
  }

  /**
   * What {@code parent}'s hash spends on {@code child}: an array's contents where the parent hashes
   * them (an array itself, Arrays.asList, a class whose hashCode the scan does not know), else the
   * child's own hash.
   */
  private static long contentCost(Node parent, Node child, boolean parentArray) {
    Build cb = child.build;
    boolean array = cb != null && cb.arrayLength >= 0;
    boolean contents =
        parentArray
            || parent.kind == ScanClass.ARRAYS_AS_LIST
            || parent.kind == ScanClass.WORST
            || parent.kind == ScanClass.OPAQUE;
    if (array && contents) {
      if (child.inProgress) {
        return parent.kind == ScanClass.OPAQUE ? 1 : INFINITE;
      }
      return cb.contentCost;
    }
    return elementCost(parent, child);
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
    Build build = node.build;
    if (build != null) {
      if (build.facts != null) {
        hash(node, build);
      }
      if (build.arrayLength < 0) {
        node.build = null; // arrays keep theirs: a BigInteger or Arrays.asList may refer to them
      } else {
        build.keys = null;
      }
    }
    return node;
  }

  // ---- hashes

  /** Sets the hash the object will have, from what its reading gathered. */
  private void hash(Node node, Build build) {
    ScanClass facts = build.facts;
    switch (facts.kind) {
      case ScanClass.BIG_INTEGER -> {
        Node mag = build.ref1;
        if (mag != null && mag.build != null && mag.build.arrayLength >= 0) {
          node.hash =
              ScanClass.bigIntegerHash(
                  b, mag.build.arrayStart, mag.build.arrayLength, build.signum);
        } else {
          node.worst = true;
        }
      }
      case ScanClass.BIG_DECIMAL -> {
        node.hash = build.acc;
        node.hashCost = add(1, refCost(build.ref1));
      }
      case ScanClass.DATE -> {
        if (build.blockLength >= 8) {
          long t = 0;
          for (int i = 0; i < 8; i++) {
            t = (t << 8) | (build.block[i] & 0xff);
          }
          node.hash = (int) t ^ (int) (t >> 32);
        } else {
          node.worst = true;
        }
      }
      case ScanClass.TIME -> {
        Integer h =
            build.block == null || build.blockOverflow
                ? null
                : ScanClass.timeHash(build.block, build.blockLength);
        if (h != null) {
          node.hash = h;
        } else {
          node.worst = true;
        }
      }
      case ScanClass.LIST, ScanClass.SET, ScanClass.MAP, ScanClass.COLL_SER -> {
        boolean folded =
            facts.kind == ScanClass.COLL_SER ? build.foldedAs != 0 : build.foldedAs == facts.kind;
        if (folded) {
          node.hash = build.acc;
          node.worst |= build.accWorst;
        } else if (facts.jdk) {
          node.worst = true; // its elements are kept where the scan does not look
        } else {
          node.hash = random();
        }
      }
      case ScanClass.FIELD -> {
        node.hash = refHash(node, build.ref1);
        node.hashCost = add(1, refCost(build.ref1));
      }
      case ScanClass.SINGLETON_LIST -> {
        node.hash = 31 + refHash(node, build.ref1);
        node.hashCost = add(1, refCost(build.ref1));
      }
      case ScanClass.ENTRY -> {
        node.hash = refHash(node, build.ref1) ^ refHash(node, build.ref2);
        node.hashCost = add(1, add(refCost(build.ref1), refCost(build.ref2)));
      }
      case ScanClass.ARRAYS_AS_LIST -> {
        Node a = build.ref1;
        if (a != null && a.build != null && a.build.arrayLength >= 0 && !a.inProgress) {
          node.hash = a.build.acc;
          node.worst |= a.build.accWorst;
          node.hashCost = add(1, a.build.contentCost);
        } else {
          node.worst = true;
          node.hashCost = INFINITE; // a list that holds itself: hashing it would never end
        }
      }
      default -> node.worst = true;
    }
  }

  /** The hash of an object field ({@code Objects.hashCode}); marks {@code node} if unknown. */
  private static int refHash(Node node, Node r) {
    if (r == null) {
      return 0;
    }
    if (r.inProgress || r.worst) {
      node.worst = true;
    }
    return r.hash;
  }

  /** What hashing an object field costs (a reference back to an enclosing object: never ends). */
  private static long refCost(Node r) {
    if (r == null) {
      return 0;
    }
    return r.inProgress ? (r.structural && r.kind != ScanClass.OPAQUE ? INFINITE : 1) : r.hashCost;
  }

  /** A hash nothing in the stream decides: an identity hash, or one taken as well spread. */
  private static int random() {
    return ThreadLocalRandom.current().nextInt();
  }

  /** A fresh object with an identity hash and nothing inside. */
  private static Node identity() {
    return leaf(random());
  }

  /** The stand-in identity hash of a class or an enum constant: one per class or constant. */
  private static int constantHash(String className, int extra) {
    long x = SALT ^ (className.hashCode() * 0x9E3779B97F4A7C15L) ^ (extra * 0xC2B2AE3D27D4EB4FL);
    x = (x ^ (x >>> 33)) * 0xFF51AFD7ED558CCDL;
    x = (x ^ (x >>> 33)) * 0xC4CEB9FE1A85EC53L;
    return (int) (x ^ (x >>> 33));
  }

  /** {@code String.hashCode()} of the modified UTF-8 in {@code b[from..to)}. */
  static int utfHash(byte[] b, int from, int to) {
    int h = 0;
    int i = from;
    while (i < to) {
      int c = b[i] & 0xff;
      int ch;
      if (c < 0x80) {
        ch = c;
        i++;
      } else if ((c >> 5) == 6 && i + 1 < to) {
        ch = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
        i += 2;
      } else if ((c >> 4) == 14 && i + 2 < to) {
        ch = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
        i += 3;
      } else {
        break; // malformed: ObjectInputStream refuses the string
      }
      h = 31 * h + ch;
    }
    return h;
  }

  // ---- collisions

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

  /** {@code a * b}, INFINITE if it overflows (0 if either is not positive). */
  static long mul(long a, long b) {
    if (a <= 0 || b <= 0) {
      return 0;
    }
    return a > INFINITE / b ? INFINITE : a * b;
  }

  /** {@code a + b}, INFINITE if it overflows. */
  static long add(long a, long b) {
    long s = a + b;
    return s < 0 ? INFINITE : s;
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
