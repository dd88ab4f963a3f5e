package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InvalidClassException;
import java.io.ObjectStreamConstants;
import java.io.Serial;
import java.io.Serializable;
import java.io.StreamCorruptedException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The scan reads what {@link java.io.ObjectInputStream} reads, so what it charges is what the
 * decode pays (issue 8, point 5): where the two could read the same bytes differently, a hostile
 * stream would hide work from the scan. Also: the limits that look at lengths let honest tables
 * through, and nesting is the documented depth limit.
 */
class ScanAgreementTest {
  private static final JavaSerializationCodec ANY =
      (JavaSerializationCodec) Codec.javaSerialization();

  /** Lists of lists sharing both halves: hashing the top one takes 2^levels steps. */
  private static Object sharedLists(int levels) {
    Object l = "x";
    for (int i = 0; i < levels; i++) {
      l = new ArrayList<>(List.of(l, l));
    }
    return l;
  }

  @Test
  void aBigIntegerWhoseMagnitudeIsAReferenceIsHeldToTheDigitLimit() throws Exception {
    byte[] magnitude = new byte[2_000_000]; // a 16-million-bit integer
    magnitude[0] = 1;
    byte[] message =
        Forge.stream(new ArrayList<>(List.of(magnitude, new Forge.ForgedBigInteger(magnitude))));
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> c.decode(message, 0, message.length));
      assertEquals("maxIntDigits", e.limit());
    }
    byte[] small = {1, 0, 0};
    byte[] ok = Forge.stream(new ArrayList<>(List.of(small, new Forge.ForgedBigInteger(small))));
    assertEquals(BigInteger.ONE.shiftLeft(16), ((List<?>) ANY.decode(ok, 0, ok.length)).get(1));
  }

  record Plain(int n) implements Serializable {}

  @Test
  void aRecordWhoseDescriptionClaimsWriteObjectDataIsRefused() throws Exception {
    // ObjectInputStream reads a record's fields and never custom data: what the description
    // claims as the record's custom data is, to it, the next elements of the set, and hashed.
    Object hidden = sharedLists(24);
    byte[] forged =
        Forge.stream(
            new Forge.ForgedHashSet(List.of(new Plain(1), hidden)),
            Map.of(
                Plain.class,
                ObjectStreamConstants.SC_SERIALIZABLE | ObjectStreamConstants.SC_WRITE_METHOD));
    byte[] message = new byte[forged.length + 1]; // and an end marker, which the JDK leaves unread
    System.arraycopy(forged, 0, message, 0, forged.length);
    message[forged.length] = ObjectStreamConstants.TC_ENDBLOCKDATA;
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
      StreamCorruptedException e =
          assertThrows(StreamCorruptedException.class, () -> c.decode(message, 0, message.length));
      assertTrue(e.getMessage().contains("record"), e.getMessage());
    }
    byte[] honest = HostileJavaStreamTest.encode(ANY, new HashSet<>(Set.of(new Plain(2))));
    assertEquals(Set.of(new Plain(2)), ANY.decode(honest, 0, honest.length));
  }

  /** Described, in the forged stream, as not serializable: its field is still read. */
  static class Base implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    int x;
  }

  static final class Derived extends Base {
    @Serial private static final long serialVersionUID = 1L;

    Derived(int x) {
      this.x = x;
    }
  }

  @Test
  void aSuperclassDescribedAsNotSerializableStillHasItsFieldsRead() throws Exception {
    // ObjectInputStream reads the fields of every class in the chain the stream describes. A scan
    // that skipped the undeclared class's field would read its 4 bytes as a block-data header and
    // skip what follows: elements of the set, hashed by the real decode.
    Object hidden = sharedLists(24);
    Map<Class<?>, Integer> notSerializable = Map.of(Base.class, 0);
    byte[] probe =
        Forge.stream(
            new Forge.ForgedHashSet(List.of(new Derived(0x12345678), hidden, "")), notSerializable);
    int x = indexOf(probe, new byte[] {0x12, 0x34, 0x56, 0x78});
    int hiddenBytes = probe.length - 1 - (x + 4); // up to the set's end marker
    int pad = Math.floorMod(0x73 - (hiddenBytes - 1), 256); // block length ends in TC_OBJECT
    int blockLength = hiddenBytes + pad - 1;
    byte[] message =
        Forge.stream(
            new Forge.ForgedHashSet(
                List.of(
                    new Derived(
                        (ObjectStreamConstants.TC_BLOCKDATALONG << 24) | (blockLength >>> 8)),
                    hidden,
                    "a".repeat(pad))),
            notSerializable);
    assertEquals(0x73, blockLength & 0xff);
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing("io.jpipe.codec.*"))) {
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> c.decode(message, 0, message.length));
      assertEquals("maxWork", e.limit());
    }
    byte[] honest = Forge.stream(new ArrayList<>(List.of(new Derived(7), "after")));
    List<?> back = (List<?>) ANY.decode(honest, 0, honest.length);
    assertEquals(7, ((Derived) back.get(0)).x);
    assertEquals("after", back.get(1));
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("not found");
  }

  @Test
  void aFieldOfAClassOutsideTheChainDoesNotStandForTheRealOne() throws Exception {
    // Unmodifiable sets of {i, -i}: all hash to 0, and a HashSet of them compares each with each.
    // Each carries, in a class the stream slips into its chain, a decoy of the field it hashes.
    List<Object> sets = new ArrayList<>();
    for (int i = 1; i <= 20_000; i++) {
      sets.add(new Forge.ForgedUnmodifiableSet((Serializable) Set.of(i, -i), "decoy " + i));
    }
    byte[] message = Forge.stream(new Forge.ForgedHashSet(sets));
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing("io.jpipe.codec.*"))) {
      DecodeLimitException e =
          assertThrows(DecodeLimitException.class, () -> c.decode(message, 0, message.length));
      assertEquals("maxWork", e.limit());
    }
    byte[] one = Forge.stream(new Forge.ForgedUnmodifiableSet((Serializable) Set.of(1), "decoy"));
    assertEquals(Set.of(1), ANY.decode(one, 0, one.length));
  }

  @Test
  void objectsAContainerDropsAfterItsElementsDoNotChangeItsHash() throws Exception {
    // Lists [i, -31i] all hash alike; each is followed, in its custom data, by an object of its
    // own that its readObject reads past its count and drops.
    List<Object> arrayLists = new ArrayList<>();
    List<Object> listsOf = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      arrayLists.add(new Forge.ForgedArrayList(List.of(i, -31 * i), List.of("dropped " + i)));
      listsOf.add(new Forge.ForgedCollSer(1, new Object[] {i, -31 * i}, new Object[] {"d" + i}));
    }
    for (Object lists : List.of(arrayLists, listsOf)) {
      byte[] message = Forge.stream(new Forge.ForgedHashSet((List<?>) lists));
      for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
        DecodeLimitException e =
            assertThrows(DecodeLimitException.class, () -> c.decode(message, 0, message.length));
        assertEquals("maxWork", e.limit());
      }
    }
    byte[] one = Forge.stream(new Forge.ForgedArrayList(List.of(1, 2), List.of("dropped")));
    assertEquals(List.of(1, 2), ANY.decode(one, 0, one.length));
  }

  // ---- lengths and depth

  @Test
  void anHonestTableWithALowLoadFactorDecodes() throws Exception {
    HashSet<String> set = new HashSet<>(16, 0.25f);
    HashMap<String, Integer> map = new HashMap<>(16, 0.25f);
    for (int i = 0; i < 1_100; i++) {
      set.add("s" + i);
      map.put("k" + i, i);
    }
    for (Codec c : List.of(ANY, JavaSerializationCodec.allowing())) {
      for (Object v : List.of(set, map)) {
        byte[] b = HostileJavaStreamTest.encode(ANY, v);
        assertEquals(v, c.decode(b, 0, b.length));
      }
    }
  }

  @Test
  void aTableLargerThanTheMessageCouldFillIsStillRefused() throws Exception {
    // A HashSet that claims 2^28 elements and holds none: its table would take 4 GiB.
    byte[] b = Forge.stream(new Forge.ForgedHashSet(List.of()));
    ByteArrayOutputStream patched = new ByteArrayOutputStream();
    patched.write(b, 0, b.length - 5);
    patched.write(new byte[] {0x10, 0, 0, 0}); // the size, last before the end marker
    patched.write(ObjectStreamConstants.TC_ENDBLOCKDATA);
    byte[] claim = patched.toByteArray();
    assertSame(
        StreamCorruptedException.class,
        assertThrows(IOException.class, () -> ANY.decode(claim, 0, claim.length)).getClass());
  }

  /** A plain node of a linked list: no collection, an identity hash. */
  static final class Link implements Serializable {
    @Serial private static final long serialVersionUID = 1L;
    final int n;
    final Link next;

    Link(int n, Link next) {
      this.n = n;
      this.next = next;
    }
  }

  @Test
  void aLongChainOfObjectsNestsOneLevelPerLinkAndNeedsALargerMaxDepth() throws Exception {
    byte[] chain =
        HostileJavaStreamTest.onLargeStack(
            () -> {
              Link l = null;
              for (int i = 0; i < 5_000; i++) {
                l = new Link(i, l);
              }
              return HostileJavaStreamTest.encode(ANY, l);
            });
    DecodeLimitException e =
        assertThrows(DecodeLimitException.class, () -> ANY.decode(chain, 0, chain.length));
    assertEquals("maxDepth", e.limit());
    assertTrue(e.getMessage().contains("linked list"), e.getMessage());
    JavaSerializationCodec deeper =
        JavaSerializationCodec.withLimits(DecodeLimits.defaults().withMaxDepth(6_000));
    HostileJavaStreamTest.onBothKindsOfThread(
        () -> {
          Link l = (Link) deeper.decode(chain, 0, chain.length);
          int links = 0;
          for (; l != null; l = l.next) {
            links++;
          }
          assertEquals(5_000, links);
          return null;
        });
  }

  // ---- records with open components under the allow-list

  @SuppressWarnings("serial") // open component types: what arrives is what is checked
  record Holder(Object any, Comparable<?> comparable, List<?> list) implements Serializable {}

  @Test
  void whatARecordsOpenComponentsCarryIsCheckedAgainstTheAllowList() throws Exception {
    JavaSerializationCodec allowing = JavaSerializationCodec.allowing("io.jpipe.codec.Scan*");
    HostileJavaStreamTest.Gadget gadget = new HostileJavaStreamTest.Gadget();
    for (Object v :
        List.of(
            new Holder(gadget, null, null),
            new Holder(null, null, new ArrayList<>(List.of(1, gadget))),
            new Holder(new Holder(new Object[] {gadget}, null, null), null, null),
            new Holder(null, new java.util.Date(), null))) {
      byte[] b = HostileJavaStreamTest.encode(ANY, v);
      InvalidClassException e =
          assertThrows(InvalidClassException.class, () -> allowing.decode(b, 0, b.length));
      assertTrue(
          e.classname.equals(HostileJavaStreamTest.Gadget.class.getName())
              || e.classname.equals("java.util.Date"),
          e.getMessage());
    }
    Holder fine = new Holder(List.of(1, "two"), "three", List.of(new Holder(4, 5L, null)));
    byte[] b = HostileJavaStreamTest.encode(ANY, fine);
    assertInstanceOf(Holder.class, allowing.decode(b, 0, b.length));
    assertEquals(fine, allowing.decode(b, 0, b.length));
  }
}
