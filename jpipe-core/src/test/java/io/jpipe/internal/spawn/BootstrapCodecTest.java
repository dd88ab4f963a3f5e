package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import io.jpipe.ProcessLock;
import io.jpipe.codec.Codec;
import io.jpipe.codec.JavaSerializationCodec;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.spawn.BootstrapCodec.Bootstrap;
import java.io.InvalidObjectException;
import java.io.NotSerializableException;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bytes a child receives, encoded as the parent does and decoded as the child does. */
class BootstrapCodecTest {
  static void target(Object a, Object b, Object c, Object d) {}

  /** Encodes, duplicates the descriptors as a spawn would, and decodes. */
  private static Bootstrap roundTrip(Object target, Object... args) throws Exception {
    Inheritance inh = new Inheritance();
    byte[] bytes;
    int[] copies;
    try {
      bytes = BootstrapCodec.encode("name", true, 42, target, args, inh);
      int[] fds = inh.fds();
      copies = new int[fds.length];
      for (int i = 0; i < fds.length; i++) {
        copies[i] = Fds.dupCloexec(fds[i]);
      }
    } finally {
      inh.releaseAll();
    }
    return BootstrapCodec.decode(bytes, new Revival(copies));
  }

  @Test
  @SuppressWarnings("serial")
  void aStaticMethodReferenceTravelsByName() throws Exception {
    ChildProcess.Target4<Object, Object, Object, Object> t = BootstrapCodecTest::target;
    Bootstrap b = roundTrip(t, null, "s", 1, 2L);
    assertEquals("name", b.name());
    assertTrue(b.daemon());
    assertEquals(42, b.parentPid());
    Targets.StaticMethod m = assertInstanceOf(Targets.StaticMethod.class, b.target());
    assertEquals(BootstrapCodecTest.class.getName(), m.className);
    assertEquals("target", m.methodName);
    Targets.invoke(b.target(), b.args()); // callable
  }

  @Test
  void aCapturingLambdaTravelsSerialized() throws Exception {
    String captured = "captured";
    ChildProcess.Target0 t = () -> assertEquals("captured", captured);
    Bootstrap b = roundTrip(t);
    assertInstanceOf(ChildProcess.Target0.class, b.target());
    Targets.invoke(b.target(), b.args());
  }

  @Test
  @SuppressWarnings("serial")
  void valuesConnectionsAndLocksArriveAlive() throws Exception {
    ChildProcess.Target4<Object, Object, Object, Object> t = BootstrapCodecTest::target;
    try (Pipe pipe = Pipe.open(false);
        ProcessLock lock = ProcessLock.create()) {
      List<Object> nested = new ArrayList<>(List.of(pipe.conn2(), "bad \uD800", 1.5));
      Bootstrap b = roundTrip(t, pipe.conn1(), lock, nested, pipe.conn1());
      Connection r = (Connection) b.args()[0];
      assertTrue(r.isReadable() && !r.isWritable());
      assertSame(r, b.args()[3], "the same end twice is one connection");
      List<?> got = (List<?>) b.args()[2];
      Connection w = (Connection) got.get(0);
      assertTrue(w.isWritable() && !w.isReadable());
      assertEquals("bad \uD800", got.get(1), "a lone surrogate survives");
      assertEquals(1.5, got.get(2));
      w.send("through the copies");
      assertEquals("through the copies", r.recv());
      ProcessLock l = (ProcessLock) b.args()[1];
      l.lock();
      assertTrue(!lock.tryLock(), "the same mutex");
      l.unlock();
      r.close();
      w.close();
      l.close();
    }
  }

  @Test
  @SuppressWarnings("serial")
  void anEndWithAnotherCodecKeepsIt() throws Exception {
    ChildProcess.Target1<Object> t = BootstrapCodecTest::one;
    Codec limited = JavaSerializationCodec.withLimits(3, 4);
    try (Pipe pipe = Pipe.open(true, limited)) {
      Bootstrap b = roundTrip(t, pipe.conn1());
      Connection c = (Connection) b.args()[0];
      assertEquals(limited.toString(), c.codec().toString());
      c.close();
    }
  }

  static void one(Object a) {}

  @Test
  @SuppressWarnings("serial")
  void whatCannotTravelFailsInTheParent() throws Exception {
    ChildProcess.Target1<Object> t = BootstrapCodecTest::one;
    assertThrows(NotSerializableException.class, () -> roundTrip(t, new Object()));
    Pipe pipe = Pipe.open();
    pipe.close();
    assertThrows(ClosedChannelException.class, () -> roundTrip(t, pipe.conn1()));
    assertThrows(
        InvalidObjectException.class,
        () -> BootstrapCodec.decode(new byte[] {1, 2, 3, 4}, new Revival(new int[0])));
  }
}
