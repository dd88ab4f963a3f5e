package io.jpipe.pickle;

import static io.jpipe.pickle.Values.assertDeepEquals;
import static io.jpipe.pickle.Values.dict;
import static io.jpipe.pickle.Values.hex;
import static io.jpipe.pickle.Values.list;
import static io.jpipe.pickle.Values.set;
import static io.jpipe.pickle.Values.tuple;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Pipe;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.StreamCorruptedException;
import java.math.BigInteger;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The codec on real jpipe connections, in one JVM and to a child JVM. */
class PickleOverConnectionTest {
  private static Object nested() {
    return dict(
        "id", 7,
        "big", BigInteger.TWO.pow(80),
        "tags", list("a", "b", tuple(1, 2.5, null)),
        "blob", Cases.allByteValues(),
        "nested", dict("set", set(1, 2), "empty", list(), "flag", false),
        "text", "日本語 😀");
  }

  @Test
  void aNestedStructureTravelsBothWaysOverADuplexPipe() throws IOException {
    try (Pipe pipe = Pipe.open(true, PickleCodec.create())) {
      Connection a = pipe.conn1();
      Connection b = pipe.conn2();
      a.send(nested());
      assertDeepEquals(nested(), b.recv());
      b.send(list(nested(), nested()));
      assertDeepEquals(list(nested(), nested()), a.recv());
      a.send(null);
      assertNull(b.recv());
    }
  }

  @Test
  void cpythonsBytesForSend1729ArriveAs1729() throws IOException {
    try (Pipe pipe = Pipe.open(true, PickleCodec.create())) {
      pipe.conn1().sendBytes(hex("80 04 95 04 00 00 00 00 00 00 00 4d c1 06 2e"));
      assertEquals(1729, pipe.conn2().recv());
      pipe.conn1().sendBytes(hex("80 04 4e 2e"));
      assertNull(pipe.conn2().recv());
    }
  }

  @Test
  void anObjectThatCannotBePickledSendsNothing() throws IOException {
    try (Pipe pipe = Pipe.open(true, PickleCodec.create())) {
      assertThrows(
          NotSerializableException.class, () -> pipe.conn1().send(list(1, "x", new Object())));
      assertFalse(pipe.conn2().poll());
      pipe.conn1().send("after");
      assertEquals("after", pipe.conn2().recv());
    }
  }

  @Test
  void hostileMessagesAreStreamCorruptedAndTheConnectionGoesOn() throws IOException {
    try (Pipe pipe = Pipe.open(false, PickleCodec.create())) {
      Connection in = pipe.conn1();
      Connection out = pipe.conn2();
      out.sendBytes(new byte[0]);
      out.sendBytes(hex("80 04 42 ff ff ff 7f 2e"));
      out.sendBytes(hex("80 04 95 04 00 00 00 00 00 00 00 4d c1"));
      out.send("fine");
      for (int i = 0; i < 3; i++) {
        assertThrows(StreamCorruptedException.class, in::recv);
      }
      assertEquals("fine", in.recv());
    }
  }

  /** Runs in a child JVM: pickles with the codec it was given, on the connection it was given. */
  static void sendWithCodec(PickleCodec codec, Connection out) throws IOException {
    out.setCodec(codec);
    out.send(list(codec == PickleCodec.create(), nested()));
    out.close();
  }

  @Test
  void theCodecTravelsToAChildJvm() throws Exception {
    try (Pipe pipe = Pipe.open(false, PickleCodec.create())) {
      ChildProcess child =
          ChildProcess.of(
                  PickleOverConnectionTest::sendWithCodec, PickleCodec.create(), pipe.conn2())
              .name("pickler");
      child.start();
      pipe.conn2().close(); // the child holds its own copy
      Object got = pipe.conn1().recv();
      assertDeepEquals(list(true, nested()), got);
      assertTrue(child.join(Duration.ofMinutes(5)), "the child did not exit");
      assertEquals(0, child.exitCode().orElseThrow());
      child.close();
      assertSame(PickleCodec.create(), pipe.conn1().codec());
    }
  }
}
