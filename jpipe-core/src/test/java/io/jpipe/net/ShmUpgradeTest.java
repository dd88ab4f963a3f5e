package io.jpipe.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.CPython;
import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.TestSupport;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Listener/Client connections switched to shared memory when both jpipe sides opt in ({@link
 * Listener.Builder#sharedMemory}, {@link Client.Builder#sharedMemory}): round trips, large
 * messages, end of file from either side, a client in a child JVM; and the plain wire whenever one
 * side did not opt in, the peer is CPython (either role), or the socket is TCP.
 */
class ShmUpgradeTest {
  static final byte[] KEY = "upgrade secret".getBytes(StandardCharsets.UTF_8);
  static final long CAPACITY = 64 * 1024;

  @TempDir static Path dir;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  private static Listener shmListener(String kind) throws IOException {
    return Listener.builder()
        .address(CPython.address(kind, dir))
        .authkey(KEY)
        .sharedMemory(CAPACITY)
        .open();
  }

  private static Connection shmClient(Address where, byte[] key) throws IOException {
    return Client.builder(where).authkey(key).sharedMemory(CAPACITY).connect();
  }

  /** Connects on a thread of its own while the listener accepts; returns [accepted, client]. */
  private static Connection[] connectPair(Listener listener, boolean clientShm) throws Exception {
    CompletableFuture<Connection> client =
        TestSupport.async(
            () ->
                clientShm
                    ? shmClient(listener.address(), KEY)
                    : Client.connect(listener.address(), KEY));
    Connection accepted = listener.accept();
    return new Connection[] {accepted, TestSupport.await(client)};
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"unix", "abstract"})
  void bothOptInUpgradeRoundTripsAndLargeMessages(String kind) throws Exception {
    try (Listener listener = shmListener(kind)) {
      Connection[] ends = connectPair(listener, true);
      try (Connection server = ends[0];
          Connection client = ends[1]) {
        assertTrue(server.isSharedMemory(), "the accepted end is upgraded");
        assertTrue(client.isSharedMemory(), "the client end is upgraded");
        for (int i = 0; i < 1000; i++) {
          client.send(i);
          assertEquals(i, server.recv());
          server.sendBytes(TestSupport.payload(i, 8));
          assertArrayEquals(TestSupport.payload(i, 8), client.recvBytes());
        }
        byte[] big = TestSupport.payload(7, 5 << 20); // 80 rings' worth: streamed in chunks
        CompletableFuture<Object> sender =
            TestSupport.async(
                () -> {
                  client.sendBytes(big);
                  return null;
                });
        assertArrayEquals(big, server.recvBytes());
        TestSupport.await(sender);
        try (Arena arena = Arena.ofShared()) {
          MemorySegment off = arena.allocate(1 << 20);
          off.fill((byte) 3);
          CompletableFuture<Object> offHeap =
              TestSupport.async(
                  () -> {
                    server.sendBytes(off); // larger than the ring: needs the reader meanwhile
                    return null;
                  });
          MemorySegment got = client.recvBytes(arena);
          TestSupport.await(offHeap);
          assertEquals(-1, off.mismatch(got));
          assertEquals(3, got.get(ValueLayout.JAVA_BYTE, (1 << 20) - 1));
        }
      }
    }
  }

  @ParameterizedTest(name = "closed by the client: {0}")
  @ValueSource(booleans = {true, false})
  void endOfFileWhenEitherSideCloses(boolean clientCloses) throws Exception {
    try (Listener listener = shmListener("unix")) {
      Connection[] ends = connectPair(listener, true);
      Connection closer = clientCloses ? ends[1] : ends[0];
      Connection other = clientCloses ? ends[0] : ends[1];
      try (other) {
        closer.sendBytes("last".getBytes(StandardCharsets.US_ASCII));
        closer.close();
        assertEquals("last", new String(other.recvBytes(), StandardCharsets.US_ASCII));
        assertThrows(EOFException.class, other::recvBytes);
      }
    }
  }

  @Test
  void upgradedConnectionsLeaveNoDescriptorBehind() throws Exception {
    try (Listener warm = shmListener("unix")) { // first use opens process-wide descriptors
      Connection[] ends = connectPair(warm, true);
      ends[0].close();
      ends[1].close();
    }
    java.util.Set<String> was = openFds();
    try (Listener listener = shmListener("unix")) {
      for (int i = 0; i < 20; i++) {
        Connection[] ends = connectPair(listener, true);
        try (Connection server = ends[0];
            Connection client = ends[1]) {
          assertTrue(server.isSharedMemory() && client.isSharedMemory());
          client.sendBytes(new byte[] {(byte) i});
          assertArrayEquals(new byte[] {(byte) i}, server.recvBytes());
        }
      }
    }
    // Compared by what each descriptor is (a socket's or memfd's inode), not by count: a descriptor
    // of an earlier test that a cleaner closes meanwhile must not fail this one.
    try {
      TestSupport.eventually(
          "every socket, memfd and Unix socket of the upgrades is closed",
          () -> newSince(was).isEmpty());
    } catch (AssertionError e) {
      throw new AssertionError("left open: " + newSince(was), e);
    }
  }

  private static java.util.Set<String> newSince(java.util.Set<String> was) {
    try {
      java.util.Set<String> now = openFds();
      now.removeAll(was);
      return now;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static java.util.Set<String> openFds() throws IOException {
    java.util.Set<String> out = new java.util.TreeSet<>();
    try (var dirs = java.nio.file.Files.list(Path.of("/proc/self/fd"))) {
      for (Path p : (Iterable<Path>) dirs::iterator) {
        try {
          out.add(p.getFileName() + "->" + java.nio.file.Files.readSymbolicLink(p));
        } catch (IOException e) {
          // closed meanwhile
        }
      }
    }
    return out;
  }

  /** The child's side: connects with shared memory, echoes bytes until an empty message. */
  static void echoClient(String address, String keyHex) throws IOException {
    try (Connection c =
        Client.builder(Address.parse(address))
            .authkey(HexFormat.of().parseHex(keyHex))
            .sharedMemory(CAPACITY)
            .connect()) {
      c.sendBytes(new byte[] {(byte) (c.isSharedMemory() ? 1 : 0)});
      for (byte[] m = c.recvBytes(); m.length > 0; m = c.recvBytes()) {
        c.sendBytes(m);
      }
    }
  }

  @Test
  void aClientInAChildProcessUpgradesAndItsExitIsEndOfFile() throws Exception {
    try (Listener listener = shmListener("unix")) {
      ChildProcess p =
          ChildProcess.of(
              ShmUpgradeTest::echoClient,
              listener.address().toString(),
              HexFormat.of().formatHex(KEY));
      p.start();
      try (Connection c = listener.accept()) {
        assertTrue(c.isSharedMemory());
        assertArrayEquals(new byte[] {1}, c.recvBytes(), "the child's end is upgraded too");
        for (int size : new int[] {1, 8, 4096, 100_000, 3 << 20}) {
          byte[] m = TestSupport.payload(size, size);
          CompletableFuture<Object> sender =
              TestSupport.async(
                  () -> {
                    c.sendBytes(m);
                    return null;
                  });
          assertArrayEquals(m, c.recvBytes(), "echo of " + size + " bytes");
          TestSupport.await(sender);
        }
        c.sendBytes(new byte[0]);
        assertThrows(EOFException.class, c::recvBytes, "the child exited");
      }
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  @ParameterizedTest(name = "listener opts in: {0}")
  @ValueSource(booleans = {true, false})
  void oneSideOptingInStaysOnTheWire(boolean listenerOptsIn) throws Exception {
    Listener.Builder b = Listener.builder().address(CPython.address("unix", dir)).authkey(KEY);
    if (listenerOptsIn) {
      b.sharedMemory(CAPACITY);
    }
    try (Listener listener = b.open()) {
      Connection[] ends = connectPair(listener, !listenerOptsIn);
      try (Connection server = ends[0];
          Connection client = ends[1]) {
        assertFalse(server.isSharedMemory());
        assertFalse(client.isSharedMemory());
        client.send("ping");
        assertEquals("ping", server.recv());
        server.sendBytes(new byte[] {9});
        assertArrayEquals(new byte[] {9}, client.recvBytes());
      }
    }
  }

  @Test
  void tcpNeverUpgrades() throws Exception {
    try (Listener listener =
        Listener.builder()
            .address(Address.tcp("127.0.0.1", 0))
            .authkey(KEY)
            .sharedMemory(CAPACITY)
            .open()) {
      CompletableFuture<Connection> client =
          TestSupport.async(() -> shmClient(listener.address(), KEY));
      try (Connection server = listener.accept();
          Connection c = TestSupport.await(client)) {
        assertFalse(server.isSharedMemory());
        assertFalse(c.isSharedMemory());
        c.send(42);
        assertEquals(42, server.recv());
      }
    }
  }

  @Test
  void sharedMemoryWithoutAKeyIsRefused() {
    Listener.Builder lb = Listener.builder().sharedMemory(CAPACITY);
    assertThrows(IllegalStateException.class, lb::open);
    Client.Builder cb = Client.builder(Address.unix(dir.resolve("nobody"))).sharedMemory(CAPACITY);
    assertThrows(IllegalStateException.class, cb::connect);
    assertThrows(IllegalArgumentException.class, () -> Listener.builder().sharedMemory(0));
    assertThrows(
        IllegalArgumentException.class,
        () -> Client.builder(Address.unix(dir.resolve("x"))).sharedMemory((1L << 30) + 1));
  }

  @Test
  void aWrongKeyIsRejectedBeforeAnyOffer() throws Exception {
    try (Listener listener = shmListener("unix")) {
      byte[] wrong = "not the key".getBytes(StandardCharsets.UTF_8);
      assertThrows(AuthenticationException.class, () -> shmClient(listener.address(), wrong));
      TestSupport.eventually("the rejection is counted", () -> listener.rejectedCount() == 1);
    }
  }

  static Stream<Object[]> pythons() {
    List<Object[]> out = new ArrayList<>();
    for (CPython py : CPython.versions()) {
      for (String kind : List.of("unix", "abstract")) {
        out.add(new Object[] {py, kind});
      }
    }
    return out.stream();
  }

  /** cpython_peer.py's echo-bytes scenario, from the jpipe side. */
  private static void exchangeWithPython(Connection conn) throws Exception {
    assertFalse(conn.isSharedMemory(), "a CPython peer is never upgraded");
    List<byte[]> sent = List.of(new byte[0], TestSupport.payload(1, 16385), new byte[] {1, 2});
    for (byte[] m : sent) {
      conn.sendBytes(m);
      assertArrayEquals(m, conn.recvBytes(), "echo of " + m.length + " bytes");
    }
    CPython.stopAndCheckPythonsBytes(conn);
  }

  @ParameterizedTest(name = "{0} client, {1}")
  @MethodSource("pythons")
  void cpythonClientOfAnOptedInListenerSeesThePlainWire(CPython py, String kind) throws Exception {
    try (Listener listener = shmListener(kind);
        CPython.Peer peer =
            py.connect(listener.address(), HexFormat.of().formatHex(KEY), "echo-bytes")) {
      try (Connection conn = listener.accept()) {
        exchangeWithPython(conn);
      }
      peer.assertOk();
    }
  }

  @ParameterizedTest(name = "{0} listener, {1}")
  @MethodSource("pythons")
  void optedInClientOfACPythonListenerSeesThePlainWire(CPython py, String kind) throws Exception {
    try (CPython.Peer peer =
        py.listen(CPython.address(kind, dir), HexFormat.of().formatHex(KEY), "echo-bytes")) {
      Address where = Address.parse(peer.readLine());
      try (Connection conn = shmClient(where, KEY)) {
        exchangeWithPython(conn);
      }
      peer.assertOk();
    }
  }
}
