package io.jpipe.pickle;

import static io.jpipe.pickle.Values.assertDeepEquals;
import static io.jpipe.pickle.Values.decode;
import static io.jpipe.pickle.Values.dict;
import static io.jpipe.pickle.Values.encode;
import static io.jpipe.pickle.Values.hex;
import static io.jpipe.pickle.Values.list;
import static io.jpipe.pickle.Values.set;
import static io.jpipe.pickle.Values.tuple;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StreamCorruptedException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import net.razorvine.pickle.objects.ClassDict;
import org.junit.jupiter.api.Test;

/**
 * Bytes that are not a valid pickle: every decoding error is a {@link StreamCorruptedException}
 * (never an {@link java.io.EOFException}, never an unchecked exception), nothing huge is allocated
 * on a lying length, and the codec keeps working afterwards.
 */
class HostilePickleTest {
  private final PickleCodec codec = PickleCodec.create();

  /** Decodes, and returns the failure, which must be a StreamCorruptedException if any. */
  private StreamCorruptedException failureOf(byte[] message) {
    try {
      codec.decode(message, 0, message.length);
      return null;
    } catch (StreamCorruptedException e) {
      return e;
    } catch (Throwable e) {
      throw new AssertionError(
          "decoding " + Values.show(message) + " threw " + e + ", not StreamCorruptedException", e);
    }
  }

  private void assertCorrupted(byte[] message) {
    assertTrue(failureOf(message) != null, () -> "decoded " + Values.show(message));
  }

  private void assertStillWorks() throws Exception {
    Object v = list(1, "two", tuple(3.0), dict("four", set(5)));
    assertDeepEquals(v, decode(codec, encode(codec, v)));
  }

  @Test
  void anEmptyMessageIsStreamCorruptedNotEndOfFile() throws Exception {
    StreamCorruptedException e =
        assertThrows(StreamCorruptedException.class, () -> codec.decode(new byte[8], 3, 0));
    assertTrue(e.getMessage().contains("empty message"), e.getMessage());
    assertStillWorks();
  }

  @Test
  void everyTruncationOfAValidPickleIsStreamCorrupted() throws Exception {
    List<Object> rich =
        list(
            null,
            true,
            7,
            1L << 40,
            BigInteger.TWO.pow(100),
            2.5,
            "héllo",
            new byte[300],
            tuple(1, 2, 3, 4),
            dict("k", list()),
            set("s"),
            "x".repeat(300));
    for (byte[] whole :
        List.of(
            encode(codec, rich),
            hex("80 04 95 04 00 00 00 00 00 00 00 4d c1 06 2e"),
            "(lp0\nI1\naF2.5\naVx\na.".getBytes(StandardCharsets.US_ASCII))) {
      assertTrue(failureOf(whole) == null);
      for (int n = 1; n < whole.length; n++) {
        assertCorrupted(Arrays.copyOf(whole, n));
      }
    }
    assertStillWorks();
  }

  @Test
  void randomGarbageAndFlippedBytesNeverEscapeAsAnythingElse() throws Exception {
    Random random = new Random(20_240_501);
    byte[] valid =
        encode(codec, list("a", 1, 2.5, tuple(new byte[] {1}), dict(1, set(2)), -7L << 40));
    int corrupted = 0;
    for (int i = 0; i < 20_000; i++) {
      byte[] message;
      if (i % 2 == 0) {
        message = new byte[1 + random.nextInt(64)];
        random.nextBytes(message);
        if (i % 4 == 0) {
          message[0] = (byte) 0x80; // PROTO
          message[1 % message.length] = (byte) random.nextInt(6);
        }
      } else {
        message = valid.clone();
        for (int flips = 1 + random.nextInt(3); flips > 0; flips--) {
          message[random.nextInt(message.length)] = (byte) random.nextInt(256);
        }
      }
      if (failureOf(message) != null) {
        corrupted++;
      }
    }
    assertTrue(corrupted > 10_000, "only " + corrupted + " of 20000 were refused");
    assertStillWorks();
  }

  @Test
  void aLengthPastTheEndIsRefusedBeforeAllocating() throws Exception {
    for (String hex :
        List.of(
            "80 04 42 ff ff ff 7f 00 00 2e", // BINBYTES of 2 GiB - 1
            "80 04 42 ff ff ff ff 00 00 2e", // BINBYTES of 4 GiB - 1 (negative as a Java int)
            "80 04 58 00 00 00 40 61 2e", // BINUNICODE of 1 GiB
            "80 04 8d 00 00 00 00 00 00 00 40 61 2e", // BINUNICODE8 of 2^62
            "80 04 8e ff ff ff ff ff ff ff ff 2e", // BINBYTES8 of 2^64 - 1
            "80 05 96 00 00 00 00 01 00 00 00 2e", // BYTEARRAY8 of 4 GiB
            "80 04 8b 00 00 00 80 01 2e", // LONG4 of -2^31 bytes
            "80 04 95 00 00 00 00 00 00 01 00 4e 2e", // FRAME longer than the message
            "80 02 54 ff ff ff 0f 61 2e")) { // BINSTRING of 256 MiB
      StreamCorruptedException e = failureOf(hex(hex));
      assertTrue(e != null, hex);
      assertTrue(e.getMessage().contains("announces"), e.getMessage());
    }
    assertStillWorks();
  }

  @Test
  void refusedOpcodesAndProtocols() throws Exception {
    for (String hex :
        List.of(
            "80 06 4e 2e", // protocol 6
            "80 05 97 2e", // NEXT_BUFFER: out-of-band data
            "80 04 4e 51 2e", // BINPERSID
            "80 02 82 01 2e", // EXT1
            "80 04 ff 2e", // no such opcode
            "80 04 2e", // STOP on an empty stack
            "80 04 4e 4e 73 2e", // SETITEM on None
            "80 04 5d 71 00 68 05 2e", // BINGET of an unset memo slot
            "80 04 28 4b 01 4b 02 4b 03 64 2e")) { // DICT with an odd number of items
      assertCorrupted(hex(hex));
    }
    assertStillWorks();
  }

  @Test
  void aReduceToAnUnknownCallableIsRefusedNotCalled() throws Exception {
    // What pickle.dumps writes for an object whose __reduce__ is (os.system, ('echo pwned',))
    byte[] exploit = "cposix\nsystem\n(Vecho pwned\ntR.".getBytes(StandardCharsets.US_ASCII);
    StreamCorruptedException e = failureOf(exploit);
    assertTrue(e != null && e.getMessage().contains("posix.system"), String.valueOf(e));
    // Without arguments, an unknown class is only a ClassDict: a map naming the class.
    ClassDict d =
        assertInstanceOf(
            ClassDict.class,
            decode(codec, "c__main__\nThing\n)R.".getBytes(StandardCharsets.US_ASCII)));
    assertEquals("__main__.Thing", d.getClassName());
    assertEquals("__main__.Thing", d.get("__class__"));
    assertStillWorks();
  }

  @Test
  void aSetHoldingASelfContainingListIsStreamCorrupted() throws Exception {
    // EMPTY_LIST BINPUT 0 MARK BINGET 0 APPENDS (a list holding itself), then EMPTY_SET MARK
    // BINGET 0 ADDITEMS: hashing the list overflows the stack.
    StreamCorruptedException e = failureOf(hex("80 04 5d 71 00 28 68 00 65 8f 28 68 00 90 2e"));
    assertTrue(e != null && e.getCause() instanceof StackOverflowError, String.valueOf(e));
    assertStillWorks();
  }
}
