package io.jpipe.internal;

import io.jpipe.Connection;
import io.jpipe.ProcessLock;
import io.jpipe.codec.Codec;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.shm.ShmEnd;
import io.jpipe.internal.sync.SharedMutex;

/**
 * Lets jpipe's own packages reach what the public classes keep package-private (the JDK's
 * SharedSecrets pattern). The public class installs its accessor in its static initializer.
 */
public final class Access {
  private Access() {}

  /** What internal code may do with a {@link Connection}. */
  public interface ConnectionAccess {
    /**
     * Wraps an open channel as a connection end.
     *
     * @param channel the channel, owned by the connection from now on
     * @param readable whether the end receives
     * @param writable whether the end sends
     * @param codec the codec for send/recv
     * @return the connection
     */
    Connection newConnection(FdChannel channel, boolean readable, boolean writable, Codec codec);

    /**
     * The channel under a connection.
     *
     * @param connection the connection
     * @return its channel
     */
    FdChannel channel(Connection connection);

    /**
     * Wraps a shared-memory transport as a connection end.
     *
     * @param end the transport, owned by the connection from now on
     * @param readable whether the end receives
     * @param writable whether the end sends
     * @param codec the codec for send/recv
     * @return the connection
     */
    Connection newShmConnection(ShmEnd end, boolean readable, boolean writable, Codec codec);

    /**
     * The shared-memory transport under a connection.
     *
     * @param connection the connection
     * @return its transport, or null for a kernel-path end
     */
    ShmEnd shm(Connection connection);
  }

  /** What internal code may do with a {@link ProcessLock}. */
  public interface LockAccess {
    /**
     * The mutex under a lock.
     *
     * @param lock the lock
     * @return its mutex
     */
    SharedMutex mutex(ProcessLock lock);

    /**
     * Wraps a mutex as a lock.
     *
     * @param mutex the mutex, owned by the lock from now on
     * @return the lock
     */
    ProcessLock wrap(SharedMutex mutex);
  }

  private static volatile ConnectionAccess connections;
  private static volatile LockAccess locks;

  /**
   * Called once by {@link Connection}.
   *
   * @param access the accessor
   */
  public static void setConnectionAccess(ConnectionAccess access) {
    connections = access;
  }

  /**
   * The accessor for connections.
   *
   * @return the accessor installed by {@link Connection}
   */
  public static ConnectionAccess connections() {
    ConnectionAccess a = connections;
    if (a == null) {
      ensureInitialized(Connection.class);
      a = connections;
    }
    return a;
  }

  /**
   * Called once by {@link ProcessLock}.
   *
   * @param access the accessor
   */
  public static void setLockAccess(LockAccess access) {
    locks = access;
  }

  /**
   * The accessor for locks.
   *
   * @return the accessor installed by {@link ProcessLock}
   */
  public static LockAccess locks() {
    LockAccess a = locks;
    if (a == null) {
      ensureInitialized(ProcessLock.class);
      a = locks;
    }
    return a;
  }

  private static final java.util.List<java.util.function.Function<Object, FdChannel>> POLLABLES =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /**
   * Registers a kind of object that {@code Connections.waitAny} can wait on (a listener).
   *
   * @param resolver the object's channel, or null if it is not of that kind
   */
  public static void addPollable(java.util.function.Function<Object, FdChannel> resolver) {
    POLLABLES.add(resolver);
  }

  /**
   * The channel to poll for an object of a registered kind.
   *
   * @param o the object
   * @return its channel, or null if no registered kind matches
   */
  public static FdChannel pollChannel(Object o) {
    for (java.util.function.Function<Object, FdChannel> r : POLLABLES) {
      FdChannel ch = r.apply(o);
      if (ch != null) {
        return ch;
      }
    }
    return null;
  }

  private static void ensureInitialized(Class<?> c) {
    try {
      Class.forName(c.getName(), true, c.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
  }
}
