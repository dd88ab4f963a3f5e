package io.jpipe;

import java.io.IOException;

/** The connection contract on a duplex {@link Pipe}: a socketpair, tested in both directions. */
class SocketPairConnectionTest extends ConnectionContract {
  private boolean reversed;

  @Override
  protected Ends open() throws IOException {
    Pipe p = Pipe.open();
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
