package io.jpipe;

import java.io.IOException;
import java.io.Serial;

/**
 * A queue's pipe is no longer at a message boundary, so nothing more can be taken from it or put on
 * it: a process died (or a thread failed) in the middle of reading or writing one message. The
 * queue says so, in every process that has it, rather than deliver bytes of two messages as one.
 * Items still in the pipe are lost; make a new queue.
 */
public class BrokenQueueException extends IOException {
  @Serial private static final long serialVersionUID = 1L;

  /**
   * Creates the exception.
   *
   * @param message what broke the queue
   */
  public BrokenQueueException(String message) {
    super(message);
  }
}
