package io.jpipe.codec;

import static io.jpipe.codec.StreamScan.add;
import static io.jpipe.codec.StreamScan.mul;

import java.util.concurrent.ThreadLocalRandom;

/**
 * What a hash table pays to insert keys whose hashes collide, computed by {@link StreamScan} from
 * the hashes the keys will have: a tree bin ({@code HashMap}, {@code HashSet}, {@code
 * ConcurrentHashMap}) compares the keys of one hash in order if they are all of one ordered class
 * (a log each) and else each with each; a chain ({@code Hashtable}) compares each with each, and
 * walks its bucket; linear probing ({@code Set.of}, {@code Map.of}) compares with every key on its
 * way to a free slot. Keys of unknown hash are taken to collide with each other and with the
 * largest group. Each key is charged as it arrives, in constant time, so a container whose keys
 * collide is refused before most of them are read.
 */
final class Collisions {
  /** Tree bins: HashMap, HashSet. */
  static final int TREE = 1;

  /** One chain per bucket: Hashtable. */
  static final int CHAIN = 2;

  /** Linear probing of a table of twice as many slots: Set.of, Map.of. */
  static final int PROBE = 3;

  /** Tree bins of 31-bit hashes: ConcurrentHashMap. */
  static final int SPREAD_TREE = 4;

  /**
   * Steps of {@link DecodeLimits#maxWork()} per element visited comparing two keys whose hashes
   * collide: an equals or compareTo on what was already hashed (and charged {@link
   * DecodeLimits#HASHING_STEPS} an element), which costs about as little as a step of reading.
   */
  static final int COMPARING_STEPS = 1;

  private Collisions() {}

  /**
   * The keys a container hashes, charged as they arrive, in the order it inserts them: each key
   * pays for the keys before it that it meets. What it keeps is a few ints per distinct hash (and,
   * for a chain or probing, per bucket or slot taken), never the keys themselves.
   */
  static final class Keys {
    private final int model;

    /** Per hash: how many keys had it (low 24 bits, saturating) and their ordered code (high 8). */
    private final IntMap groups = new IntMap();

    /** CHAIN: keys per bucket. PROBE: per slot taken, the next slot to try, plus 1. */
    private IntMap slots;

    /** CHAIN: the table's length (0 until the first key). PROBE: its slots, 0 if unknown. */
    private int length;

    /** PROBE: keys the table holds (from its data), -1 if unknown. */
    private long expected = -1;

    private long n;
    private long worst;
    private long largest;
    private long largestBucket;

    Keys(int model) {
      this.model = model;
    }

    /**
     * PROBE: the table will hold {@code keys} keys, as its data says; {@code left}: bytes left in
     * the message (each key takes one at least), to refuse an absurd claim.
     */
    void expect(long keys, long left) {
      if (model == PROBE
          && expected < 0
          && keys >= 0
          && keys <= left
          && 2 * keys <= Integer.MAX_VALUE - 8) {
        expected = keys;
        length = (int) (2 * keys);
      }
    }

    /**
     * Adds a key: its hash, whether that is unknown, its ScanClass ordered code, and what comparing
     * it costs in elements visited; for a chain, the Hashtable's load factor and the first 8 bytes
     * of its block data (its length and element count). Returns the steps of {@link
     * DecodeLimits#maxWork()} that inserting it costs: {@link #COMPARING_STEPS} per element visited
     * comparing it with the keys before it of its hash (or, probing, on its way to a free slot),
     * and one per step along a chain.
     */
    long charge(
        int hash, boolean unknown, byte orderedCode, long cost, float lf, byte[] block, int blen) {
      long index = n++;
      long compares;
      long walk = 0;
      if (model == PROBE) {
        compares = probe(hash, unknown, index, cost);
      } else if (unknown) {
        compares = mul(add(worst, largest), cost);
        worst++;
        if (model == CHAIN) {
          walk = add(largestBucket, worst);
        }
      } else {
        int h = model == SPREAD_TREE ? (hash ^ (hash >>> 16)) & 0x7FFFFFFF : hash;
        int before = groups.get(h);
        int count = before & 0xFFFFFF;
        int ordered = before >>> 24;
        if (count == 0) {
          ordered = Math.max(orderedCode, 0);
        } else if (ordered != orderedCode) {
          ordered = 0; // mixed classes: a tree bin compares each with each
        }
        groups.put(h, ordered << 24 | Math.min(count + 1, 0xFFFFFF));
        boolean tree = model != CHAIN && ordered > 0;
        compares = tree ? mul(cost, 64 - Long.numberOfLeadingZeros(count)) : mul(count, cost);
        if (count + 1 > largest) {
          largest = count + 1;
          compares = add(compares, mul(worst, cost)); // the unknown keys meet the largest group
        }
        if (model == CHAIN) {
          walk = chain(hash, lf, block, blen);
        }
      }
      return add(mul(compares, COMPARING_STEPS), walk);
    }

    /** Steps along a Hashtable's chain: the key passes every key before it in its bucket. */
    private long chain(int hash, float lf, byte[] block, int blen) {
      if (length == 0) {
        length = chainLength(lf, block, blen);
        slots = new IntMap();
      }
      if (length < 0) {
        return 0; // Hashtable refuses it
      }
      int bucket = (hash & 0x7FFFFFFF) % length;
      int before = slots.get(bucket);
      slots.put(bucket, before == Integer.MAX_VALUE ? before : before + 1);
      largestBucket = Math.max(largestBucket, before + 1L);
      return add(before, worst); // and the unknown keys, which may be anywhere
    }

    /** Elements visited probing {@code Set.of}/{@code Map.of}'s table (twice as many slots). */
    private long probe(int hash, boolean unknown, long index, long cost) {
      if (expected >= 0 && expected <= 2) {
        return 0; // Set12, Map1: no table
      }
      if (unknown) {
        worst++;
      }
      if (worst > 0 || length == 0 || index >= expected) {
        return mul(index, cost); // at worst, past every key before it
      }
      if (slots == null) {
        slots = new IntMap();
      }
      int home = Math.floorMod(hash, length);
      int free = home;
      for (int next; (next = slots.get(free)) != 0; ) {
        free = next - 1;
      }
      for (int s = home; s != free; ) { // compress the path
        int after = slots.get(s) - 1;
        slots.put(s, free + 1);
        s = after;
      }
      slots.put(free, (free + 1 == length ? 0 : free + 1) + 1);
      long passed = free >= home ? free - home : free + (long) length - home;
      return mul(passed, cost);
    }
  }

  /** Hashtable.readHashtable's table length, or -1 if it refuses the data. */
  private static int chainLength(float loadFactor, byte[] block, int blockLength) {
    float lf = loadFactor;
    if (!(lf > 0)) {
      return -1;
    }
    lf = Math.clamp(lf, 0.25f, 4.0f);
    if (blockLength < 8) {
      return 1; // no length: every key in one chain
    }
    int origLength = StreamScan.s4(block, 0);
    int elements = StreamScan.s4(block, 4);
    if (elements < 0) {
      return -1;
    }
    origLength = Math.max(origLength, (int) (elements / lf) + 1);
    int length = (int) (elements * 1.05f / lf) + 3;
    if (length > elements && (length & 1) == 0) {
      length--;
    }
    length = Math.min(length, origLength);
    if (length < 0) {
      length = origLength;
    }
    return length <= 0 ? -1 : length;
  }

  /**
   * A map of ints to ints other than 0 (0: absent), by open addressing at most half full. Slots are
   * chosen by a salted mix, so keys chosen to crowd one slot of it do not.
   */
  private static final class IntMap {
    private int[] keys = new int[16];
    private int[] values = new int[16];
    private int used;
    private final int salt = ThreadLocalRandom.current().nextInt();

    int get(int key) {
      int mask = keys.length - 1;
      for (int s = mix(key ^ salt) & mask; values[s] != 0; s = (s + 1) & mask) {
        if (keys[s] == key) {
          return values[s];
        }
      }
      return 0;
    }

    /** Sets {@code key} to {@code value}, not 0. */
    void put(int key, int value) {
      if (2 * (used + 1) > keys.length) {
        grow();
      }
      int mask = keys.length - 1;
      int s = mix(key ^ salt) & mask;
      while (values[s] != 0 && keys[s] != key) {
        s = (s + 1) & mask;
      }
      if (values[s] == 0) {
        used++;
        keys[s] = key;
      }
      values[s] = value;
    }

    private void grow() {
      int[] oldKeys = keys;
      int[] oldValues = values;
      keys = new int[oldKeys.length * 2];
      values = new int[oldKeys.length * 2];
      int mask = keys.length - 1;
      for (int j = 0; j < oldKeys.length; j++) {
        if (oldValues[j] != 0) {
          int s = mix(oldKeys[j] ^ salt) & mask;
          while (values[s] != 0) {
            s = (s + 1) & mask;
          }
          keys[s] = oldKeys[j];
          values[s] = oldValues[j];
        }
      }
    }

    private static int mix(int h) {
      h ^= h >>> 16;
      h *= 0x85EBCA6B;
      h ^= h >>> 13;
      h *= 0xC2B2AE35;
      return h ^ (h >>> 16);
    }
  }
}
