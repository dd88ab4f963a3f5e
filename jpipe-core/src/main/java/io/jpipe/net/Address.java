package io.jpipe.net;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a {@link Listener} listens and a {@link Client} connects: a Unix socket path, a Linux
 * abstract Unix name, or a TCP host and port (CPython's AF_UNIX and AF_INET addresses).
 *
 * <p>The text form, accepted by {@link #parse} and produced by {@code toString()}:
 *
 * <ul>
 *   <li>{@code unix:/run/app.sock} — a socket file;
 *   <li>{@code unix:@name} — an abstract name (Linux; CPython's {@code "\0name"});
 *   <li>{@code tcp:host:port}, {@code tcp:[::1]:port} — TCP over IPv4 or IPv6.
 * </ul>
 */
public sealed interface Address permits Address.Unix, Address.AbstractUnix, Address.Tcp {

  /** Longest Unix socket path, in bytes ({@code sun_path} holds 108 with the terminating NUL). */
  int MAX_UNIX_PATH = 107;

  /**
   * A Unix socket file.
   *
   * @param path the socket's path; empty for an unnamed peer (what {@code lastAccepted()} reports
   *     for a client that did not bind, where CPython reports {@code ''})
   */
  record Unix(Path path) implements Address {
    /**
     * Checks the path.
     *
     * @param path the socket's path
     */
    public Unix {
      Objects.requireNonNull(path, "path");
      int n = path.toString().getBytes(StandardCharsets.UTF_8).length;
      if (n > MAX_UNIX_PATH) {
        throw new IllegalArgumentException(
            "unix socket path too long: " + n + " bytes, at most " + MAX_UNIX_PATH + ": " + path);
      }
    }

    @Override
    public String toString() {
      return "unix:" + path;
    }
  }

  /**
   * A Linux abstract Unix socket name: no file, gone when the last socket closes.
   *
   * @param name the name, without the leading NUL
   */
  record AbstractUnix(String name) implements Address {
    /**
     * Checks the name.
     *
     * @param name the name
     */
    public AbstractUnix {
      Objects.requireNonNull(name, "name");
      int n = name.getBytes(StandardCharsets.UTF_8).length;
      if (n == 0 || n > MAX_UNIX_PATH) {
        throw new IllegalArgumentException(
            "abstract unix name must have 1 to " + MAX_UNIX_PATH + " bytes: '" + name + "'");
      }
    }

    @Override
    public String toString() {
      return "unix:@" + name;
    }
  }

  /**
   * A TCP address.
   *
   * @param host a host name or a literal IPv4 or IPv6 address
   * @param port the port, 0 to 65535 (0: any free port, for a listener)
   */
  record Tcp(String host, int port) implements Address {
    /**
     * Checks the port.
     *
     * @param host the host
     * @param port the port
     */
    public Tcp {
      Objects.requireNonNull(host, "host");
      if (host.isEmpty()) {
        throw new IllegalArgumentException("empty host");
      }
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port out of range: " + port);
      }
    }

    @Override
    public String toString() {
      return host.indexOf(':') >= 0 ? "tcp:[" + host + "]:" + port : "tcp:" + host + ":" + port;
    }
  }

  /**
   * A Unix socket file.
   *
   * @param path the path
   * @return the address
   */
  static Address unix(Path path) {
    return new Unix(path);
  }

  /**
   * A Unix socket file.
   *
   * @param path the path
   * @return the address
   */
  static Address unix(String path) {
    return new Unix(Path.of(path));
  }

  /**
   * A Linux abstract Unix name.
   *
   * @param name the name, without the leading NUL or {@code @}
   * @return the address
   */
  static Address abstractUnix(String name) {
    return new AbstractUnix(name);
  }

  /**
   * A TCP address.
   *
   * @param host a host name or literal address
   * @param port the port
   * @return the address
   */
  static Address tcp(String host, int port) {
    return new Tcp(host, port);
  }

  /**
   * A TCP address.
   *
   * @param address an IP address
   * @param port the port
   * @return the address
   */
  static Address tcp(InetAddress address, int port) {
    return new Tcp(address.getHostAddress(), port);
  }

  /**
   * Parses the text form ({@code unix:/path}, {@code unix:@name}, {@code tcp:host:port}, {@code
   * tcp:[v6]:port}).
   *
   * @param text the address
   * @return the address
   * @throws IllegalArgumentException if the text is not one of those forms
   */
  static Address parse(String text) {
    Objects.requireNonNull(text, "text");
    if (text.startsWith("unix:@")) {
      return new AbstractUnix(text.substring(6));
    }
    if (text.startsWith("unix:")) {
      String path = text.substring(5);
      if (path.isEmpty()) {
        throw new IllegalArgumentException("unix address without a path: '" + text + "'");
      }
      return new Unix(Path.of(path));
    }
    if (text.startsWith("tcp:")) {
      String rest = text.substring(4);
      String host;
      String port;
      if (rest.startsWith("[")) {
        int close = rest.indexOf("]:");
        if (close < 0) {
          throw new IllegalArgumentException("bad IPv6 address, expected tcp:[addr]:port: " + text);
        }
        host = rest.substring(1, close);
        port = rest.substring(close + 2);
      } else {
        int colon = rest.lastIndexOf(':');
        if (colon <= 0 || rest.indexOf(':') != colon) {
          throw new IllegalArgumentException("bad TCP address, expected tcp:host:port: " + text);
        }
        host = rest.substring(0, colon);
        port = rest.substring(colon + 1);
      }
      try {
        return new Tcp(host, Integer.parseInt(port));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad port in '" + text + "'", e);
      }
    }
    throw new IllegalArgumentException(
        "unknown address '" + text + "': use unix:/path, unix:@name or tcp:host:port");
  }
}
