package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.EOFException;
import java.io.IOException;

/**
 * What the shared-memory stress and kill tests ({@link ShmManyProcessTest}, {@link
 * ShmPublicationStressTest}, {@link ShmKillPointsTest}) do alike with their child processes: start
 * them quick to boot, have them send or receive numbered messages, and kill them.
 */
final class ShmChildren {
  private ShmChildren() {}

  /** Children boot faster with the client compiler only. */
  static final String[] CHILD_OPTIONS = {"-XX:TieredStopAtLevel=1"};

  /** The messages of one test: message {@code seq} of writer {@code id}. */
  interface Messages {
    byte[] message(int id, int seq);
  }

  /** Starts {@code child} with {@link #CHILD_OPTIONS}; returns it. */
  static ChildProcess startQuick(ChildProcess child) throws IOException {
    child.jvmOptions(CHILD_OPTIONS).start();
    return child;
  }

  /** A writer child's body: sends messages 0 to {@code count - 1} of writer {@code id}, closes. */
  static void send(Connection out, int id, int count, Messages messages) throws IOException {
    for (int seq = 0; seq < count; seq++) {
      out.sendBytes(messages.message(id, seq));
    }
    out.close();
  }

  /**
   * The next whole message, or null at end of file: a message a writer left truncated when it died
   * as the last end closed is skipped (end of file comes next).
   */
  static byte[] next(Connection in) throws IOException {
    for (; ; ) {
      try {
        return in.recvBytes();
      } catch (EOFException e) {
        return null;
      } catch (TruncatedMessageException e) {
        // a writer died mid-message: go on
      }
    }
  }

  /** Kills {@code p} (SIGKILL), waits for it and checks it died of the signal. */
  static void kill(ChildProcess p, String what) throws IOException, InterruptedException {
    p.kill();
    p.join();
    assertEquals(-9, p.exitCode().orElseThrow(), what);
  }
}
