package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.CPython;
import io.jpipe.Connection;
import io.jpipe.TestSupport;
import io.jpipe.net.Address;
import io.jpipe.net.Client;
import io.jpipe.pickle.PickleCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.io.Serializable;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jpipe serve} under hostile clients (live CPython 3.11 and raw sockets): every bad client
 * costs one stderr line and its own connection, never the server, and honest clients are served
 * throughout, concurrently.
 */
class ServeHostileTest {
  @TempDir Path dir;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** The bound on one printed message (Repr's budget, a leaf past it, closing brackets). */
  private static final int MAX_PRINTED = Repr.MAX_LINE + Repr.MAX_LEAF + 2 * Repr.MAX_DEPTH + 64;

  private static final Pattern CLIENT_LINE = Pattern.compile("jpipe serve: client (\\d+) (.*)");

  /** Starts serve on a Unix socket in the temporary directory and waits until it listens. */
  private Cli serve(String... options) throws Exception {
    List<String> args = new ArrayList<>(List.of("serve", "unix:" + dir.resolve("s.sock")));
    args.addAll(List.of(options));
    Cli serve = Cli.start(args.toArray(String[]::new));
    String line = serve.errLine();
    assertTrue(line != null && line.startsWith("jpipe serve: listening on "), "got " + line);
    return serve;
  }

  private Address address() {
    return Address.unix(dir.resolve("s.sock"));
  }

  /** A raw socket to the server. */
  private SocketChannel rawClient() throws IOException {
    return SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("s.sock")));
  }

  /** Per client number, its stderr lines after "client N (peer) ". */
  private static Map<Integer, List<String>> byClient(List<String> err) {
    Map<Integer, List<String>> m = new LinkedHashMap<>();
    for (String line : err) {
      Matcher x = CLIENT_LINE.matcher(line);
      if (x.matches()) {
        String rest = x.group(2).startsWith("(unix) ") ? x.group(2).substring(7) : x.group(2);
        m.computeIfAbsent(Integer.parseInt(x.group(1)), k -> new ArrayList<>()).add(rest);
      }
    }
    return m;
  }

  @Test
  void eachHostileClientCostsOneLineAndHonestClientsAreStillServed() throws Exception {
    CPython py = CPython.versions().getFirst(); // python3, 3.11 on these machines
    try (Cli serve = serve("--codec", "pickle", "--echo", "--max-message", "4M")) {
      Map<String, String> outcome = new LinkedHashMap<>();
      Map<String, Double> seconds = new LinkedHashMap<>();
      try (CPython.Peer hostile = py.run("hostile_client.py", "unix:" + dir.resolve("s.sock"))) {
        for (String line : hostile.linesAfterOk("")) {
          if (line.equals("OK")) {
            continue;
          }
          String[] p = line.split("[: ]+");
          outcome.put(p[0], p[1]);
          seconds.put(p[0], Double.parseDouble(p[2]));
        }
      }
      System.out.println("hostile scenarios: " + outcome + " (seconds: " + seconds + ")");
      assertEquals("echoed", outcome.get("self-reference"), "self-references stay legal");
      for (String closed :
          List.of(
              "nested",
              "billion-laughs",
              "huge-int",
              "garbage",
              "lying-length",
              "lying-long-length",
              "negative-length")) {
        assertEquals("closed", outcome.get(closed), closed);
      }
      assertEquals("echoed", outcome.get("honest"));
      assertTrue(seconds.get("huge-int") < 5, "a 2 MiB int is answered in seconds: " + seconds);

      // the server still serves honest clients, from this JVM too
      try (Connection conn = Client.builder(address()).codec(PickleCodec.create()).connect()) {
        conn.send(List.of("still", "serving"));
        assertEquals(List.of("still", "serving"), conn.recv());
      }
      for (int i = 1; i <= 11; i++) {
        String client = "jpipe serve: client " + i + " (unix) ";
        serve.awaitErrAnywhere(
            l -> l.startsWith(client) && !l.equals(client + "connected"), "ending client " + i);
      }
      serve.terminate();
      List<String> err = serve.allErr();
      Cli.assertNoStackTrace(err);
      Map<Integer, List<String>> clients = byClient(err);
      assertEquals(11, clients.size(), String.join("\n", err));
      for (var e : clients.entrySet()) {
        List<String> lines = e.getValue();
        assertEquals("connected", lines.getFirst(), "client " + e.getKey() + ": " + lines);
        assertEquals(2, lines.size(), "client " + e.getKey() + ": one line for its end: " + lines);
      }
      assertTrue(
          clients.get(2).get(1).matches("cannot decode .*DecodeLimitException: maxDepth.*"),
          "" + clients);
      assertTrue(
          clients.get(3).get(1).matches("cannot decode .*DecodeLimitException: maxWork.*"),
          "" + clients);
      assertTrue(
          clients.get(4).get(1).matches("cannot decode .*DecodeLimitException: maxIntDigits.*"),
          "" + clients);
      assertTrue(clients.get(5).get(1).startsWith("cannot decode a message of"), "" + clients);
      assertTrue(clients.get(6).get(1).contains("--max-message"), "" + clients);
      assertTrue(clients.get(7).get(1).contains("--max-message"), "" + clients);
      assertTrue(clients.get(8).get(1).startsWith("ProtocolException"), "" + clients);
      assertTrue(clients.get(9).get(1).startsWith("TruncatedMessageException"), "" + clients);
      for (int echoed : List.of(1, 10, 11)) {
        assertEquals("disconnected after 1 message", clients.get(echoed).get(1));
      }
      for (int i = 2; i <= 9; i++) {
        assertTrue(clients.get(i).get(1).endsWith("; closed"), "" + clients.get(i));
      }

      List<String> printed = serve.out().lines().toList();
      assertEquals("[[...]]", printed.getFirst());
      assertTrue(printed.contains("{'a': [1, 2.5]}"), "" + printed);
      assertEquals("['still', 'serving']", printed.getLast());
      for (String line : printed) {
        assertTrue(line.length() <= MAX_PRINTED, "a printed line of " + line.length());
      }
    }
  }

  /**
   * A Java serialization stream whose decoding recurses without end: a HashSet holding a list that
   * contains itself (rehashing it on decode overflows the stack, unless the codec's limits stop
   * it).
   */
  private static byte[] selfReferencingListInASet() throws IOException {
    List<Object> list = new ArrayList<>();
    Set<Object> set = new HashSet<>();
    set.add(list); // hashed while still empty
    list.add(list);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(set);
    }
    return bytes.toByteArray();
  }

  /** A class whose readObject throws an Error, which the codec turns into a refusal. */
  static final class Bomb implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Serial
    private void readObject(ObjectInputStream in) {
      throw new AssertionError("boom");
    }
  }

  /** A class whose toString throws an Error. */
  static final class Loud implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    @Override
    public String toString() {
      throw new AssertionError("loud");
    }
  }

  @Test
  void anErrorWhileDecodingOrPrintingIsOneLineAndLeavesOtherClientsServed() throws Exception {
    try (Cli serve = serve("--codec", "java", "--allow-class", "io.jpipe.cli.*")) {
      byte[] overflow = selfReferencingListInASet();
      try (Connection conn = Client.connect(address())) {
        conn.sendBytes(overflow); // refused by the codec's limits: a line, and the client goes on
        conn.send("still here");
        conn.send(new Bomb()); // an Error in readObject: the codec refuses the message, the same
        conn.send("after the bomb");
      }
      serve.awaitErrAnywhere("client 1 (unix) disconnected after 2 messages");
      try (Connection conn = Client.connect(address())) {
        conn.send(new Loud()); // an Error out of printing: a line, and the client is closed
        assertThrowsEof(conn);
      }
      try (Connection conn = Client.connect(address())) {
        conn.send(List.of(1, "two"));
      }
      serve.awaitErrAnywhere("client 3 (unix) disconnected after 1 message");
      serve.terminate();
      List<String> err = serve.allErr();
      Cli.assertNoStackTrace(err);
      assertEquals(
          1,
          err.stream()
              .filter(
                  l ->
                      l.startsWith(
                          "jpipe serve: client 1 (unix): cannot decode a message of "
                              + overflow.length
                              + " bytes: DecodeLimitException: "))
              .count(),
          "" + err);
      assertTrue(
          err.stream()
              .anyMatch(
                  l ->
                      l.matches(
                          "jpipe serve: client 1 \\(unix\\): cannot decode a message of \\d+"
                              + " bytes: InvalidObjectException: a class failed to read its"
                              + " object back: java.lang.AssertionError: boom")),
          "" + err);
      assertTrue(
          err.stream()
              .anyMatch(
                  l ->
                      l.matches(
                          "jpipe serve: client 2 \\(unix\\) AssertionError: loud while printing a"
                              + " message of \\d+ bytes; closed")),
          "" + err);
      assertEquals(
          List.of("'still here'", "'after the bomb'", "[1, 'two']"), serve.out().lines().toList());
    }
  }

  /** A class of the user's, as a gadget would be: not on the default allow-list. */
  static final class Token implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    private final String name;

    Token(String name) {
      this.name = name;
    }

    @Override
    public String toString() {
      return "Token[" + name + "]";
    }
  }

  @Test
  void onlyAllowedClassesAreDecoded() throws Exception {
    try (Cli serve = serve("--codec", "java")) {
      try (Connection conn = Client.connect(address())) {
        conn.send(new Token("refused"));
        conn.send(List.of(1, Map.of("k", 2.5)));
      }
      serve.awaitErr("client 1 (unix) disconnected after 1 message");
      serve.terminate();
      List<String> err = serve.allErr();
      assertEquals(
          1,
          err.stream()
              .filter(
                  l -> l.startsWith("jpipe serve: client 1 (unix): cannot decode a message of "))
              .filter(l -> l.contains(Token.class.getName()) && l.contains("allow-list"))
              .count(),
          "" + err);
      assertEquals(List.of("[1, {'k': 2.5}]"), serve.out().lines().toList());
    }
    try (Cli serve = serve("--codec", "java", "--allow-class", "io.jpipe.cli.*")) {
      try (Connection conn = Client.connect(address())) {
        conn.send(new Token("allowed"));
      }
      serve.awaitErr("client 1 (unix) disconnected after 1 message");
      serve.terminate();
      assertEquals(List.of("Token[allowed]"), serve.out().lines().toList());
    }
  }

  @Test
  void anIdleClientDelaysNobody() throws Exception {
    CPython py = CPython.versions().getFirst();
    try (Cli serve = serve("--echo", "--idle-timeout", "60s")) {
      try (SocketChannel idle = rawClient()) {
        anIdleClientDelaysNobody(py, serve, idle);
      }
      serve.awaitErr("client 1 (unix) disconnected after 0 messages");
      Cli.assertNoStackTrace(serve.errSoFar());
    }
  }

  private void anIdleClientDelaysNobody(CPython py, Cli serve, SocketChannel idle)
      throws Exception {
    {
      serve.awaitErr("client 1 (unix) connected");
      long start = System.nanoTime();
      try (CPython.Peer client =
          py.run(
              "cpython_peer.py",
              "connect",
              "unix:" + dir.resolve("s.sock"),
              "none",
              "client-bytes")) {
        client.assertOk(); // four messages, each echoed, while client 1 is silent
      }
      double busySeconds = (System.nanoTime() - start) / 1e9;
      String end = serve.awaitErr(l -> l.startsWith("jpipe serve: client 2 (unix) disc"));
      assertEquals("jpipe serve: client 2 (unix) disconnected after 4 messages", end);
      assertTrue(
          serve.errSoFar().stream()
              .noneMatch(
                  l -> l.startsWith("jpipe serve: client 1 (unix) ") && !l.endsWith("connected")),
          "client 1 is still being served: " + serve.errSoFar());
      idle.configureBlocking(false);
      assertEquals(0, idle.read(ByteBuffer.allocate(16)), "client 1's connection is open");
      System.out.printf("a CPython client served beside an idle one in %.2f s%n", busySeconds);
    }
  }

  @Test
  void manyIdleClientsDelayNobody() throws Exception {
    CPython py = CPython.versions().getFirst();
    int idle = 150; // each on a virtual thread of its own, parked in recv
    try (Cli serve = serve("--echo", "--max-clients", "200")) {
      List<SocketChannel> silent = new ArrayList<>();
      try {
        for (int i = 0; i < idle; i++) {
          silent.add(rawClient());
        }
        serve.awaitErr("client " + idle + " (unix) connected");
        long start = System.nanoTime();
        try (CPython.Peer client =
            py.run(
                "cpython_peer.py",
                "connect",
                "unix:" + dir.resolve("s.sock"),
                "none",
                "client-bytes")) {
          client.assertOk();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("a CPython client served beside %d idle ones in %.2f s%n", idle, seconds);
        serve.awaitErr("client " + (idle + 1) + " (unix) disconnected after 4 messages");
      } finally {
        for (SocketChannel c : silent) {
          c.close();
        }
      }
      serve.awaitErr(
          l ->
              l.contains(" disconnected after 0 messages")
                  && serve.errSoFar().stream()
                          .filter(x -> x.endsWith("disconnected after 0 messages"))
                          .count()
                      == idle);
    }
  }

  @Test
  void idleAndSlowClientsAreClosedAfterTheIdleTimeout() throws Exception {
    try (Cli serve = serve("--idle-timeout", "1s")) {
      // each client's clock starts before it connects: the server's starts later, never earlier
      long start = System.nanoTime();
      try (SocketChannel silent = rawClient()) {
        serve.awaitErr("client 1 (unix) connected");
        long slowStart = System.nanoTime();
        // a slow loris: a header announcing 100 bytes, then one byte every 200 ms
        try (SocketChannel slow = rawClient()) {
          serve.awaitErr("client 2 (unix) connected");
          slow.write(ByteBuffer.wrap(new byte[] {0, 0, 0, 100}));
          boolean closed = false;
          for (int i = 0; i < 100 && !closed; i++) {
            Thread.sleep(200);
            try {
              slow.write(ByteBuffer.wrap(new byte[] {'x'}));
            } catch (IOException e) {
              closed = true; // the server closed it
            }
          }
          assertTrue(closed, "a slow client is closed though it keeps sending");
          double slowSeconds = (System.nanoTime() - slowStart) / 1e9;
          assertTrue(slowSeconds >= 1, "closed after " + slowSeconds + " s");
          System.out.printf("slow client closed after %.2f s (--idle-timeout 1s)%n", slowSeconds);
        }
        assertEquals(-1, silent.read(ByteBuffer.allocate(16)), "the silent client was closed");
        double seconds = (System.nanoTime() - start) / 1e9;
        assertTrue(seconds >= 1, "closed after " + seconds + " s");
      }
      serve.awaitErrAnywhere("client 1 (unix) idle for 1s (--idle-timeout); closed");
      serve.awaitErrAnywhere("client 2 (unix) idle for 1s (--idle-timeout); closed");
      // the server goes on
      try (Connection conn = Client.connect(address())) {
        conn.sendBytes("after".getBytes(StandardCharsets.UTF_8));
      }
      serve.awaitErr("client 3 (unix) disconnected after 1 message");
      serve.terminate();
      assertEquals(List.of("after"), serve.out().lines().toList());
    }
  }

  @Test
  void clientsBeyondMaxClientsAreRefusedUntilOneLeaves() throws Exception {
    try (Cli serve = serve("--max-clients", "1", "--echo")) {
      try (Connection first = Client.connect(address())) {
        serve.awaitErr("client 1 (unix) connected");
        try (Connection second = Client.connect(address())) {
          assertEquals(
              "jpipe serve: client 2 (unix) refused: already serving 1 clients (--max-clients)",
              serve.awaitErr("client 2"));
          assertThrowsEof(second);
        }
        first.sendBytes("one".getBytes(StandardCharsets.UTF_8));
        assertEquals("one", new String(first.recvBytes(), StandardCharsets.UTF_8));
      }
      serve.awaitErr("client 1 (unix) disconnected after 1 message");
      try (Connection third = Client.connect(address())) {
        third.sendBytes("three".getBytes(StandardCharsets.UTF_8));
        assertEquals("three", new String(third.recvBytes(), StandardCharsets.UTF_8));
      }
      serve.awaitErr("client 3 (unix) disconnected after 1 message");
    }
  }

  private static void assertThrowsEof(Connection conn) {
    try {
      conn.recvBytes();
    } catch (java.io.EOFException e) {
      return;
    } catch (IOException e) {
      return; // reset: closed all the same
    }
    throw new AssertionError("the refused client got a message");
  }

  @Test
  void withoutEchoAnUndecodableMessageIsOneLineAndTheClientGoesOn() throws Exception {
    try (Cli serve = serve("--codec", "pickle")) {
      try (Connection conn = Client.builder(address()).codec(PickleCodec.create()).connect()) {
        conn.sendBytes("not a pickle".getBytes(StandardCharsets.US_ASCII));
        conn.send(Map.of("k", 1));
      }
      serve.awaitErr("client 1 (unix) disconnected after 1 message");
      serve.terminate();
      List<String> err = serve.allErr();
      assertEquals(
          1,
          err.stream()
              .filter(
                  l ->
                      l.startsWith(
                          "jpipe serve: client 1 (unix): cannot decode a message of 12 bytes: "))
              .count(),
          "" + err);
      assertEquals(List.of("{'k': 1}"), serve.out().lines().toList());
    }
  }

  @Test
  void countStopsAfterThatManyMessagesFromAllClients() throws Exception {
    try (Cli serve = serve("--count", "3", "--echo")) {
      try (Connection a = Client.connect(address());
          Connection b = Client.connect(address())) {
        for (String m : List.of("a1", "a2")) {
          a.sendBytes(m.getBytes(StandardCharsets.UTF_8));
          assertEquals(m, new String(a.recvBytes(), StandardCharsets.UTF_8));
        }
        b.sendBytes("b1".getBytes(StandardCharsets.UTF_8));
        assertEquals("b1", new String(b.recvBytes(), StandardCharsets.UTF_8));
        assertEquals(0, serve.exitCode());
        assertEquals(List.of("a1", "a2", "b1"), serve.out().lines().toList());
      }
      assertTrue(!dir.resolve("s.sock").toFile().exists(), "the socket file is removed");
    }
  }
}
