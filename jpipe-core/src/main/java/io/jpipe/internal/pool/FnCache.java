package io.jpipe.internal.pool;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The functions a pool has serialized, by identity, so that a function given again (a method
 * reference or non-capturing lambda is one object) is serialized once and sent to each worker once,
 * under a number. Holds the most recently used {@value #CAPACITY}.
 */
final class FnCache {
  static final int CAPACITY = 256;

  /** A serialized function and its number. */
  record Entry(int id, byte[] bytes) {}

  /** Compares by identity: two equal lambdas are still two functions. */
  private record Key(Object fn) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Key k && k.fn == fn;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(fn);
    }
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final AtomicInteger ids = new AtomicInteger();
  private final LinkedHashMap<Key, Entry> entries =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, FnCache.Entry> eldest) {
          return size() > CAPACITY;
        }
      };

  /**
   * The entry of {@code fn}, serializing it if it is not cached.
   *
   * @throws IOException if it does not serialize
   */
  Entry get(Object fn) throws IOException {
    Key key = new Key(fn);
    lock.lock();
    try {
      Entry e = entries.get(key);
      if (e != null) {
        return e;
      }
    } finally {
      lock.unlock();
    }
    Entry e = new Entry(ids.incrementAndGet(), Values.serialize(fn));
    lock.lock();
    try {
      Entry raced = entries.putIfAbsent(key, e);
      return raced != null ? raced : e;
    } finally {
      lock.unlock();
    }
  }
}
