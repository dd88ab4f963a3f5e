package io.jpipe.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jpipe} command. Every failure is one line on stderr, {@code jpipe COMMAND: what went
 * wrong}, never a stack trace: exit status 2 for a usage error (unknown option, bad option value),
 * 1 for anything else.
 */
@Command(
    name = "jpipe",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "Python's multiprocessing Pipe model on the JVM, over real kernel pipes.",
    subcommands = {
      DemoCommand.class,
      BenchCommand.class,
      ServeCommand.class,
      SendCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main {
  /** The longest error line printed; longer messages are cut. */
  static final int MAX_ERROR_LINE = 600;

  private Main() {}

  /** {@code jpipe --version}: the pom's version, which the build writes in a resource. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties p = new Properties();
      try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
        if (in == null) {
          throw new IOException("version.properties is missing from the jpipe build");
        }
        p.load(in);
      }
      return new String[] {"jpipe " + p.getProperty("version")};
    }
  }

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
    PrintStream err = System.err;
    CommandLine cl = new CommandLine(new Main());
    cl.setParameterExceptionHandler(
        (ex, a) -> {
          String name = ex.getCommandLine().getCommandSpec().qualifiedName();
          err.println(name + ": " + oneLine(ex.getMessage()) + " (see " + name + " --help)");
          err.flush();
          return ex.getCommandLine().getCommandSpec().exitCodeOnInvalidInput();
        });
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          String what =
              ex instanceof CliException || ex instanceof IllegalArgumentException
                  ? oneLine(ex.getMessage())
                  : describe(ex);
          err.println(cmd.getCommandSpec().qualifiedName() + ": " + what);
          err.flush();
          return 1;
        });
    try {
      return cl.execute(args);
    } catch (Exception | Error e) {
      err.println("jpipe: " + describe(e));
      err.flush();
      return 1;
    }
  }

  /**
   * An exception in one line: its simple class name and its message.
   *
   * @param t the exception
   * @return one line
   */
  static String describe(Throwable t) {
    String message = t.getMessage();
    String name = t.getClass().getSimpleName();
    return message == null || message.isBlank() ? name : name + ": " + oneLine(message);
  }

  /**
   * A message made one line: control characters (line breaks included) become spaces, and the whole
   * is cut to {@value #MAX_ERROR_LINE} characters.
   *
   * @param message the message, may be null
   * @return one line
   */
  static String oneLine(String message) {
    if (message == null) {
      return "";
    }
    StringBuilder b = new StringBuilder(Math.min(message.length(), MAX_ERROR_LINE + 3));
    for (int i = 0; i < message.length() && b.length() < MAX_ERROR_LINE; i++) {
      char c = message.charAt(i);
      b.append(Character.isISOControl(c) || c == '\u2028' || c == '\u2029' ? ' ' : c);
    }
    if (b.length() < message.length()) {
      b.append("...");
    }
    return b.toString().strip();
  }
}
