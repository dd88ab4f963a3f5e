package io.jpipe.benchmarks;

import java.io.IOException;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A JMH state holding one {@link Peer}: its child JVM starts before the trial and stops after it.
 * Subclasses say which loop the child runs.
 */
public abstract class PeerState {
  /** The running peer, during the trial. */
  Peer peer;

  /** Creates the state (JMH does). */
  protected PeerState() {}

  /**
   * Starts this state's peer.
   *
   * @return the running peer
   * @throws IOException if it cannot start
   */
  abstract Peer startPeer() throws IOException;

  /**
   * Starts the child.
   *
   * @throws IOException if it cannot start
   */
  @Setup(Level.Trial)
  public void start() throws IOException {
    peer = startPeer();
  }

  /**
   * Stops the child.
   *
   * @throws IOException if closing fails
   */
  @TearDown(Level.Trial)
  public void stop() throws IOException {
    peer.close();
  }
}
