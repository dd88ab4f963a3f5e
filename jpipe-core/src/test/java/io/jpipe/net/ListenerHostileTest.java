package io.jpipe.net;

import static io.jpipe.TestSupport.async;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jpipe.Connection;
import io.jpipe.TestSupport;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The listener against hostile and many clients: what happens before authentication is bounded,
 * handshakes run concurrently and are abandoned oldest first, {@code accept} waits on any thread
 * and wakes on close and interrupt, and close leaves no descriptor or thread behind.
 */
class ListenerHostileTest {
  static final byte[] KEY = "hostile key".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private final BlockingQueue<Listener.Rejection> rejections = new LinkedBlockingQueue<>();

  private Listener.Builder keyed(Address a) {
    return Listener.builder().address(a).authkey(KEY).onRejected(rejections::add);
  }

  private static Connection raw(Address a) throws Exception {
    return Client.builder(a).allowUnauthenticated(true).connect();
  }

  private Listener.Rejection nextRejection() throws InterruptedException {
    Listener.Rejection r = rejections.poll(TestSupport.PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
    assertNotNull(r, "no rejection reported");
    return r;
  }

  /** Reads the challenge, then expects the listener to have closed the connection. */
  private static void assertCutOff(Connection c) throws Exception {
    assertTrue(new String(c.recvBytes(), StandardCharsets.US_ASCII).startsWith("#CHALLENGE#"));
    assertThrows(EOFException.class, c::recvBytes);
  }

  private static void honestEcho(Listener l) throws Exception {
    CompletableFuture<Connection> c = async(() -> Client.connect(l.address(), KEY));
    try (Connection server = l.accept();
        Connection client = TestSupport.await(c)) {
      client.send("honest");
      assertEquals("honest", server.recv());
    }
  }

  @Test
  void aClientClaimingAHugeFrameDuringTheHandshakeIsCutOffAtOnceAndCounted() throws Exception {
    try (Listener l =
        keyed(Address.tcp("127.0.0.1", 0)).handshakeTimeout(Duration.ofSeconds(60)).open()) {
      List<byte[]> headers =
          List.of(
              TestSupport.header(1 << 30), // 1 GiB
              TestSupport.longHeader(1L << 40), // 1 TiB in CPython's long form
              TestSupport.header(257)); // one byte more than CPython reads there
      for (byte[] header : headers) {
        try (Connection c = raw(l.address())) {
          long start = System.nanoTime();
          TestSupport.rawWrite(c.fileno(), header);
          Listener.Rejection r = nextRejection();
          long ms = (System.nanoTime() - start) / 1_000_000;
          System.out.println("huge handshake frame refused in " + ms + " ms");
          assertTrue(ms < 10_000, "refused after " + ms + " ms, not at once");
          assertInstanceOf(AuthenticationException.class, r.reason());
          assertTrue(r.reason().getMessage().contains("at most 256"), r.reason().getMessage());
          assertCutOff(c);
        }
      }
      assertEquals(3, l.rejectedCount());
      honestEcho(l);
      assertEquals(3, l.rejectedCount());
    }
  }

  @Test
  void aPeerWhoseNameIsNoAddressIsServedAsUnnamedAndTheListenerGoesOn() throws Exception {
    // A client may bind any bytes: 100 bytes of 0xFF decode to 300 bytes of U+FFFD, longer than
    // an abstract name may be. That must not fail the accept, which would end the listener.
    String name = "jpipe-hostile-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    try (Listener l = keyed(Address.parse("unix:@" + name)).open()) {
      Process p =
          new ProcessBuilder(
                  "python3",
                  "-c",
                  "import socket, sys\n"
                      + "s = socket.socket(socket.AF_UNIX)\n"
                      + "s.bind(b'\\0' + b'\\xff' * 100)\n"
                      + "s.connect(b'\\0' + sys.argv[1].encode())\n"
                      + "s.close()\n",
                  name)
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), out);
      Listener.Rejection r = nextRejection(); // it closed without answering the challenge
      assertEquals(java.util.Optional.of(Address.unix(Path.of(""))), r.peer());
      honestEcho(l);
      assertEquals(1, l.rejectedCount());
    }
  }

  @Test
  void aServerThatHangsUpDuringTheHandshakeLeavesTheClientNoDescriptor() throws Exception {
    try (Listener silent = Listener.open(Address.unix(dir.resolve("hangup.sock")))) {
      for (int round = 0; round < 2; round++) { // the first loads classes and lazy descriptors
        int fds = TestSupport.fdCount();
        CompletableFuture<Connection> c =
            TestSupport.async(() -> Client.connect(silent.address(), KEY));
        silent.accept().close(); // no challenge: the client reads end of file
        assertInstanceOf(IOException.class, TestSupport.failureOf(c));
        if (round == 1 && fds != TestSupport.fdCount()) {
          // closed by connect itself, not left for a Cleaner to find after a GC
          fail("a descriptor was left: " + fds + " before, now " + fdTargets());
        }
      }
    }
  }

  @Test
  void anInterruptDuringTheClientsHandshakeIsClosedByInterrupt() throws Exception {
    // A keyless Unix listener accepts and says nothing: a client with a key waits for the
    // challenge, and an interrupt ends that wait as for any blocking call.
    try (Listener silent = Listener.open(Address.unix(dir.resolve("silent.sock")))) {
      for (boolean virtual : new boolean[] {false, true}) {
        Thread[] t = new Thread[1];
        CompletableFuture<Connection> c =
            TestSupport.async(
                virtual ? Thread.ofVirtual() : Thread.ofPlatform().daemon(),
                () -> Client.connect(silent.address(), KEY),
                t);
        try (Connection accepted = silent.accept()) {
          TestSupport.awaitBlocked(t[0]);
          t[0].interrupt();
          assertInstanceOf(ClosedByInterruptException.class, TestSupport.failureOf(c));
          assertNotNull(accepted);
        }
      }
    }
  }

  @Test
  void theOldestPendingHandshakeIsAbandonedToMakeRoomAndCounted() throws Exception {
    try (Listener l =
        keyed(Address.unix(dir.resolve("l.sock")))
            .maxPendingHandshakes(3)
            .handshakeTimeout(Duration.ofSeconds(60))
            .open()) {
      List<Connection> silent = new ArrayList<>();
      try {
        for (int i = 0; i < 3; i++) {
          Connection c = raw(l.address());
          silent.add(c);
          assertTrue(c.poll(TestSupport.PATIENCE), "challenged: its handshake is pending");
        }
        assertEquals(0, l.rejectedCount());
        for (int i = 3; i < 6; i++) {
          Connection c = raw(l.address());
          silent.add(c);
          assertTrue(c.poll(TestSupport.PATIENCE));
          Listener.Rejection r = nextRejection();
          assertTrue(r.reason().getMessage().contains("maxPendingHandshakes"), r.reason() + "");
          assertInstanceOf(AuthenticationException.class, r.reason());
          assertEquals(Address.unix(Path.of("")), r.peer().orElseThrow(), "an unbound client");
          assertCutOff(silent.get(i - 3)); // the oldest
          assertEquals(i - 2, l.rejectedCount());
        }
        for (Connection c : silent.subList(3, 6)) {
          c.recvBytes(); // the challenge; still pending, not closed
          assertFalse(c.poll(Duration.ZERO));
        }
        honestEcho(l); // makes room too: the honest client is the newest, never the one abandoned
        assertEquals(4, l.rejectedCount());
        assertThrows(EOFException.class, silent.get(3)::recvBytes, "the oldest was abandoned");
      } finally {
        for (Connection c : silent) {
          c.close();
        }
      }
    }
  }

  @Test
  void acceptWorksOnVirtualThreads() throws Exception {
    int n = 20;
    try (Listener l =
        keyed(Address.abstractUnix("jpipe-vt-" + ProcessHandle.current().pid())).open()) {
      List<Thread> acceptors = new ArrayList<>();
      List<String> got = java.util.Collections.synchronizedList(new ArrayList<>());
      for (int i = 0; i < n; i++) {
        acceptors.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try (Connection c = l.accept()) {
                        got.add((String) c.recv());
                      } catch (IOException e) {
                        got.add("failed: " + e);
                      }
                    }));
      }
      List<CompletableFuture<Object>> clients = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String m = "client " + i;
        clients.add(
            async(
                () -> {
                  try (Connection c = Client.connect(l.address(), KEY)) {
                    c.send(m);
                  }
                  return null;
                }));
      }
      for (CompletableFuture<Object> c : clients) {
        TestSupport.await(c);
      }
      for (Thread t : acceptors) {
        assertTrue(t.join(TestSupport.PATIENCE), "a virtual thread still waits in accept");
      }
      assertEquals(n, got.size());
      assertTrue(got.stream().allMatch(s -> s.startsWith("client ")), got.toString());
    }
  }

  @Test
  void closeWakesAcceptOnPlatformAndVirtualThreads() throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      Listener l = keyed(Address.unix(dir.resolve("close-" + virtual + ".sock"))).open();
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      Thread t =
          (virtual ? Thread.ofVirtual() : Thread.ofPlatform())
              .start(
                  () -> {
                    try {
                      l.accept().close();
                    } catch (Throwable e) {
                      thrown.set(e);
                    }
                  });
      TestSupport.eventually("accept to wait", () -> t.getState() == Thread.State.WAITING);
      long start = System.nanoTime();
      l.close();
      assertTrue(t.join(TestSupport.PATIENCE));
      System.out.printf(
          "close woke accept on a %s thread in %.1f ms%n",
          virtual ? "virtual" : "platform", (System.nanoTime() - start) / 1e6);
      assertInstanceOf(AsynchronousCloseException.class, thrown.get());
      assertFalse(Files.exists(dir.resolve("close-" + virtual + ".sock")));
    }
  }

  @Test
  void anInterruptWakesAcceptClosesTheListenerAndKeepsTheStatus() throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      Path file = dir.resolve("interrupt-" + virtual + ".sock");
      Listener l = keyed(Address.unix(file)).open();
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicReference<Boolean> status = new AtomicReference<>();
      Thread t =
          (virtual ? Thread.ofVirtual() : Thread.ofPlatform())
              .start(
                  () -> {
                    try {
                      l.accept().close();
                    } catch (Throwable e) {
                      thrown.set(e);
                    }
                    status.set(Thread.currentThread().isInterrupted());
                  });
      TestSupport.eventually("accept to wait", () -> t.getState() == Thread.State.WAITING);
      t.interrupt();
      assertTrue(t.join(TestSupport.PATIENCE));
      assertInstanceOf(ClosedByInterruptException.class, thrown.get());
      assertTrue(status.get(), "the interrupt status stays set");
      assertTrue(l.isClosed());
      assertFalse(Files.exists(file));
    }
  }

  @Test
  void aThrowingRejectionHandlerIsIgnoredAndOneMayClose() throws Exception {
    AtomicReference<Listener> self = new AtomicReference<>();
    try (Listener l =
        Listener.builder()
            .address(Address.unix(dir.resolve("h.sock")))
            .authkey(KEY)
            .onRejected(
                r -> {
                  if (r.reason().getMessage().equals("digest received was wrong")) {
                    throw new IllegalStateException("a handler's bug");
                  }
                  self.get().close(); // the second: the handler closes the listener
                })
            .open()) {
      self.set(l);
      byte[] wrong = "wrong".getBytes(StandardCharsets.UTF_8);
      assertInstanceOf(
          AuthenticationException.class,
          TestSupport.failureOf(async(() -> Client.connect(l.address(), wrong))));
      TestSupport.eventually("the rejection counted", () -> l.rejectedCount() == 1);
      honestEcho(l);
      Thread[] acceptor = new Thread[1];
      CompletableFuture<Connection> waiting =
          TestSupport.async(Thread.ofPlatform().daemon(), l::accept, acceptor);
      TestSupport.awaitBlocked(acceptor[0]); // else accept may begin after the close
      try (Connection c = raw(l.address())) {
        c.recvBytes();
        c.sendBytes(new byte[] {1}); // a bad answer: rejected, and the handler closes
        assertInstanceOf(AsynchronousCloseException.class, TestSupport.failureOf(waiting));
      }
      assertTrue(l.isClosed());
      assertEquals(2, l.rejectedCount());
    }
  }

  @Test
  void connectionsBeyondTheBacklogWaitInTheKernelAndAreAllServed() throws Exception {
    try (Listener l =
        Listener.builder()
            .address(Address.abstractUnix("jpipe-backlog-" + ProcessHandle.current().pid()))
            .backlog(1)
            .open()) {
      List<CompletableFuture<Connection>> clients = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        clients.add(async(() -> Client.connect(l.address())));
      }
      for (int i = 0; i < 6; i++) {
        try (Connection a = l.accept()) {
          a.send(i);
        }
      }
      List<Integer> got = new ArrayList<>();
      for (CompletableFuture<Connection> c : clients) {
        try (Connection conn = TestSupport.await(c)) {
          got.add((Integer) conn.recv());
        }
      }
      assertEquals(List.of(0, 1, 2, 3, 4, 5), got.stream().sorted().toList());
    }
  }

  @Test
  void closeLeavesNoDescriptorNorThreadBehind() throws Exception {
    // Load the classes, and open the JDK's own lazy descriptors (jcmd's attach listener among
    // them), before counting.
    for (Address a : List.of(Address.tcp("127.0.0.1", 0), Address.unix(dir.resolve("w.sock")))) {
      Listener warmup = keyed(a).open();
      honestEcho(warmup);
      warmup.close();
    }
    assertEquals(List.of(), jpipeThreads());
    int fds = TestSupport.fdCount();
    for (Address a : List.of(Address.tcp("127.0.0.1", 0), Address.unix(dir.resolve("c.sock")))) {
      Listener l = keyed(a).handshakeTimeout(Duration.ofSeconds(60)).open();
      List<Connection> clients = new ArrayList<>();
      for (int i = 0; i < 10; i++) { // pending handshakes
        Connection c = raw(l.address());
        clients.add(c);
        assertTrue(c.poll(TestSupport.PATIENCE));
      }
      for (int i = 0; i < 3; i++) { // authenticated, never accepted
        clients.add(Client.connect(l.address(), KEY));
      }
      List<String> running = jpipeThreads();
      assertTrue(running.contains("jpipe-acceptor " + l.address()), running.toString());
      assertTrue(running.stream().filter(s -> s.startsWith("jpipe-handshake-")).count() >= 10);
      l.close();
      assertEquals(List.of(), jpipeThreads(), "threads left after close");
      for (Connection c : clients.subList(0, 10)) {
        assertCutOff(c);
      }
      for (Connection c : clients.subList(10, 13)) {
        assertThrows(EOFException.class, c::recvBytes, "closed unaccepted");
      }
      for (Connection c : clients) {
        c.close();
      }
      assertEquals(0, l.rejectedCount(), "a close is not a rejection");
      assertEquals(List.of(), List.copyOf(rejections));
      assertEquals(fds, TestSupport.fdCount(), "descriptors left after close: " + fdTargets());
    }
  }

  /** What each open descriptor is, for a failure message. */
  private static String fdTargets() throws IOException {
    StringBuilder b = new StringBuilder();
    try (var fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path fd : fds.toList()) {
        try {
          b.append(fd.getFileName()).append('=').append(Files.readSymbolicLink(fd)).append(' ');
        } catch (IOException e) {
          // closed meanwhile (the listing's own descriptor)
        }
      }
    }
    return b.toString();
  }

  /**
   * The names of jpipe's listener threads alive now, virtual ones included: a thread dump by {@code
   * jcmd} (the test module cannot read {@code jdk.management}).
   */
  static List<String> jpipeThreads() throws Exception {
    Path f = Files.createTempFile("jpipe-threads", ".json");
    Files.delete(f); // the dump refuses to overwrite
    try {
      Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
      Process p =
          new ProcessBuilder(
                  jcmd.toString(),
                  Long.toString(ProcessHandle.current().pid()),
                  "Thread.dump_to_file",
                  "-format=json",
                  f.toString())
              .redirectErrorStream(true)
              .start();
      p.getOutputStream().close(); // its pipes are fds: closed now, not when collected
      String out;
      try (var in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      p.getErrorStream().close();
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "jcmd hangs");
      assertEquals(0, p.exitValue(), out);
      Matcher m =
          Pattern.compile("\"name\": \"(jpipe-(?:acceptor|handshake)[^\"]*)\"")
              .matcher(Files.readString(f));
      List<String> names = new ArrayList<>();
      while (m.find()) {
        names.add(m.group(1).replace("\\/", "/")); // JSON may escape '/'
      }
      return names;
    } finally {
      Files.deleteIfExists(f);
    }
  }
}
