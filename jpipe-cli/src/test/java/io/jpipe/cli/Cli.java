package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The {@code jpipe} command run in a JVM of its own, as a user runs it (with the JVM options of the
 * {@code jpipe} launcher). Its stderr is read as it comes, line by line; its stdout once it exits.
 */
final class Cli implements AutoCloseable {
  /** How long a test waits for a line or an exit before it fails. */
  static final long WAIT_SECONDS = 60;

  private final Process process;
  private final Path files;
  private final Path outFile;
  private final List<String> errLines = new ArrayList<>(); // guarded by this
  private boolean errEnded; // guarded by this
  private int errRead; // guarded by this

  /**
   * The command's stdout and stderr go to files, not pipes: the JDK may close a process's pipe
   * under a thread that is reading it when the process exits ("Stream closed"), losing lines.
   * stderr is followed as it grows.
   */
  private Cli(ProcessBuilder pb) throws IOException {
    this.files = Files.createTempDirectory("jpipe-cli-test-");
    this.outFile = files.resolve("out");
    Path errFile = files.resolve("err");
    this.process = pb.redirectOutput(outFile.toFile()).redirectError(errFile.toFile()).start();
    Thread.ofPlatform().daemon().name("cli-stderr").start(() -> follow(errFile));
  }

  /** Reads the stderr file as it grows, line by line, until the process has exited. */
  private void follow(Path errFile) {
    try (InputStream in = Files.newInputStream(errFile)) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      for (; ; ) {
        boolean exited = !process.isAlive(); // before reading: what it wrote is in the file
        int n = in.read(buf);
        if (n > 0) {
          for (int i = 0; i < n; i++) {
            if (buf[i] == '\n') {
              add(line.toString(StandardCharsets.UTF_8));
              line.reset();
            } else {
              line.write(buf[i]);
            }
          }
        } else if (exited) {
          if (line.size() > 0) {
            add(line.toString(StandardCharsets.UTF_8));
          }
          break;
        } else {
          Thread.sleep(10);
        }
      }
    } catch (IOException | InterruptedException e) {
      add("<reading stderr failed: " + e + ">");
    } finally {
      synchronized (this) {
        errEnded = true;
        notifyAll();
      }
    }
  }

  private synchronized void add(String line) {
    errLines.add(line);
    notifyAll();
  }

  /** Starts {@code jpipe ARGS}. */
  static Cli start(String... args) throws IOException {
    return startWith(List.of(), args);
  }

  /** Starts {@code PREFIX java ... jpipe ARGS}, such as {@code env --default-signal=INT}. */
  static Cli startWith(List<String> prefix, String... args) throws IOException {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-XX:+UseSerialGC");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    return new Cli(new ProcessBuilder(cmd));
  }

  /** The process id. */
  long pid() {
    return process.pid();
  }

  /** The next line on stderr (null at its end). */
  synchronized String errLine() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (errRead == errLines.size()) {
      if (errEnded) {
        return null;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        fail("no line on jpipe's stderr within " + WAIT_SECONDS + " s; so far: " + errLines);
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return errLines.get(errRead++);
  }

  /** Reads stderr lines until one matches; returns it. */
  String awaitErr(Predicate<String> wanted) throws InterruptedException {
    for (String line = errLine(); line != null; line = errLine()) {
      if (wanted.test(line)) {
        return line;
      }
    }
    synchronized (this) {
      return fail("stderr ended without the line expected; it had: " + errLines);
    }
  }

  /**
   * Waits until some stderr line, read or not, contains {@code text}; returns it. Unlike {@link
   * #awaitErr}, the order of lines does not matter.
   */
  String awaitErrAnywhere(String text) throws InterruptedException {
    return awaitErrAnywhere(l -> l.contains(text), "'" + text + "'");
  }

  /** As {@link #awaitErrAnywhere(String)}, for a line that {@code wanted} accepts. */
  synchronized String awaitErrAnywhere(Predicate<String> wanted, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    for (; ; ) {
      for (String line : errLines) {
        if (wanted.test(line)) {
          return line;
        }
      }
      long left = deadline - System.nanoTime();
      if (errEnded || left <= 0) {
        return fail("no stderr line " + what + "; it had: " + errLines);
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /** Reads stderr lines until one contains {@code text}; returns it. */
  String awaitErr(String text) throws InterruptedException {
    return awaitErr(l -> l.contains(text));
  }

  /** Every stderr line so far. */
  synchronized List<String> errSoFar() {
    return List.copyOf(errLines);
  }

  /** Waits for the exit; returns the exit code. */
  int exitCode() throws Exception {
    assertTrue(process.waitFor(WAIT_SECONDS * 2, TimeUnit.SECONDS), "jpipe did not finish");
    return process.exitValue();
  }

  /** Stops the command with SIGTERM, as a user would, and waits for its exit. */
  void terminate() throws Exception {
    process.destroy();
    exitCode();
  }

  /** Whether the process is still running. */
  boolean isAlive() {
    return process.isAlive();
  }

  /** All of stdout, once the command has exited. */
  String out() throws Exception {
    exitCode();
    return Files.readString(outFile, StandardCharsets.UTF_8);
  }

  /** All of stderr, once the command has exited and its stderr ended. */
  List<String> allErr() throws Exception {
    exitCode();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    synchronized (this) {
      while (!errEnded) {
        long left = deadline - System.nanoTime();
        assertTrue(left > 0, "stderr did not end");
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return List.copyOf(errLines);
    }
  }

  /** The rest of stderr (the lines not read yet), once the command has exited. */
  String restOfErr() throws Exception {
    List<String> all = allErr();
    synchronized (this) {
      StringBuilder b = new StringBuilder();
      for (String line : all.subList(errRead, all.size())) {
        b.append(line).append('\n');
      }
      errRead = all.size();
      return b.toString();
    }
  }

  /** Checks that no stderr line so far looks like part of a stack trace. */
  static void assertNoStackTrace(List<String> err) {
    for (String line : err) {
      assertFalse(
          line.startsWith("\tat ")
              || line.startsWith("Caused by")
              || line.contains("Exception in thread")
              || line.startsWith("\t..."),
          "a stack trace on stderr: " + String.join("\n", err));
    }
  }

  @Override
  public void close() {
    process.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
      synchronized (this) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!errEnded && System.nanoTime() - deadline < 0) {
          TimeUnit.MILLISECONDS.timedWait(this, 100);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (var list = Files.list(files)) {
      for (Path f : list.toList()) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(files);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
