package io.jpipe.net;

/** The connection contract over a Linux abstract Unix socket, without authentication. */
class AbstractUnixListenerConnectionTest extends ListenerConnectionContract {
  private int n;

  @Override
  Address address() {
    return Address.abstractUnix("jpipe-contract-" + ProcessHandle.current().pid() + "-" + n++);
  }

  @Override
  byte[] authkey() {
    return null;
  }
}
