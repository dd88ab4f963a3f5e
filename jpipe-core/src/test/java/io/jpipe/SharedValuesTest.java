package io.jpipe;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.spawn.Launcher;
import java.io.ByteArrayOutputStream;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * SharedInt, SharedLong, SharedDouble and their arrays: CPython's {@code _TestValue} and {@code
 * _TestArray} cases that apply, the atomic operations, and child JVMs changing the parent's values.
 */
class SharedValuesTest {
  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  static void setValues(SharedInt i, SharedDouble d, SharedLong l) {
    i.set(24234);
    d.set(-4.25);
    l.set(1L << 34);
  }

  // _TestValue.test_value and _TestValue.test_rawvalue (no lock is taken by single operations)
  @Test
  void aChildSetsTheParentsValues() throws Exception {
    try (SharedInt i = SharedInt.create(4343);
        SharedDouble d = SharedDouble.create(3.625);
        SharedLong l = SharedLong.create(1L << 33)) {
      assertEquals(4343, i.get());
      assertEquals(3.625, d.get());
      assertEquals(1L << 33, l.get());
      ChildProcess p = ChildProcess.of(SharedValuesTest::setValues, i, d, l);
      p.start();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
      assertEquals(24234, i.get());
      assertEquals(-4.25, d.get());
      assertEquals(1L << 34, l.get());
    }
  }

  // _TestValue.test_getobj_getlock and _TestArray.test_getobj_getlock_obj
  @Test
  void eachValueHasOneLockClosedWithIt() throws Exception {
    SharedLong v = SharedLong.create(5);
    SharedDoubleArray a = SharedDoubleArray.create(new double[] {0, 1, 2});
    ProcessLock lock = v.lock();
    assertSame(lock, v.lock(), "get_lock() is always the same lock");
    assertSame(a.lock(), a.lock());
    assertTrue(lock.tryLock());
    assertEquals(5, v.get(), "the lock does not stand in the way of single operations");
    lock.unlock();
    v.close();
    a.close();
    v.close();
    assertThrows(IllegalStateException.class, lock::tryLock, "closed with its value");
    assertThrows(IllegalStateException.class, v::get);
    assertThrows(IllegalStateException.class, () -> v.set(1));
    assertThrows(IllegalStateException.class, () -> a.get(0));
    assertThrows(IllegalStateException.class, a::toArray);
    assertEquals("SharedLong[closed]", v.toString());
  }

  @Test
  void atomicOperationsAsJavasAtomics() throws Exception {
    try (SharedInt i = SharedInt.create(Integer.MAX_VALUE);
        SharedLong l = SharedLong.create(10);
        SharedDouble d = SharedDouble.create(1.5)) {
      assertEquals(Integer.MIN_VALUE, i.incrementAndGet(), "wraps as int arithmetic does");
      assertEquals(Integer.MAX_VALUE, i.decrementAndGet());
      assertEquals(Integer.MAX_VALUE, i.getAndSet(7));
      assertFalse(i.compareAndSet(8, 9));
      assertTrue(i.compareAndSet(7, 9));
      assertEquals(9, i.getAndAdd(-10));
      assertEquals(-1, i.get());
      assertEquals("SharedInt[-1]", i.toString());

      assertEquals(15, l.addAndGet(5));
      assertEquals(15, l.getAndAdd(Long.MAX_VALUE));
      assertEquals(15 + Long.MAX_VALUE, l.get());
      assertTrue(l.compareAndSet(15 + Long.MAX_VALUE, -3));
      assertEquals(-3, l.getAndSet(0));
      assertEquals(-1, l.decrementAndGet());

      assertEquals(1.5, d.getAndAdd(0.25));
      assertEquals(2.0, d.addAndGet(0.25));
      assertEquals(2.0, d.getAndSet(-0.0));
      assertFalse(d.compareAndSet(0.0, 1), "compares bits: 0.0 is not -0.0");
      assertTrue(d.compareAndSet(-0.0, Double.NaN));
      assertTrue(d.compareAndSet(Double.NaN, 3), "compares bits: NaN is NaN");
      assertEquals(3.0, d.get());
    }
  }

  static void prefixSums(SharedIntArray seq) {
    for (int i = 1; i < seq.length(); i++) {
      seq.addAndGet(i, seq.get(i - 1));
    }
  }

  static void doubleAll(SharedLongArray arr, SharedMemory shm) {
    for (int i = 0; i < arr.length(); i++) {
      arr.set(i, 2 * arr.get(i));
    }
    try (shm) {
      shm.segment().set(JAVA_LONG, 0, arr.length());
    }
  }

  // _TestValue.test_value again, with a child started from a warm spare (descriptors passed over a
  // socket, not inherited at spawn), and a SharedMemory beside the values
  @Test
  void aWarmChildGetsTheSameMemory() throws Exception {
    try (SharedLongArray arr = SharedLongArray.create(new long[] {1, 2, 3});
        SharedMemory shm = SharedMemory.create(8)) {
      try {
        // a warm start with no spare ready spawns: have one ready
        assertTrue(ChildProcess.prestartWarm(java.time.Duration.ofMinutes(2)), "a spare is ready");
        ChildProcess p =
            ChildProcess.of(SharedValuesTest::doubleAll, arr, shm)
                .startMethod(ChildProcess.StartMethod.WARM);
        p.start();
        p.join();
        assertEquals(0, p.exitCode().orElseThrow());
        assertArrayEquals(new long[] {2, 4, 6}, arr.toArray());
        assertEquals(3, shm.segment().get(JAVA_LONG, 0));
      } finally {
        shm.unlink();
        Launcher.warm().closePool(); // before the check that no child is left
      }
    }
  }

  // _TestArray.test_array and _TestArray.test_rawarray
  @Test
  void aChildComputesInTheParentsArray() throws Exception {
    int[] seq = {680, 626, 934, 821, 150, 233, 548, 982, 714, 831};
    try (SharedIntArray arr = SharedIntArray.create(seq)) {
      assertEquals(seq.length, arr.length());
      assertEquals(seq[3], arr.get(3));
      assertArrayEquals(Arrays.copyOfRange(seq, 2, 7), Arrays.copyOfRange(arr.toArray(), 2, 7));
      int[] replacement = {1, 2, 3, 4};
      for (int k = 0; k < 4; k++) {
        arr.set(4 + k, replacement[k]);
        seq[4 + k] = replacement[k];
      }
      assertArrayEquals(seq, arr.toArray());
      for (int i = 1; i < seq.length; i++) {
        seq[i] += seq[i - 1];
      }
      ChildProcess p = ChildProcess.of(SharedValuesTest::prefixSums, arr);
      p.start();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
      assertArrayEquals(seq, arr.toArray());
    }
  }

  // _TestArray.test_array_from_size (a new array is zeroed, each time)
  @Test
  void anArrayFromASizeIsZeroed() throws Exception {
    for (int round = 0; round < 3; round++) {
      try (SharedLongArray arr = SharedLongArray.create(10)) {
        assertEquals(10, arr.length());
        assertArrayEquals(new long[10], arr.toArray());
        for (int i = 0; i < 10; i++) {
          arr.set(i, i);
        }
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, arr.toArray());
      }
    }
    try (SharedDoubleArray empty = SharedDoubleArray.create(0)) {
      assertEquals(0, empty.length());
      assertArrayEquals(new double[0], empty.toArray());
      assertThrows(IndexOutOfBoundsException.class, () -> empty.get(0));
    }
  }

  @Test
  void badInputIsRefusedClearly() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> SharedIntArray.create(-1));
    try (SharedDoubleArray a = SharedDoubleArray.create(new double[] {1.5, 2.5})) {
      assertThrows(IndexOutOfBoundsException.class, () -> a.get(2));
      assertThrows(IndexOutOfBoundsException.class, () -> a.set(-1, 0));
      assertThrows(IndexOutOfBoundsException.class, () -> a.getAndAdd(Integer.MAX_VALUE, 1));
      assertEquals(1.5, a.getAndAdd(0, 1));
      assertEquals(4.5, a.addAndGet(1, 2));
      assertTrue(a.compareAndSet(0, 2.5, 0));
      assertEquals(0.0, a.getAndSet(0, 7));
      assertArrayEquals(new double[] {7, 4.5}, a.toArray());
      ObjectOutputStream out = new ObjectOutputStream(new ByteArrayOutputStream());
      assertThrows(
          NotSerializableException.class,
          () -> out.writeObject(a),
          "a shared value goes to child processes only");
    }
  }

  @Test
  void nothingIsLeftOpen() throws Exception {
    int before = TestSupport.fdCount();
    for (int k = 0; k < 20; k++) {
      SharedIntArray a = SharedIntArray.create(5000);
      a.set(4999, k);
      a.close();
    }
    assertEquals(before, TestSupport.fdCount(), "each value's memfd is closed with it");
  }

  static final int ROUNDS = 5_000;

  /** What every process does: lock-free increments, and locked read-modify-write updates. */
  static void hammer(
      SharedLong counter, SharedDouble guarded, SharedIntArray slots, SharedInt ready)
      throws InterruptedException {
    ready.incrementAndGet(); // start together, so that the updates do meet
    long deadline = System.nanoTime() + TestSupport.PATIENCE.toNanos();
    while (ready.get() < 3 && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    for (int k = 0; k < ROUNDS; k++) {
      counter.incrementAndGet();
      slots.getAndAdd(k % slots.length(), 1);
      ProcessLock lock = guarded.lock();
      lock.lock();
      try {
        guarded.set(guarded.get() + 0.5); // not atomic without the lock
      } finally {
        lock.unlock();
      }
    }
  }

  // No CPython counterpart beyond its docs' "with v.get_lock(): v.value += 1": two child JVMs and
  // the parent update the same values at once, lock-free and under the value's lock
  @Test
  void childrenAndParentUpdateAtOnceWithoutLosingAnUpdate() throws Exception {
    try (SharedLong counter = SharedLong.create(0);
        SharedDouble guarded = SharedDouble.create(0);
        SharedIntArray slots = SharedIntArray.create(10);
        SharedInt ready = SharedInt.create(0)) {
      List<ChildProcess> children = new ArrayList<>();
      for (int k = 0; k < 2; k++) {
        ChildProcess p = ChildProcess.of(SharedValuesTest::hammer, counter, guarded, slots, ready);
        p.start();
        children.add(p);
      }
      hammer(counter, guarded, slots, ready);
      for (ChildProcess p : children) {
        p.join();
        assertEquals(0, p.exitCode().orElseThrow());
      }
      assertEquals(3, ready.get(), "all three took part");
      assertEquals(3L * ROUNDS, counter.get());
      assertEquals(3 * ROUNDS * 0.5, guarded.get(), "no locked update was lost");
      int[] each = new int[10];
      Arrays.fill(each, 3 * ROUNDS / 10);
      assertArrayEquals(each, slots.toArray());
    }
  }
}
