package io.jpipe.internal.spawn;

import io.jpipe.internal.io.FdChannel;
import java.io.Serial;
import java.io.Serializable;

/**
 * What a connection end or a lock becomes on its way to a child: the index of its descriptor among
 * those the child inherits, and what is needed to rebuild it there.
 */
sealed interface Inherited extends Serializable {
  /**
   * The descriptor's index among the inherited ones (the child's fd is the first one plus this).
   *
   * @return the index
   */
  int index();

  /**
   * A connection end.
   *
   * @param index see {@link Inherited#index()}
   * @param kind socket or pipe
   * @param readable whether it receives
   * @param writable whether it sends
   * @param codec its codec (Serializable)
   */
  record Connection(
      int index, FdChannel.Kind kind, boolean readable, boolean writable, Serializable codec)
      implements Inherited {
    @Serial private static final long serialVersionUID = 1L;
  }

  /**
   * A process lock.
   *
   * @param index see {@link Inherited#index()}
   */
  record Lock(int index) implements Inherited {
    @Serial private static final long serialVersionUID = 1L;
  }
}
