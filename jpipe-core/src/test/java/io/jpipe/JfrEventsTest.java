package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.spawn.Launcher;
import io.jpipe.net.Address;
import io.jpipe.net.AuthenticationException;
import io.jpipe.net.Client;
import io.jpipe.net.Listener;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jpipe's JFR events, recorded in this JVM and read back from the recording file: what a user of
 * {@code jfr print --categories jpipe} would see.
 */
class JfrEventsTest {
  @TempDir Path dir;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    Launcher.warm().closePool(); // the spare booted for the WARM child, before the check
    TestSupport.assertNoChildren();
  }

  /** Records the jpipe events (all four, no threshold) while {@code body} runs. */
  private List<RecordedEvent> record(ThrowingRunnable body) throws Exception {
    Path file = dir.resolve("jpipe.jfr");
    try (Recording r = new Recording()) {
      for (String name :
          List.of("ChildStart", "ChildExit", "HandshakeFailure", "ConnectionClose")) {
        r.enable("io.jpipe." + name).withThreshold(Duration.ZERO);
      }
      r.start();
      body.run();
      r.stop();
      r.dump(file);
    }
    return RecordingFile.readAllEvents(file);
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }

  private static List<RecordedEvent> named(List<RecordedEvent> events, String name) {
    return events.stream().filter(e -> e.getEventType().getName().equals(name)).toList();
  }

  private static RecordedEvent only(
      List<RecordedEvent> events, String name, Predicate<RecordedEvent> which) {
    List<RecordedEvent> found = named(events, name).stream().filter(which).toList();
    assertEquals(1, found.size(), name + ": " + found);
    RecordedEvent e = found.get(0);
    assertEquals(List.of("jpipe"), e.getEventType().getCategoryNames());
    assertFalse(e.getEventType().getLabel().isEmpty());
    assertFalse(e.getEventType().getDescription().isEmpty());
    return e;
  }

  @Test
  void childStartAndExitAndEveryMessageAndByteOfAConnectionAreRecorded() throws Exception {
    Pipe pipe = Pipe.open();
    Connection conn = pipe.conn1();
    int connFd = conn.fileno();
    ChildProcess echo = ChildProcess.of(Children::echo, pipe.conn2()).name("jfr-echo");
    ChildProcess sleeper =
        ChildProcess.of(Children::sleepMillis, 600_000)
            .name("jfr-sleeper")
            .startMethod(ChildProcess.StartMethod.WARM);
    assertTrue(ChildProcess.prestartWarm(TestSupport.PATIENCE), "no warm spare came up");
    long[] sent = new long[2]; // messages, bytes
    long[] received = new long[2];
    List<RecordedEvent> events =
        record(
            () -> {
              echo.start();
              pipe.conn2().close();
              // Every send and receive path, each message echoed back.
              byte[] big = TestSupport.payload(1, 100_000);
              conn.sendBytes(big);
              assertTrue(Arrays.equals(big, conn.recvBytes()));
              conn.sendBytes(big, 10, 7);
              assertEquals(7, conn.recvBytesInto(new byte[16]));
              ByteBuffer direct = ByteBuffer.allocateDirect(33);
              conn.sendBytes(direct);
              try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(1000);
                conn.sendBytes(seg);
                assertEquals(33, conn.recvBytes(arena).byteSize());
                assertEquals(1000, conn.recvBytesInto(arena.allocate(2000)));
              }
              conn.sendBytes(new byte[12]);
              // Too long for the buffer: consumed all the same, so counted.
              assertThrows(BufferTooShortException.class, () -> conn.recvBytesInto(new byte[4]));
              String object = "an object, encoded by the codec";
              ByteArrayOutputStream encoded = new ByteArrayOutputStream();
              conn.codec().encode(object, encoded);
              conn.send(object);
              byte[] echoed = conn.recvBytes(); // the encoding, as the child echoed it
              assertEquals(encoded.size(), echoed.length);
              conn.sendBytes(echoed);
              assertEquals(object, conn.recv());
              conn.sendBytes(new byte[0]); // the child stops echoing, closes and exits
              sent[0] = 8;
              sent[1] = 100_000 + 7 + 33 + 1000 + 12 + 2L * encoded.size();
              received[0] = 7;
              received[1] = sent[1];
              assertTrue(echo.join(TestSupport.PATIENCE));
              conn.close();

              sleeper.start();
              sleeper.kill();
              assertTrue(sleeper.join(TestSupport.PATIENCE));
            });

    RecordedEvent start = only(events, "io.jpipe.ChildStart", e -> e.getLong("pid") == echo.pid());
    assertEquals("jfr-echo", start.getString("name"));
    assertEquals("SPAWN", start.getString("startMethod"));
    assertEquals(Children.class.getName() + "::echo", start.getString("target"));
    assertTrue(start.getDuration().toNanos() > 0);
    RecordedEvent warmStart =
        only(events, "io.jpipe.ChildStart", e -> e.getLong("pid") == sleeper.pid());
    assertEquals("WARM", warmStart.getString("startMethod"));
    assertEquals(Children.class.getName() + "::sleepMillis", warmStart.getString("target"));

    RecordedEvent exit = only(events, "io.jpipe.ChildExit", e -> e.getLong("pid") == echo.pid());
    assertEquals("jfr-echo", exit.getString("name"));
    assertEquals(0, exit.getInt("exitCode"));
    assertEquals(0, exit.getInt("signal"));
    assertTrue(exit.getDuration("lifetime").toNanos() > 0);
    RecordedEvent killed =
        only(events, "io.jpipe.ChildExit", e -> e.getLong("pid") == sleeper.pid());
    assertEquals(-9, killed.getInt("exitCode"));
    assertEquals(9, killed.getInt("signal"));

    // The recording started after the pipe was opened, so an event for conn's descriptor that
    // sent anything is conn's (the WARM start may reuse the number for a connection of its own).
    RecordedEvent close =
        only(
            events,
            "io.jpipe.ConnectionClose",
            e -> e.getInt("fd") == connFd && e.getLong("messagesSent") > 0);
    assertEquals("socket", close.getString("kind"));
    assertEquals("duplex", close.getString("direction"));
    assertEquals(sent[0], close.getLong("messagesSent"));
    assertEquals(sent[1], close.getLong("bytesSent"));
    assertEquals(received[0], close.getLong("messagesReceived"));
    assertEquals(received[1], close.getLong("bytesReceived"));
  }

  @Test
  void aOneWayPipeReportsItsOwnDirection() throws Exception {
    Pipe pipe = Pipe.open(false);
    int readFd = pipe.conn1().fileno();
    int writeFd = pipe.conn2().fileno();
    List<RecordedEvent> events =
        record(
            () -> {
              pipe.conn2().sendBytes("abc".getBytes(StandardCharsets.US_ASCII));
              pipe.conn2().sendBytes(new byte[5]);
              pipe.conn1().recvBytes();
              pipe.close();
            });
    RecordedEvent writer = only(events, "io.jpipe.ConnectionClose", e -> e.getInt("fd") == writeFd);
    assertEquals("pipe", writer.getString("kind"));
    assertEquals("send-only", writer.getString("direction"));
    assertEquals(2, writer.getLong("messagesSent"));
    assertEquals(8, writer.getLong("bytesSent"));
    assertEquals(0, writer.getLong("messagesReceived"));
    RecordedEvent reader = only(events, "io.jpipe.ConnectionClose", e -> e.getInt("fd") == readFd);
    assertEquals("receive-only", reader.getString("direction"));
    assertEquals(1, reader.getLong("messagesReceived"));
    assertEquals(3, reader.getLong("bytesReceived"));
    assertEquals(0, reader.getLong("messagesSent"));
  }

  /** An end that is dropped, not closed, reports its traffic when the Cleaner closes it. */
  @Test
  void aConnectionLeftToTheGarbageCollectorReportsItsTrafficToo() throws Exception {
    BlockingQueue<RecordedEvent> closes = new LinkedBlockingQueue<>();
    try (RecordingStream rs = new RecordingStream()) {
      rs.enable("io.jpipe.ConnectionClose");
      rs.onEvent("io.jpipe.ConnectionClose", closes::add);
      rs.startAsync();
      int writeFd = dropAPipeAfterTraffic();
      long deadline = System.nanoTime() + TestSupport.PATIENCE.toNanos();
      RecordedEvent found = null;
      while (found == null) {
        assertTrue(System.nanoTime() - deadline < 0, "no event for the dropped end");
        System.gc();
        RecordedEvent e = closes.poll(100, TimeUnit.MILLISECONDS);
        if (e != null && e.getInt("fd") == writeFd && e.getLong("messagesSent") == 2) {
          found = e;
        }
      }
      assertEquals("send-only", found.getString("direction"));
      assertEquals(11 + 13, found.getLong("bytesSent"));
      assertEquals("Cleaner", threadKind(found));
    }
  }

  /** Opens a one-way pipe, sends two messages, receives one, and drops both ends. */
  private static int dropAPipeAfterTraffic() throws Exception {
    Pipe pipe = Pipe.open(false);
    pipe.conn2().sendBytes(new byte[11]);
    pipe.conn2().sendBytes(new byte[13]);
    assertEquals(11, pipe.conn1().recvBytes().length);
    return pipe.conn2().fileno();
  }

  private static String threadKind(RecordedEvent e) {
    String name = e.getThread() == null ? "" : e.getThread().getJavaName();
    return name.contains("Cleaner") ? "Cleaner" : name;
  }

  @Test
  void handshakeFailuresAreRecordedOnBothSidesAndForAbandonedHandshakes() throws Exception {
    byte[] key = "right".getBytes(StandardCharsets.UTF_8);
    Address[] where = new Address[2];
    int[] silentPort = new int[1];
    List<RecordedEvent> events =
        record(
            () -> {
              try (Listener l = Listener.open(Address.tcp("127.0.0.1", 0), key)) {
                where[0] = l.address();
                byte[] wrong = "wrong".getBytes(StandardCharsets.UTF_8);
                assertThrows(
                    AuthenticationException.class, () -> Client.connect(l.address(), wrong));
                TestSupport.eventually("the listener's rejection", () -> l.rejectedCount() == 1);
              }
              try (Listener l =
                      Listener.builder()
                          .address(Address.tcp("127.0.0.1", 0))
                          .authkey(key)
                          .maxPendingHandshakes(1)
                          .open();
                  Socket silent = new Socket("127.0.0.1", port(l.address()))) {
                where[1] = l.address();
                silentPort[0] = silent.getLocalPort();
                // Its handshake is pending; a second connection abandons it (the oldest).
                try (Socket second = new Socket("127.0.0.1", port(l.address()))) {
                  TestSupport.eventually("the abandoned handshake", () -> l.rejectedCount() == 1);
                  assertTrue(second.isConnected());
                }
              }
            });
    RecordedEvent client =
        only(events, "io.jpipe.HandshakeFailure", e -> e.getString("side").equals("Client"));
    assertEquals(where[0].toString(), client.getString("peer"));
    assertEquals("digest sent was rejected", client.getString("cause"));
    RecordedEvent wrongKey =
        only(
            events,
            "io.jpipe.HandshakeFailure",
            e -> e.getString("side").equals("Listener") && e.getString("cause").contains("digest"));
    assertEquals("digest received was wrong", wrongKey.getString("cause"));
    assertTrue(wrongKey.getString("peer").startsWith("tcp:127.0.0.1:"), wrongKey.getString("peer"));
    RecordedEvent abandoned =
        only(
            events,
            "io.jpipe.HandshakeFailure",
            e ->
                e.getString("side").equals("Listener") && e.getString("cause").contains("abandon"));
    assertEquals("tcp:127.0.0.1:" + silentPort[0], abandoned.getString("peer"));
    assertTrue(abandoned.getString("cause").contains("maxPendingHandshakes"));
  }

  /**
   * A class-path program on a runtime image without {@code jdk.jfr} (made by jlink, or limited as
   * here) sends, receives and closes as ever: jpipe then never touches a JFR class.
   */
  @Test
  void withoutTheJdkJfrModuleConnectionsWorkAndCloseQuietly() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p =
        new ProcessBuilder(
                java,
                "--enable-native-access=ALL-UNNAMED",
                "--limit-modules",
                "java.base,jdk.unsupported",
                "-cp",
                System.getProperty("java.class.path"),
                NoJfrProbe.class.getName())
            .redirectErrorStream(true)
            .start();
    String out;
    try {
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe JVM ended");
    } finally {
      p.destroyForcibly();
    }
    assertEquals("jdk.jfr absent; echoed 3 bytes; closed", out);
    assertEquals(0, p.exitValue());
  }

  /** Run in its own JVM, without {@code jdk.jfr}, by the test above. */
  public static final class NoJfrProbe {
    private NoJfrProbe() {}

    public static void main(String[] args) throws Exception {
      boolean absent = ModuleLayer.boot().findModule("jdk.jfr").isEmpty();
      Pipe pipe = Pipe.open();
      pipe.conn1().sendBytes(new byte[3]);
      int n = pipe.conn2().recvBytes().length;
      pipe.close(); // both ends: their traffic would be reported here
      System.out.println(
          "jdk.jfr " + (absent ? "absent" : "present") + "; echoed " + n + " bytes; closed");
    }
  }

  private static int port(Address a) {
    return ((Address.Tcp) a).port();
  }
}
