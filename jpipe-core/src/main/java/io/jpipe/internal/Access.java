package io.jpipe.internal;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.io.FdChannel;

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
  }

  private static volatile ConnectionAccess connections;

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

  private static void ensureInitialized(Class<?> c) {
    try {
      Class.forName(c.getName(), true, c.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
  }
}
