package io.jpipe.internal.pool;

/**
 * Runs a wait to its end even if the thread is interrupted, then restores the interrupt status: for
 * the waits that settle a pool's state, which must not be left half done.
 */
final class Uninterruptibly {
  /** A wait that may be interrupted, and is then run again. */
  @FunctionalInterface
  interface Wait {
    void run() throws InterruptedException;
  }

  private Uninterruptibly() {}

  static void await(Wait wait) {
    boolean interrupted = false;
    for (; ; ) {
      try {
        wait.run();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
