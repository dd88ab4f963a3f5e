package io.jpipe.net;

/** The connection contract over TCP on the IPv6 loopback, authenticated with the empty key. */
class Tcp6ListenerConnectionTest extends ListenerConnectionContract {
  @Override
  Address address() {
    return Address.tcp("::1", 0);
  }

  @Override
  byte[] authkey() {
    return new byte[0];
  }
}
