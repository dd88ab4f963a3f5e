package io.jpipe;

import io.jpipe.internal.sync.SharedCells;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A {@code double} shared by processes: CPython's {@code multiprocessing.Value('d', v)} (a C
 * double), with the operations of {@link java.util.concurrent.atomic.AtomicLong} on a {@code
 * double} (Java has no {@code AtomicDouble}).
 *
 * <pre>{@code
 * try (SharedDouble total = SharedDouble.create(0.0)) {
 *   ChildProcess.of(Demo::work, total).start();      // the child adds to the same double
 *   ...
 * }
 * }</pre>
 *
 * <p>Single operations are atomic across processes without any lock: {@code get} and {@code set}
 * have volatile semantics and the read-modify-write operations are the processor's atomic
 * instructions on the shared memory, as {@link java.util.concurrent.atomic.AtomicLong}'s are within
 * one JVM. For a compound update (read, compute, write), hold {@link #lock()} around it, as Python
 * does {@code with v.get_lock():}. CPython's {@code lock=False} and {@code RawValue} have no
 * counterpart because none is needed: not taking the lock costs nothing.
 *
 * <p>Give it to a {@link ChildProcess} as an argument (or inside one) and the child gets the same
 * memory: what either process writes the other reads. It lives in a memfd with its lock, so nothing
 * is left in any file system; the memory goes once every process has closed it or ended. It can be
 * serialized to a child process only, and Python cannot attach to it (as to CPython's own {@code
 * Value}): share numbers with Python through a {@link SharedMemory}. After {@link #close()} every
 * operation throws {@link IllegalStateException}.
 *
 * <p>{@code compareAndSet} compares the bits ({@link Double#doubleToRawLongBits}), so {@code NaN}
 * matches a {@code NaN} of the same bits and {@code 0.0} does not match {@code -0.0}.
 */
public final class SharedDouble implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private static final VarHandle CELL = ValueLayout.JAVA_LONG.varHandle();

  private final transient SharedCells cells;

  SharedDouble(SharedCells cells) {
    this.cells = cells;
  }

  /**
   * Creates a shared double and its lock.
   *
   * @param initial the first value
   * @return the value
   * @throws IOException if shared memory cannot be had
   */
  public static SharedDouble create(double initial) throws IOException {
    SharedDouble v = new SharedDouble(SharedCells.create(8));
    v.set(initial);
    return v;
  }

  private MemorySegment segment() {
    return cells.segment();
  }

  /**
   * Reads the value (volatile read; Python's {@code v.value}).
   *
   * @return the value
   */
  public double get() {
    return Double.longBitsToDouble((long) CELL.getVolatile(segment(), 0L));
  }

  /**
   * Writes the value (volatile write; Python's {@code v.value = x}).
   *
   * @param newValue the new value
   */
  public void set(double newValue) {
    CELL.setVolatile(segment(), 0L, Double.doubleToRawLongBits(newValue));
  }

  /**
   * Writes the value atomically and returns the one it replaced.
   *
   * @param newValue the new value
   * @return the value before
   */
  public double getAndSet(double newValue) {
    return Double.longBitsToDouble(
        (long) CELL.getAndSet(segment(), 0L, Double.doubleToRawLongBits(newValue)));
  }

  /**
   * Sets the value to {@code newValue} if it is {@code expected}, atomically.
   *
   * @param expected the value expected
   * @param newValue the new value
   * @return true if set, false if the value was not {@code expected}
   */
  public boolean compareAndSet(double expected, double newValue) {
    return CELL.compareAndSet(
        segment(), 0L, Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(newValue));
  }

  /**
   * Adds atomically (a compare-and-set loop).
   *
   * @param delta what to add
   * @return the value before
   */
  public double getAndAdd(double delta) {
    MemorySegment s = segment();
    for (; ; ) {
      long bits = (long) CELL.getVolatile(s, 0L);
      double old = Double.longBitsToDouble(bits);
      if (CELL.compareAndSet(s, 0L, bits, Double.doubleToRawLongBits(old + delta))) {
        return old;
      }
    }
  }

  /**
   * Adds atomically (a compare-and-set loop).
   *
   * @param delta what to add
   * @return the value after
   */
  public double addAndGet(double delta) {
    return getAndAdd(delta) + delta;
  }

  /**
   * The lock for compound updates, shared with every process that has this value (Python's {@code
   * get_lock()}); always the same lock. Closed with the value.
   *
   * @return the lock
   */
  public ProcessLock lock() {
    return cells.lock();
  }

  /**
   * Releases this process's mapping of the value and of its lock; other processes keep theirs.
   * Idempotent.
   */
  @Override
  public void close() {
    cells.close();
  }

  @Override
  public String toString() {
    return cells.isClosed() ? "SharedDouble[closed]" : "SharedDouble[" + get() + "]";
  }

  /**
   * Goes to a child process as its lock and its kind: the child maps the same memory.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new SharedValueForm(cells.lock(), SharedValueForm.Kind.DOUBLE, 1);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a SharedDouble is serialized as its lock");
  }
}
