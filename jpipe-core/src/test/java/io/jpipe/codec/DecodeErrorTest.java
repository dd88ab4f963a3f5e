package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.Pipe;
import java.io.Externalizable;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInput;
import java.io.ObjectInputStream;
import java.io.ObjectOutput;
import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@code decode} never throws an {@link Error} (issue 8, point 5): an Error thrown by a decoded
 * class's own code, or by the JDK's on data it refuses, is an {@link InvalidObjectException} with
 * the Error as its cause, on the caller's thread and on the large stack that deep messages are
 * decoded on; and deep messages share a bounded number of those large-stack threads.
 */
class DecodeErrorTest {
  private static final JavaSerializationCodec ANY =
      (JavaSerializationCodec) Codec.javaSerialization();

  /** An Error of the application's own. */
  static final class Boom extends Error {
    @Serial private static final long serialVersionUID = 1L;

    Boom(String message) {
      super(message);
    }
  }

  static final class FailsInReadObject implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      throw new AssertionError("boom in readObject");
    }
  }

  static final class FailsInReadResolve implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private Object readResolve() {
      throw new Boom("boom in readResolve");
    }
  }

  /** Externalizable: public with a public no-argument constructor. */
  public static final class FailsInReadExternal implements Externalizable {
    @Serial private static final long serialVersionUID = 1L;

    /** For Externalizable. */
    public FailsInReadExternal() {}

    @Override
    public void writeExternal(ObjectOutput out) throws IOException {
      out.writeInt(1);
    }

    @Override
    public void readExternal(ObjectInput in) throws IOException {
      in.readInt();
      throw new InternalError("boom in readExternal");
    }
  }

  /** A record whose canonical constructor, run on what arrives, fails with an Error. */
  record FailsInConstructor(int n) implements Serializable {
    FailsInConstructor {
      if (n < 0) {
        throw new AssertionError("boom in the record's constructor");
      }
    }
  }

  /** A class whose readObject uses the stack without end. */
  static final class Recurses implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      recurse(0);
    }

    private static int recurse(int n) {
      return recurse(n + 1) + 1;
    }
  }

  /** The stream of a record {@code FailsInConstructor(-1)}, which its constructor refuses. */
  private static byte[] negativeRecord() throws IOException {
    byte[] b = HostileJavaStreamTest.encode(ANY, List.of(new FailsInConstructor(7)));
    for (int i = b.length - 4; i >= 0; i--) { // the int field 7, patched to -1
      if (b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 0 && b[i + 3] == 7) {
        b[i] = b[i + 1] = b[i + 2] = b[i + 3] = (byte) 0xff;
        return b;
      }
    }
    throw new AssertionError("no field to patch");
  }

  /** {@code value} at the bottom of 100 nested lists: decoded on a large stack. */
  private static Object deep(Object value) {
    Object v = value;
    for (int i = 0; i < 100; i++) {
      v = new ArrayList<>(List.of(v));
    }
    return v;
  }

  record Failing(String name, byte[] message, Class<? extends Throwable> cause) {}

  private static List<Failing> failing() throws IOException {
    List<Failing> list = new ArrayList<>();
    for (boolean deep : new boolean[] {false, true}) {
      String where = deep ? " (deep)" : "";
      list.add(
          new Failing(
              "readObject" + where,
              HostileJavaStreamTest.encode(
                  ANY, deep ? deep(new FailsInReadObject()) : new FailsInReadObject()),
              AssertionError.class));
      list.add(
          new Failing(
              "readResolve" + where,
              HostileJavaStreamTest.encode(
                  ANY, deep ? deep(new FailsInReadResolve()) : new FailsInReadResolve()),
              Boom.class));
      list.add(
          new Failing(
              "readExternal" + where,
              HostileJavaStreamTest.encode(
                  ANY, deep ? deep(new FailsInReadExternal()) : new FailsInReadExternal()),
              InternalError.class));
    }
    list.add(new Failing("a record's constructor", negativeRecord(), AssertionError.class));
    return list;
  }

  @Test
  void anErrorFromADecodedClassIsAnInvalidObjectExceptionOnBothKindsOfThread() throws Exception {
    List<Failing> failing = failing();
    HostileJavaStreamTest.onBothKindsOfThread(
        () -> {
          for (Failing f : failing) {
            InvalidObjectException e =
                assertThrows(
                    InvalidObjectException.class,
                    () -> ANY.decode(f.message(), 0, f.message().length),
                    f.name());
            assertSame(InvalidObjectException.class, e.getClass(), f.name());
            assertInstanceOf(f.cause(), e.getCause(), f.name());
            assertTrue(e.getMessage().contains("boom"), e.getMessage());
          }
          return null;
        });
  }

  @Test
  void aClassThatUsesUpTheStackIsADecodeLimitException() throws Exception {
    for (Object v : List.of(new Recurses(), deep(new Recurses()))) {
      byte[] b = HostileJavaStreamTest.encode(ANY, v);
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> ANY.decode(b, 0, b.length));
      assertEquals("stack", e.limit());
    }
  }

  @Test
  void mapOfWithAnOddNumberOfElementsIsRefusedNotAnInternalError() throws Exception {
    // Map.of's serial proxy with three elements: the JDK's MapN throws InternalError on it.
    byte[] odd = Forge.stream(new Forge.ForgedCollSer(3, "a", "b", "c"));
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
      InvalidObjectException e =
          assertThrows(InvalidObjectException.class, () -> c.decode(odd, 0, odd.length));
      assertInstanceOf(InternalError.class, e.getCause());
    }
  }

  @Test
  void afterAnErrorTheNextMessageArrivesOverThePipe() throws Exception {
    List<Failing> failing = failing();
    try (Pipe pipe = Pipe.open(true, ANY)) {
      for (Failing f : failing) {
        pipe.conn1().sendBytes(f.message());
        pipe.conn1().send(List.of("after", f.name()));
        assertThrows(InvalidObjectException.class, () -> pipe.conn2().recv(), f.name());
        assertEquals(List.of("after", f.name()), pipe.conn2().recv());
      }
    }
  }

  // ---- deep messages share a bounded number of large-stack threads

  /** Blocks in readObject until released, counting who is inside. */
  static final class Gate implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    static final AtomicInteger inside = new AtomicInteger();
    static final AtomicInteger most = new AtomicInteger();
    static volatile CountDownLatch release = new CountDownLatch(0);
    static final Semaphore entered = new Semaphore(0);

    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      most.accumulateAndGet(inside.incrementAndGet(), Math::max);
      entered.release();
      try {
        if (!release.await(60, TimeUnit.SECONDS)) {
          throw new IOException("never released");
        }
      } catch (InterruptedException e) {
        throw new IOException(e);
      } finally {
        inside.decrementAndGet();
      }
    }
  }

  private static long largeStackThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("jpipe-decode"))
        .count();
  }

  @Test
  void manyDeepMessagesAtOnceShareABoundedNumberOfLargeStacks() throws Exception {
    int bound = JavaSerializationCodec.LARGE_STACK_DECODERS;
    int callers = bound + 6;
    byte[] deep = HostileJavaStreamTest.encode(ANY, deep(new Gate()));
    Gate.release = new CountDownLatch(1);
    Gate.most.set(0);
    Gate.entered.drainPermits();
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    try {
      for (int i = 0; i < callers; i++) {
        Runnable decode =
            () -> {
              try {
                assertInstanceOf(List.class, ANY.decode(deep, 0, deep.length));
              } catch (Throwable e) {
                failures.add(e);
              }
            };
        threads.add(
            i % 2 == 0 ? Thread.ofVirtual().start(decode) : Thread.ofPlatform().start(decode));
      }
      assertTrue(Gate.entered.tryAcquire(bound, 60, TimeUnit.SECONDS), "the first decoders start");
      // The others wait for a turn: given time, no more come in, and no more threads are made.
      assertTrue(
          !Gate.entered.tryAcquire(1, 500, TimeUnit.MILLISECONDS), "a decoder past the bound");
      assertEquals(bound, Gate.inside.get());
      assertEquals(bound, largeStackThreads());
    } finally {
      Gate.release.countDown();
      for (Thread t : threads) {
        t.join();
      }
    }
    assertEquals(List.of(), failures);
    assertEquals(bound, Gate.most.get(), "never more than the bound decoding at once");
  }
}
