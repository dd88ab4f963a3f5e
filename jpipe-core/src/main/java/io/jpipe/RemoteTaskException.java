package io.jpipe;

import java.io.Serial;

/**
 * Stands in for an exception that a {@link ProcessPool} task threw in its worker when that
 * exception could not be sent back as itself (it, or something it holds, is not serializable, or
 * this JVM cannot decode it). It carries the original class name and message, and the worker's
 * stack trace as its own.
 */
public final class RemoteTaskException extends RuntimeException {
  @Serial private static final long serialVersionUID = 1L;

  /** The class name of the exception the task threw. */
  private final String remoteClassName;

  /**
   * Creates the exception.
   *
   * @param remoteClassName the class name of the exception the task threw
   * @param message that exception's message, or null
   * @param stackTrace that exception's stack trace, in the worker
   */
  public RemoteTaskException(
      String remoteClassName, String message, StackTraceElement[] stackTrace) {
    super(remoteClassName + (message == null ? "" : ": " + message));
    this.remoteClassName = remoteClassName;
    setStackTrace(stackTrace);
  }

  /**
   * The class name of the exception the task threw in its worker.
   *
   * @return the class name
   */
  public String remoteClassName() {
    return remoteClassName;
  }
}
