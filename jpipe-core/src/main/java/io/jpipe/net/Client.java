package io.jpipe.net;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.codec.JavaSerializationCodec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.jfr.Jfr;
import io.jpipe.internal.net.Handshake;
import io.jpipe.internal.net.ShmUpgrade;
import io.jpipe.internal.net.Sockets;
import io.jpipe.internal.shm.ShmEnd;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;

/**
 * Connects to a {@link Listener}, jpipe's or CPython's (CPython's {@code
 * multiprocessing.connection.Client}).
 *
 * <pre>{@code
 * try (Connection conn = Client.connect(Address.parse("unix:/run/app.sock"), key)) {
 *   conn.sendBytes(request);
 *   byte[] reply = conn.recvBytes();
 * }
 * }</pre>
 *
 * <p>With a key, the client answers the listener's challenge and then challenges it (mutual
 * authentication, as CPython). A key of {@code null} means no authentication, an empty key
 * authenticates with the empty key.
 *
 * <p>As for a {@link Listener} (see its "Trust"), a TCP connection without a key (or with an empty
 * one) is refused with an {@link IllegalStateException} unless {@link Builder#allowUnauthenticated
 * allowUnauthenticated(true)} says that is intended: whatever answers at that address could send
 * objects to decode. Unix sockets need no permission.
 *
 * <p>With {@link Builder#sharedMemory}, a connection to a jpipe {@link Listener} that opted in too
 * is switched to shared memory once both sides are authenticated (see {@link Listener}, "Shared
 * memory"); with a CPython listener, or one that did not opt in, it stays on CPython's wire.
 */
public final class Client {
  private Client() {}

  /**
   * Connects without authentication (to a Unix socket; see {@link Builder#allowUnauthenticated} for
   * TCP).
   *
   * @param address where to connect
   * @return the connection
   * @throws IOException if the connection fails
   * @throws IllegalStateException if {@code address} is TCP
   */
  public static Connection connect(Address address) throws IOException {
    return builder(address).connect();
  }

  /**
   * Connects and authenticates.
   *
   * @param address where to connect
   * @param authkey the shared key (empty allowed), or null for no authentication
   * @return the connection, authenticated both ways
   * @throws AuthenticationException if the handshake fails
   * @throws IOException if the connection fails ({@link java.net.ConnectException} when nobody
   *     listens)
   * @throws IllegalStateException if {@code address} is TCP and the key is null or empty
   */
  public static Connection connect(Address address, byte[] authkey) throws IOException {
    return builder(address).authkey(authkey).connect();
  }

  /**
   * A builder for the other options.
   *
   * @param address where to connect
   * @return a builder with the defaults
   */
  public static Builder builder(Address address) {
    return new Builder(address);
  }

  /** Options of a connection. */
  public static final class Builder {
    private final Address address;
    private byte[] authkey;
    private String digest = "sha256";
    private Codec codec = JavaSerializationCodec.allowing();
    private Duration connectTimeout;
    private Duration handshakeTimeout = Listener.DEFAULT_HANDSHAKE_TIMEOUT;
    private boolean allowUnauthenticated;
    private int shmLog2;

    private Builder(Address address) {
      this.address = Objects.requireNonNull(address, "address");
    }

    /**
     * Asks a jpipe listener that opted in too ({@link Listener.Builder#sharedMemory}) to switch the
     * connection to shared memory after the handshake, with a ring of at least {@code
     * capacityBytes} per direction (the larger of the two sides' sizes, rounded up to a power of
     * two between 4 KiB and 1 GiB). A CPython listener, or one that did not opt in, never sees the
     * request and the connection stays on the wire ({@link Connection#isSharedMemory()} says
     * which). Needs an {@link #authkey} (empty allowed); ignored on TCP.
     *
     * @param capacityBytes bytes per ring, 1..1 GiB
     * @return this
     * @throws IllegalArgumentException if the capacity is out of range
     */
    public Builder sharedMemory(long capacityBytes) {
      this.shmLog2 = ShmUpgrade.log2(capacityBytes);
      return this;
    }

    /**
     * The shared key: null (default) for none, empty to authenticate with the empty key.
     *
     * @param authkey the key, copied
     * @return this
     */
    public Builder authkey(byte[] authkey) {
      this.authkey = authkey == null ? null : authkey.clone();
      return this;
    }

    /**
     * The digest proposed in our challenge ({@code sha256} by default).
     *
     * @param digest one of {@code md5, sha256, sha384, sha3_256, sha3_384}
     * @return this
     */
    public Builder digest(String digest) {
      if (!Handshake.isAllowedDigest(digest)) {
        throw new IllegalArgumentException("unsupported digest: " + digest);
      }
      this.digest = digest;
      return this;
    }

    /**
     * The codec of the connection (by default Java serialization of an allow-list only, {@link
     * JavaSerializationCodec#allowing(String...)}, as for a {@link Listener}).
     *
     * @param codec the codec
     * @return this
     */
    public Builder codec(Codec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * How long connecting may take (no limit by default, as CPython).
     *
     * @param timeout the limit
     * @return this
     * @throws IllegalArgumentException if the timeout is not positive
     */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = positive(timeout);
      return this;
    }

    /**
     * How long the authentication handshake may take (10 s by default).
     *
     * @param timeout the limit
     * @return this
     * @throws IllegalArgumentException if the timeout is not positive
     */
    public Builder handshakeTimeout(Duration timeout) {
      this.handshakeTimeout = positive(timeout);
      return this;
    }

    /**
     * Whether a TCP connection may go without a key (or with an empty one): false by default, when
     * {@link #connect()} refuses it. Unix sockets need no permission.
     *
     * @param allow true to talk to whatever answers at the address without authenticating it
     * @return this
     */
    public Builder allowUnauthenticated(boolean allow) {
      this.allowUnauthenticated = allow;
      return this;
    }

    private static ShmEnd upgrade(FdChannel ch, long deadline) throws IOException {
      ch.acquire();
      try {
        return ShmUpgrade.take(ch, deadline);
      } catch (java.nio.channels.ClosedChannelException e) {
        throw e;
      } catch (IOException e) {
        throw new AuthenticationException("shared-memory upgrade failed: " + e.getMessage(), e);
      } finally {
        ch.release();
      }
    }

    private static Duration positive(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive: " + timeout);
      }
      return timeout;
    }

    /**
     * Connects (and authenticates, with a key).
     *
     * @return the connection
     * @throws IOException as {@link Client#connect(Address, byte[])}
     * @throws IllegalStateException if the address is TCP, the key is null or empty and {@link
     *     #allowUnauthenticated allowUnauthenticated(true)} was not called
     */
    public Connection connect() throws IOException {
      if (shmLog2 != 0 && authkey == null) {
        throw new IllegalStateException(
            "sharedMemory needs an authkey: the request rides in the authentication handshake"
                + " (the empty key will do on a Unix socket)");
      }
      if (address instanceof Address.Tcp
          && (authkey == null || authkey.length == 0)
          && !allowUnauthenticated) {
        throw new IllegalStateException(
            "refusing to connect to "
                + address
                + (authkey == null ? " without an authkey" : " with an empty authkey")
                + ": whatever answers there could send objects to decode. Give a key with"
                + " Client.Builder.authkey(key), or call"
                + " Client.Builder.allowUnauthenticated(true) if that is intended");
      }
      long connectNanos =
          connectTimeout == null ? Long.MAX_VALUE : Durations.toNanos(connectTimeout);
      FdChannel ch = Sockets.connect(address, connectNanos);
      boolean connected = false;
      // Whatever goes wrong (a bug, no memory), the socket is closed now, not by a Cleaner later.
      try {
        Connection c = null;
        if (authkey != null) {
          long deadline = FdChannel.deadlineAfter(Durations.toNanos(handshakeTimeout));
          int mine = !(address instanceof Address.Tcp) ? shmLog2 : 0;
          int theirs = Handshake.connect(ch, authkey, digest, deadline, mine);
          if (mine != 0 && theirs != 0) {
            ShmEnd end = upgrade(ch, deadline);
            if (end != null) {
              c = Access.connections().newShmConnection(end, true, true, codec);
              Fds.closeQuietly(ch); // the pipe's socketpair carries the connection from now on
            }
          }
        }
        if (c == null) {
          c = Access.connections().newConnection(ch, true, true, codec);
        }
        connected = true;
        return c;
      } catch (AuthenticationException e) {
        Jfr.handshakeFailed("Client", address, e);
        throw e;
      } finally {
        if (!connected) {
          Fds.closeQuietly(ch);
        }
      }
    }
  }
}
