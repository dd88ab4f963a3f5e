package io.jpipe.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code jpipe} command. */
@Command(
    name = "jpipe",
    mixinStandardHelpOptions = true,
    version = "jpipe 0.1.0",
    description = "Python's multiprocessing Pipe model on the JVM, over real kernel pipes.",
    subcommands = {
      DemoCommand.class,
      BenchCommand.class,
      ServeCommand.class,
      SendCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  private Main() {}

  /**
   * Runs the command line.
   *
   * @param args the arguments
   */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs the command line and returns its exit code (for tests).
   *
   * @param args the arguments
   * @return the exit code
   */
  public static int run(String... args) {
    return new CommandLine(new Main()).execute(args);
  }
}
