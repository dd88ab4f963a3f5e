package io.jpipe.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jpipe.CPython;
import io.jpipe.Connection;
import io.jpipe.TestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * jpipe against live CPython interpreters (3.11 always; 3.12 and 3.13 when pyenv has them): CPython
 * Client to jpipe Listener and jpipe Client to CPython Listener, over a Unix path, an abstract name
 * and TCP, with bytes both ways (empty, 16385 bytes, 16 MiB...) and wrong keys in each direction.
 * Python objects go both ways in the jpipe-pickle module's tests.
 */
class CPythonInteropTest {
  static final byte[] KEY = "interop secret".getBytes(StandardCharsets.UTF_8);
  static final String KEY_HEX = HexFormat.of().formatHex(KEY);

  @TempDir static Path dir;

  static Stream<Object[]> peers() {
    return CPython.withAddressKinds();
  }

  private static Address address(String kind) {
    return CPython.address(kind, dir);
  }

  /** The exchange with cpython_peer.py's echo-bytes scenario, from the jpipe side. */
  private static void exchangeBytes(Connection conn) throws Exception {
    List<byte[]> sent = new ArrayList<>();
    for (int size : List.of(0, 16385, 16 << 20, 1, 4)) {
      sent.add(TestSupport.payload(size, size));
    }
    CompletableFuture<Object> sender =
        TestSupport.async(
            () -> {
              for (byte[] m : sent) {
                conn.sendBytes(m);
              }
              return null;
            });
    for (byte[] m : sent) {
      assertArrayEquals(m, conn.recvBytes(), "echo of " + m.length + " bytes");
    }
    TestSupport.await(sender);
    CPython.stopAndCheckPythonsBytes(conn);
  }

  @ParameterizedTest(name = "{0} client, {1}")
  @MethodSource("peers")
  void cpythonClientToJpipeListener(CPython py, String kind) throws Exception {
    try (Listener listener = Listener.open(address(kind), KEY);
        CPython.Peer peer = py.connect(listener.address(), KEY_HEX, "echo-bytes")) {
      try (Connection conn = listener.accept()) {
        exchangeBytes(conn);
      }
      peer.assertOk();
    }
  }

  @ParameterizedTest(name = "{0} listener, {1}")
  @MethodSource("peers")
  void jpipeClientToCPythonListener(CPython py, String kind) throws Exception {
    try (CPython.Peer peer = py.listen(address(kind), KEY_HEX, "echo-bytes")) {
      Address where = Address.parse(peer.readLine());
      try (Connection conn = Client.connect(where, KEY)) {
        exchangeBytes(conn);
      }
      peer.assertOk();
    }
  }

  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("peers")
  void wrongKeysFailInBothDirections(CPython py, String kind) throws Exception {
    byte[] wrong = "not the key".getBytes(StandardCharsets.UTF_8);
    java.util.concurrent.BlockingQueue<Listener.Rejection> rejected =
        new java.util.concurrent.LinkedBlockingQueue<>();
    try (Listener listener =
            Listener.builder()
                .address(address(kind))
                .authkey(wrong)
                .onRejected(rejected::add)
                .open();
        CPython.Peer peer = py.connect(listener.address(), KEY_HEX, "expect-auth-failure")) {
      peer.assertOk();
      Listener.Rejection r =
          rejected.poll(TestSupport.PATIENCE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
      org.junit.jupiter.api.Assertions.assertNotNull(r, "the listener reports the failure");
      assertInstanceOf(AuthenticationException.class, r.reason());
      assertEquals(1, listener.rejectedCount());
    }
    try (CPython.Peer peer = py.listen(address(kind), KEY_HEX, "expect-auth-failure")) {
      Address where = Address.parse(peer.readLine());
      assertThrows(AuthenticationException.class, () -> Client.connect(where, wrong));
      peer.assertOk();
    }
  }

  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("peers")
  void noKeyOnEitherSide(CPython py, String kind) throws Exception {
    try (Listener listener =
            Listener.builder().address(address(kind)).allowUnauthenticated(true).open();
        CPython.Peer peer = py.connect(listener.address(), "none", "echo-bytes")) {
      try (Connection conn = listener.accept()) {
        exchangeBytes(conn);
      }
      peer.assertOk();
    }
  }
}
