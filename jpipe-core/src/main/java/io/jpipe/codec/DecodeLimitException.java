package io.jpipe.codec;

import java.io.InvalidObjectException;
import java.io.Serial;
import java.util.Objects;

/**
 * A message was refused because decoding it would go over one of the codec's {@link DecodeLimits}:
 * too deep, too many objects, an array or collection too long, an integer with too many digits, or
 * too much work (exponential sharing, nested hashed collections). The message is consumed; the
 * connection stays in step and the next message can be received.
 *
 * <p>{@link #limit()} names the limit as {@link DecodeLimits} names its component ({@code
 * "maxDepth"}, {@code "maxObjects"}, {@code "maxArrayLength"}, {@code "maxIntDigits"}, {@code
 * "maxWork"}), or {@code "stack"} / {@code "memory"} when the thread ran out of stack or the JVM
 * out of heap before a limit caught the message (the codec stays usable).
 */
public class DecodeLimitException extends InvalidObjectException {
  @Serial private static final long serialVersionUID = 1L;

  /** The name of the limit. */
  private final String limit;

  /** The limit's value. */
  private final long value;

  /**
   * A refusal.
   *
   * @param limit the name of the limit, as {@link DecodeLimits} names it (or {@code "stack"},
   *     {@code "memory"})
   * @param value the limit's value in force, or -1 if it has none (the stack)
   * @param detail what went over the limit
   */
  public DecodeLimitException(String limit, long value, String detail) {
    super(Objects.requireNonNull(limit, "limit") + (value >= 0 ? " " + value : "") + ": " + detail);
    this.limit = limit;
    this.value = value;
  }

  /**
   * The limit that refused the message.
   *
   * @return its name, such as {@code "maxDepth"}
   */
  public String limit() {
    return limit;
  }

  /**
   * The value of the limit that refused the message.
   *
   * @return the value in force, or -1 for {@code "stack"}
   */
  public long value() {
    return value;
  }
}
