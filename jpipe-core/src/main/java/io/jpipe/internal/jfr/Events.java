package io.jpipe.internal.jfr;

import java.lang.invoke.SerializedLambda;
import java.lang.reflect.Method;
import jdk.jfr.FlightRecorder;

/**
 * Creates and commits the events, for {@link Jfr}; loaded only when {@code jdk.jfr} is in the
 * runtime. Until a recording has started in this JVM, {@link FlightRecorder#isInitialized()} is
 * false and no event object is made at all.
 */
final class Events {
  private Events() {}

  static Object childStartBegin() {
    if (!FlightRecorder.isInitialized()) {
      return null;
    }
    ChildStartEvent e = new ChildStartEvent();
    if (!e.isEnabled()) {
      return null;
    }
    e.begin();
    return e;
  }

  static void childStarted(Object token, String name, String startMethod, long pid, Object target) {
    ChildStartEvent e = (ChildStartEvent) token;
    e.end();
    if (e.shouldCommit()) {
      e.name = name;
      e.startMethod = startMethod;
      e.pid = pid;
      e.target = describe(target);
      e.commit();
    }
  }

  static void childExited(String name, long pid, int status, long startedNanos) {
    if (!FlightRecorder.isInitialized()) {
      return;
    }
    ChildExitEvent e = new ChildExitEvent();
    if (e.shouldCommit()) {
      e.name = name;
      e.pid = pid;
      e.exitCode = status;
      e.signal = status < 0 && status != Integer.MIN_VALUE ? -status : 0;
      e.lifetime = System.nanoTime() - startedNanos;
      e.commit();
    }
  }

  static void handshakeFailed(String side, Object peer, Throwable cause) {
    if (!FlightRecorder.isInitialized()) {
      return;
    }
    HandshakeFailureEvent e = new HandshakeFailureEvent();
    if (e.shouldCommit()) {
      e.side = side;
      e.peer = peer == null ? "" : peer.toString();
      e.cause = cause.getMessage() != null ? cause.getMessage() : cause.toString();
      e.commit();
    }
  }

  static void connectionClosed(ConnectionTraffic t) {
    if (!FlightRecorder.isInitialized()) {
      return;
    }
    ConnectionCloseEvent e = new ConnectionCloseEvent();
    if (e.shouldCommit()) {
      e.fd = t.fd;
      e.kind = t.kind;
      e.direction = t.direction;
      e.messagesSent = t.messagesSent;
      e.bytesSent = t.bytesSent;
      e.messagesReceived = t.messagesReceived;
      e.bytesReceived = t.bytesReceived;
      e.commit();
    }
  }

  /**
   * {@code Class::method} for a method reference or a lambda (its synthetic method), else the
   * target's class name, without the address part of a hidden class's name (a lambda in a module
   * that is not open to jpipe: {@code app.Main$$Lambda}).
   */
  static String describe(Object target) {
    if (!target.getClass().isHidden()) {
      return target.getClass().getName(); // not a lambda: never call a class's own writeReplace
    }
    try {
      Method writeReplace = target.getClass().getDeclaredMethod("writeReplace");
      writeReplace.setAccessible(true);
      if (writeReplace.invoke(target) instanceof SerializedLambda sl) {
        return sl.getImplClass().replace('/', '.') + "::" + sl.getImplMethodName();
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      // not a lambda, or not open to us: the class name says what it is
    }
    String name = target.getClass().getName();
    int hidden = name.indexOf('/');
    return hidden < 0 ? name : name.substring(0, hidden);
  }
}
