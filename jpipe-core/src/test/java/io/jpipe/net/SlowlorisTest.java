package io.jpipe.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.CPython;
import io.jpipe.Connection;
import io.jpipe.TestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Slowloris: hundreds of connections that never finish the handshake must not delay an honest
 * client. 500 silent TCP connections to one listener and 500 silent Unix connections to another
 * (each sends nothing, part of a header, or a header and part of its body), then a live CPython
 * {@code Client} connects to each with the key and does an echo round trip, which must take less
 * than a second from its connect.
 */
class SlowlorisTest {
  static final byte[] KEY = "slowloris key".getBytes(StandardCharsets.UTF_8);
  static final int SILENT = 500;

  @TempDir Path dir;

  @Test
  void silentConnectionsDelayAnHonestCPythonClientByLessThanASecond() throws Exception {
    CPython py = CPython.versions().getFirst(); // python3: 3.11 here
    List<Connection> silent = new ArrayList<>();
    try (Listener tcp = listener(Address.tcp("127.0.0.1", 0));
        Listener unix = listener(Address.unix(dir.resolve("slowloris.sock")))) {
      try {
        for (Listener l : List.of(tcp, unix)) {
          for (int i = 0; i < SILENT; i++) {
            Connection c = Client.builder(l.address()).allowUnauthenticated(true).connect();
            silent.add(c);
            byte[] header = TestSupport.header(40);
            switch (i % 3) {
              case 0 -> {} // nothing at all
              case 1 -> TestSupport.rawWrite(c.fileno(), new byte[] {header[0], header[1]});
              default -> TestSupport.rawWrite(c.fileno(), TestSupport.concat(header, new byte[9]));
            }
          }
        }
        // Each listener accepted all 500: the 244 oldest were abandoned to make room, the 256
        // newest are pending (none can time out in this test).
        int abandoned = SILENT - Listener.DEFAULT_MAX_PENDING_HANDSHAKES;
        TestSupport.eventually(
            "every silent connection accepted",
            () -> tcp.rejectedCount() == abandoned && unix.rejectedCount() == abandoned);

        for (Listener l : List.of(tcp, unix)) {
          double seconds = honestEcho(py, l);
          System.out.printf(
              "slowloris: %s echo over %s with %d silent connections (%d pending): %.1f ms%n",
              py, l.address(), SILENT, Listener.DEFAULT_MAX_PENDING_HANDSHAKES, seconds * 1000);
          assertTrue(seconds < 1.0, "the honest client took " + seconds + " s");
          // Its arrival abandoned one more silent handshake; it was not rejected itself.
          assertEquals(abandoned + 1, l.rejectedCount());
        }
      } finally {
        for (Connection c : silent) {
          c.close();
        }
      }
    }
  }

  private static Listener listener(Address a) throws Exception {
    return Listener.builder()
        .address(a)
        .authkey(KEY)
        .handshakeTimeout(Duration.ofSeconds(60)) // no silent one times out during the test
        .open();
  }

  /** Runs the CPython client against {@code l}, echoing from a Java thread; its seconds. */
  private static double honestEcho(CPython py, Listener l) throws Exception {
    CompletableFuture<Object> echo =
        TestSupport.async(
            () -> {
              try (Connection c = l.accept()) {
                c.sendBytes(c.recvBytes());
              }
              return null;
            });
    try (CPython.Peer peer =
        py.run("timed_echo_client.py", l.address().toString(), HexFormat.of().formatHex(KEY))) {
      List<String> elapsed = peer.linesAfterOk("elapsed: ");
      TestSupport.await(echo);
      assertEquals(1, elapsed.size(), elapsed.toString());
      return Double.parseDouble(elapsed.getFirst());
    }
  }
}
