package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Live CPython interpreters for interoperability tests. {@code python3} (3.11 on these machines, CI
 * included) is required: its absence fails the tests. CPython 3.12 and 3.13 are used too when pyenv
 * has them; their absence is reported on stdout.
 *
 * @param label for test names, such as "3.11.7"
 * @param pyenvVersion the PYENV_VERSION to run with, or null for the default python3
 */
public record CPython(String label, String pyenvVersion) {
  private static List<CPython> all;

  @Override
  public String toString() {
    return "CPython " + label;
  }

  /** python3, then 3.12 and 3.13 from pyenv when present. */
  public static synchronized List<CPython> versions() {
    if (all == null) {
      List<CPython> found = new ArrayList<>();
      String def = version(null);
      found.add(new CPython(def, null));
      List<String> pyenv = pyenvVersions();
      for (String minor : List.of("3.12", "3.13")) {
        String v =
            pyenv.stream().filter(x -> x.startsWith(minor + ".")).reduce((a, b) -> b).orElse(null);
        if (v == null) {
          System.out.println(
              "CPython " + minor + " not found by pyenv: interop with it not tested");
        } else if (!def.startsWith(minor + ".")) {
          found.add(new CPython(version(v), v));
        }
      }
      all = List.copyOf(found);
    }
    return all;
  }

  private static List<String> pyenvVersions() {
    try {
      Process p =
          new ProcessBuilder("pyenv", "versions", "--bare").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      return out.lines().map(String::strip).filter(s -> s.matches("\\d+\\.\\d+\\.\\d+")).toList();
    } catch (IOException e) {
      return List.of(); // no pyenv on this machine
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
  }

  private static String version(String pyenvVersion) {
    try {
      Process p =
          builder(pyenvVersion, List.of("-c", "import sys; print(sys.version.split()[0])")).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 hangs");
      assertEquals(0, p.exitValue(), "python3 is required for these tests: " + out);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("python3 is required for these tests and could not run", e);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private static ProcessBuilder builder(String pyenvVersion, List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add("python3");
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    Map<String, String> env = pb.environment();
    if (pyenvVersion != null) {
      env.put("PYENV_VERSION", pyenvVersion);
    }
    env.put("PYTHONDONTWRITEBYTECODE", "1");
    return pb;
  }

  /** A running Python script: read its lines, then wait for its verdict. */
  public static final class Peer implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;
    private final List<String> lines = new ArrayList<>();

    Peer(Process process) {
      this.process = process;
      this.out =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    }

    /** The next line of output. */
    public String readLine() throws IOException {
      String line = out.readLine();
      if (line != null) {
        lines.add(line);
      }
      return line;
    }

    /**
     * Waits for success, then returns the output lines that start with {@code prefix}, without it.
     */
    public List<String> linesAfterOk(String prefix) throws Exception {
      assertOk();
      return lines.stream()
          .filter(l -> l.startsWith(prefix))
          .map(l -> l.substring(prefix.length()))
          .toList();
    }

    /** Waits for the script to end and checks that it succeeded. */
    public void assertOk() throws Exception {
      for (String line = readLine(); line != null; line = readLine()) {
        // collect everything
      }
      assertTrue(process.waitFor(120, TimeUnit.SECONDS), "the python peer hangs");
      assertEquals(0, process.exitValue(), "python peer failed:\n" + String.join("\n", lines));
      assertEquals("OK", lines.getLast(), String.join("\n", lines));
    }

    @Override
    public void close() {
      process.destroyForcibly();
      try {
        process.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Runs a test script from the test resources with this interpreter. The source is passed with
   * {@code -c}, so the script can come from a jar and no file is written.
   */
  public Peer run(String script, String... args) throws IOException {
    String source;
    try (var in = CPython.class.getResourceAsStream("/" + script)) {
      if (in == null) {
        throw new IOException("no test resource " + script);
      }
      source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    List<String> cmd = new ArrayList<>();
    cmd.add("-c");
    cmd.add(source);
    cmd.addAll(List.of(args));
    return new Peer(builder(pyenvVersion, cmd).start());
  }

  /**
   * Runs cpython_peer.py as a client of {@code where}.
   *
   * @param keyHex the authentication key in hex, or {@code none}
   * @param scenario what it does once connected ({@code echo-bytes}, {@code
   *     expect-auth-failure}...)
   */
  public Peer connect(io.jpipe.net.Address where, String keyHex, String scenario)
      throws IOException {
    return run("cpython_peer.py", "connect", where.toString(), keyHex, scenario);
  }

  /**
   * Runs cpython_peer.py as a listener at {@code at}; its first line is the address it listens on.
   *
   * @param keyHex the authentication key in hex, or {@code none}
   * @param scenario what it does once a client connected
   */
  public Peer listen(io.jpipe.net.Address at, String keyHex, String scenario) throws IOException {
    return run("cpython_peer.py", "listen", at.toString(), keyHex, scenario);
  }

  /**
   * The end of cpython_peer.py's echo-bytes scenario, from the jpipe side: sends STOP, then
   * receives and checks the payloads python sends ({@link #SIZES}) and its DONE.
   */
  public static void stopAndCheckPythonsBytes(io.jpipe.Connection conn) throws IOException {
    conn.sendBytes("STOP".getBytes(StandardCharsets.US_ASCII));
    for (int i = 0; i < SIZES.size(); i++) {
      int size = SIZES.get(i);
      org.junit.jupiter.api.Assertions.assertArrayEquals(
          generated(size, i), conn.recvBytes(), "python's " + size + " bytes");
    }
    assertEquals("DONE", new String(conn.recvBytes(), StandardCharsets.US_ASCII));
  }

  /** The payloads cpython_peer.py generates: sha256("i/size") repeated to {@code size} bytes. */
  public static byte[] generated(int size, int seed) {
    try {
      byte[] block =
          MessageDigest.getInstance("SHA-256")
              .digest((seed + "/" + size).getBytes(StandardCharsets.US_ASCII));
      byte[] out = new byte[size];
      for (int i = 0; i < size; i++) {
        out[i] = block[i % block.length];
      }
      return out;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every interpreter with every kind of address: ("unix" | "abstract" | "tcp"). */
  public static java.util.stream.Stream<Object[]> withAddressKinds() {
    List<Object[]> out = new ArrayList<>();
    for (CPython py : versions()) {
      for (String kind : List.of("unix", "abstract", "tcp")) {
        out.add(new Object[] {py, kind});
      }
    }
    return out.stream();
  }

  private static final java.util.concurrent.atomic.AtomicInteger ADDRESSES =
      new java.util.concurrent.atomic.AtomicInteger();

  /** A fresh address of that kind: a socket file in {@code dir}, an abstract name, TCP port 0. */
  public static io.jpipe.net.Address address(String kind, java.nio.file.Path dir) {
    int n = ADDRESSES.incrementAndGet();
    return switch (kind) {
      case "unix" -> io.jpipe.net.Address.unix(dir.resolve("s" + n));
      case "abstract" ->
          io.jpipe.net.Address.abstractUnix(
              "jpipe-test-" + ProcessHandle.current().pid() + "-" + n);
      default -> io.jpipe.net.Address.tcp("127.0.0.1", 0);
    };
  }

  /** The sizes cpython_peer.py sends. */
  public static final List<Integer> SIZES = List.of(0, 1, 16384, 16385, 1 << 20, 16 << 20);
}
