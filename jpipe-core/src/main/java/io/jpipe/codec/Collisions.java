package io.jpipe.codec;

import static io.jpipe.codec.StreamScan.add;
import static io.jpipe.codec.StreamScan.mul;

import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What a hash table pays to insert keys whose hashes collide, computed by {@link StreamScan} from
 * the hashes the keys will have: a tree bin ({@code HashMap}, {@code HashSet}, {@code
 * ConcurrentHashMap}) compares the keys of one hash in order if they are all of one ordered class
 * (a log each) and else each with each; a chain ({@code Hashtable}) compares each with each, and
 * walks its bucket; linear probing ({@code Set.of}, {@code Map.of}) compares with every key on its
 * way to a free slot. Keys of unknown hash are taken to collide with each other and with the
 * largest group. All of it in linear time, whatever the hashes.
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

  /** Most keys of one table grouped (each is a step of maxWork, far more than its default). */
  private static final int MOST_KEYS = 1 << 28;

  private Collisions() {}

  /** The keys a container hashes, in the order it inserts them. */
  static final class Keys {
    int[] hashes = new int[8];
    long[] costs = new long[8];

    /** ScanClass's ordered code, or -1 for a key whose hash is unknown. */
    byte[] ordered = new byte[8];

    int n;
    int worst;
    long worstCost;

    /**
     * Adds a key: its hash, whether that is unknown, its ScanClass ordered code, and what comparing
     * it costs in elements visited.
     */
    void add(int hash, boolean unknown, byte orderedCode, long cost) {
      if (n == hashes.length) {
        hashes = Arrays.copyOf(hashes, 2 * n);
        costs = Arrays.copyOf(costs, 2 * n);
        ordered = Arrays.copyOf(ordered, 2 * n);
      }
      hashes[n] = hash;
      costs[n] = cost;
      ordered[n] = unknown ? -1 : orderedCode;
      n++;
      if (unknown) {
        worst++;
        worstCost = StreamScan.add(worstCost, cost);
      }
    }
  }

  /**
   * Steps of {@link DecodeLimits#maxWork()} that inserting these keys costs, for a table of this
   * model: {@link DecodeLimits#HASHING_STEPS} per element visited comparing keys, and one per step
   * along a chain. For a chain, {@code loadFactor} and the first 8 bytes of {@code block} (its
   * length and element count) are the Hashtable's.
   */
  static long steps(int model, Keys k, float loadFactor, byte[] block, int blockLength) {
    if (k.n > MOST_KEYS) {
      return Long.MAX_VALUE; // more keys in one table than these tables can group
    }
    long compares;
    long walk = 0;
    switch (model) {
      case PROBE -> compares = probes(k);
      case CHAIN -> {
        compares = groups(k, false, false);
        walk = chainWalk(k, loadFactor, block, blockLength);
      }
      case SPREAD_TREE -> compares = groups(k, true, true);
      default -> compares = groups(k, true, false);
    }
    return add(mul(compares, DecodeLimits.HASHING_STEPS), walk);
  }

  /**
   * Elements visited comparing keys of equal hash (see {@link Collisions}): in a tree bin ({@code
   * tree}) or a chain; {@code spread}: as ConcurrentHashMap, which drops a bit of the hash.
   */
  private static long groups(Keys k, boolean tree, boolean spread) {
    Groups g = new Groups(k.n);
    for (int i = 0; i < k.n; i++) {
      if (k.ordered[i] >= 0) {
        int h = k.hashes[i];
        g.add(spread ? (h ^ (h >>> 16)) & 0x7FFFFFFF : h, i); // ConcurrentHashMap.spread
      }
    }
    long visits = 0;
    int largest = 0;
    long largestCost = 0;
    for (int s = 0; s < g.heads.length; s++) {
      int head = g.heads[s];
      if (head == 0) {
        continue;
      }
      int m = 0;
      long cost = 0;
      byte ordered = k.ordered[head - 1];
      boolean sameOrdered = ordered > 0;
      for (int i = head; i != 0; i = g.next[i - 1]) {
        m++;
        cost = add(cost, k.costs[i - 1]);
        sameOrdered &= k.ordered[i - 1] == ordered;
      }
      if (m > 1) {
        visits =
            add(
                visits,
                tree && sameOrdered
                    ? mul(cost, 64 - Long.numberOfLeadingZeros(m))
                    : eachWithEach(m, cost));
      }
      if (m > largest) {
        largest = m;
        largestCost = cost;
      }
    }
    if (k.worst > 0) {
      visits = add(visits, eachWithEach(k.worst + largest, add(k.worstCost, largestCost)));
    }
    return visits;
  }

  /**
   * Ints grouped by value in linear time: an open-addressing table of the values, each slot the
   * head of a chain of the indices added with that value. Slots are chosen by a salted mix, so
   * values chosen to crowd one slot of it do not.
   */
  private static final class Groups {
    final int[] values;

    /** Per slot: the first index added with its value, plus 1; 0 if the slot is empty. */
    final int[] heads;

    /** Per index: the next index with the same value, plus 1; 0 at the end. */
    final int[] next;

    private final int salt = ThreadLocalRandom.current().nextInt();

    Groups(int n) {
      int slots = Integer.highestOneBit(Math.max(2, n)) << 2; // at most half full
      values = new int[slots];
      heads = new int[slots];
      next = new int[n];
    }

    void add(int value, int index) {
      int mask = heads.length - 1;
      int s = mix(value ^ salt) & mask;
      while (heads[s] != 0 && values[s] != value) {
        s = (s + 1) & mask;
      }
      values[s] = value;
      next[index] = heads[s];
      heads[s] = index + 1;
    }

    private static int mix(int h) {
      h ^= h >>> 16;
      h *= 0x85EBCA6B;
      h ^= h >>> 13;
      h *= 0xC2B2AE35;
      return h ^ (h >>> 16);
    }
  }

  /** Comparing each of {@code m} keys with each, costing at most {@code cost} in all per round. */
  private static long eachWithEach(long m, long cost) {
    return mul(m - 1, cost) / 2;
  }

  /** Steps walking a Hashtable's chains: each key passes every key before it in its bucket. */
  private static long chainWalk(Keys k, float loadFactor, byte[] block, int blockLength) {
    float lf = loadFactor;
    if (!(lf > 0)) {
      return 0; // Hashtable refuses it
    }
    lf = Math.clamp(lf, 0.25f, 4.0f);
    int origLength = 1;
    int elements = k.n;
    if (blockLength >= 8) {
      origLength = StreamScan.s4(block, 0);
      elements = StreamScan.s4(block, 4);
    }
    if (elements < 0) {
      return 0; // Hashtable refuses it
    }
    // Hashtable.readHashtable's table length
    origLength = Math.max(origLength, (int) (elements / lf) + 1);
    int length = (int) (elements * 1.05f / lf) + 3;
    if (length > elements && (length & 1) == 0) {
      length--;
    }
    length = Math.min(length, origLength);
    if (length < 0) {
      length = origLength;
    }
    if (length <= 0) {
      return 0;
    }
    Groups buckets = new Groups(k.n);
    for (int e = 0; e < k.n; e++) {
      if (k.ordered[e] >= 0) {
        buckets.add((k.hashes[e] & 0x7FFFFFFF) % length, e);
      }
    }
    long steps = 0;
    long largest = 0;
    for (int head : buckets.heads) {
      long m = 0;
      for (int i = head; i != 0; i = buckets.next[i - 1]) {
        m++;
      }
      steps = add(steps, mul(m, m - 1) / 2);
      largest = Math.max(largest, m);
    }
    return add(steps, mul(k.worst, largest + k.worst));
  }

  /** Elements visited probing {@code Set.of}/{@code Map.of}'s table (twice as many slots). */
  private static long probes(Keys k) {
    int n = k.n;
    if (n <= 2) {
      return 0;
    }
    long visits = 0;
    if (k.worst > 0 || 2L * n > Integer.MAX_VALUE - 8) {
      for (int i = 0; i < n; i++) {
        visits = add(visits, mul(i, k.costs[i])); // at worst, past every key before it
      }
      return visits;
    }
    int slots = 2 * n;
    int[] next = new int[slots]; // union-find: the first free slot at or after each slot
    for (int s = 0; s < slots; s++) {
      next[s] = s;
    }
    for (int i = 0; i < n; i++) {
      int home = Math.floorMod(k.hashes[i], slots);
      int free = home;
      while (next[free] != free) {
        free = next[free];
      }
      for (int s = home; next[s] != free; ) { // compress the path
        int after = next[s];
        next[s] = free;
        s = after;
      }
      next[free] = free + 1 == slots ? 0 : free + 1;
      long passed = free >= home ? free - home : free + slots - home;
      visits = add(visits, mul(passed, k.costs[i]));
    }
    return visits;
  }
}
