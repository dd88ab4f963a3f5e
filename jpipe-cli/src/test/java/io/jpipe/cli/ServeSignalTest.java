package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.Connection;
import io.jpipe.TestSupport;
import io.jpipe.net.Address;
import io.jpipe.net.Client;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SIGINT and SIGTERM stop {@code jpipe serve}, a real process, with its conventional status, one
 * line and no stack trace, and its socket file is gone.
 */
class ServeSignalTest {
  @TempDir Path dir;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  @ParameterizedTest
  @ValueSource(strings = {"TERM", "INT"})
  void aSignalStopsServeAndRemovesItsSocketFile(String signal) throws Exception {
    Path sock = dir.resolve("sig.sock");
    // a shell may start background jobs with SIGINT ignored, which the JVM would keep: undo that
    try (Cli serve =
        Cli.startWith(List.of("env", "--default-signal=INT"), "serve", "unix:" + sock, "--echo")) {
      assertEquals("jpipe serve: listening on unix:" + sock, serve.errLine());
      assertTrue(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the socket file is there");
      try (Connection client = Client.connect(Address.unix(sock))) {
        client.sendBytes("served".getBytes(StandardCharsets.UTF_8));
        assertEquals("served", new String(client.recvBytes(), StandardCharsets.UTF_8));
        Process kill = new ProcessBuilder("kill", "-" + signal, "" + serve.pid()).start();
        assertTrue(kill.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
        assertEquals(signal.equals("TERM") ? 143 : 130, serve.exitCode(), "128 + the signal");
      }
      assertFalse(Files.exists(sock, LinkOption.NOFOLLOW_LINKS), "the socket file is removed");
      List<String> err = serve.allErr();
      Cli.assertNoStackTrace(err);
      assertTrue(err.contains("jpipe serve: stopping"), "" + err);
      assertEquals(List.of("served"), serve.out().lines().toList());
    }
  }
}
