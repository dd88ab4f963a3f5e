package io.jpipe;

import io.jpipe.internal.sync.SharedCells;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.Serial;
import java.io.Serializable;

/**
 * What a synchronization object ({@link ProcessCondition}, {@link ProcessSemaphore}, {@link
 * ProcessEvent}, {@link ProcessBarrier}) becomes on its way to a child process: the {@link
 * ProcessLock} whose memory holds its shared state after the lock's page (the child inherits its
 * descriptor), with what else the kind needs: a condition's own lock, a barrier's action.
 */
final class SyncForm implements Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** The kinds, with the bytes of shared state each has. */
  enum Kind {
    CONDITION(ProcessCondition.BYTES),
    SEMAPHORE(ProcessSemaphore.BYTES),
    EVENT(ProcessEvent.BYTES),
    BARRIER(ProcessBarrier.BYTES);

    final int bytes;

    Kind(int bytes) {
      this.bytes = bytes;
    }
  }

  /**
   * The lock that carries the state's memory; typed {@code Object} as in {@link SharedValueForm}:
   * only the spawn stream can write a {@code ProcessLock}.
   */
  @SuppressWarnings("serial") // replaced by the spawn stream, as intended
  private final Object cells;

  private final Kind kind;

  /** A condition's lock, or a barrier's action (serializable), or null. */
  @SuppressWarnings("serial") // a lock (replaced by the spawn stream) or a serializable action
  private final Object extra;

  SyncForm(Kind kind, ProcessLock cells, Object extra) {
    this.kind = kind;
    this.cells = cells;
    this.extra = extra;
  }

  @Serial
  private Object readResolve() throws InvalidObjectException {
    if (!(cells instanceof ProcessLock l) || kind == null) {
      throw new InvalidObjectException("not a synchronization object: " + kind);
    }
    if (kind == Kind.CONDITION && !(extra instanceof ProcessLock)) {
      throw new InvalidObjectException("a condition without its lock");
    }
    if (kind == Kind.BARRIER && extra != null && !(extra instanceof Runnable)) {
      throw new InvalidObjectException("a barrier action that is not a Runnable");
    }
    SharedCells c;
    try {
      c = SharedCells.attach(l, kind.bytes);
    } catch (IOException e) {
      throw new InvalidObjectException("cannot map the shared " + kind + ": " + e.getMessage(), e);
    }
    return switch (kind) {
      case CONDITION -> new ProcessCondition((ProcessLock) extra, c);
      case SEMAPHORE -> new ProcessSemaphore(c);
      case EVENT -> new ProcessEvent(c);
      case BARRIER -> new ProcessBarrier(c, (Runnable) extra);
    };
  }
}
