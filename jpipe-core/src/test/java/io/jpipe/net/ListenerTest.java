package io.jpipe.net;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.ChildProcess;
import io.jpipe.Connection;
import io.jpipe.Connections;
import io.jpipe.TestSupport;
import java.io.EOFException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Listener and Client: CPython's {@code _TestListener} and {@code _TestListenerClient} ported, the
 * safe defaults, and hostile handshakes (the listener must go on serving others).
 */
class ListenerTest {
  static final byte[] KEY = "key".getBytes(StandardCharsets.UTF_8);

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** One of each family, as CPython's {@code connection.families}. */
  static List<Address> families() {
    // null stands for "no address": a private Unix socket, CPython's default family
    return java.util.Arrays.asList(Address.tcp("127.0.0.1", 0), Address.tcp("::1", 0), null);
  }

  /** A listener; over TCP without a key it says that is intended. */
  private static Listener listen(Address a, byte[] key) throws Exception {
    Listener.Builder b = Listener.builder().authkey(key).allowUnauthenticated(true);
    if (a != null) {
      b.address(a);
    }
    return b.open();
  }

  /** A keyless TCP listener, said to be intended. */
  static Listener keylessTcp() throws Exception {
    return Listener.builder()
        .address(Address.tcp("127.0.0.1", 0))
        .allowUnauthenticated(true)
        .open();
  }

  /** Connects without a key to any address (over TCP, said to be intended). */
  static Connection connectRaw(Address a) throws Exception {
    return Client.builder(a).allowUnauthenticated(true).connect();
  }

  // ---------------------------------------------------------------- _TestListener

  @Test
  void test_multiple_bind() throws Exception {
    for (Address family : families()) {
      try (Listener l = listen(family, null)) {
        assertThrows(BindException.class, () -> listen(l.address(), null), "" + l.address());
      }
    }
  }

  @Test
  void test_context() throws Exception {
    Listener l;
    try (Listener listener = Listener.open()) {
      l = listener;
      try (Connection c = Client.connect(l.address());
          Connection d = l.accept()) {
        c.send(1729);
        assertEquals(1729, d.recv());
      }
    }
    assertThrows(ClosedChannelException.class, l::accept);
  }

  @Test
  void test_abstract_socket() throws Exception {
    Listener l;
    try (Listener listener =
        Listener.open(Address.abstractUnix("something-" + ProcessHandle.current().pid()))) {
      l = listener;
      try (Connection client = Client.connect(l.address());
          Connection d = l.accept()) {
        client.send(1729);
        assertEquals(1729, d.recv());
      }
    }
    assertThrows(ClosedChannelException.class, l::accept);
  }

  // ---------------------------------------------------------------- _TestListenerClient

  static void sendHello(String address) throws Exception {
    try (Connection conn = connectRaw(Address.parse(address))) {
      conn.send("hello");
    }
  }

  @Test
  void test_listener_client() throws Exception {
    for (Address family : families()) {
      try (Listener l = listen(family, null)) {
        ChildProcess p =
            ChildProcess.of(ListenerTest::sendHello, l.address().toString()).daemon(true);
        p.start();
        try (Connection conn = l.accept()) {
          assertEquals("hello", conn.recv());
        }
        p.join();
        assertEquals(0, p.exitCode().orElseThrow());
      }
    }
  }

  @Test
  void test_issue14725() throws Exception {
    // accept succeeds even though the client connected, wrote and closed before it
    try (Listener l = Listener.open()) {
      ChildProcess p =
          ChildProcess.of(ListenerTest::sendHello, l.address().toString()).daemon(true);
      p.start();
      p.join();
      try (Connection conn = l.accept()) {
        assertEquals("hello", conn.recv());
      }
    }
  }

  @Test
  void test_issue16955() throws Exception {
    for (Address family : families()) {
      try (Listener l = listen(family, null);
          Connection c = connectRaw(l.address());
          Connection a = l.accept()) {
        a.sendBytes("hello".getBytes(StandardCharsets.US_ASCII));
        assertTrue(c.poll(Duration.ofSeconds(1)));
      }
    }
  }

  // ---------------------------------------------------------------- authentication

  @Test
  void sameKeyAuthenticatesBothWays() throws Exception {
    for (Address family : families()) {
      for (byte[] key : new byte[][] {KEY, new byte[0]}) {
        try (Listener l = listen(family, key)) {
          CompletableFuture<Connection> c =
              async(
                  () ->
                      Client.builder(l.address())
                          .authkey(key)
                          .allowUnauthenticated(true)
                          .connect());
          try (Connection server = l.accept();
              Connection client = TestSupport.await(c)) {
            client.send("authenticated");
            assertEquals("authenticated", server.recv());
          }
        }
      }
    }
  }

  @Test
  void aWrongKeyFailsOnTheSideThatDetectsItAndTheListenerGoesOn() throws Exception {
    BlockingQueue<Listener.Rejection> rejections = new LinkedBlockingQueue<>();
    try (Listener l =
        Listener.builder()
            .address(Address.tcp("127.0.0.1", 0))
            .authkey(KEY)
            .onRejected(rejections::add)
            .open()) {
      Throwable client =
          TestSupport.failureOf(
              async(() -> Client.connect(l.address(), "other".getBytes(StandardCharsets.UTF_8))));
      assertInstanceOf(AuthenticationException.class, client);
      assertEquals("digest sent was rejected", client.getMessage());
      Listener.Rejection server = next(rejections);
      assertInstanceOf(AuthenticationException.class, server.reason());
      assertEquals("digest received was wrong", server.reason().getMessage());
      assertEquals("127.0.0.1", ((Address.Tcp) server.peer().orElseThrow()).host());
      assertEquals(1, l.rejectedCount());

      CompletableFuture<Connection> right = async(() -> Client.connect(l.address(), KEY));
      try (Connection ok = l.accept();
          Connection c = TestSupport.await(right)) {
        c.send(1);
        assertEquals(1, ok.recv());
      }
    }
  }

  /** The next rejection, failing after {@link TestSupport#PATIENCE}. */
  static Listener.Rejection next(BlockingQueue<Listener.Rejection> rejections)
      throws InterruptedException {
    Listener.Rejection r = rejections.poll(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
    assertNotNull(r, "no rejection reported");
    return r;
  }

  @Test
  void aClientWithAKeyAndAListenerWithoutOneDoNotMeet() throws Exception {
    try (Listener l = keylessTcp()) {
      CompletableFuture<Connection> c =
          async(
              () ->
                  Client.builder(l.address())
                      .authkey(KEY)
                      .handshakeTimeout(Duration.ofMillis(300))
                      .connect());
      try (Connection server = l.accept()) {
        Throwable t = TestSupport.failureOf(c);
        assertInstanceOf(AuthenticationException.class, t);
        assertInstanceOf(SocketTimeoutException.class, t.getCause());
        assertThrows(EOFException.class, server::recv);
      }
    }
  }

  // ---------------------------------------------------------------- hostile handshakes

  private final BlockingQueue<Listener.Rejection> rejections = new LinkedBlockingQueue<>();

  private Listener hostileTarget() throws Exception {
    return Listener.builder()
        .address(Address.tcp("127.0.0.1", 0))
        .authkey(KEY)
        .handshakeTimeout(Duration.ofMillis(500))
        .onRejected(rejections::add)
        .open();
  }

  /** After each hostile client, an honest one is still served. */
  private static void stillServes(Listener l) throws Exception {
    CompletableFuture<Connection> c = async(() -> Client.connect(l.address(), KEY));
    try (Connection ok = l.accept();
        Connection client = TestSupport.await(c)) {
      client.sendBytes(new byte[] {42});
      assertEquals(42, ok.recvBytes()[0]);
    }
  }

  @Test
  void aSilentClientTimesOut() throws Exception {
    try (Listener l = hostileTarget();
        Connection silent = connectRaw(l.address())) {
      assertTrue(silent.isOpen());
      Listener.Rejection r = next(rejections);
      assertEquals("authentication handshake timed out", r.reason().getMessage());
      assertInstanceOf(SocketTimeoutException.class, r.reason().getCause());
      silent.recvBytes(); // the challenge
      assertThrows(EOFException.class, silent::recvBytes, "the listener closed it");
      stillServes(l);
      assertEquals(1, l.rejectedCount());
    }
  }

  @Test
  void anOversizeOrGarbageAnswerIsRefused() throws Exception {
    try (Listener l = hostileTarget()) {
      try (Connection big = connectRaw(l.address())) {
        big.recvBytes(); // the challenge
        big.sendBytes(new byte[300]);
        Listener.Rejection r = next(rejections);
        assertTrue(r.reason().getMessage().contains("at most 256"), r.reason().getMessage());
      }
      try (Connection garbage = connectRaw(l.address())) {
        io.jpipe.TestSupport.rawWrite(garbage.fileno(), new byte[] {-1, -1, -1, -2, 1, 2, 3});
        assertInstanceOf(AuthenticationException.class, next(rejections).reason());
      }
      stillServes(l);
      assertEquals(2, l.rejectedCount());
    }
  }

  @Test
  void aClientThatClosesHalfwayIsReported() throws Exception {
    try (Listener l = hostileTarget()) {
      try (Connection leaving = connectRaw(l.address())) {
        leaving.recvBytes(); // the challenge, then leave
      }
      Listener.Rejection r = next(rejections);
      assertInstanceOf(EOFException.class, r.reason().getCause());
      stillServes(l);
    }
  }

  @Test
  void anOversizeChallengeIsRefusedByTheClient() throws Exception {
    try (Listener raw = keylessTcp()) {
      CompletableFuture<Connection> c = async(() -> Client.connect(raw.address(), KEY));
      try (Connection server = raw.accept()) {
        server.sendBytes(new byte[1000]);
        Throwable t = TestSupport.failureOf(c);
        assertInstanceOf(AuthenticationException.class, t);
      }
    }
  }

  // ---------------------------------------------------------------- defaults and errors

  @Test
  void aPrivateUnixSocketIsPrivateAndRemovedOnClose() throws Exception {
    Path file;
    Path dir;
    try (Listener l = Listener.open()) {
      file = ((Address.Unix) l.address()).path();
      dir = file.getParent();
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
      assertTrue(Files.exists(file));
    }
    assertFalse(Files.exists(file));
    assertFalse(Files.exists(dir));
  }

  @Test
  void aSocketAtAGivenPathIsOwnerOnlyAndRemovedOnClose(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    Path file = tmp.resolve("app.sock");
    try (Listener l = Listener.open(Address.unix(file))) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
      assertEquals(Address.unix(file), l.address());
      assertThrows(BindException.class, () -> Listener.open(Address.unix(file)), "in use");
    }
    assertFalse(Files.exists(file));
  }

  @Test
  void aStaleSocketFileIsReplacedALiveOneIsInUseAndOtherFilesAreLeftAlone(
      @org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("app.sock");
    // A listener that died without cleaning up: the file is there, nobody listens.
    io.jpipe.internal.io.Fds.closeQuietly(
        io.jpipe.internal.net.Sockets.listen(Address.unix(file), 1));
    assertTrue(Files.exists(file));
    assertThrows(ConnectException.class, () -> Client.connect(Address.unix(file)), "stale");
    try (Listener l = Listener.open(Address.unix(file))) {
      // A live one is in use, and stays so: the refused listener removed nothing. Its probe
      // was a connection that closed at once.
      assertThrows(BindException.class, () -> Listener.open(Address.unix(file)), "live");
      try (Connection probe = l.accept()) {
        assertThrows(EOFException.class, probe::recvBytes);
      }
      try (Connection c = Client.connect(l.address());
          Connection d = l.accept()) {
        c.send("still served");
        assertEquals("still served", d.recv());
      }
    }
    assertFalse(Files.exists(file));

    // Never unlink what is not a socket: a regular file, a directory, a link to a stale socket.
    Files.writeString(file, "precious");
    assertThrows(BindException.class, () -> Listener.open(Address.unix(file)));
    assertEquals("precious", Files.readString(file));
    Path dir = Files.createDirectory(tmp.resolve("dir.sock"));
    assertThrows(BindException.class, () -> Listener.open(Address.unix(dir)));
    assertTrue(Files.isDirectory(dir));
    Path target = tmp.resolve("target.sock");
    io.jpipe.internal.io.Fds.closeQuietly(
        io.jpipe.internal.net.Sockets.listen(Address.unix(target), 1));
    Path link = Files.createSymbolicLink(tmp.resolve("link.sock"), target);
    assertThrows(BindException.class, () -> Listener.open(Address.unix(link)));
    assertTrue(Files.isSymbolicLink(link));
    assertTrue(Files.exists(target));
  }

  @Test
  void keylessTcpIsRefusedUnlessAllowedAndUnixIsNot(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    int fds = TestSupport.fdCount();
    Address tcp = Address.tcp("127.0.0.1", 0);
    for (byte[] key : new byte[][] {null, new byte[0]}) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> Listener.builder().address(tcp).authkey(key).open());
      assertTrue(
          e.getMessage().contains("Listener.Builder.allowUnauthenticated(true)"), e.getMessage());
      assertTrue(e.getMessage().contains("Listener.Builder.authkey(key)"), e.getMessage());
    }
    assertThrows(IllegalStateException.class, () -> Listener.open(tcp));
    assertThrows(IllegalStateException.class, () -> Listener.open(tcp, new byte[0]));
    assertEquals(fds, TestSupport.fdCount(), "refused before any socket was made");
    try (Listener l = Listener.open(tcp, KEY)) {
      for (byte[] key : new byte[][] {null, new byte[0]}) {
        IllegalStateException e =
            assertThrows(
                IllegalStateException.class,
                () -> Client.builder(l.address()).authkey(key).connect());
        assertTrue(
            e.getMessage().contains("Client.Builder.allowUnauthenticated(true)"), e.getMessage());
      }
      assertThrows(IllegalStateException.class, () -> Client.connect(l.address()));
      assertEquals(0, l.rejectedCount(), "refused before connecting");
    }
    try (Listener l = keylessTcp();
        Connection c = connectRaw(l.address());
        Connection d = l.accept()) {
      c.send("allowed when asked for");
      assertEquals("allowed when asked for", d.recv());
    }
    for (Address unix :
        List.of(
            Address.abstractUnix("jpipe-trust-" + ProcessHandle.current().pid()),
            Address.unix(tmp.resolve("trust.sock")))) {
      try (Listener l = Listener.open(unix);
          Connection c = Client.connect(l.address());
          Connection d = l.accept()) {
        c.send(unix.toString());
        assertEquals(unix.toString(), d.recv());
      }
    }
  }

  @Test
  void aListenerWithAKeyIsReadyOnlyOnceAClientAuthenticated() throws Exception {
    Listener l =
        Listener.open(Address.abstractUnix("jpipe-ready-" + ProcessHandle.current().pid()), KEY);
    try (Connection silent = Client.connect(l.address())) {
      assertTrue(silent.poll(TestSupport.PATIENCE), "the challenge came: the listener has it");
      assertEquals(List.of(), Connections.waitAny(List.of(l), Duration.ofMillis(200)));
      CompletableFuture<Connection> honest = async(() -> Client.connect(l.address(), KEY));
      assertEquals(List.of(l), Connections.waitAny(List.of(l), TestSupport.PATIENCE));
      try (Connection a = l.accept();
          Connection b = TestSupport.await(honest)) {
        assertEquals(List.of(), Connections.waitAny(List.of(l), Duration.ZERO), "flag lowered");
        b.send(7);
        assertEquals(7, a.recv());
      }
    } finally {
      l.close();
    }
    assertTrue(l.isClosed());
    assertThrows(ClosedChannelException.class, l::fileno);
    assertThrows(ClosedChannelException.class, () -> Connections.waitAny(List.of(l)));
  }

  @Test
  void addressesParseAndPrint() {
    assertEquals(Address.unix("/run/x.sock"), Address.parse("unix:/run/x.sock"));
    assertEquals(Address.abstractUnix("name"), Address.parse("unix:@name"));
    assertEquals(Address.tcp("localhost", 80), Address.parse("tcp:localhost:80"));
    assertEquals(Address.tcp("::1", 6000), Address.parse("tcp:[::1]:6000"));
    for (String s : List.of("unix:/a", "unix:@b", "tcp:h:1", "tcp:[::1]:2")) {
      assertEquals(s, Address.parse(s).toString());
    }
    for (String bad :
        List.of(
            "",
            "unix:",
            "unix:@",
            "tcp:host",
            "tcp::1:2",
            "tcp:h:x",
            "tcp:h:70000",
            "udp:h:1",
            "tcp:[::1]2",
            "unix:/" + "x".repeat(200))) {
      assertThrows(IllegalArgumentException.class, () -> Address.parse(bad), bad);
    }
  }

  @Test
  void connectingToNobodyIsAConnectException() throws Exception {
    Address gone;
    try (Listener l = keylessTcp()) {
      gone = l.address();
    }
    assertThrows(ConnectException.class, () -> connectRaw(gone));
    assertThrows(
        ConnectException.class, () -> Client.connect(Address.unix("/nonexistent/jpipe.sock")));
    assertThrows(
        java.net.UnknownHostException.class,
        () -> connectRaw(Address.tcp("no-such-host.invalid", 1)));
  }

  @Test
  void closeWakesAnAcceptAndListenersCanBeWaitedOn() throws Exception {
    Listener l = Listener.open();
    CompletableFuture<Connection> accept = async(l::accept);
    Thread.sleep(100);
    assertEquals(List.of(), Connections.waitAny(List.of(l), Duration.ZERO));
    try (Connection c = Client.connect(l.address())) {
      assertTrue(c.isOpen());
      Connection d = TestSupport.await(accept);
      d.close();
      CompletableFuture<Connection> second = async(l::accept);
      Thread.sleep(100);
      l.close();
      assertInstanceOf(AsynchronousCloseException.class, TestSupport.failureOf(second));
    }
    assertTrue(l.isClosed());
    assertTrue(l.lastAccepted().isPresent());
    assertEquals(Address.unix(Path.of("")), l.lastAccepted().orElseThrow(), "an unbound client");
  }

  @Test
  void lastAcceptedIsTheTcpPeer() throws Exception {
    try (Listener l = keylessTcp()) {
      assertTrue(l.lastAccepted().isEmpty());
      try (Connection c = connectRaw(l.address());
          Connection d = l.accept()) {
        assertTrue(c.isOpen() && d.isOpen());
        Address.Tcp peer = (Address.Tcp) l.lastAccepted().orElseThrow();
        assertEquals("127.0.0.1", peer.host());
        assertTrue(peer.port() > 0);
        assertTrue(((Address.Tcp) l.address()).port() > 0);
      }
      assertEquals(List.of(), Connections.waitAny(List.of(l), Duration.ZERO));
      try (Connection c = connectRaw(l.address())) {
        assertTrue(c.isOpen());
        assertEquals(List.of(l), Connections.waitAny(List.of(l), Duration.ofSeconds(30)));
        l.accept().close();
      }
    }
  }
}
