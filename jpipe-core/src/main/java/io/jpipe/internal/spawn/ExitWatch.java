package io.jpipe.internal.spawn;

import java.util.function.IntConsumer;

/**
 * Where a child's exit status goes: the reaper reports it once, possibly before anyone listens (a
 * warm spare can die before it is given a task), so the status is kept until a listener comes.
 */
public final class ExitWatch implements IntConsumer {
  private boolean exited;
  private int code;
  private IntConsumer listener;

  @Override
  public void accept(int status) {
    IntConsumer l;
    synchronized (this) {
      exited = true;
      code = status;
      l = listener;
    }
    if (l != null) {
      l.accept(status);
    }
  }

  /**
   * Sets who is told of the exit; told at once if the child has already exited.
   *
   * @param l the listener
   */
  public void listen(IntConsumer l) {
    boolean now;
    int status;
    synchronized (this) {
      listener = l;
      now = exited;
      status = code;
    }
    if (now) {
      l.accept(status);
    }
  }

  /**
   * Whether the child has exited.
   *
   * @return true once reaped
   */
  public synchronized boolean hasExited() {
    return exited;
  }

  /**
   * The exit status, once exited.
   *
   * @return the exit code, minus the killing signal, or -9 (SIGKILL) if not yet exited
   */
  public synchronized int code() {
    return exited ? code : -9;
  }
}
