package io.jpipe;

import io.jpipe.internal.sync.SharedCells;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.Serial;
import java.io.Serializable;

/**
 * What a typed shared value ({@link SharedInt} and the others) becomes on its way to a child
 * process: its {@link ProcessLock}, whose descriptor the child inherits and whose memory holds the
 * cells after the lock's page, with the kind and the length needed to map them again.
 */
final class SharedValueForm implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** The kinds of shared values, with the bytes each element takes. */
  enum Kind {
    INT(4),
    LONG(8),
    DOUBLE(8),
    INT_ARRAY(4),
    LONG_ARRAY(8),
    DOUBLE_ARRAY(8);

    final int elementBytes;

    Kind(int elementBytes) {
      this.elementBytes = elementBytes;
    }
  }

  /**
   * The value's {@link ProcessLock}, which the child process's stream turns into the inherited
   * lock. Typed {@code Object}: a {@code ProcessLock} is not serializable by other streams, so a
   * shared value goes nowhere but to a child process.
   */
  @SuppressWarnings("serial") // replaced by the spawn stream, as intended
  private final Object lock;

  /** Which class to rebuild. */
  private final Kind kind;

  /** The number of elements. */
  private final int length;

  SharedValueForm(ProcessLock lock, Kind kind, int length) {
    this.lock = lock;
    this.kind = kind;
    this.length = length;
  }

  @Serial
  private Object readResolve() throws InvalidObjectException {
    if (!(lock instanceof ProcessLock l) || kind == null || length < 0) {
      throw new InvalidObjectException("not a shared value: " + kind + " of " + length);
    }
    SharedCells cells;
    try {
      cells = SharedCells.attach(l, (long) length * kind.elementBytes);
    } catch (IOException e) {
      throw new InvalidObjectException("cannot map the shared " + kind + ": " + e.getMessage(), e);
    }
    return switch (kind) {
      case INT -> new SharedInt(cells);
      case LONG -> new SharedLong(cells);
      case DOUBLE -> new SharedDouble(cells);
      case INT_ARRAY -> new SharedIntArray(cells, length);
      case LONG_ARRAY -> new SharedLongArray(cells, length);
      case DOUBLE_ARRAY -> new SharedDoubleArray(cells, length);
    };
  }
}
