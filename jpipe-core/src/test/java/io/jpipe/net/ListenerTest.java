package io.jpipe.net;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import java.util.concurrent.CompletableFuture;
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

  private static Listener listen(Address a, byte[] key) throws Exception {
    Listener.Builder b = Listener.builder().authkey(key);
    if (a != null) {
      b.address(a);
    }
    return b.open();
  }

  // ---------------------------------------------------------------- _TestListener

  @Test
  void test_multiple_bind() throws Exception {
    for (Address family : families()) {
      try (Listener l = listen(family, null)) {
        assertThrows(BindException.class, () -> Listener.open(l.address()), "" + l.address());
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
    try (Connection conn = Client.connect(Address.parse(address))) {
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
          Connection c = Client.connect(l.address());
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
          CompletableFuture<Connection> c = async(() -> Client.connect(l.address(), key));
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
    try (Listener l = Listener.open(Address.tcp("127.0.0.1", 0), KEY)) {
      CompletableFuture<Connection> wrong =
          async(() -> Client.connect(l.address(), "other".getBytes(StandardCharsets.UTF_8)));
      AuthenticationException server = assertThrows(AuthenticationException.class, l::accept);
      assertEquals("digest received was wrong", server.getMessage());
      Throwable client = TestSupport.failureOf(wrong);
      assertInstanceOf(AuthenticationException.class, client);
      assertEquals("digest sent was rejected", client.getMessage());

      CompletableFuture<Connection> right = async(() -> Client.connect(l.address(), KEY));
      try (Connection ok = l.accept();
          Connection c = TestSupport.await(right)) {
        c.send(1);
        assertEquals(1, ok.recv());
      }
    }
  }

  @Test
  void aClientWithAKeyAndAListenerWithoutOneDoNotMeet() throws Exception {
    try (Listener l = Listener.open(Address.tcp("127.0.0.1", 0))) {
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

  private static Listener hostileTarget() throws Exception {
    return Listener.builder()
        .address(Address.tcp("127.0.0.1", 0))
        .authkey(KEY)
        .handshakeTimeout(Duration.ofMillis(500))
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
        Connection silent = Client.connect(l.address())) {
      assertTrue(silent.isOpen());
      AuthenticationException e = assertThrows(AuthenticationException.class, l::accept);
      assertInstanceOf(SocketTimeoutException.class, e.getCause());
      stillServes(l);
    }
  }

  @Test
  void anOversizeOrGarbageAnswerIsRefused() throws Exception {
    try (Listener l = hostileTarget()) {
      try (Connection big = Client.connect(l.address())) {
        CompletableFuture<Object> sender =
            async(
                () -> {
                  big.recvBytes(); // the challenge
                  big.sendBytes(new byte[300]);
                  return null;
                });
        AuthenticationException e = assertThrows(AuthenticationException.class, l::accept);
        assertTrue(e.getMessage().contains("at most 256"), e.getMessage());
        TestSupport.await(sender);
      }
      try (Connection garbage = Client.connect(l.address())) {
        io.jpipe.TestSupport.rawWrite(garbage.fileno(), new byte[] {-1, -1, -1, -2, 1, 2, 3});
        assertThrows(AuthenticationException.class, l::accept);
      }
      stillServes(l);
    }
  }

  @Test
  void aClientThatClosesHalfwayIsReported() throws Exception {
    try (Listener l = hostileTarget()) {
      Connection leaving = Client.connect(l.address());
      CompletableFuture<Object> closer =
          async(
              () -> {
                leaving.recvBytes(); // the challenge, then leave
                leaving.close();
                return null;
              });
      AuthenticationException e = assertThrows(AuthenticationException.class, l::accept);
      assertInstanceOf(EOFException.class, e.getCause());
      TestSupport.await(closer);
      stillServes(l);
    }
  }

  @Test
  void anOversizeChallengeIsRefusedByTheClient() throws Exception {
    try (Listener raw = Listener.open(Address.tcp("127.0.0.1", 0))) {
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
    try (Listener l = Listener.open(Address.tcp("127.0.0.1", 0))) {
      gone = l.address();
    }
    assertThrows(ConnectException.class, () -> Client.connect(gone));
    assertThrows(
        ConnectException.class, () -> Client.connect(Address.unix("/nonexistent/jpipe.sock")));
    assertThrows(
        java.net.UnknownHostException.class,
        () -> Client.connect(Address.tcp("no-such-host.invalid", 1)));
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
    try (Listener l = Listener.open(Address.tcp("127.0.0.1", 0))) {
      assertTrue(l.lastAccepted().isEmpty());
      try (Connection c = Client.connect(l.address());
          Connection d = l.accept()) {
        assertTrue(c.isOpen() && d.isOpen());
        Address.Tcp peer = (Address.Tcp) l.lastAccepted().orElseThrow();
        assertEquals("127.0.0.1", peer.host());
        assertTrue(peer.port() > 0);
        assertTrue(((Address.Tcp) l.address()).port() > 0);
      }
      assertEquals(List.of(), Connections.waitAny(List.of(l), Duration.ZERO));
      try (Connection c = Client.connect(l.address())) {
        assertTrue(c.isOpen());
        assertEquals(List.of(l), Connections.waitAny(List.of(l), Duration.ofSeconds(30)));
        l.accept().close();
      }
    }
  }
}
