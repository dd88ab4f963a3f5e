package io.jpipe;

import java.io.IOException;
import java.io.Serial;
import java.util.OptionalInt;

/**
 * The worker of a {@link ProcessPool} that was running a task died: the task called {@code
 * System.exit}, the worker was killed by a signal, its JVM crashed or ran out of memory. It is the
 * cause of the {@link java.util.concurrent.ExecutionException} that the task's {@code Future}
 * throws; only that task fails, the pool replaces the worker and runs the other tasks.
 */
public final class WorkerDiedException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /** The worker's process id. */
  private final long pid;

  /** The worker's exit code, minus the signal number if a signal killed it. */
  private final int exitCode;

  /**
   * Creates the exception.
   *
   * @param message what happened
   * @param pid the worker's process id
   * @param exitCode the worker's exit code, minus the signal number if a signal killed it
   */
  public WorkerDiedException(String message, long pid, int exitCode) {
    super(message);
    this.pid = pid;
    this.exitCode = exitCode;
  }

  /**
   * The process id of the worker that died.
   *
   * @return the pid
   */
  public long pid() {
    return pid;
  }

  /**
   * The worker's exit code, in CPython's convention: {@code N} after {@code System.exit(N)}, 3
   * after an {@link OutOfMemoryError} (workers run with {@code -XX:+ExitOnOutOfMemoryError}), and
   * {@code -N} when signal {@code N} killed it.
   *
   * @return the exit code
   */
  public int exitCode() {
    return exitCode;
  }

  /**
   * The signal that killed the worker.
   *
   * @return {@code N} when signal {@code N} killed it; empty when it exited
   */
  public OptionalInt signal() {
    return exitCode < 0 ? OptionalInt.of(-exitCode) : OptionalInt.empty();
  }
}
