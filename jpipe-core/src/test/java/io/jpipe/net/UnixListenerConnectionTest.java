package io.jpipe.net;

/** The connection contract over a Unix socket in a private directory, authenticated. */
class UnixListenerConnectionTest extends ListenerConnectionContract {
  @Override
  Address address() {
    return null;
  }
}
