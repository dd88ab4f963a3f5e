package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.CPython;
import io.jpipe.TestSupport;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@code jpipe serve} and {@code jpipe send} contract, against live CPython clients and
 * listeners (3.11 always; 3.12 and 3.13 when pyenv has them) and against each other.
 */
class ServeSendTest {
  @TempDir Path dir;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  static Stream<CPython> pythons() {
    return CPython.versions().stream();
  }

  private Path keyFile(String key) throws Exception {
    Path f = dir.resolve("key-" + key);
    Files.writeString(f, key + "\n"); // one trailing newline is not part of the key
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    return f;
  }

  private static String hex(String s) {
    return java.util.HexFormat.of().formatHex(s.getBytes(StandardCharsets.UTF_8));
  }

  /** Starts serve and returns it with the address it printed. */
  private static Object[] serve(String... args) throws Exception {
    Cli serve = Cli.start(args);
    String line = serve.errLine();
    assertTrue(line != null && line.startsWith("jpipe serve: listening on "), "got " + line);
    return new Object[] {serve, line.substring("jpipe serve: listening on ".length())};
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pythons")
  void servePrintsAndEchoesBytesFromACPythonClient(CPython py) throws Exception {
    Object[] s =
        serve(
            "serve",
            "tcp:127.0.0.1:0",
            "--authkey-file",
            keyFile("k1").toString(),
            "--echo",
            "--count",
            "4");
    try (Cli serve = (Cli) s[0];
        CPython.Peer client =
            py.run("cpython_peer.py", "connect", (String) s[1], hex("k1"), "client-bytes")) {
      client.assertOk();
      assertEquals(0, serve.exitCode());
      assertEquals(List.of("hello", "0xff00", "", "ünï"), serve.out().lines().toList());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pythons")
  void servePrintsPythonObjectsAsPythonWould(CPython py) throws Exception {
    Object[] s =
        serve(
            "serve",
            "unix:@jpipe-serve-" + ProcessHandle.current().pid() + "-" + py.label(),
            "--codec",
            "pickle",
            "--echo",
            "--count",
            "5");
    try (Cli serve = (Cli) s[0];
        CPython.Peer client =
            py.run("cpython_peer.py", "connect", (String) s[1], "none", "client-objects")) {
      List<String> sent = client.linesAfterOk("sent: ");
      assertEquals(0, serve.exitCode());
      assertEquals(sent, serve.out().lines().toList(), "serve prints what Python's repr prints");
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pythons")
  void sendReachesACPythonListener(CPython py) throws Exception {
    Path sock = dir.resolve("py.sock");
    try (CPython.Peer listener =
        py.run("cpython_peer.py", "listen", "unix:" + sock, hex("k2"), "print-objects", "3")) {
      String address = listener.readLine();
      try (Cli send =
          Cli.start(
              "send",
              address,
              "--authkey-file",
              keyFile("k2").toString(),
              "--codec",
              "pickle",
              "--json",
              "{\"x\": [1, 2.5, null, true]}",
              "\"text\"",
              "123456789012345678901234567890")) {
        assertEquals(0, send.exitCode(), send.restOfErr());
      }
      assertEquals(
          List.of("{'x': [1, 2.5, None, True]}", "'text'", "123456789012345678901234567890"),
          listener.linesAfterOk("got: "));
    }
    try (CPython.Peer listener =
        py.run("cpython_peer.py", "listen", "tcp:127.0.0.1:0", "none", "print-bytes", "2")) {
      String address = listener.readLine();
      try (Cli send = Cli.start("send", address, "plain text", "ünï")) {
        assertEquals(0, send.exitCode(), send.restOfErr());
      }
      assertEquals(
          List.of("b'plain text'", "b'\\xc3\\xbcn\\xc3\\xaf'"), listener.linesAfterOk("got: "));
    }
  }

  @Test
  void aFailedHandshakeIsReportedAndTheNextClientIsServed() throws Exception {
    Object[] s =
        serve(
            "serve",
            "tcp:127.0.0.1:0",
            "--authkey-file",
            keyFile("right").toString(),
            "--codec",
            "java",
            "--count",
            "2");
    try (Cli serve = (Cli) s[0]) {
      try (Cli wrong =
          Cli.start("send", (String) s[1], "--authkey-file", keyFile("wrong").toString(), "x")) {
        assertEquals(1, wrong.exitCode());
        String err = wrong.restOfErr();
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertTrue(err.startsWith("jpipe send: AuthenticationException:"), err);
      }
      try (Cli right =
          Cli.start(
              "send",
              (String) s[1],
              "--authkey-file",
              keyFile("right").toString(),
              "--codec",
              "java",
              "--json",
              "[1, \"two\", {\"three\": 3.5}]",
              "null")) {
        assertEquals(0, right.exitCode(), right.restOfErr());
      }
      assertEquals(0, serve.exitCode());
      assertEquals(List.of("[1, 'two', {'three': 3.5}]", "None"), serve.out().lines().toList());
      assertTrue(serve.restOfErr().contains("failed authentication"));
    }
  }

  @Test
  void sendFailsWithOneLineWhenNobodyListens() throws Exception {
    try (Cli send = Cli.start("send", "unix:" + dir.resolve("nobody.sock"), "x")) {
      assertEquals(1, send.exitCode());
      String err = send.restOfErr();
      assertEquals(1, err.lines().count(), err);
      assertTrue(err.startsWith("jpipe send: ConnectException:"), err);
    }
    try (Cli bad = Cli.start("send", "tcp:nohost", "x")) {
      assertEquals(1, bad.exitCode());
      assertTrue(bad.restOfErr().contains("expected tcp:host:port"));
    }
    try (Cli json = Cli.start("send", "tcp:127.0.0.1:1", "--json", "{bad")) {
      assertEquals(1, json.exitCode());
    }
  }
}
