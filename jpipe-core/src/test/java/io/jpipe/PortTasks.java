package io.jpipe;

import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * What the {@link ProcessPool} tests run in workers (static methods, so that they travel as method
 * references), and the CPython helpers they stand for ({@code sqr}, {@code mul}, {@code
 * exception_throwing_generator}, {@code _crash}, ...).
 */
final class PortTasks {
  private PortTasks() {}

  /** How long a task waits for a gate before giving up (nothing in a test waits that long). */
  static final long GATE_PATIENCE_MILLIS = 120_000;

  /** CPython's {@code sqr(x)}. */
  static Integer sqr(Integer x) {
    return x * x;
  }

  /** CPython's {@code sqr(x, wait)}: squares after sleeping. */
  static Integer sqrAfter(int x, long waitMillis) throws InterruptedException {
    Thread.sleep(waitMillis);
    return x * x;
  }

  /** A pair of ints: the argument of the two-argument functions CPython maps over ({@code zip}). */
  record Pair(int a, int b) implements Serializable {}

  /** CPython's {@code mul(x, y)}. */
  static Integer mul(Pair p) {
    return p.a() * p.b();
  }

  /** CPython's {@code pow(x, y)} on ints. */
  static Long pow(Pair p) {
    long r = 1;
    for (int i = 0; i < p.b(); i++) {
      r *= p.a();
    }
    return r;
  }

  /** CPython's {@code divmod(a, b)}: throws {@link ArithmeticException} when b is 0. */
  static Pair divmod(Pair p) {
    return new Pair(Math.floorDiv(p.a(), p.b()), Math.floorMod(p.a(), p.b()));
  }

  /** CPython's {@code identity}. */
  static Object identity(Object x) {
    return x;
  }

  /** CPython's {@code str}. */
  static String str(Object x) {
    return String.valueOf(x);
  }

  /** This worker's process id ({@code os.getpid}). */
  static Long pid(Object ignored) {
    return ProcessHandle.current().pid();
  }

  /** CPython's {@code time.sleep(ms)}; returns null as it does. */
  static Object sleep(Integer millis) throws InterruptedException {
    Thread.sleep(millis);
    return null;
  }

  /** CPython's {@code raise_large_valuerror(wait)}: a 1 MiB message. */
  static Object raiseLargeValueError(Integer waitMillis) throws InterruptedException {
    Thread.sleep(waitMillis);
    throw new IllegalArgumentException("x".repeat(1 << 20));
  }

  /** CPython's {@code _test_traceback}: {@code raise RuntimeError(123) # some comment}. */
  static Object raiseRuntimeError123() {
    throw new RuntimeException("123");
  }

  /** CPython's {@code _raise_error(RuntimeError)} and {@code _test_wrapped_exception}. */
  static Object raiseRuntimeErrorFoo() {
    throw new RuntimeException("foo");
  }

  /** CPython's {@code _exit}: {@code sys.exit(1)}. */
  static Object exit1() {
    System.exit(1);
    return null;
  }

  /** CPython's {@code os._exit(code)}: no shutdown hooks. */
  static Object halt(Integer code) {
    Runtime.getRuntime().halt(code);
    return null;
  }

  /** This worker kills itself with SIGKILL (what {@code kill -9} from outside does). */
  static Object killSelf(Object ignored) {
    Libc.kill(Scratch.get().errno, Libc.getpid(), Linux.SIGKILL);
    throw new IllegalStateException("still alive after SIGKILL");
  }

  /** CPython's {@code _crash}: a real memory fault (SIGSEGV) in this worker's JVM. */
  @SuppressWarnings("restricted")
  static Object crash(Object ignored) {
    MemorySegment.ofAddress(8).reinterpret(8).set(ValueLayout.JAVA_LONG, 0, 1L);
    throw new IllegalStateException("still alive after writing to address 8");
  }

  /** CPython's {@code _crash_with_data}. */
  static Object crashWithData(byte[] data) {
    return killSelf(data);
  }

  /** CPython's {@code _crash(delay)}. */
  static Object crashAfter(Integer millis) throws InterruptedException {
    Thread.sleep(millis);
    return killSelf(null);
  }

  /** A result that cannot be serialized (CPython's {@code unpickleable_result}). */
  static Object unserializableResult(Object ignored) {
    return new Object();
  }

  /** Returns an instance of the named class (CPython's {@code _return_instance(cls)}). */
  static Object returnInstance(String className) throws Exception {
    return Class.forName(className).getDeclaredConstructor().newInstance();
  }

  // ---------------------------------------------------------------- gates (CPython's events)

  /** Waits, in a worker, until the file {@code path} exists: a gate the test opens. */
  static Object waitForGate(String path) throws InterruptedException {
    long deadline = System.nanoTime() + GATE_PATIENCE_MILLIS * 1_000_000;
    while (!Files.exists(Path.of(path))) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("the gate " + path + " was never opened");
      }
      Thread.sleep(2);
    }
    return null;
  }

  /** CPython's {@code wait_and_raise(e)}. */
  static Object waitThenRaise(String gate) throws InterruptedException {
    waitForGate(gate);
    throw new IllegalStateException("this is an exception");
  }

  /** Creates the file {@code path} (if it does not exist yet) and returns null. */
  static Object touch(String path) throws IOException {
    try {
      Files.createFile(Path.of(path));
    } catch (java.nio.file.FileAlreadyExistsException e) {
      // already there
    }
    return null;
  }

  // ---------------------------------------------------------------- worker state

  /** Set by {@link #initializer()} in a worker: how many times it ran there. */
  static volatile int initialized;

  /** CPython's {@code initializer(ns)}: counts its runs in this worker. */
  static void initializer() {
    initialized++;
  }

  /** How many times the initializer ran in this worker. */
  static Integer initializedCount(Object ignored) {
    return initialized;
  }

  /** An initializer that fails. */
  static void failingInitializer() {
    throw new IllegalStateException("initializer failed on purpose");
  }

  // ---------------------------------------------------------------- iterables

  /** CPython's {@code SayWhenError}. */
  static final class SayWhenError extends IllegalArgumentException {
    @Serial private static final long serialVersionUID = 1L;

    SayWhenError() {
      super("Somebody said when");
    }
  }

  /**
   * CPython's {@code exception_throwing_generator(total, when)}: 0, 1, ... up to {@code total},
   * throwing {@link SayWhenError} instead of item {@code when} ({@code -1}: at once).
   */
  static Iterable<Integer> exceptionThrowingGenerator(int total, int when) {
    return () ->
        new Iterator<>() {
          int i;

          @Override
          public boolean hasNext() {
            if (when == -1 || i == when) {
              throw new SayWhenError();
            }
            return i < total;
          }

          @Override
          public Integer next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            return i++;
          }
        };
  }

  /** CPython's {@code SpecialIterable}: its {@code next} throws at once. */
  static Iterable<Integer> specialIterable() {
    return () ->
        new Iterator<>() {
          @Override
          public boolean hasNext() {
            return true;
          }

          @Override
          public Integer next() {
            throw new SayWhenError();
          }
        };
  }

  // ---------------------------------------------------------------- hostile values

  /** CPython's {@code ErrorAtPickle}: refuses to be written. */
  static final class ErrorAtPickle implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      throw new java.io.NotSerializableException("Error in pickle");
    }
  }

  /** CPython's {@code ErrorAtUnpickle}: refuses to be read. */
  static final class ErrorAtUnpickle implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) throws IOException {
      throw new InvalidObjectException("Error in unpickle");
    }
  }

  /** CPython's {@code ExitAtUnpickle}: {@code System.exit(1)} where it is read. */
  static final class ExitAtUnpickle implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) {
      System.exit(1);
    }
  }

  /** CPython's {@code CrashAtUnpickle}: the process that reads it is killed by SIGKILL. */
  static final class CrashAtUnpickle implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) {
      killSelf(null);
    }
  }

  /** CPython's {@code ExitAtPickle}: {@code System.exit(1)} where it is written. */
  public static final class ExitAtPickle implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** For {@link #returnInstance}. */
    public ExitAtPickle() {}

    @Serial
    private void writeObject(ObjectOutputStream out) {
      System.exit(1);
    }
  }

  /** CPython's {@code CrashAtPickle}: the process that writes it is killed by SIGKILL. */
  public static final class CrashAtPickle implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** For {@link #returnInstance}. */
    public CrashAtPickle() {}

    @Serial
    private void writeObject(ObjectOutputStream out) {
      killSelf(null);
    }
  }

  /** CPython's {@code ErrorAtPickle} as a result: refuses to be written by the worker. */
  public static final class ErrorAtPickleResult implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** For {@link #returnInstance}. */
    public ErrorAtPickleResult() {}

    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
      throw new java.io.NotSerializableException("Error in pickle");
    }
  }

  /**
   * CPython's {@code ErrorAtUnpickle} as a result: written by the worker, refused when this JVM
   * reads it.
   */
  public static final class ErrorAtUnpickleResult implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** For {@link #returnInstance}. */
    public ErrorAtUnpickleResult() {}

    @Serial
    private void readObject(ObjectInputStream in) throws IOException {
      throw new InvalidObjectException("Error in unpickle");
    }
  }

  /**
   * {@code ErrorAtUnpickleResult} whose {@code readObject} throws an unchecked exception, as any
   * Java class's may: written by the worker, refused when this JVM reads it.
   */
  public static final class RuntimeErrorAtUnpickleResult implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** For {@link #returnInstance}. */
    public RuntimeErrorAtUnpickleResult() {}

    @Serial
    private void readObject(ObjectInputStream in) {
      throw new IllegalStateException("Error in unpickle");
    }
  }

  /** An exception that cannot be serialized: it holds a plain {@link Object}. */
  static final class UnserializableError extends RuntimeException {
    @Serial private static final long serialVersionUID = 1L;

    @SuppressWarnings({"serial", "unused"})
    private final Object payload = new Object();

    UnserializableError(String message) {
      super(message);
    }
  }

  /** Throws an {@link UnserializableError}. */
  static Object raiseUnserializable(Object ignored) {
    throw new UnserializableError("cannot travel");
  }
}
