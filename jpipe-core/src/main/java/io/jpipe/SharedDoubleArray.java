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
import java.util.Objects;

/**
 * An array of {@code double} shared by processes: CPython's {@code multiprocessing.Array('d',
 * size_or_initializer)} (C doubles), with the operations of {@link
 * java.util.concurrent.atomic.AtomicLongArray} on {@code double}s. Its length is fixed.
 *
 * <p>Single operations are atomic across processes without any lock: {@code get} and {@code set}
 * have volatile semantics and the read-modify-write operations are the processor's atomic
 * instructions on the shared memory, as {@link java.util.concurrent.atomic.AtomicLongArray}'s are
 * within one JVM. For a compound update (read, compute, write), hold {@link #lock()} around it, as
 * Python does {@code with v.get_lock():}. CPython's {@code lock=False} and {@code RawArray} have no
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
public final class SharedDoubleArray implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  private static final VarHandle CELL = ValueLayout.JAVA_LONG.varHandle();

  private final transient SharedCells cells;
  private final transient int length;

  SharedDoubleArray(SharedCells cells, int length) {
    this.cells = cells;
    this.length = length;
  }

  /**
   * Creates a shared array of zeros, and its lock (Python's {@code Array('d', length)}).
   *
   * @param length the number of elements, at least 0
   * @return the array
   * @throws IllegalArgumentException if {@code length} is negative
   * @throws IOException if shared memory cannot be had
   */
  public static SharedDoubleArray create(int length) throws IOException {
    if (length < 0) {
      throw new IllegalArgumentException("negative length: " + length);
    }
    return new SharedDoubleArray(SharedCells.create((long) length * 8), length);
  }

  /**
   * Creates a shared array holding a copy of {@code values}, and its lock (Python's {@code
   * Array('d', values)}).
   *
   * @param values the first values
   * @return the array
   * @throws IOException if shared memory cannot be had
   */
  public static SharedDoubleArray create(double[] values) throws IOException {
    SharedDoubleArray a = create(values.length);
    for (int i = 0; i < values.length; i++) {
      a.set(i, values[i]);
    }
    return a;
  }

  private MemorySegment segment() {
    return cells.segment();
  }

  private long offset(int i) {
    return (long) Objects.checkIndex(i, length) * 8;
  }

  /**
   * The number of elements (Python's {@code len(a)}).
   *
   * @return the length
   */
  public int length() {
    return length;
  }

  /**
   * Reads element {@code i} (volatile read; Python's {@code a[i]}).
   *
   * @param i the index
   * @return the element
   * @throws IndexOutOfBoundsException if {@code i} is not an index
   */
  public double get(int i) {
    return Double.longBitsToDouble((long) CELL.getVolatile(segment(), offset(i)));
  }

  /**
   * Writes element {@code i} (volatile write; Python's {@code a[i] = x}).
   *
   * @param i the index
   * @param newValue the new element
   * @throws IndexOutOfBoundsException if {@code i} is not an index
   */
  public void set(int i, double newValue) {
    CELL.setVolatile(segment(), offset(i), Double.doubleToRawLongBits(newValue));
  }

  /**
   * Writes element {@code i} atomically and returns the one it replaced.
   *
   * @param i the index
   * @param newValue the new element
   * @return the element before
   * @throws IndexOutOfBoundsException if {@code i} is not an index
   */
  public double getAndSet(int i, double newValue) {
    return Double.longBitsToDouble(
        (long) CELL.getAndSet(segment(), offset(i), Double.doubleToRawLongBits(newValue)));
  }

  /**
   * Sets element {@code i} to {@code newValue} if it is {@code expected}, atomically.
   *
   * @param i the index
   * @param expected the element expected
   * @param newValue the new element
   * @return true if set, false if the element was not {@code expected}
   * @throws IndexOutOfBoundsException if {@code i} is not an index
   */
  public boolean compareAndSet(int i, double expected, double newValue) {
    return CELL.compareAndSet(
        segment(),
        offset(i),
        Double.doubleToRawLongBits(expected),
        Double.doubleToRawLongBits(newValue));
  }

  /**
   * Adds to element {@code i} atomically (a compare-and-set loop).
   *
   * @param i the index
   * @param delta what to add
   * @return the element before
   * @throws IndexOutOfBoundsException if {@code i} is not an index
   */
  public double getAndAdd(int i, double delta) {
    MemorySegment s = segment();
    long offset = offset(i);
    for (; ; ) {
      long bits = (long) CELL.getVolatile(s, offset);
      double old = Double.longBitsToDouble(bits);
      if (CELL.compareAndSet(s, offset, bits, Double.doubleToRawLongBits(old + delta))) {
        return old;
      }
    }
  }

  /**
   * Adds to element {@code i} atomically (a compare-and-set loop).
   *
   * @param i the index
   * @param delta what to add
   * @return the element after
   * @throws IndexOutOfBoundsException if {@code i} is not an index
   */
  public double addAndGet(int i, double delta) {
    return getAndAdd(i, delta) + delta;
  }

  /**
   * A copy of the elements, each read with volatile semantics (Python's {@code a[:]}); hold {@link
   * #lock()} for a copy that no writer that holds it too changes halfway.
   *
   * @return the elements
   */
  public double[] toArray() {
    MemorySegment s = segment();
    double[] out = new double[length];
    for (int i = 0; i < length; i++) {
      out[i] = Double.longBitsToDouble((long) CELL.getVolatile(s, (long) i * 8));
    }
    return out;
  }

  /**
   * The lock for compound updates, shared with every process that has this array (Python's {@code
   * get_lock()}); always the same lock. Closed with the array.
   *
   * @return the lock
   */
  public ProcessLock lock() {
    return cells.lock();
  }

  /**
   * Releases this process's mapping of the array and of its lock; other processes keep theirs.
   * Idempotent.
   */
  @Override
  public void close() {
    cells.close();
  }

  @Override
  public String toString() {
    return "SharedDoubleArray[length=" + length + (cells.isClosed() ? ", closed]" : "]");
  }

  /**
   * Goes to a child process as its lock, its kind and its length: the child maps the same memory.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new SharedValueForm(cells.lock(), SharedValueForm.Kind.DOUBLE_ARRAY, length);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a SharedDoubleArray is serialized as its lock");
  }
}
