package io.jpipe;

import java.io.IOException;

/** The connection contract on a duplex shared-memory {@link Pipe}, tested in both directions. */
class ShmDuplexConnectionTest extends ConnectionContract {
  private boolean reversed;

  @Override
  protected Ends open() throws IOException {
    Pipe p = Pipe.builder().sharedMemory(64 * 1024).open();
    reversed = !reversed; // alternate, so both ends are exercised as sender and receiver
    return reversed ? new Ends(p.conn1(), p.conn2()) : new Ends(p.conn2(), p.conn1());
  }

  @Override
  protected boolean duplex() {
    return true;
  }

  @Override
  protected String fdKind() {
    return "socket";
  }
}
