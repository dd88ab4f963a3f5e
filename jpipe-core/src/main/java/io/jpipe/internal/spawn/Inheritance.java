package io.jpipe.internal.spawn;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.shm.ShmEnd;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parent's side of handing connections and locks to a child: each distinct one gets the next
 * index, and its descriptor is what the child inherits at that index (CPython's spawning pickler
 * does the same with {@code DupFd}). Each channel is {@linkplain FdChannel#acquire() acquired}, so
 * it cannot be closed before the child has its copy; {@link #releaseAll} ends that.
 */
final class Inheritance {
  private final Map<Object, Integer> indexes = new IdentityHashMap<>();
  private final List<FdChannel> channels = new ArrayList<>();

  /** The index of a connection end, adding it on first sight. */
  int indexOf(Connection c) throws IOException {
    Integer known = indexes.get(c);
    if (known != null) {
      return known;
    }
    if (!(c.codec() instanceof Serializable)) {
      throw new NotSerializableException(
          "the codec of "
              + c
              + " ("
              + c.codec().getClass().getName()
              + ") is not Serializable, so the connection cannot go to a child process");
    }
    return add(c, Access.connections().channel(c));
  }

  /** The index of a shared-memory end's segment, adding it on first sight. */
  int indexOfSegment(ShmEnd end) throws IOException {
    Integer known = indexes.get(end);
    return known != null ? known : add(end, end.memfd());
  }

  /** The index of a lock, adding it on first sight. */
  int indexOf(ProcessLock l) throws IOException {
    Integer known = indexes.get(l);
    return known != null ? known : add(l, Access.locks().mutex(l).channel());
  }

  private int add(Object o, FdChannel ch) throws IOException {
    ch.acquire(); // ClosedChannelException for a closed end
    int i = channels.size();
    channels.add(ch);
    indexes.put(o, i);
    return i;
  }

  /** The descriptors to hand to the child, by index. */
  int[] fds() {
    return channels.stream().mapToInt(FdChannel::fd).toArray();
  }

  /** Ends the use of every channel. */
  void releaseAll() {
    channels.forEach(FdChannel::release);
    channels.clear();
    indexes.clear();
  }
}
