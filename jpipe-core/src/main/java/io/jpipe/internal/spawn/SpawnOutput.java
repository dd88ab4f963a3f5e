package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Serializes a child's bootstrap, replacing each {@link Connection} and {@link ProcessLock} with a
 * placeholder and collecting their descriptors, which the child inherits in that order (CPython's
 * spawning pickler does the same with {@code DupFd}).
 *
 * <p>Every collected channel is {@linkplain FdChannel#acquire() acquired}, so it cannot be closed
 * before the spawn; call {@link #releaseAll} after it.
 */
final class SpawnOutput extends ObjectOutputStream {
  private final Map<Object, Inherited> replaced = new IdentityHashMap<>();
  private final List<FdChannel> channels = new ArrayList<>();

  SpawnOutput(OutputStream out) throws IOException {
    super(out);
    enableReplaceObject(true);
  }

  @Override
  protected Object replaceObject(Object obj) throws IOException {
    if (obj instanceof Connection c) {
      Inherited done = replaced.get(c);
      return done != null ? done : inherit(c);
    }
    if (obj instanceof ProcessLock l) {
      Inherited done = replaced.get(l);
      if (done != null) {
        return done;
      }
      FdChannel ch = Access.locks().mutex(l).channel();
      ch.acquire();
      Inherited.Lock placeholder = new Inherited.Lock(channels.size());
      channels.add(ch);
      replaced.put(l, placeholder);
      return placeholder;
    }
    return obj;
  }

  private Inherited inherit(Connection c) throws IOException {
    if (!(c.codec() instanceof Serializable codec)) {
      throw new NotSerializableException(
          "the codec of "
              + c
              + " ("
              + c.codec().getClass().getName()
              + ") is not Serializable, so the connection cannot go to a child process");
    }
    FdChannel ch = Access.connections().channel(c);
    ch.acquire(); // ClosedChannelException for a closed end
    Inherited.Connection placeholder =
        new Inherited.Connection(channels.size(), ch.kind(), c.isReadable(), c.isWritable(), codec);
    channels.add(ch);
    replaced.put(c, placeholder);
    return placeholder;
  }

  /**
   * The descriptors to hand to the child, in placeholder order.
   *
   * @return the descriptors
   */
  int[] fds() {
    return channels.stream().mapToInt(FdChannel::fd).toArray();
  }

  /** Ends the use of every collected channel. */
  void releaseAll() {
    channels.forEach(FdChannel::release);
    channels.clear();
  }
}
