package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * A child JVM did not get to run its task: its JVM failed to boot (a bad option, say), it could not
 * decode its task (a class missing from its class path), or it did not come up in time; or jpipe
 * did not start one, because no child JVM could load a class the task needs.
 */
public class ProcessStartException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /** The {@link #exitCode()} when no child JVM was started. */
  public static final int NOT_STARTED = Integer.MIN_VALUE;

  /** The child's exit code, if it exited. */
  private final int exitCode;

  /**
   * Creates the exception.
   *
   * @param message what happened
   * @param exitCode the child's exit code
   */
  public ProcessStartException(String message, int exitCode) {
    super(message);
    this.exitCode = exitCode;
  }

  /**
   * Creates the exception for a child that was never started.
   *
   * @param message why not, and what to do
   */
  public ProcessStartException(String message) {
    this(message, NOT_STARTED);
  }

  /**
   * The child's exit code (CPython's convention: minus the signal if one killed it), or {@link
   * #NOT_STARTED}.
   *
   * @return the exit code
   */
  public int exitCode() {
    return exitCode;
  }
}
