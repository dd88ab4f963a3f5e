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
import io.jpipe.internal.net.ReadyFlag;
import io.jpipe.internal.net.ShmUpgrade;
import io.jpipe.internal.net.Sockets;
import io.jpipe.internal.shm.ShmEnd;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

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
 * <h2>Serving model</h2>
 *
 * A listener takes connections as they come, on a virtual thread of its own (the acceptor), and
 * {@link #accept()} returns the next one that <em>completed</em> the handshake, in the order they
 * completed it. With a key, each connection's handshake (CPython's mutual HMAC challenge, {@code
 * {sha256}} as CPython 3.12+, and understood by 3.11 peers) runs on a virtual thread of its own
 * under the handshake timeout ({@link Builder#handshakeTimeout}, 10 s by default), so a silent or
 * slow client delays nobody else. Nothing is decoded before the handshake succeeds, and no message
 * before it may be longer than 256 bytes, as in CPython: a peer announcing more is cut off before
 * anything more is read. Without a key, connections are ready as soon as they are accepted. An
 * empty key authenticates with the empty key, as CPython 3.13 does; {@code null} means no
 * authentication.
 *
 * <p>At most {@link Builder#maxPendingHandshakes} handshakes ({@value
 * #DEFAULT_MAX_PENDING_HANDSHAKES} by default) run at once. When another connection arrives, the
 * <em>oldest</em> pending handshake is abandoned to make room: it has had the most time, and
 * closing the newest instead would let a thousand silent connections lock every honest client out.
 * A handshake that fails, times out or is abandoned never throws from {@link #accept()}: its
 * connection is closed, it is counted ({@link #rejectedCount()}) and reported to {@link
 * Builder#onRejected} with an {@link AuthenticationException} naming the cause. Once {@link
 * Builder#backlog} connections wait for {@code accept()} in the listener, the acceptor pauses and
 * new clients wait in the kernel's backlog; the handshakes already under way still complete and
 * join the queue, so at most {@code backlog + maxPendingHandshakes} connections wait in the
 * listener. (Pausing the handshakes too would let silent clients hold the acceptor.) If the process
 * runs out of descriptors the acceptor pauses for 100 ms and tries again.
 *
 * <h2>Trust</h2>
 *
 * <b>Without a key, anyone who can reach the address can send you objects.</b> A Unix socket is
 * private by its file's permissions (below), an abstract one to whoever shares the network
 * namespace; on TCP, though, every host that can route to the port could. So a TCP listener without
 * a key (or with an empty one, which everyone knows) is refused with an {@link
 * IllegalStateException} unless {@link Builder#allowUnauthenticated allowUnauthenticated(true)}
 * says that is intended. The rule does not look at the codec: a listener whose users only call
 * {@link Connection#recvBytes()} must say so all the same, since nothing stops another caller from
 * calling {@link Connection#recv()}.
 *
 * <p>Objects from a socket may come from a stranger, so the default codec of accepted connections
 * decodes only an allow-list ({@link io.jpipe.codec.JavaSerializationCodec#allowing(String...)}:
 * JDK value types, collections, arrays and records of those), within the decoding limits; add your
 * own classes with {@code codec(JavaSerializationCodec.allowing("com.example.**"))}. A {@link
 * io.jpipe.Pipe} or a child-process argument joins parts of one program and decodes any class.
 *
 * <h2>Safe defaults</h2>
 *
 * A listener without an address gets a Unix socket in a new private directory (mode 0700), as
 * CPython does; a socket file at a given path is made accessible to its owner only (before the
 * socket listens). A stale socket file at the path, one nobody listens on any more (a listener that
 * died without cleaning up), is replaced; a live one is a {@link java.net.BindException} (address
 * in use, as in CPython), and a file that is not a socket is never removed. Which one it is, is
 * learnt by connecting to it: a live listener sees a client that closes at once. The file (and the
 * private directory) is removed on {@link #close()}.
 *
 * <h2>Shared memory</h2>
 *
 * With {@link Builder#sharedMemory}, a connection from a jpipe {@link Client} that opted in too
 * ({@link Client.Builder#sharedMemory}) is switched to a shared-memory pipe once both sides are
 * authenticated: {@link #accept()} returns a {@link Connection} whose {@link
 * Connection#isSharedMemory()} is true, with every property of a {@link
 * io.jpipe.Pipe.Builder#sharedMemory shared-memory pipe}'s end. Each side says it wants it inside
 * its authentication challenge (a mark in the nonce that a CPython peer HMACs like any random
 * bytes); only when both challenges carry it does the listener pass the new pipe's descriptors over
 * the socket ({@code SCM_RIGHTS}). A CPython peer, or a jpipe peer that did not opt in, sees
 * CPython's wire, byte for byte. So the upgrade needs an authkey (the empty key will do on a Unix
 * socket, whose file permissions guard it) and a Unix socket: TCP connections never upgrade.
 */
public final class Listener implements AutoCloseable {
  static {
    Access.addPollable(o -> o instanceof Listener l ? l.readyFlag.channel() : null);
  }

  /** CPython's default backlog is 1; a busier default suits a server better. */
  public static final int DEFAULT_BACKLOG = 64;

  /** The default handshake timeout. */
  public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

  /**
   * The default number of handshakes that may be pending at once: each holds a descriptor and a
   * parked virtual thread (a few KiB), and an honest client's handshake takes a few milliseconds,
   * so 256 outlast a flood of silent connections without costing much.
   */
  public static final int DEFAULT_MAX_PENDING_HANDSHAKES = 256;

  /** How long the acceptor waits before trying again when descriptors run out. */
  private static final long SHORTAGE_PAUSE_NANOS = 100_000_000L;

  /** How long {@link #close()} waits for the listener's threads to end. */
  private static final Duration CLOSE_JOIN = Duration.ofSeconds(10);

  /**
   * A connection whose handshake failed, timed out or was abandoned (see {@link Listener}).
   *
   * @param peer the client's address, as {@link #lastAccepted()} would give it; empty if unknown
   * @param reason why: an {@link AuthenticationException} naming the cause (timeout, end of file,
   *     wrong digest, oversized message, abandoned because too many were pending...)
   */
  public record Rejection(Optional<Address> peer, IOException reason) {
    /**
     * Checks the components.
     *
     * @param peer the client's address, or empty
     * @param reason why it was rejected
     */
    public Rejection {
      Objects.requireNonNull(peer, "peer");
      Objects.requireNonNull(reason, "reason");
    }
  }

  /** A connection accepted and, with a key, authenticated; waiting for {@link #accept()}. */
  private record Ready(FdChannel channel, Address peer, ShmEnd shm) {
    Ready(FdChannel channel, Address peer) {
      this(channel, peer, null);
    }
  }

  /** A handshake in progress. */
  private static final class Pending {
    final FdChannel channel;
    final Address peer;
    final long deadline;

    Pending(FdChannel channel, Address peer, long deadline) {
      this.channel = channel;
      this.peer = peer;
      this.deadline = deadline;
    }
  }

  private final FdChannel channel;
  private final ReadyFlag readyFlag;
  private final Address address;
  private final byte[] authkey;
  private final String digest;
  private final Codec codec;
  private final long handshakeNanos;
  private final int maxPending;
  private final int readyLimit;
  private final Consumer<Rejection> onRejected;
  private final int shmLog2; // 0: no shared memory
  private final ThreadFactory handshakes = Thread.ofVirtual().name("jpipe-handshake-", 0).factory();
  private final Thread acceptor;
  private final Path socketFile;
  private final Object socketFileKey;
  private final Path privateDir;

  private final ReentrantLock lock = new ReentrantLock();

  /** Signalled when a connection becomes ready, accepting fails, or the listener closes. */
  private final Condition readyOrClosed = lock.newCondition();

  /** Signalled when {@code accept} makes room in {@link #ready}, or the listener closes. */
  private final Condition roomOrClosed = lock.newCondition();

  // Guarded by lock.
  private final ArrayDeque<Ready> ready = new ArrayDeque<>();
  private final LinkedHashSet<Pending> pending = new LinkedHashSet<>(); // oldest first
  private final Set<Thread> handshakeThreads = new HashSet<>(); // pending or not yet ended
  private IOException failure;

  private volatile boolean closed;
  private final AtomicLong rejected = new AtomicLong();
  private volatile Address lastAccepted;

  private Listener(
      Builder b, FdChannel channel, ReadyFlag readyFlag, Address address, Path privateDir)
      throws IOException {
    this.channel = channel;
    this.readyFlag = readyFlag;
    this.address = address;
    this.authkey = b.authkey == null ? null : b.authkey.clone();
    this.digest = b.digest;
    this.codec = b.codec;
    this.handshakeNanos = Durations.toNanos(b.handshakeTimeout);
    this.maxPending = b.maxPendingHandshakes;
    this.readyLimit = b.backlog;
    this.onRejected = b.onRejected;
    this.shmLog2 = !(address instanceof Address.Tcp) ? b.shmLog2 : 0;
    this.privateDir = privateDir;
    if (address instanceof Address.Unix u) {
      this.socketFile = u.path();
      this.socketFileKey = Files.readAttributes(socketFile, BasicFileAttributes.class).fileKey();
    } else {
      this.socketFile = null;
      this.socketFileKey = null;
    }
    this.acceptor =
        Thread.ofVirtual().name("jpipe-acceptor " + address).unstarted(this::acceptLoop);
  }

  /**
   * Listens on {@code address} without authentication (a Unix socket; see {@link
   * Builder#allowUnauthenticated} for TCP).
   *
   * @param address where to listen
   * @return the listener
   * @throws IOException if the address cannot be bound
   * @throws IllegalStateException if {@code address} is TCP (see {@link Listener}, "Trust")
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
   * @throws IllegalStateException if {@code address} is TCP and the key is null or empty (see
   *     {@link Listener}, "Trust")
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
    private Codec codec = JavaSerializationCodec.allowing();
    private Duration handshakeTimeout = DEFAULT_HANDSHAKE_TIMEOUT;
    private int maxPendingHandshakes = DEFAULT_MAX_PENDING_HANDSHAKES;
    private Consumer<Rejection> onRejected;
    private boolean allowUnauthenticated;
    private int shmLog2;

    private Builder() {}

    /**
     * Switches connections from jpipe clients that opt in too ({@link Client.Builder#sharedMemory})
     * to shared memory after the handshake (see {@link Listener}, "Shared memory"), with a ring of
     * {@code capacityBytes} per direction, or the client's if that is larger, rounded up to a power
     * of two between 4 KiB and 1 GiB. Other clients, CPython's among them, get the plain wire.
     * Needs an {@link #authkey} (empty allowed); ignored on TCP.
     *
     * @param capacityBytes bytes per ring, 1..1 GiB ({@code 1 << 20} is a good start)
     * @return this
     * @throws IllegalArgumentException if the capacity is out of range
     */
    public Builder sharedMemory(long capacityBytes) {
      this.shmLog2 = ShmUpgrade.log2(capacityBytes);
      return this;
    }

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
     * The listen backlog ({@value #DEFAULT_BACKLOG} by default); also how many accepted (and
     * authenticated) connections may wait in the listener for {@link Listener#accept()} before it
     * stops accepting (plus the handshakes that were under way then: see {@link Listener}).
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
     * The codec of accepted connections (by default Java serialization of an allow-list only,
     * {@link JavaSerializationCodec#allowing(String...)}).
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
     * How many handshakes may be pending at once ({@value #DEFAULT_MAX_PENDING_HANDSHAKES} by
     * default). When a connection arrives and that many are pending, the oldest is abandoned and
     * reported as rejected (see {@link Listener}).
     *
     * @param n at least 1
     * @return this
     * @throws IllegalArgumentException if {@code n < 1}
     */
    public Builder maxPendingHandshakes(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxPendingHandshakes < 1: " + n);
      }
      this.maxPendingHandshakes = n;
      return this;
    }

    /**
     * Called with each connection whose handshake failed, timed out or was abandoned, on that
     * handshake's thread, after its connection is closed; what it throws is ignored. Handshakes cut
     * short by {@link Listener#close()} are not reported. None by default.
     *
     * @param handler the handler
     * @return this
     */
    public Builder onRejected(Consumer<Rejection> handler) {
      this.onRejected = Objects.requireNonNull(handler, "handler");
      return this;
    }

    /**
     * Whether a TCP listener may run without a key (or with an empty one): false by default, when
     * {@link #open()} refuses it (see {@link Listener}, "Trust"). Unix sockets need no permission.
     *
     * @param allow true to let anyone who can reach the port connect and send objects
     * @return this
     */
    public Builder allowUnauthenticated(boolean allow) {
      this.allowUnauthenticated = allow;
      return this;
    }

    /**
     * Binds and listens.
     *
     * @return the listener
     * @throws IOException if the address cannot be bound ({@link java.net.BindException} when in
     *     use)
     * @throws IllegalStateException if the address is TCP, the key is null or empty and {@link
     *     #allowUnauthenticated allowUnauthenticated(true)} was not called
     */
    public Listener open() throws IOException {
      if (shmLog2 != 0 && authkey == null) {
        throw new IllegalStateException(
            "sharedMemory needs an authkey: the offer rides in the authentication handshake"
                + " (the empty key will do on a Unix socket)");
      }
      if (address instanceof Address.Tcp
          && (authkey == null || authkey.length == 0)
          && !allowUnauthenticated) {
        throw new IllegalStateException(
            "refusing to listen on "
                + address
                + (authkey == null ? " without an authkey" : " with an empty authkey")
                + ": anyone who can reach the port could send objects to decode. Give a key with"
                + " Listener.Builder.authkey(key), or call"
                + " Listener.Builder.allowUnauthenticated(true) if that is intended");
      }
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
      ReadyFlag flag = null;
      try {
        Address bound = where instanceof Address.Tcp ? Sockets.localAddress(fd) : where;
        flag = ReadyFlag.create();
        Listener listener = new Listener(this, ch, flag, bound, dir);
        listener.acceptor.start();
        return listener;
      } catch (IOException | RuntimeException | Error e) {
        Fds.closeQuietly(ch);
        if (flag != null) {
          flag.close();
        }
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
   * Waits for the next client that completed the handshake (any client, without a key) and returns
   * its connection. Failed handshakes do not throw here: see {@link Builder#onRejected}. Safe to
   * call from several threads; a virtual thread waiting here is parked, not pinned.
   *
   * @return the connection, authenticated both ways
   * @throws ClosedChannelException if the listener is closed
   * @throws java.nio.channels.AsynchronousCloseException if another thread closes the listener
   *     while this one waits
   * @throws java.nio.channels.ClosedByInterruptException if the thread is interrupted while it
   *     waits: the listener is then closed and the interrupt status stays set, as for an NIO
   *     channel
   * @throws IOException if accepting failed for good (not for one client: for the listening socket)
   */
  public Connection accept() throws IOException {
    Ready r;
    lock.lock();
    try {
      if (closed) {
        throw new ClosedChannelException();
      }
      while ((r = ready.poll()) == null) {
        if (closed) {
          throw new AsynchronousCloseException();
        }
        if (failure != null) {
          throw new IOException("accepting failed: " + failure.getMessage(), failure);
        }
        try {
          readyOrClosed.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      if (r != null) {
        if (ready.isEmpty()) {
          readyFlag.lower();
        }
        roomOrClosed.signal();
      }
    } finally {
      lock.unlock();
    }
    if (r == null) {
      close();
      throw new ClosedByInterruptException();
    }
    lastAccepted = r.peer();
    if (r.shm() != null) {
      return Access.connections().newShmConnection(r.shm(), true, true, codec);
    }
    return Access.connections().newConnection(r.channel(), true, true, codec);
  }

  /**
   * How many connections were rejected so far: failed, timed out or abandoned handshakes (each
   * reported to {@link Builder#onRejected}).
   *
   * @return the count
   */
  public long rejectedCount() {
    return rejected.get();
  }

  // ---------------------------------------------------------------- the acceptor

  private void acceptLoop() {
    try {
      for (; ; ) {
        lock.lock();
        try {
          while (!closed && ready.size() >= readyLimit) {
            roomOrClosed.awaitUninterruptibly();
          }
          if (closed) {
            return;
          }
        } finally {
          lock.unlock();
        }
        Sockets.Accepted a;
        try {
          channel.acquire();
          try {
            a = Sockets.accept(channel);
          } finally {
            channel.release();
          }
        } catch (IOException e) {
          if (closed) {
            return;
          }
          if (Sockets.isShortage(e)) {
            pauseAccepting();
            continue;
          }
          fail(e);
          return;
        }
        FdChannel ch = null;
        try {
          ch = new FdChannel(a.fd(), FdChannel.Kind.SOCKET);
          admit(ch, a.peer());
        } catch (RuntimeException | Error e) {
          // This connection's trouble (no memory, no thread for its handshake), not the
          // listening socket's: drop it, count it, and go on accepting after a pause.
          if (ch == null) {
            Fds.closeQuietly(a.fd());
          } else {
            Fds.closeQuietly(ch);
          }
          rejected.incrementAndGet();
          pauseAccepting();
        }
      }
    } catch (RuntimeException | Error e) {
      fail(new IOException("the listener's acceptor failed: " + e, e));
      throw e;
    }
  }

  /** Waits a moment (or until closed) before accepting again: descriptors ran out. */
  private void pauseAccepting() {
    lock.lock();
    try {
      long left = SHORTAGE_PAUSE_NANOS;
      while (!closed && left > 0) {
        left = roomOrClosed.awaitNanos(left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // nobody interrupts the acceptor; keep it if they do
    } finally {
      lock.unlock();
    }
  }

  /**
   * Records that accepting failed for good: {@code accept} throws it once the queue is empty, and
   * {@code waitAny} sees the listener ready (so that it learns it at once). The listening socket is
   * closed, so that new clients are refused rather than left waiting in the kernel's backlog.
   */
  private void fail(IOException e) {
    lock.lock();
    try {
      if (failure == null) {
        failure = e;
      }
      if (ready.isEmpty()) {
        readyFlag.raise();
      }
      readyOrClosed.signalAll();
    } finally {
      lock.unlock();
    }
    Fds.closeQuietly(channel);
  }

  /** Queues a new connection, or starts its handshake (abandoning the oldest if need be). */
  private void admit(FdChannel ch, Address peer) {
    Pending abandoned = null;
    lock.lock();
    try {
      if (closed) {
        Fds.closeQuietly(ch);
        return;
      }
      if (authkey == null) {
        enqueue(new Ready(ch, peer));
        return;
      }
      if (pending.size() >= maxPending) {
        abandoned = pending.removeFirst();
      }
      Pending p = new Pending(ch, peer, FdChannel.deadlineAfter(handshakeNanos));
      Thread t = handshakes.newThread(() -> handshake(p));
      t.start(); // first: if it cannot start, nothing is left pending (it waits for the lock)
      pending.add(p);
      handshakeThreads.add(t);
    } finally {
      lock.unlock();
    }
    if (abandoned != null) {
      Fds.closeQuietly(abandoned.channel); // wakes its thread, which reports it
    }
  }

  /** Under the lock: adds a ready connection and raises the flag pollers see. */
  private void enqueue(Ready r) {
    if (ready.isEmpty()) {
      readyFlag.raise();
    }
    ready.add(r);
    readyOrClosed.signal();
  }

  /** One handshake, on its own virtual thread. */
  private void handshake(Pending p) {
    try {
      authenticate(p);
    } finally {
      lock.lock();
      try {
        handshakeThreads.remove(Thread.currentThread());
      } finally {
        lock.unlock();
      }
    }
  }

  private void authenticate(Pending p) {
    IOException reason = null;
    ShmEnd shm = null;
    try {
      int clientLog2 = Handshake.serve(p.channel, authkey, digest, p.deadline, shmLog2);
      if (shmLog2 != 0 && clientLog2 != 0) {
        shm = upgrade(p.channel, Math.max(shmLog2, clientLog2));
      }
    } catch (AuthenticationException e) {
      reason = e;
    } catch (java.nio.channels.ClosedChannelException e) { // abandoned (or the listener closed)
      reason = new AuthenticationException("the handshake's connection was closed", e);
    } catch (RuntimeException | Error e) { // a bug or no memory: still this connection's end
      reason = new AuthenticationException("authentication handshake failed: " + e, e);
    }
    lock.lock();
    try {
      if (closed) {
        if (shm != null) {
          shm.close();
        }
        return; // close() closes the channel; not a rejection
      }
      if (!pending.remove(p)) {
        reason =
            new AuthenticationException(
                "handshake abandoned: "
                    + maxPending
                    + " were pending (maxPendingHandshakes) and this one was the oldest");
      } else if (reason == null) {
        if (shm != null) {
          Fds.closeQuietly(p.channel); // the pipe's socketpair carries the connection from now on
          enqueue(new Ready(shm.channel(), p.peer, shm));
        } else {
          enqueue(new Ready(p.channel, p.peer));
        }
        return;
      }
    } finally {
      lock.unlock();
    }
    if (shm != null) {
      shm.close();
    }
    Fds.closeQuietly(p.channel);
    Jfr.handshakeFailed("Listener", p.peer, reason); // before the count, which callers wait on
    rejected.incrementAndGet();
    if (onRejected != null) {
      try {
        onRejected.accept(new Rejection(Optional.ofNullable(p.peer), reason));
      } catch (RuntimeException e) {
        // the handler's business; the listener goes on
      }
    }
  }

  /** Offers shared memory to a client that asked for it; null if it stays on the wire. */
  private static ShmEnd upgrade(FdChannel ch, int log2)
      throws AuthenticationException, ClosedChannelException {
    try {
      ch.acquire();
      try {
        return ShmUpgrade.offer(ch, log2);
      } finally {
        ch.release();
      }
    } catch (ClosedChannelException e) {
      throw e;
    } catch (IOException e) {
      throw new AuthenticationException("shared-memory upgrade failed: " + e.getMessage(), e);
    }
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
   * The address of the client whose connection {@link #accept()} last returned: for TCP its host
   * and port, for Unix the path it is bound to (empty for a client that did not bind, where CPython
   * says {@code ''}).
   *
   * @return the address, or empty before the first accept
   */
  public Optional<Address> lastAccepted() {
    return Optional.ofNullable(lastAccepted);
  }

  /**
   * The listening socket's descriptor, as CPython's {@code fileno()}. The listener accepts from it
   * on its own thread, so to wait for a client, wait on the listener itself with {@link
   * io.jpipe.Connections#waitAny}: it is ready when {@link #accept()} would return at once.
   *
   * @return the descriptor
   * @throws ClosedChannelException if closed
   */
  public int fileno() throws ClosedChannelException {
    if (closed) {
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
    return closed;
  }

  /**
   * Stops listening (idempotent): closes the listening socket, every pending handshake and every
   * connection not yet accepted, wakes threads waiting in {@link #accept()}, removes the socket
   * file and private directory this listener created, and waits for the listener's own threads to
   * end (a rejection handler running at that moment included, for at most 10 s). Connections
   * already accepted stay open.
   */
  @Override
  public void close() {
    List<Pending> cut;
    List<Ready> unaccepted;
    List<Thread> threads = new ArrayList<>();
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      cut = new ArrayList<>(pending);
      pending.clear();
      unaccepted = new ArrayList<>(ready);
      ready.clear();
      threads.add(acceptor);
      threads.addAll(handshakeThreads);
      readyOrClosed.signalAll();
      roomOrClosed.signalAll();
    } finally {
      lock.unlock();
    }
    Fds.closeQuietly(channel); // wakes the acceptor
    for (Pending p : cut) {
      Fds.closeQuietly(p.channel); // wakes its handshake
    }
    for (Ready r : unaccepted) {
      if (r.shm() != null) {
        r.shm().close();
      } else {
        Fds.closeQuietly(r.channel());
      }
    }
    readyFlag.close();
    removeSocketFile();
    joinAll(threads);
  }

  private void removeSocketFile() {
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

  /**
   * Waits for threads woken by close to end (they do at once), keeping an interrupt for later;
   * gives up after {@link #CLOSE_JOIN}. The calling thread is skipped: a rejection handler may
   * close the listener.
   */
  private static void joinAll(List<Thread> threads) {
    boolean interrupted = false;
    long deadline = System.nanoTime() + CLOSE_JOIN.toNanos();
    for (Thread t : threads) {
      while (t != Thread.currentThread() && t.isAlive()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          t.join(Duration.ofNanos(left));
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "Listener["
        + address
        + (authkey != null ? ", authenticated" : "")
        + (closed ? ", closed]" : "]");
  }
}
