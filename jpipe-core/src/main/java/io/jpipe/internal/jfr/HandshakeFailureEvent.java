package io.jpipe.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** {@code io.jpipe.HandshakeFailure}: an authentication handshake that did not succeed. */
@Name("io.jpipe.HandshakeFailure")
@Label("Handshake Failure")
@Category("jpipe")
@Description(
    "An authentication handshake failed: wrong key, timeout, protocol error, end of file, or"
        + " abandoned because maxPendingHandshakes were pending")
@StackTrace(false)
final class HandshakeFailureEvent extends jdk.jfr.Event {
  @Label("Side")
  @Description("Listener (accepting a client) or Client (connecting to a listener)")
  String side;

  @Label("Peer")
  @Description("The other end's address: the client's for a Listener, empty if unknown")
  String peer;

  @Label("Cause")
  @Description("Why it failed, as the AuthenticationException says")
  String cause;
}
