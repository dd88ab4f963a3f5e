package io.jpipe.cli;

import io.jpipe.Connection;
import io.jpipe.MessageTooLongException;
import io.jpipe.codec.Codec;
import io.jpipe.net.Address;
import io.jpipe.net.Listener;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.BindException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jpipe serve}: a listener that prints (and optionally echoes) what clients send. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = {
      "Listens on ADDRESS and serves each client on a virtual thread of its own, printing each"
          + " message received on a line of its own: bytes as text when they are clean UTF-8,"
          + " else as hex; objects as Python's repr would print them, bounded like reprlib (long"
          + " values, deep or huge containers and huge ints are cut short, with their size).",
      "Status lines go to stderr, one per event: listening, a client connected, a client's end"
          + " (disconnected, idle, refused, or the one error that closed it). No client can end"
          + " the server; SIGINT and SIGTERM stop it and remove its socket file.",
      "ADDRESS: unix:/path, unix:@name (Linux abstract) or tcp:host:port (port 0: any)."
    })
final class ServeCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "ADDRESS", description = "Where to listen.")
  String address;

  @Mixin NetOptions net;

  @Option(
      names = "--allow-class",
      paramLabel = "PATTERN",
      description =
          "With --codec java, also decode the classes PATTERN names (repeatable):"
              + " com.example.Point, com.example.* (a package), com.example.** (and its"
              + " subpackages); !com.example.Bad refuses one. Without it, only JDK value types,"
              + " the common collections, arrays and records of those are decoded.")
  List<String> allowClasses = List.of();

  @Option(
      names = "--echo",
      description =
          "Send each message back, byte for byte, once it is printed. With --codec pickle or"
              + " java, a message that cannot be decoded closes its client instead.")
  boolean echo;

  @Option(
      names = "--count",
      paramLabel = "N",
      converter = Converters.PositiveConverter.class,
      description = "Stop after N messages (from all clients together).")
  Integer count;

  @Option(
      names = "--max-clients",
      paramLabel = "N",
      defaultValue = "64",
      converter = Converters.PositiveConverter.class,
      description =
          "Serve at most N clients at once (default: ${DEFAULT-VALUE}); a client accepted beyond"
              + " that is closed at once, with a line on stderr.")
  int maxClients;

  @Option(
      names = "--idle-timeout",
      paramLabel = "DURATION",
      defaultValue = "5m",
      converter = Converters.DurationConverter.class,
      description =
          "Close a client when no whole message has come from it for DURATION, or it does not"
              + " take an echo for that long (default: 5m; 30s, 500ms, 1h; none for no limit).")
  Duration idleTimeout;

  @Option(
      names = "--max-message",
      paramLabel = "SIZE",
      defaultValue = "16M",
      converter = Converters.SizeConverter.class,
      description =
          "Close a client that announces a message longer than SIZE bytes (default: 16M; 4096,"
              + " 64k, 1G).")
  int maxMessage;

  private PrintStream out;
  private PrintStream err;
  private Listener listener;
  private Codec codec;
  private Watchdog watchdog;
  private volatile boolean stopping;
  private final AtomicLong printed = new AtomicLong();
  private final Set<Served> live = ConcurrentHashMap.newKeySet();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();

  @Override
  public Integer call() throws CliException {
    out = System.out;
    err = System.err;
    Address where = NetOptions.address(address);
    byte[] key = net.authkey();
    net.checkTrust(where, key, "serve");
    codec = net.codec(allowClasses);
    try {
      listener =
          Listener.builder()
              .address(where)
              .authkey(key)
              .codec(codec)
              .allowUnauthenticated(true) // checkTrust has applied the command's rule
              .onRejected(
                  r ->
                      say(
                          "a client"
                              + (r.peer().isEmpty() ? "" : " (" + peerName(r.peer()) + ")")
                              + " failed authentication: "
                              + Main.oneLine(r.reason().getMessage())))
              .open();
    } catch (BindException e) {
      throw new CliException("cannot listen on " + where + ": address already in use", e);
    } catch (IOException | RuntimeException e) {
      throw new CliException("cannot listen on " + where + ": " + Main.describe(e), e);
    }
    Thread hook = Thread.ofPlatform().name("jpipe-serve-stop").unstarted(this::stopBySignal);
    Runtime.getRuntime().addShutdownHook(hook);
    watchdog = new Watchdog("jpipe-serve-idle");
    try {
      say("listening on " + listener.address());
      acceptLoop();
    } finally {
      stop();
      awaitClients();
      watchdog.close(); // after the clients: a client still being served arms its timer
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // the JVM is already shutting down: the hook runs, and finds everything stopped
      }
    }
    return 0;
  }

  private void acceptLoop() throws CliException {
    long clientNumber = 0;
    while (!stopping) {
      Connection conn;
      try {
        conn = listener.accept();
      } catch (IOException e) {
        if (stopping || listener.isClosed()) {
          break;
        }
        // the listening socket failed for good (one client's failure never reaches accept)
        throw new CliException("accepting clients failed: " + Main.describe(e), e);
      } catch (RuntimeException | Error e) {
        if (stopping || listener.isClosed()) {
          break;
        }
        say("accepting a client failed: " + Main.describe(e)); // such as OutOfMemoryError
        pause();
        continue;
      }
      Served c = new Served(++clientNumber, peerName(listener.lastAccepted()), conn);
      if (live.size() >= maxClients) {
        conn.close();
        say(c + " refused: already serving " + maxClients + " clients (--max-clients)");
        continue;
      }
      live.add(c);
      if (stopping) {
        conn.close(); // stop() may have closed the others before c was added
        break;
      }
      say(c + " connected");
      Thread t = Thread.ofVirtual().name("jpipe-serve-client-" + c.id).unstarted(() -> serve(c));
      threads.add(t);
      t.start();
    }
  }

  private static void pause() {
    try {
      Thread.sleep(100);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static String peerName(Optional<Address> peer) {
    return switch (peer.orElse(null)) {
      case null -> "";
      case Address.Unix u when u.path().toString().isEmpty() -> "unix";
      case Address a -> Main.oneLine(a.toString());
    };
  }

  /** Serves one client until it disconnects, errs, idles or the server stops; one end line. */
  private void serve(Served c) {
    String phase = "receiving";
    int length = -1;
    String end;
    try {
      while (true) {
        phase = "receiving";
        length = -1;
        byte[] frame;
        c.arm();
        try {
          frame = c.conn.recvBytes(maxMessage);
        } finally {
          c.disarm();
        }
        length = frame.length;
        String line;
        if (net.codec.objects()) {
          phase = "decoding";
          Object obj;
          try {
            obj = codec.decode(frame, 0, frame.length);
          } catch (IOException e) {
            if (echo) {
              end = "cannot decode a message of " + length + " bytes (" + Main.describe(e) + ")";
              break;
            }
            say(c + ": cannot decode a message of " + length + " bytes: " + Main.describe(e));
            continue; // the codec consumed the whole frame: the stream is still in step
          }
          phase = "printing";
          line = Repr.object(obj);
        } else {
          phase = "printing";
          line = Repr.bytes(frame);
        }
        long ticket = printed.incrementAndGet();
        if (count != null && ticket > count) {
          end = null; // stopping: later messages are not printed
          break;
        }
        synchronized (out) {
          out.println(line);
          out.flush();
        }
        c.messages++;
        if (echo) {
          phase = "echoing";
          c.arm();
          try {
            c.conn.sendBytes(frame); // not re-encoded: a shared graph may be costly to encode
          } finally {
            c.disarm();
          }
        }
        if (count != null && ticket == count) {
          end = null;
          stop();
          break;
        }
      }
    } catch (EOFException e) {
      end = "disconnected after " + c.messages + (c.messages == 1 ? " message" : " messages");
    } catch (MessageTooLongException e) {
      end = "announced a message longer than --max-message " + maxMessage + " bytes";
    } catch (Exception | Error e) {
      if (c.idle) {
        end = "idle for " + idleText() + " (--idle-timeout)";
      } else if (stopping) {
        end = null;
      } else {
        end =
            Main.describe(e)
                + " while "
                + phase
                + (length >= 0 ? " a message of " + length + " bytes" : "");
      }
    } finally {
      c.conn.close();
      live.remove(c);
    }
    try {
      if (end != null) {
        boolean closedByUs = !end.startsWith("disconnected");
        say(c + " " + (closedByUs ? end + "; closed" : end));
      }
    } finally {
      threads.remove(Thread.currentThread());
    }
  }

  private String idleText() {
    Duration d = idleTimeout;
    if (d.toMillis() % 1000 != 0) {
      return d.toMillis() + "ms";
    }
    long s = d.toSeconds();
    return s % 3600 == 0 ? s / 3600 + "h" : s % 60 == 0 ? s / 60 + "m" : s + "s";
  }

  /** Stops accepting and closes every client (idempotent, from any thread). */
  private void stop() {
    stopping = true;
    if (listener != null) {
      listener.close(); // removes the socket file
    }
    for (Served c : live) {
      c.conn.close();
    }
  }

  private void stopBySignal() {
    if (!stopping) {
      say("stopping");
    }
    stop();
  }

  private void awaitClients() {
    for (Thread t : threads) {
      try {
        if (!t.join(Duration.ofSeconds(10))) {
          say(t.getName() + " did not finish");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private void say(String line) {
    synchronized (err) {
      err.println("jpipe serve: " + line);
      err.flush();
    }
  }

  /** One client being served. */
  private final class Served {
    final long id;
    final String peer;
    final Connection conn;
    volatile boolean idle;
    long messages;
    private ScheduledFuture<?> timer;

    Served(long id, String peer, Connection conn) {
      this.id = id;
      this.peer = peer;
      this.conn = conn;
    }

    /** Closes the connection if the next step takes longer than the idle timeout. */
    void arm() {
      if (!idleTimeout.isZero()) {
        timer =
            watchdog.after(
                idleTimeout,
                () -> {
                  idle = true;
                  conn.close();
                });
      }
    }

    void disarm() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    @Override
    public String toString() {
      return peer.isEmpty() ? "client " + id : "client " + id + " (" + peer + ")";
    }
  }
}
