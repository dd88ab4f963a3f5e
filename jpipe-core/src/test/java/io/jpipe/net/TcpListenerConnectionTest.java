package io.jpipe.net;

/** The connection contract over TCP on the IPv4 loopback, authenticated. */
class TcpListenerConnectionTest extends ListenerConnectionContract {
  @Override
  Address address() {
    return Address.tcp("127.0.0.1", 0);
  }
}
