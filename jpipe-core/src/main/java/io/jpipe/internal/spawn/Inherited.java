package io.jpipe.internal.spawn;

import io.jpipe.internal.io.FdChannel;
import java.io.Serial;
import java.io.Serializable;

/**
 * What a connection end or a lock becomes on its way to a child: the index of its descriptor among
 * those the child inherits, and what is needed to rebuild it there. Plain classes, not records:
 * records deserialize through method handles that are slow to build in a fresh JVM.
 */
abstract sealed class Inherited implements Serializable
    permits Inherited.Connection, Inherited.ShmConnection, Inherited.Lock {
  @Serial private static final long serialVersionUID = 1L;

  /** The descriptor's index among the inherited ones. */
  final int index;

  Inherited(int index) {
    this.index = index;
  }

  /** A connection end. */
  static final class Connection extends Inherited {
    @Serial private static final long serialVersionUID = 1L;

    /** Socket or pipe. */
    final FdChannel.Kind kind;

    /** Whether it receives. */
    final boolean readable;

    /** Whether it sends. */
    final boolean writable;

    /** Its codec (Serializable). */
    final Serializable codec;

    Connection(
        int index, FdChannel.Kind kind, boolean readable, boolean writable, Serializable codec) {
      super(index);
      this.kind = kind;
      this.readable = readable;
      this.writable = writable;
      this.codec = codec;
    }
  }

  /**
   * An end of a shared-memory pipe: its socket at {@link #index}, the segment's memfd at {@link
   * #memfdIndex}.
   */
  static final class ShmConnection extends Inherited {
    @Serial private static final long serialVersionUID = 1L;

    /** The memfd's index among the inherited descriptors. */
    final int memfdIndex;

    /** Which end: 0 or 1. */
    final int side;

    /** Whether it receives. */
    final boolean readable;

    /** Whether it sends. */
    final boolean writable;

    /** Its codec (Serializable). */
    final Serializable codec;

    ShmConnection(
        int index,
        int memfdIndex,
        int side,
        boolean readable,
        boolean writable,
        Serializable codec) {
      super(index);
      this.memfdIndex = memfdIndex;
      this.side = side;
      this.readable = readable;
      this.writable = writable;
      this.codec = codec;
    }
  }

  /** A process lock. */
  static final class Lock extends Inherited {
    @Serial private static final long serialVersionUID = 1L;

    Lock(int index) {
      super(index);
    }
  }
}
