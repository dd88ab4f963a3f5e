package io.jpipe.pickle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * A CPython process that talks to the test over its stdin and stdout with CPython's own {@code
 * multiprocessing.connection.Connection} objects, so every message is framed as CPython frames it
 * and {@code recv}/{@code send} are CPython's. Requests are byte messages {@code "op arg"}; each
 * gets a status message, {@code "ok ..."} or an error with Python's traceback.
 */
final class PythonProcess implements AutoCloseable {
  /** How long the process may take to exit once its stdin is closed; never asserted on. */
  private static final long EXIT_PATIENCE_SECONDS = 60;

  private static final String SCRIPT =
      """
      import math, pickle, sys, traceback
      from multiprocessing.connection import Connection

      rx = Connection(0, writable=False)
      tx = Connection(1, readable=False)

      def nest(n):
          x = []
          for _ in range(n):
              x = [x]
          return x

      def same(a, b):
          # equal, with exactly the same types all the way down; dicts in the same order
          if type(a) is not type(b):
              return False
          if type(a) is float:
              if math.isnan(a) or math.isnan(b):
                  return math.isnan(a) and math.isnan(b)
              return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
          if type(a) in (list, tuple):
              return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
          if type(a) is dict:
              return len(a) == len(b) and all(
                  same(ka, kb) and same(va, vb)
                  for (ka, va), (kb, vb) in zip(a.items(), b.items()))
          if type(a) in (set, frozenset):
              left = list(b)
              for x in a:
                  for i, y in enumerate(left):
                      if same(x, y):
                          del left[i]
                          break
                  else:
                      return False
              return not left
          return a == b

      def show(x):
          text = '%s %r' % (type(x).__name__, x)
          return text if len(text) < 300 else text[:300] + '...'

      while True:
          try:
              request = rx.recv_bytes().decode('utf-8')
          except EOFError:
              break
          op, _, arg = request.partition(' ')
          try:
              if op == 'hello':
                  v = sys.version_info
                  tx.send_bytes(('ok %d.%d.%d %d' % (v[0], v[1], v[2], pickle.HIGHEST_PROTOCOL)).encode())
              elif op == 'check':  # the next message is a pickle that must load as eval(arg)
                  data = rx.recv_bytes()
                  got, expected = pickle.loads(data), eval(arg)
                  if same(got, expected):
                      tx.send_bytes(b'ok')
                  else:
                      tx.send_bytes(('mismatch: got %s, expected %s' % (show(got), show(expected))).encode())
              elif op == 'assert':  # the next message is a pickle; arg must hold of it, as x
                  x = pickle.loads(rx.recv_bytes())
                  tx.send_bytes(b'ok' if eval(arg) else ('false for x = %s' % show(x)).encode())
              elif op == 'dumps':  # arg is "protocol expression"; the pickle follows the status
                  protocol, _, expr = arg.partition(' ')
                  data = pickle.dumps(eval(expr), protocol=int(protocol))
                  tx.send_bytes(b'ok')
                  tx.send_bytes(data)
              elif op == 'exec':  # arg is code that sets result; sent with pickle.dumps(protocol)
                  protocol, _, code = arg.partition(' ')
                  scope = dict(globals())
                  exec(code, scope)
                  data = pickle.dumps(scope['result'], protocol=int(protocol))
                  tx.send_bytes(b'ok')
                  tx.send_bytes(data)
              elif op == 'echo':  # CPython's own Connection.recv() and Connection.send()
                  obj = rx.recv()
                  tx.send_bytes(b'ok')
                  tx.send(obj)
              else:
                  tx.send_bytes(('unknown request ' + op).encode())
          except Exception:
              tx.send_bytes(('error: ' + traceback.format_exc()).encode())
      """;

  private final Process process;
  private final DataOutputStream toPython;
  private final DataInputStream fromPython;
  private final CompletableFuture<String> stderr;

  /** "3.11.7". */
  final String version;

  /** pickle.HIGHEST_PROTOCOL. */
  final int highestProtocol;

  private PythonProcess(List<String> python) throws IOException {
    List<String> command = new ArrayList<>(python);
    command.addAll(List.of("-I", "-c", SCRIPT));
    process = new ProcessBuilder(command).start();
    toPython = new DataOutputStream(new BufferedOutputStream(process.getOutputStream()));
    fromPython = new DataInputStream(new BufferedInputStream(process.getInputStream()));
    stderr = CompletableFuture.supplyAsync(this::readStderr, Thread::startVirtualThread);
    try {
      String[] hello = request("hello").split(" ");
      version = hello[1];
      highestProtocol = Integer.parseInt(hello[2]);
    } catch (IOException | RuntimeException | AssertionError e) {
      process.destroyForcibly().onExit().join();
      throw new IOException(command.getFirst() + " is not a working CPython: " + e.getMessage(), e);
    }
  }

  private String readStderr() {
    try {
      return new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(stderr unreadable: " + e + ")";
    }
  }

  /**
   * Starts CPython {@code minor} (such as "3.12"): pyenv's interpreter of that version when pyenv
   * has one (resolved with {@code pyenv which}, so no shim runs each time), else {@code python3.X}
   * or {@code python3} from PATH if it is that version.
   *
   * @return the process, or empty if no such CPython is installed
   */
  static Optional<PythonProcess> start(String minor) throws IOException {
    for (List<String> candidate : candidates(minor)) {
      PythonProcess p;
      try {
        p = new PythonProcess(candidate);
      } catch (IOException e) {
        continue; // not installed, or not a working interpreter
      }
      if (p.version.startsWith(minor + ".")) {
        return Optional.of(p);
      }
      p.close();
    }
    return Optional.empty();
  }

  private static List<List<String>> candidates(String minor) {
    List<List<String>> out = new ArrayList<>();
    Pattern release = Pattern.compile(Pattern.quote(minor) + "\\.\\d+");
    Optional<String> pyenvVersion =
        run(List.of("pyenv", "versions", "--bare"), Map.of()).stream()
            .flatMap(String::lines)
            .map(String::strip)
            .filter(v -> release.matcher(v).matches())
            .max(PythonProcess::compareVersions);
    pyenvVersion
        .flatMap(v -> run(List.of("pyenv", "which", "python3"), Map.of("PYENV_VERSION", v)))
        .map(String::strip)
        .ifPresent(path -> out.add(List.of(path)));
    out.add(List.of("python" + minor));
    out.add(List.of("python3"));
    return out;
  }

  private static int compareVersions(String a, String b) {
    String[] x = a.split("\\.");
    String[] y = b.split("\\.");
    for (int i = 0; i < Math.min(x.length, y.length); i++) {
      int c = Integer.compare(Integer.parseInt(x[i]), Integer.parseInt(y[i]));
      if (c != 0) {
        return c;
      }
    }
    return Integer.compare(x.length, y.length);
  }

  /** Runs a short command; its stdout if it exits with 0. */
  private static Optional<String> run(List<String> command, Map<String, String> env) {
    try {
      ProcessBuilder pb =
          new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
      pb.environment().putAll(env);
      Process p = pb.start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.waitFor() == 0 ? Optional.of(out) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // no such command
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  /** Sends one message, framed as CPython's send_bytes frames it. */
  void sendBytes(byte[] message) throws IOException {
    toPython.writeInt(message.length);
    toPython.write(message);
    toPython.flush();
  }

  /** Receives one message framed as CPython's send_bytes frames it. */
  byte[] recvBytes() throws IOException {
    try {
      int n = fromPython.readInt();
      return fromPython.readNBytes(n);
    } catch (EOFException e) {
      throw new IOException("CPython " + this + " closed its stdout; stderr:\n" + stderrSoFar(), e);
    }
  }

  /** Sends a request and the messages that go with it; returns the status after "ok". */
  String request(String request, byte[]... messages) throws IOException {
    sendBytes(request.getBytes(StandardCharsets.UTF_8));
    for (byte[] m : messages) {
      sendBytes(m);
    }
    String status = new String(recvBytes(), StandardCharsets.UTF_8);
    if (!status.equals("ok") && !status.startsWith("ok ")) {
      throw new AssertionError(
          "CPython " + version + ", request " + abbreviate(request) + ": " + status);
    }
    return status;
  }

  /** Fails unless CPython loads {@code pickle} as a value equal to {@code expression}, by type. */
  void check(String expression, byte[] pickle) throws IOException {
    request("check " + expression, pickle);
  }

  /** Fails unless {@code predicate} holds of {@code x}, the value CPython loads from the pickle. */
  void assertThat(String predicate, byte[] pickle) throws IOException {
    request("assert " + predicate, pickle);
  }

  /** CPython's {@code pickle.dumps(eval(expression), protocol)}. */
  byte[] dumps(int protocol, String expression) throws IOException {
    request("dumps " + protocol + " " + expression);
    return recvBytes();
  }

  /**
   * Runs {@code code}, which sets {@code result}; returns {@code pickle.dumps(result, protocol)}.
   */
  byte[] exec(int protocol, String code) throws IOException {
    request("exec " + protocol + " " + code);
    return recvBytes();
  }

  /** CPython's Connection.recv() loads the pickle, and Connection.send() sends it back. */
  byte[] echo(byte[] pickle) throws IOException {
    request("echo", pickle);
    return recvBytes();
  }

  private String stderrSoFar() {
    return stderr.getNow("(still running)");
  }

  private static String abbreviate(String s) {
    return s.length() > 100 ? s.substring(0, 100) + "..." : s;
  }

  /** Closes CPython's stdin (it then exits) and checks that it exited with 0. */
  @Override
  public void close() throws IOException {
    try {
      toPython.close();
      if (!process.waitFor(EXIT_PATIENCE_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
        fail("CPython did not exit after its stdin closed; killed it");
      }
      assertEquals(0, process.exitValue(), () -> "CPython exit code; stderr:\n" + stderr.join());
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for CPython to exit", e);
    } finally {
      fromPython.close();
    }
  }

  @Override
  public String toString() {
    return "CPython " + version + " (pid " + process.pid() + ")";
  }
}
