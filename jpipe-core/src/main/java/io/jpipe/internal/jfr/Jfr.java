package io.jpipe.internal.jfr;

/**
 * Where jpipe's JDK Flight Recorder events fire: the only class the rest of jpipe calls. Each
 * method costs a static check when no recording wants the event; events are created and committed
 * only when one does.
 *
 * <p>The events, in category {@code jpipe}: {@code io.jpipe.ChildStart}, {@code
 * io.jpipe.ChildExit}, {@code io.jpipe.HandshakeFailure} and {@code io.jpipe.ConnectionClose}. The
 * module {@code requires jdk.jfr} (not {@code static}: a static dependency is not resolved on the
 * module path unless the application adds it, which would turn the events off without a word, and
 * jlink includes a required module by itself). On the class path, a runtime image made without
 * {@code jdk.jfr} is possible; then {@link #AVAILABLE} is false and nothing here touches a JFR
 * class. The event classes are referenced only from {@link Events}, which is loaded only when JFR
 * is there.
 */
public final class Jfr {
  private Jfr() {}

  /** Whether the {@code jdk.jfr} module is in this runtime. */
  static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.jfr").isPresent();

  /**
   * Starts timing a {@code ChildProcess.start()}.
   *
   * @return a token for {@link #childStarted}, or null when no recording wants the event
   */
  public static Object childStartBegin() {
    return AVAILABLE ? Events.childStartBegin() : null;
  }

  /**
   * Commits the {@code io.jpipe.ChildStart} event begun by {@link #childStartBegin}.
   *
   * @param token what {@link #childStartBegin} returned; nothing happens for null
   * @param name the child's name
   * @param startMethod {@code SPAWN} or {@code WARM}
   * @param pid the child's pid
   * @param target the child's target, described as {@code Class::method} where it can be
   */
  public static void childStarted(
      Object token, String name, String startMethod, long pid, Object target) {
    if (token != null) {
      Events.childStarted(token, name, startMethod, pid, target);
    }
  }

  /**
   * Records {@code io.jpipe.ChildExit}.
   *
   * @param name the child's name
   * @param pid the child's pid
   * @param status the exit code, or minus the signal that killed it
   * @param startedNanos {@link System#nanoTime} when its start returned
   */
  public static void childExited(String name, long pid, int status, long startedNanos) {
    if (AVAILABLE) {
      Events.childExited(name, pid, status, startedNanos);
    }
  }

  /**
   * Records {@code io.jpipe.HandshakeFailure}.
   *
   * @param side {@code "Listener"} or {@code "Client"}
   * @param peer the other end's address, or null if unknown
   * @param cause why it failed
   */
  public static void handshakeFailed(String side, Object peer, Throwable cause) {
    if (AVAILABLE) {
      Events.handshakeFailed(side, peer, cause);
    }
  }

  /** Records {@code io.jpipe.ConnectionClose} for a connection's traffic. */
  static void connectionClosed(ConnectionTraffic traffic) {
    if (AVAILABLE) {
      Events.connectionClosed(traffic);
    }
  }
}
