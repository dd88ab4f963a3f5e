package io.jpipe.net;

import io.jpipe.Connection;
import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.net.Handshake;
import io.jpipe.internal.net.Sockets;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Objects;
import java.util.Optional;

/**
 * Accepts connections on a Unix or TCP socket (CPython's {@code
 * multiprocessing.connection.Listener}); the peer may be a jpipe {@link Client} or CPython's {@code
 * Client}, and both sides speak CPython's framing and authentication byte for byte.
 *
 * <pre>{@code
 * byte[] key = "secret".getBytes(UTF_8);
 * try (Listener listener = Listener.open(Address.parse("tcp:localhost:6000"), key)) {
 *   try (Connection conn = listener.accept()) {   // authenticated both ways
 *     conn.send("hello");
 *   }
 * }
 * }</pre>
 *
 * <h2>Authentication</h2>
 *
 * With a key, {@link #accept()} runs CPython's mutual challenge (HMAC, {@code {sha256}} as CPython
 * 3.12+, and understood by 3.11 peers) before returning the connection; nothing is decoded before
 * it succeeds. An empty key authenticates with the empty key, as CPython 3.13 does; {@code null}
 * means no authentication. Unlike CPython the handshake has a timeout ({@link
 * Builder#handshakeTimeout}, 10 s by default), so a peer that connects and says nothing cannot
 * stall the listener forever. A failed handshake closes that connection and throws {@link
 * AuthenticationException}; the listener goes on serving.
 *
 * <h2>Safe defaults</h2>
 *
 * A listener without an address gets a Unix socket in a new private directory (mode 0700), as
 * CPython does; a socket file at a given path is made accessible to its owner only (before the
 * socket listens). The file (and the private directory) is removed on {@link #close()}. An address
 * in use is a {@link java.net.BindException}, as in CPython.
 *
 * <p><b>Without a key, anyone who can reach the address can send you objects</b>: on TCP that is
 * every host that can route to the port. The default codec, Java serialization, limits sizes but
 * allows any class (as pickle does), so {@link Connection#recv()} would deserialize a stranger's
 * object graph, and any deserialization gadget on your class path is within reach. Use a key for
 * anything but a private Unix socket; for peers you do not trust, receive with {@link
 * Connection#recvBytes()} or use a codec with an allow-list ({@link
 * io.jpipe.codec.JavaSerializationCodec#withFilter}).
 */
public final class Listener implements AutoCloseable {
  static {
    Access.addPollable(o -> o instanceof Listener l ? l.channel : null);
  }

  /** CPython's default backlog is 1; a busier default suits a server better. */
  public static final int DEFAULT_BACKLOG = 64;

  /** The default handshake timeout. */
  public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

  private final FdChannel channel;
  private final Address address;
  private final byte[] authkey;
  private final String digest;
  private final Codec codec;
  private final Duration handshakeTimeout;
  private final Path socketFile;
  private final Object socketFileKey;
  private final Path privateDir;
  private volatile Address lastAccepted;

  private Listener(Builder b, FdChannel channel, Address address, Path privateDir)
      throws IOException {
    this.channel = channel;
    this.address = address;
    this.authkey = b.authkey == null ? null : b.authkey.clone();
    this.digest = b.digest;
    this.codec = b.codec;
    this.handshakeTimeout = b.handshakeTimeout;
    this.privateDir = privateDir;
    if (address instanceof Address.Unix u) {
      this.socketFile = u.path();
      this.socketFileKey = Files.readAttributes(socketFile, BasicFileAttributes.class).fileKey();
    } else {
      this.socketFile = null;
      this.socketFileKey = null;
    }
  }

  /**
   * Listens on {@code address} without authentication.
   *
   * @param address where to listen
   * @return the listener
   * @throws IOException if the address cannot be bound
   */
  public static Listener open(Address address) throws IOException {
    return builder().address(address).open();
  }

  /**
   * Listens on {@code address}; clients must know {@code authkey}.
   *
   * @param address where to listen
   * @param authkey the shared key (empty allowed), or null for no authentication
   * @return the listener
   * @throws IOException if the address cannot be bound
   */
  public static Listener open(Address address, byte[] authkey) throws IOException {
    return builder().address(address).authkey(authkey).open();
  }

  /**
   * Listens on a new private Unix socket, without authentication.
   *
   * @return the listener; {@link #address()} says where
   * @throws IOException if the socket cannot be created
   */
  public static Listener open() throws IOException {
    return builder().open();
  }

  /**
   * A builder for the other options.
   *
   * @return a builder with the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Options of a {@link Listener}. */
  public static final class Builder {
    private Address address;
    private byte[] authkey;
    private int backlog = DEFAULT_BACKLOG;
    private String digest = "sha256";
    private Codec codec = Codec.javaSerialization();
    private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;

    private Builder() {}

    /**
     * Where to listen; without one, a private Unix socket is made.
     *
     * @param address the address
     * @return this
     */
    public Builder address(Address address) {
      this.address = Objects.requireNonNull(address, "address");
      return this;
    }

    /**
     * The shared authentication key: null (the default) for none, empty to authenticate with the
     * empty key.
     *
     * @param authkey the key, copied
     * @return this
     */
    public Builder authkey(byte[] authkey) {
      this.authkey = authkey == null ? null : authkey.clone();
      return this;
    }

    /**
     * The listen backlog ({@value #DEFAULT_BACKLOG} by default).
     *
     * @param backlog at least 1
     * @return this
     */
    public Builder backlog(int backlog) {
      if (backlog < 1) {
        throw new IllegalArgumentException("backlog < 1: " + backlog);
      }
      this.backlog = backlog;
      return this;
    }

    /**
     * The digest proposed in our challenges: {@code sha256} (default, as CPython), {@code md5},
     * {@code sha384}, {@code sha3_256} or {@code sha3_384}. Peers may answer with any of them.
     *
     * @param digest the digest name
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
     * The codec of accepted connections (Java serialization by default).
     *
     * @param codec the codec
     * @return this
     */
    public Builder codec(Codec codec) {
      this.codec = Objects.requireNonNull(codec, "codec");
      return this;
    }

    /**
     * How long the authentication handshake of one client may take (10 s by default).
     *
     * @param timeout the limit
     * @return this
     */
    public Builder handshakeTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("handshake timeout must be positive: " + timeout);
      }
      this.handshakeTimeout = timeout;
      return this;
    }

    /**
     * Binds and listens.
     *
     * @return the listener
     * @throws IOException if the address cannot be bound ({@link java.net.BindException} when in
     *     use)
     */
    public Listener open() throws IOException {
      Path dir = null;
      Address where = address;
      if (where == null) {
        dir =
            Files.createTempDirectory(
                "jpipe-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        where = Address.unix(dir.resolve("listener-" + randomName()));
      }
      int fd;
      try {
        fd = Sockets.listen(where, backlog);
      } catch (IOException | RuntimeException e) {
        if (dir != null) {
          Files.deleteIfExists(dir);
        }
        throw e;
      }
      FdChannel ch = new FdChannel(fd, FdChannel.Kind.OTHER);
      try {
        Address bound = where instanceof Address.Tcp ? Sockets.localAddress(fd) : where;
        return new Listener(this, ch, bound, dir);
      } catch (IOException | RuntimeException e) {
        Fds.closeQuietly(ch);
        if (where instanceof Address.Unix u) {
          Files.deleteIfExists(u.path());
        }
        if (dir != null) {
          Files.deleteIfExists(dir);
        }
        throw e;
      }
    }
  }

  private static String randomName() {
    byte[] b = new byte[6];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  /**
   * Waits for a client, authenticates it if this listener has a key, and returns the connection.
   * Another thread's {@link #close()} wakes a waiting {@code accept} with {@link
   * java.nio.channels.AsynchronousCloseException}.
   *
   * @return the connection, authenticated both ways
   * @throws ClosedChannelException if the listener is closed
   * @throws AuthenticationException if the client fails the handshake (that connection is closed;
   *     the listener goes on)
   * @throws IOException if accepting fails
   */
  public Connection accept() throws IOException {
    if (isClosed()) {
      throw new ClosedChannelException();
    }
    Sockets.Accepted accepted;
    channel.acquire();
    try {
      accepted = Sockets.accept(channel);
    } finally {
      channel.release();
    }
    lastAccepted = accepted.peer();
    FdChannel ch = new FdChannel(accepted.fd(), FdChannel.Kind.SOCKET);
    if (authkey != null) {
      try {
        Handshake.serve(
            ch, authkey, digest, FdChannel.deadlineAfter(Durations.toNanos(handshakeTimeout)));
      } catch (AuthenticationException e) {
        Fds.closeQuietly(ch);
        throw e;
      }
    }
    return Access.connections().newConnection(ch, true, true, codec);
  }

  /**
   * The address this listener is bound to (for TCP with port 0, the port chosen).
   *
   * @return the address
   */
  public Address address() {
    return address;
  }

  /**
   * The address of the last client accepted: for TCP its host and port, for Unix the path it is
   * bound to (empty for a client that did not bind, where CPython says {@code ''}).
   *
   * @return the address, or empty before the first accept
   */
  public Optional<Address> lastAccepted() {
    return Optional.ofNullable(lastAccepted);
  }

  /**
   * The listening socket's descriptor, for {@code poll} or {@link io.jpipe.Connections#waitAny}
   * (readable when a client is waiting).
   *
   * @return the descriptor
   * @throws ClosedChannelException if closed
   */
  public int fileno() throws ClosedChannelException {
    if (isClosed()) {
      throw new ClosedChannelException();
    }
    return channel.fd();
  }

  /**
   * Whether closed.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return !channel.isOpen() || channel.isClosed();
  }

  /**
   * Stops listening (idempotent) and removes the socket file and private directory this listener
   * created. Connections already accepted stay open.
   */
  @Override
  public void close() {
    if (isClosed()) {
      return;
    }
    Fds.closeQuietly(channel);
    try {
      if (socketFile != null
          && Files.exists(socketFile)
          && Objects.equals(
              socketFileKey,
              Files.readAttributes(socketFile, BasicFileAttributes.class).fileKey())) {
        Files.delete(socketFile);
      }
      if (privateDir != null) {
        Files.deleteIfExists(privateDir);
      }
    } catch (IOException e) {
      // someone else removed or replaced it: nothing of ours to clean up
    }
  }

  @Override
  public String toString() {
    return "Listener["
        + address
        + (authkey != null ? ", authenticated" : "")
        + (isClosed() ? ", closed]" : "]");
  }
}
