package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The document's rule, across processes: end of file arrives only when every copy of the sending
 * end is closed in every process; while one process keeps a copy, the receiver keeps waiting.
 * Checked in both directions (parent to child, child to parent), for one-way and duplex pipes.
 */
class CrossProcessEofTest {
  private static final Duration WAIT = Duration.ofMillis(300);

  @AfterEach
  void noChildLeft() throws InterruptedException {
    TestSupport.assertNoChildren();
  }

  /** Child: waits for "close" on control, then closes its copy of {@code end}, then waits. */
  static void holdThenClose(Connection control, Connection end) throws Exception {
    control.recv();
    end.close();
    control.send("closed");
    try {
      control.recv();
    } catch (EOFException e) {
      // the parent is done with us
    }
  }

  @ParameterizedTest(name = "duplex={0}")
  @ValueSource(booleans = {false, true})
  void parentReceivesEofOnlyWhenTheChildClosesItsCopyToo(boolean duplex) throws Exception {
    try (Pipe pipe = Pipe.open(duplex)) {
      parentReceivesEofOnlyWhenTheChildClosesItsCopyToo(pipe);
    }
  }

  /**
   * The parent receives on {@code pipe.conn1()}; a child holds a copy of the sending end and does
   * not use it: end of file only once the child closes its copy too. Also run by {@link
   * ShmCrossProcessTest}.
   */
  static void parentReceivesEofOnlyWhenTheChildClosesItsCopyToo(Pipe pipe) throws Exception {
    try (Pipe control = Pipe.open()) {
      Connection receiver = pipe.conn1();
      Connection sender = pipe.conn2();
      // The child holds a copy of the sending end and does not use it.
      ChildProcess p = ChildProcess.of(CrossProcessEofTest::holdThenClose, control.conn2(), sender);
      p.start();
      control.conn2().close();
      sender.send("last");
      sender.close(); // our copy only
      assertEquals("last", receiver.recv());
      assertFalse(receiver.poll(WAIT), "the child still holds the sending end: no EOF yet");

      control.conn1().send("close");
      assertEquals("closed", control.conn1().recv());
      assertTrue(receiver.poll(TestSupport.PATIENCE));
      assertThrows(EOFException.class, receiver::recv);
      control.conn1().close();
      p.join();
      assertEquals(0, p.exitCode().orElseThrow());
    }
  }

  /** Child: sends one message on {@code sender}, closes it, and exits. */
  static void sendAndExit(Connection sender) throws Exception {
    sender.send("from the child");
    sender.close();
  }

  @ParameterizedTest(name = "duplex={0}")
  @ValueSource(booleans = {false, true})
  void childSendsAndExitsButTheParentsForgottenCopyKeepsTheReceiverWaiting(boolean duplex)
      throws Exception {
    try (Pipe pipe = Pipe.open(duplex)) {
      Connection receiver = pipe.conn1();
      Connection sender = pipe.conn2();
      ChildProcess p = ChildProcess.of(CrossProcessEofTest::sendAndExit, sender);
      p.start();
      p.join();
      assertEquals("from the child", receiver.recv());
      // The parent forgot to close its copy of the sending end: recv would hang.
      assertFalse(receiver.poll(WAIT), "our own copy keeps the pipe open");
      sender.close();
      assertTrue(receiver.poll(Duration.ofSeconds(30)));
      assertThrows(EOFException.class, receiver::recv);
    }
  }

  /** Child: receives until end of file and reports how many messages it got. */
  static void countUntilEof(Connection receiver, Connection report, Connection senderCopy)
      throws Exception {
    if (senderCopy != null) {
      senderCopy.close(); // the document's rule: close the end you do not use
    }
    int n = 0;
    try {
      for (; ; ) {
        receiver.recv();
        n++;
      }
    } catch (EOFException e) {
      report.send(n);
    }
    report.close();
  }

  @ParameterizedTest(name = "duplex={0}")
  @ValueSource(booleans = {false, true})
  void childReceivesEofWhenEveryCopyIsClosed(boolean duplex) throws Exception {
    try (Pipe pipe = Pipe.open(duplex)) {
      childReceivesEofWhenEveryCopyIsClosed(pipe, 5);
    }
  }

  /**
   * A child receives on {@code pipe.conn1()} until end of file, having closed its copy of the
   * sending end; the parent sends {@code messages} messages: the child sees end of file, and
   * reports the count, only once the parent closes its end too. Also run by {@link
   * ShmCrossProcessTest}.
   */
  static void childReceivesEofWhenEveryCopyIsClosed(Pipe pipe, int messages) throws Exception {
    try (Pipe report = Pipe.open(false)) {
      Connection receiver = pipe.conn1();
      Connection sender = pipe.conn2();
      // The child gets the receiving end and a copy of the sending end, which it closes first.
      ChildProcess p =
          ChildProcess.of(CrossProcessEofTest::countUntilEof, receiver, report.conn2(), sender);
      p.start();
      receiver.close();
      report.conn2().close();
      for (int i = 0; i < messages; i++) {
        sender.send(i);
      }
      assertFalse(report.conn1().poll(WAIT), "we still hold the sending end");
      sender.close();
      assertEquals(messages, report.conn1().recv());
      p.join();
    }
  }

  @ParameterizedTest(name = "duplex={0}")
  @ValueSource(booleans = {false, true})
  void aChildThatForgetsToCloseItsCopyNeverSeesEof(boolean duplex) throws Exception {
    try (Pipe pipe = Pipe.open(duplex);
        Pipe report = Pipe.open(false)) {
      Connection receiver = pipe.conn1();
      Connection sender = pipe.conn2();
      // The child keeps the copy of the sending end (no close): its own copy keeps it waiting.
      ChildProcess p =
          ChildProcess.of(ForgetfulChild::run, receiver, report.conn2(), sender).daemon(true);
      p.start();
      receiver.close();
      report.conn2().close();
      sender.send(1);
      sender.close();
      assertFalse(report.conn1().poll(Duration.ofMillis(500)), "the child hangs in recv");
      p.terminate();
      p.join();
      assertEquals(-15, p.exitCode().orElseThrow());
    }
  }

  /** A child that keeps the sending end it was given, as the document warns against. */
  static final class ForgetfulChild {
    private ForgetfulChild() {}

    static void run(Connection receiver, Connection report, Connection senderCopy)
        throws Exception {
      countUntilEof(receiver, report, null);
      senderCopy.close();
    }
  }
}
