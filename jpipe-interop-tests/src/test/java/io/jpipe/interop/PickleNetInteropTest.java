package io.jpipe.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jpipe.CPython;
import io.jpipe.Connection;
import io.jpipe.net.Address;
import io.jpipe.net.Client;
import io.jpipe.net.Listener;
import io.jpipe.pickle.PickleCodec;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Python objects both ways between jpipe and live CPython over {@link Listener} and {@link Client}
 * (Unix path, abstract name, TCP), through {@link PickleCodec}: a CPython peer echoes every object
 * with its own {@code recv()}/{@code send()}.
 */
class PickleNetInteropTest {
  static final byte[] KEY = "pickle interop".getBytes(StandardCharsets.UTF_8);
  static final String KEY_HEX = HexFormat.of().formatHex(KEY);

  @TempDir static Path dir;

  static Stream<Object[]> peers() {
    return CPython.withAddressKinds();
  }

  private static Address address(String kind) {
    return CPython.address(kind, dir);
  }

  /** The values sent, one per Python type of the codec's table. */
  static List<Object> values() {
    Map<String, Object> dict = new LinkedHashMap<>();
    dict.put("list", Arrays.asList(1, "a", null));
    dict.put("nested", Map.of("deep", List.of(List.of(2.5))));
    return Arrays.asList(
        null,
        true,
        false,
        0,
        -1729,
        -(1L << 40),
        BigInteger.TWO.pow(100),
        2.5,
        Double.NEGATIVE_INFINITY,
        "ünïcödé ✓",
        new byte[] {0, 1, (byte) 255},
        List.of(1, "two", 3.0),
        new Object[] {1, "tuple"},
        dict,
        new LinkedHashSet<>(List.of(1, 2, 3)));
  }

  /** A comparable form: arrays as lists, with their kind. */
  static Object normal(Object o) {
    return switch (o) {
      case byte[] b -> "bytes:" + HexFormat.of().formatHex(b);
      case Object[] a ->
          List.of("tuple", Arrays.stream(a).map(PickleNetInteropTest::normal).toList());
      case List<?> l -> new ArrayList<>(l.stream().map(PickleNetInteropTest::normal).toList());
      case Set<?> s -> Set.copyOf(s.stream().map(PickleNetInteropTest::normal).toList());
      case Map<?, ?> m -> {
        Map<Object, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(normal(k), normal(v)));
        yield out;
      }
      case null -> "None";
      default -> o;
    };
  }

  private static void exchange(Connection conn) throws Exception {
    conn.setCodec(PickleCodec.create());
    for (Object v : values()) {
      conn.send(v);
      Object back = conn.recv();
      assertEquals(normal(v), normal(back), "round trip of " + normal(v));
      if (v != null) {
        assertEquals(
            v.getClass() == LinkedHashSet.class ? java.util.HashSet.class : back.getClass(),
            back.getClass());
      }
    }
    conn.send("STOP");
  }

  @ParameterizedTest(name = "{0} client, {1}")
  @MethodSource("peers")
  void cpythonClientToJpipeListener(CPython py, String kind) throws Exception {
    try (Listener listener =
            Listener.builder()
                .address(address(kind))
                .authkey(KEY)
                .codec(PickleCodec.create())
                .open();
        CPython.Peer peer = py.connect(listener.address(), KEY_HEX, "echo-objects")) {
      try (Connection conn = listener.accept()) {
        exchange(conn);
      }
      peer.assertOk();
    }
  }

  @ParameterizedTest(name = "{0} listener, {1}")
  @MethodSource("peers")
  void jpipeClientToCPythonListener(CPython py, String kind) throws Exception {
    try (CPython.Peer peer = py.listen(address(kind), KEY_HEX, "echo-objects")) {
      Address where = Address.parse(peer.readLine());
      try (Connection conn =
          Client.builder(where).authkey(KEY).codec(PickleCodec.create()).connect()) {
        exchange(conn);
      }
      peer.assertOk();
    }
  }
}
