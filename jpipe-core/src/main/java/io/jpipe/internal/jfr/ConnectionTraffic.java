package io.jpipe.internal.jfr;

/**
 * What one connection end carried: messages and payload bytes each way, counted on every message
 * and reported as {@code io.jpipe.ConnectionClose} once its descriptor is closed ({@link #run}, the
 * channel's after-close action; so this object never refers to the connection or its channel).
 *
 * <p>The counters cost a plain field increment per message. They need no atomics: the sending pair
 * is only written under the connection's write lock and the receiving pair under its read lock, so
 * each has one writer at a time. Each update happens before that operation releases its use count
 * on the descriptor, and {@link #run} runs after the last release (an atomic decrement), so it
 * reads exact totals. They count this process's use only: another process holding a copy of the end
 * counts its own.
 */
public final class ConnectionTraffic implements Runnable {
  final int fd;
  final String kind;
  final String direction;

  long messagesSent; // guarded by the connection's write lock
  long bytesSent; // guarded by the connection's write lock
  long messagesReceived; // guarded by the connection's read lock
  long bytesReceived; // guarded by the connection's read lock

  /**
   * Counters for a new end.
   *
   * @param fd its descriptor
   * @param kind {@code socket} or {@code pipe}
   * @param direction {@code duplex}, {@code receive-only} or {@code send-only}
   */
  public ConnectionTraffic(int fd, String kind, String direction) {
    this.fd = fd;
    this.kind = kind;
    this.direction = direction;
  }

  /**
   * Counts one message sent whole. The caller holds the write lock.
   *
   * @param payload its payload bytes
   */
  public void sent(long payload) {
    messagesSent++;
    bytesSent += payload;
  }

  /**
   * Counts one message received whole. The caller holds the read lock.
   *
   * @param payload its payload bytes
   */
  public void received(long payload) {
    messagesReceived++;
    bytesReceived += payload;
  }

  /** Reports the totals: the descriptor is closed and no thread uses it any more. */
  @Override
  public void run() {
    Jfr.connectionClosed(this);
  }
}
