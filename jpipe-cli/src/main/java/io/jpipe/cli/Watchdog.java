package io.jpipe.cli;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Runs actions after a delay on one daemon platform thread: how {@code serve} closes idle clients
 * and {@code send} stops waiting for a silent server. Closing a connection wakes whatever thread is
 * blocked on it.
 */
final class Watchdog implements AutoCloseable {
  private final ScheduledThreadPoolExecutor timer;

  /**
   * Starts the timer thread.
   *
   * @param name the thread's name
   */
  Watchdog(String name) {
    timer =
        new ScheduledThreadPoolExecutor(
            1, r -> Thread.ofPlatform().name(name).daemon().unstarted(r));
    timer.setRemoveOnCancelPolicy(true);
  }

  /**
   * Runs {@code action} after {@code delay} unless the returned future is cancelled first.
   *
   * @param delay the delay
   * @param action what to run
   * @return the pending action
   */
  ScheduledFuture<?> after(Duration delay, Runnable action) {
    long nanos;
    try {
      nanos = delay.toNanos();
    } catch (ArithmeticException e) {
      nanos = Long.MAX_VALUE; // hundreds of years: never
    }
    return timer.schedule(action, nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
