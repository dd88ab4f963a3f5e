package io.jpipe;

import java.io.IOException;

/** The connection contract on a one-way shared-memory {@link Pipe}: conn1 receives, conn2 sends. */
class ShmOneWayConnectionTest extends ConnectionContract {
  @Override
  protected Ends open() throws IOException {
    Pipe p = Pipe.builder().duplex(false).sharedMemory(4096).open();
    return new Ends(p.conn1(), p.conn2());
  }

  @Override
  protected boolean duplex() {
    return false;
  }

  @Override
  protected String fdKind() {
    return "socket";
  }
}
