package io.jpipe.internal.net;

import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.ErrnoException;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import io.jpipe.net.Address;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.ConnectException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Objects;

/**
 * Stream sockets through libc: the {@code sockaddr} encodings of {@link Address}, and listening,
 * accepting and connecting. Every socket is close-on-exec; accepted and connected sockets are
 * blocking (as CPython's), a listening socket is non-blocking so that accepting can be woken.
 */
public final class Sockets {
  private Sockets() {}

  private static final ValueLayout.OfShort PORT =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

  /** A resolved socket address in native memory. */
  private record Sockaddr(int family, MemorySegment addr, int length) {}

  private static Sockaddr unix(Arena arena, Address address) {
    MemorySegment sa = arena.allocate(Linux.SOCKADDR_UN_SIZE, 8);
    sa.set(ValueLayout.JAVA_SHORT, 0, (short) Linux.AF_UNIX);
    byte[] path;
    int length;
    if (address instanceof Address.AbstractUnix a) {
      path = a.name().getBytes(StandardCharsets.UTF_8);
      MemorySegment.copy(path, 0, sa, ValueLayout.JAVA_BYTE, 3, path.length); // sun_path[0] = 0
      length = 2 + 1 + path.length;
    } else {
      path = ((Address.Unix) address).path().toString().getBytes(StandardCharsets.UTF_8);
      MemorySegment.copy(path, 0, sa, ValueLayout.JAVA_BYTE, 2, path.length);
      length = 2 + path.length + 1;
    }
    return new Sockaddr(Linux.AF_UNIX, sa, length);
  }

  private static Sockaddr inet(Arena arena, InetAddress ip, int port) {
    MemorySegment sa = arena.allocate(Linux.SOCKADDR_IN6_SIZE, 8);
    byte[] raw = ip.getAddress();
    if (ip instanceof Inet6Address v6) {
      sa.set(ValueLayout.JAVA_SHORT, 0, (short) Linux.AF_INET6);
      sa.set(PORT, 2, (short) port);
      MemorySegment.copy(raw, 0, sa, ValueLayout.JAVA_BYTE, 8, 16);
      sa.set(ValueLayout.JAVA_INT, 24, v6.getScopeId());
      return new Sockaddr(Linux.AF_INET6, sa, Linux.SOCKADDR_IN6_SIZE);
    }
    sa.set(ValueLayout.JAVA_SHORT, 0, (short) Linux.AF_INET);
    sa.set(PORT, 2, (short) port);
    MemorySegment.copy(raw, 0, sa, ValueLayout.JAVA_BYTE, 4, 4);
    return new Sockaddr(Linux.AF_INET, sa, Linux.SOCKADDR_IN_SIZE);
  }

  /**
   * Decodes a {@code sockaddr} the kernel filled in.
   *
   * @param sa the buffer
   * @param length its used length
   * @return the address
   * @throws IOException for a family jpipe does not use
   */
  static Address decode(MemorySegment sa, int length) throws IOException {
    int family = length < 2 ? Linux.AF_UNIX : sa.get(ValueLayout.JAVA_SHORT, 0);
    switch (family) {
      case Linux.AF_UNIX -> {
        if (length <= 2) {
          return Address.unix(Path.of(""));
        }
        byte[] raw = sa.asSlice(2, length - 2).toArray(ValueLayout.JAVA_BYTE);
        try {
          if (raw[0] == 0) {
            return Address.abstractUnix(new String(raw, 1, raw.length - 1, StandardCharsets.UTF_8));
          }
          int n = 0;
          while (n < raw.length && raw[n] != 0) {
            n++;
          }
          return Address.unix(Path.of(new String(raw, 0, n, StandardCharsets.UTF_8)));
        } catch (IllegalArgumentException e) { // InvalidPathException too
          // A peer may bind any bytes (not UTF-8, longer once decoded): its name cannot be an
          // Address, and must not fail the accept. It is reported as unnamed, as CPython says ''.
          return Address.unix(Path.of(""));
        }
      }
      case Linux.AF_INET -> {
        int port = Short.toUnsignedInt(sa.get(PORT, 2));
        byte[] ip = sa.asSlice(4, 4).toArray(ValueLayout.JAVA_BYTE);
        return Address.tcp(InetAddress.getByAddress(ip), port);
      }
      case Linux.AF_INET6 -> {
        int port = Short.toUnsignedInt(sa.get(PORT, 2));
        byte[] ip = sa.asSlice(8, 16).toArray(ValueLayout.JAVA_BYTE);
        int scope = sa.get(ValueLayout.JAVA_INT, 24);
        return Address.tcp(Inet6Address.getByAddress(null, ip, scope), port);
      }
      default -> throw new IOException("unexpected socket address family " + family);
    }
  }

  /** A non-blocking, close-on-exec stream socket (a listener, or one about to connect). */
  private static int newSocket(Scratch s, int family) throws IOException {
    int fd =
        Libc.socket(
            s.errno, family, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC | Linux.SOCK_NONBLOCK, 0);
    if (fd < 0) {
      throw Errno.exception("socket", Native.errno(s.errno));
    }
    return fd;
  }

  private static List<InetAddress> resolve(Address.Tcp tcp) throws UnknownHostException {
    return List.of(InetAddress.getAllByName(tcp.host()));
  }

  /**
   * Creates a listening socket bound to {@code address}. A Unix socket file is made readable and
   * writable by its owner only before the socket starts listening; a stale one at the path (nobody
   * listens: connecting is refused) is replaced, once.
   *
   * @param address where to listen
   * @param backlog the listen backlog
   * @return the non-blocking listening socket
   * @throws IOException if the address is in use ({@link java.net.BindException}) or cannot be had
   */
  public static int listen(Address address, int backlog) throws IOException {
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      Sockaddr sa =
          address instanceof Address.Tcp tcp
              ? inet(arena, resolve(tcp).getFirst(), tcp.port())
              : unix(arena, address);
      int fd = newSocket(s, sa.family());
      try {
        if (sa.family() != Linux.AF_UNIX) {
          MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_INT, 1);
          if (Libc.setsockopt(s.errno, fd, Linux.SOL_SOCKET, Linux.SO_REUSEADDR, one, 4) != 0) {
            throw Errno.exception("setsockopt SO_REUSEADDR", Native.errno(s.errno));
          }
        }
        if (Libc.bind(s.errno, fd, sa.addr(), sa.length()) != 0) {
          int errno = Native.errno(s.errno);
          if (errno != Linux.EADDRINUSE
              || !(address instanceof Address.Unix u)
              || !replaceStale(s, u.path(), sa)
              || Libc.bind(s.errno, fd, sa.addr(), sa.length()) != 0) {
            throw Errno.exception("bind " + address, errno);
          }
        }
      } catch (IOException | RuntimeException e) {
        Fds.closeQuietly(fd);
        throw e;
      }
      try {
        if (address instanceof Address.Unix u) {
          // Before listen: no other user can connect in between.
          Files.setPosixFilePermissions(u.path(), PosixFilePermissions.fromString("rw-------"));
        }
        if (Libc.listen(s.errno, fd, backlog) != 0) {
          throw Errno.exception("listen " + address, Native.errno(s.errno));
        }
        return fd;
      } catch (IOException | RuntimeException e) {
        Fds.closeQuietly(fd);
        if (address instanceof Address.Unix u) {
          Files.deleteIfExists(u.path()); // bind created it
        }
        throw e;
      }
    }
  }

  /** {@code S_IFMT} and {@code S_IFSOCK} of {@code st_mode}. */
  private static final int S_IFMT = 0170000;

  private static final int S_IFSOCK = 0140000;

  /**
   * Removes a stale socket file: one that nobody listens on any more (a listener that died without
   * removing it), so that binding its path can succeed. A file that is not a socket, or a socket
   * that answers or cannot be probed, is left alone.
   *
   * @return true if the path is free now (removed here, or gone meanwhile)
   */
  private static boolean replaceStale(Scratch s, Path path, Sockaddr sa) throws IOException {
    Object key;
    try {
      int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
      if ((mode & S_IFMT) != S_IFSOCK) {
        return false; // never unlink what is not a socket
      }
      key = fileKey(path);
    } catch (NoSuchFileException e) {
      return true;
    }
    int probe = newSocket(s, Linux.AF_UNIX);
    int errno;
    try {
      errno = Libc.connect(s.errno, probe, sa.addr(), sa.length()) == 0 ? 0 : Native.errno(s.errno);
    } finally {
      Fds.closeQuietly(probe);
    }
    if (errno == Linux.ENOENT) {
      return true;
    }
    if (errno != Linux.ECONNREFUSED) {
      return false; // someone listens (connected, or EAGAIN: its backlog is full), or no access
    }
    try {
      if (!Objects.equals(key, fileKey(path))) {
        return false; // replaced meanwhile, by someone else who found it stale
      }
      Files.delete(path);
    } catch (NoSuchFileException e) {
      // removed meanwhile: free all the same
    }
    return true;
  }

  private static Object fileKey(Path path) throws IOException {
    return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
        .fileKey();
  }

  /**
   * Whether an accept failure is the process or system running short of descriptors or memory
   * ({@code EMFILE}, {@code ENFILE}, {@code ENOBUFS}, {@code ENOMEM}): the listening socket is fine
   * and accepting may succeed once something is released.
   *
   * @param e what accepting threw
   * @return true for a shortage
   */
  public static boolean isShortage(IOException e) {
    return e instanceof ErrnoException x
        && switch (x.errno()) {
          case Linux.EMFILE, ENFILE, ENOBUFS, Linux.ENOMEM -> true;
          default -> false;
        };
  }

  private static final int ENFILE = 23;
  private static final int ENOBUFS = 105;

  /**
   * The address a socket is bound to.
   *
   * @param fd the socket
   * @return its address
   * @throws IOException if getsockname fails
   */
  public static Address localAddress(int fd) throws IOException {
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment sa = arena.allocate(Linux.SOCKADDR_STORAGE_SIZE, 8);
      MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, Linux.SOCKADDR_STORAGE_SIZE);
      if (Libc.getsockname(s.errno, fd, sa, len) != 0) {
        throw Errno.exception("getsockname", Native.errno(s.errno));
      }
      return decode(sa, len.get(ValueLayout.JAVA_INT, 0));
    }
  }

  /** An accepted socket and its peer's address. */
  public record Accepted(int fd, Address peer) {}

  /**
   * Accepts one connection, waiting as needed (woken by close or interrupt, as any wait on {@code
   * listening}). The caller holds a use count on {@code listening}.
   *
   * @param listening the listening socket's channel
   * @return the accepted socket, blocking and close-on-exec, and its peer
   * @throws IOException if accepting fails or the channel is closed meanwhile
   */
  public static Accepted accept(FdChannel listening) throws IOException {
    Scratch s = Scratch.get();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment sa = arena.allocate(Linux.SOCKADDR_STORAGE_SIZE, 8);
      MemorySegment len = arena.allocate(ValueLayout.JAVA_INT);
      for (; ; ) {
        len.set(ValueLayout.JAVA_INT, 0, Linux.SOCKADDR_STORAGE_SIZE);
        int fd = Libc.accept4(s.errno, listening.fd(), sa, len, Linux.SOCK_CLOEXEC);
        if (fd >= 0) {
          try {
            return new Accepted(fd, decode(sa, len.get(ValueLayout.JAVA_INT, 0)));
          } catch (IOException | RuntimeException e) {
            Fds.closeQuietly(fd);
            throw e;
          }
        }
        int errno = Native.errno(s.errno);
        if (errno == Linux.EAGAIN) {
          listening.await(s, Linux.POLLIN, FdChannel.NO_DEADLINE);
        } else if (errno != Linux.EINTR && !clientGone(errno)) {
          throw Errno.exception("accept", errno);
        }
      }
    }
  }

  /**
   * Whether an accept error belongs to one pending connection, not to the listening socket: the
   * client left, or the network failed for it (accept(2) asks to treat these like EAGAIN). The next
   * connection is then accepted as usual.
   */
  private static boolean clientGone(int errno) {
    return switch (errno) {
      case Linux.ECONNRESET,
          Linux.ECONNABORTED,
          Linux.EPROTO,
          Linux.ENOPROTOOPT,
          Linux.ENETDOWN,
          Linux.ENETUNREACH,
          Linux.EHOSTDOWN,
          Linux.EHOSTUNREACH,
          Linux.ENONET,
          Linux.EOPNOTSUPP,
          Linux.EPERM -> // a firewall refused this connection
          true;
      default -> false;
    };
  }

  /**
   * Connects to {@code address}, trying each resolved IP in turn.
   *
   * @param address where to connect
   * @param timeoutNanos the longest wait for each attempt; {@code Long.MAX_VALUE} for none
   * @return a connected socket's channel, blocking and close-on-exec
   * @throws IOException if no attempt succeeds ({@link ConnectException}, {@link
   *     SocketTimeoutException}...)
   */
  public static FdChannel connect(Address address, long timeoutNanos) throws IOException {
    if (!(address instanceof Address.Tcp tcp)) {
      return connectOnce(address, null, 0, timeoutNanos);
    }
    IOException last = null;
    for (InetAddress ip : resolve(tcp)) {
      try {
        return connectOnce(address, ip, tcp.port(), timeoutNanos);
      } catch (IOException e) {
        if (last != null) {
          e.addSuppressed(last);
        }
        last = e;
      }
    }
    throw last != null ? last : new ConnectException("no address for " + address);
  }

  private static FdChannel connectOnce(Address address, InetAddress ip, int port, long timeoutNanos)
      throws IOException {
    Scratch s = Scratch.get();
    long deadline = FdChannel.deadlineAfter(timeoutNanos);
    try (Arena arena = Arena.ofConfined()) {
      Sockaddr sa = ip != null ? inet(arena, ip, port) : unix(arena, address);
      int fd = newSocket(s, sa.family());
      FdChannel ch = new FdChannel(fd, FdChannel.Kind.SOCKET);
      boolean ok = false;
      try {
        ch.acquire();
        try {
          connect(ch, s, sa, address, deadline);
          int flags = Libc.fcntl(s.errno, fd, Linux.F_GETFL, 0);
          if (flags < 0 || Libc.fcntl(s.errno, fd, Linux.F_SETFL, flags & ~Linux.O_NONBLOCK) < 0) {
            throw Errno.exception("fcntl", Native.errno(s.errno));
          }
        } finally {
          ch.release();
        }
        ok = true;
        return ch;
      } finally {
        if (!ok) {
          Fds.closeQuietly(ch);
        }
      }
    }
  }

  private static void connect(FdChannel ch, Scratch s, Sockaddr sa, Address address, long deadline)
      throws IOException {
    String what = "connect " + address;
    for (; ; ) {
      if (Libc.connect(s.errno, ch.fd(), sa.addr(), sa.length()) == 0) {
        return;
      }
      int errno = Native.errno(s.errno);
      switch (errno) {
        case Linux.EINTR -> {}
        case Linux.EAGAIN -> { // a Unix listener's backlog is full: try again shortly
          if (deadline != FdChannel.NO_DEADLINE && deadline - System.nanoTime() <= 0) {
            throw new SocketTimeoutException(what + ": timed out (backlog full)");
          }
          try {
            Thread.sleep(5);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.nio.channels.ClosedByInterruptException();
          }
        }
        case Linux.EINPROGRESS, Linux.EALREADY -> {
          if (!ch.await(s, Linux.POLLOUT, deadline)) {
            throw new SocketTimeoutException(what + ": timed out");
          }
          MemorySegment err = s.small;
          MemorySegment len = s.word;
          len.set(ValueLayout.JAVA_INT, 0, 4);
          if (Libc.getsockopt(s.errno, ch.fd(), Linux.SOL_SOCKET, Linux.SO_ERROR, err, len) != 0) {
            throw Errno.exception("getsockopt SO_ERROR", Native.errno(s.errno));
          }
          int so = err.get(ValueLayout.JAVA_INT, 0);
          if (so != 0) {
            throw Errno.exception(what, so);
          }
          return;
        }
        case Linux.ENOENT -> throw new ConnectException(Errno.message(what, errno));
        default -> throw Errno.exception(what, errno);
      }
    }
  }
}
