package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** The {@code jpipe} command run in a JVM of its own, as a user runs it. */
final class Cli implements AutoCloseable {
  private final Process process;
  private final BufferedReader err;
  private final CompletableFuture<String> out;

  private Cli(Process process) {
    this.process = process;
    this.err =
        new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
    this.out =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
              } catch (IOException e) {
                return "<" + e + ">";
              }
            });
  }

  /** Starts {@code jpipe ARGS}. */
  static Cli start(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    return new Cli(new ProcessBuilder(cmd).start());
  }

  /** The next line on stderr. */
  String errLine() throws IOException {
    return err.readLine();
  }

  /** Waits for the exit; returns the exit code. */
  int exitCode() throws Exception {
    assertTrue(process.waitFor(120, TimeUnit.SECONDS), "jpipe did not finish");
    return process.exitValue();
  }

  /** All of stdout, once the command has exited. */
  String out() throws Exception {
    exitCode();
    return out.get(60, TimeUnit.SECONDS);
  }

  /** The rest of stderr, once the command has exited. */
  String restOfErr() throws Exception {
    exitCode();
    StringBuilder b = new StringBuilder();
    for (String line = err.readLine(); line != null; line = err.readLine()) {
      b.append(line).append('\n');
    }
    return b.toString();
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
