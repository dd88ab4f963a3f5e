package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.CPython;
import io.jpipe.TestSupport;
import io.jpipe.net.Address;
import io.jpipe.net.Listener;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every failure of {@code jpipe serve} and {@code jpipe send} is one line on stderr, naming the
 * command, with a non-zero exit status and no stack trace: 2 for usage errors, 1 for the others.
 * Failures found before anything is opened run in this JVM (fast); those that need a live server, a
 * bound port or a real process run {@code jpipe} in a JVM of its own.
 */
class CliErrorsTest {
  @TempDir Path dir;

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  private record Result(int exit, List<String> err, String out) {}

  /** Runs jpipe in this JVM, capturing stdout and stderr. */
  private static Result run(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit;
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      exit = Main.run(args);
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
    return new Result(
        exit,
        err.toString(StandardCharsets.UTF_8).lines().toList(),
        out.toString(StandardCharsets.UTF_8));
  }

  /**
   * Checks one failure: its status, one line starting with the command, containing {@code text}.
   */
  private static void assertOneLine(Result r, int exit, String command, String text) {
    assertEquals(exit, r.exit(), "exit status; stderr: " + r.err());
    assertEquals(1, r.err().size(), "one line: " + r.err());
    String line = r.err().getFirst();
    assertTrue(line.startsWith(command + ": "), line);
    assertTrue(line.contains(text), "expected '" + text + "' in: " + line);
    assertEquals("", r.out(), "nothing on stdout");
  }

  @Test
  void versionIsThePomsVersion() {
    Result r = run("--version");
    assertEquals(0, r.exit(), "stderr: " + r.err());
    assertEquals("jpipe " + System.getProperty("jpipe.test.version") + "\n", r.out());
  }

  private Path keyFile(String name, String mode) throws Exception {
    Path f = dir.resolve(name);
    Files.writeString(f, "secret\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    return f;
  }

  @Test
  void badAddresses() {
    assertOneLine(run("serve", "nope"), 1, "jpipe serve", "unknown address 'nope'");
    assertOneLine(run("serve", "tcp:127.0.0.1:99999"), 1, "jpipe serve", "port out of range");
    assertOneLine(run("serve", "unix:"), 1, "jpipe serve", "unix address without a path");
    assertOneLine(run("send", "tcp:nohost", "x"), 1, "jpipe send", "expected tcp:host:port");
    String longPath = "unix:/" + "x".repeat(200);
    assertOneLine(run("serve", longPath), 1, "jpipe serve", "unix socket path too long");
  }

  @Test
  void badOptionValuesAreUsageErrors() {
    String tcp = "tcp:127.0.0.1:0";
    assertOneLine(
        run("serve", tcp, "--codec", "xml"),
        2,
        "jpipe serve",
        "expected one of [bytes, pickle, java]");
    assertOneLine(run("send", tcp, "--codec", "yaml", "x"), 2, "jpipe send", "--codec");
    assertOneLine(run("serve", tcp, "--max-clients", "0"), 2, "jpipe serve", "at least 1");
    assertOneLine(run("serve", tcp, "--max-clients", "many"), 2, "jpipe serve", "whole number");
    assertOneLine(run("serve", tcp, "--count", "-1"), 2, "jpipe serve", "at least 1");
    assertOneLine(run("serve", tcp, "--idle-timeout", "soon"), 2, "jpipe serve", "not a duration");
    assertOneLine(run("serve", tcp, "--max-message", "0"), 2, "jpipe serve", "at least 1 byte");
    assertOneLine(run("serve", tcp, "--max-message", "3G"), 2, "jpipe serve", "2 GiB");
    assertOneLine(run("send", tcp, "--wait", "-1s", "x"), 2, "jpipe send", "not a duration");
    assertOneLine(run("serve", tcp, "--bogus"), 2, "jpipe serve", "Unknown option: '--bogus'");
    assertOneLine(run("serve"), 2, "jpipe serve", "Missing required parameter: 'ADDRESS'");
    assertOneLine(run("frobnicate"), 2, "jpipe", "Unmatched argument");
  }

  @Test
  void optionsThatContradictEachOther() throws Exception {
    String tcp = "tcp:127.0.0.1:0";
    Path key = keyFile("key", "rw-------");
    assertOneLine(
        run("serve", tcp, "--allow-class", "com.example.*"),
        1,
        "jpipe serve",
        "--allow-class needs --codec java");
    assertOneLine(
        run("serve", "unix:@x", "--codec", "java", "--allow-class", "a.*;b.*"),
        1,
        "jpipe serve",
        "bad --allow-class pattern: ");
    assertOneLine(
        run("serve", tcp, "--no-auth", "--authkey-file", key.toString()),
        1,
        "jpipe serve",
        "--no-auth and --authkey-file contradict");
    assertOneLine(run("send", tcp, "--json", "1"), 1, "jpipe send", "--json needs --codec pickle");
    assertOneLine(
        run("send", tcp, "--codec", "pickle", "--json", "{bad"), 1, "jpipe send", "invalid JSON");
  }

  @Test
  void objectsOverTcpNeedAKeyOrNoAuth() throws Exception {
    assertOneLine(
        run("serve", "tcp:127.0.0.1:0", "--codec", "pickle"),
        1,
        "jpipe serve",
        "refusing to serve objects (--codec pickle) over TCP without a key: give --authkey-file"
            + " FILE, or --no-auth");
    assertOneLine(
        run("send", "tcp:127.0.0.1:1", "--codec", "java", "--json", "1"),
        1,
        "jpipe send",
        "refusing to send objects (--codec java) over TCP without a key");
    Path empty = dir.resolve("empty");
    Files.writeString(empty, "\n");
    Files.setPosixFilePermissions(empty, PosixFilePermissions.fromString("rw-------"));
    assertOneLine(
        run("serve", "tcp:127.0.0.1:0", "--codec", "java", "--authkey-file", empty.toString()),
        1,
        "jpipe serve",
        "with an empty key (everyone knows it)");
  }

  @Test
  void keyFilesMustBeReadableAndTheirOwnersOnly() throws Exception {
    String tcp = "tcp:127.0.0.1:0";
    Path missing = dir.resolve("missing");
    assertOneLine(
        run("serve", tcp, "--authkey-file", missing.toString()),
        1,
        "jpipe serve",
        "cannot read key file " + missing + ": no such file");
    assertOneLine(
        run("send", tcp, "--authkey-file", dir.toString(), "x"),
        1,
        "jpipe send",
        "cannot read key file " + dir + ": it is a directory");
    Path notDir = keyFile("plain", "rw-------").resolve("key");
    assertOneLine(
        run("serve", tcp, "--authkey-file", notDir.toString()),
        1,
        "jpipe serve",
        "cannot read key file " + notDir + ": ");
    for (String[] mode :
        List.of(
            new String[] {"rw-r--r--", "0644"},
            new String[] {"rw-r-----", "0640"},
            new String[] {"rw----r--", "0604"},
            new String[] {"rw--w----", "0620"})) {
      Path k = keyFile("key-" + mode[1], mode[0]);
      assertOneLine(
          run("serve", tcp, "--authkey-file", k.toString()),
          1,
          "jpipe serve",
          "key file "
              + k
              + " has mode "
              + mode[1]
              + ": its group or others may access it; run"
              + " chmod 600 "
              + k);
    }
    Path huge = dir.resolve("huge");
    Files.write(huge, new byte[NetOptions.MAX_KEY_FILE + 1]);
    Files.setPosixFilePermissions(huge, PosixFilePermissions.fromString("rw-------"));
    assertOneLine(
        run("send", tcp, "--authkey-file", huge.toString(), "x"),
        1,
        "jpipe send",
        "is longer than 65536 bytes");
  }

  @Test
  void anAddressInUse() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      String tcp = "tcp:127.0.0.1:" + taken.getLocalPort();
      try (Cli serve = Cli.start("serve", tcp)) {
        assertEquals(1, serve.exitCode());
        List<String> err = serve.allErr();
        assertEquals(
            List.of("jpipe serve: cannot listen on " + tcp + ": address already in use"), err);
      }
    }
    Path sock = dir.resolve("live.sock");
    try (Listener live = Listener.open(Address.unix(sock));
        Cli serve = Cli.start("serve", "unix:" + sock)) {
      assertEquals(1, serve.exitCode());
      assertEquals(
          List.of("jpipe serve: cannot listen on unix:" + sock + ": address already in use"),
          serve.allErr());
      assertTrue(!live.isClosed());
    }
  }

  @Test
  void sendToAServerThatDemandsAKeyGivenNone() throws Exception {
    Path key = keyFile("key", "rw-------");
    try (Cli serve =
        Cli.start(
            "serve", "tcp:127.0.0.1:0", "--authkey-file", key.toString(), "--codec", "java")) {
      String listening = serve.errLine();
      String address = listening.substring("jpipe serve: listening on ".length());
      for (List<String> message :
          List.of(List.of("x"), List.of("x".repeat(1000)), List.of("a", "b", "c"))) {
        List<String> args = new java.util.ArrayList<>(List.of("send", address));
        args.addAll(message);
        try (Cli send = Cli.start(args.toArray(String[]::new))) {
          assertEquals(1, send.exitCode());
          assertEquals(
              List.of(
                  "jpipe send: the server at "
                      + address
                      + " demands an authkey: give --authkey-file FILE"),
              send.allErr());
        }
      }
      assertTrue(serve.isAlive(), "the server goes on");
      assertTrue(serve.awaitErr("failed authentication").startsWith("jpipe serve: a client ("));
    }
    CPython py = CPython.versions().getFirst();
    // (whether CPython's listener fails on our first message or on our end of file depends on
    // whether send saw the challenge before sending: only send's verdict is checked)
    try (CPython.Peer listener =
        py.run("cpython_peer.py", "listen", "tcp:127.0.0.1:0", "6b", "expect-auth-failure")) {
      String address = listener.readLine();
      try (Cli send = Cli.start("send", address, "hello")) {
        assertEquals(1, send.exitCode());
        assertEquals(
            List.of(
                "jpipe send: the server at "
                    + address
                    + " demands an authkey: give --authkey-file FILE"),
            send.allErr());
      }
    }
  }
}
