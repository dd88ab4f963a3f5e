package io.jpipe;

import java.io.IOException;

/** The connection contract on a one-way {@link Pipe}: pipe2, conn1 receives and conn2 sends. */
class OneWayPipeConnectionTest extends ConnectionContract {
  @Override
  protected Ends open() throws IOException {
    Pipe p = Pipe.open(false);
    return new Ends(p.conn1(), p.conn2());
  }

  @Override
  protected boolean duplex() {
    return false;
  }

  @Override
  protected String fdKind() {
    return "pipe";
  }
}
