package io.jpipe.internal.io;

import java.time.Duration;
import java.util.Objects;

/** Durations as nanoseconds, saturating instead of overflowing (a huge timeout means "forever"). */
public final class Durations {
  private Durations() {}

  /**
   * {@code d} in nanoseconds: {@code Long.MAX_VALUE} (or {@code Long.MIN_VALUE}) when it does not
   * fit.
   *
   * @param d the duration
   * @return its nanoseconds, saturated
   */
  public static long toNanos(Duration d) {
    Objects.requireNonNull(d, "duration");
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
