package io.jpipe.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectStreamConstants;
import java.io.StreamCorruptedException;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The limits that look at lengths let honest tables through (issue 8, point 5). */
class ScanAgreementTest {
  private static final JavaSerializationCodec ANY =
      (JavaSerializationCodec) Codec.javaSerialization();

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
}
