package io.jpipe.net;

import io.jpipe.Connection;
import io.jpipe.ConnectionContract;
import io.jpipe.TestSupport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/** The connection contract on sockets from a {@link Listener} and a {@link Client}. */
abstract class ListenerConnectionContract extends ConnectionContract {
  static final byte[] KEY = "contract key".getBytes(StandardCharsets.UTF_8);

  private boolean reversed;

  /** Where to listen for each new pair; null for a private Unix socket. */
  abstract Address address() throws IOException;

  /** The key (null: no authentication). */
  byte[] authkey() {
    return KEY;
  }

  @Override
  protected Ends open() throws IOException {
    // The empty key over TCP (Tcp6ListenerConnectionTest) proves nothing: say it is intended.
    Listener.Builder builder = Listener.builder().authkey(authkey()).allowUnauthenticated(true);
    Address where = address();
    if (where != null) {
      builder.address(where);
    }
    try (Listener listener = builder.open()) {
      CompletableFuture<Connection> client =
          TestSupport.async(
              () ->
                  Client.builder(listener.address())
                      .authkey(authkey())
                      .allowUnauthenticated(true)
                      .connect());
      Connection accepted = listener.accept();
      Connection connected;
      try {
        connected = TestSupport.await(client);
      } catch (IOException e) {
        throw e;
      } catch (Exception e) {
        throw new IOException(e);
      }
      reversed = !reversed;
      return reversed ? new Ends(accepted, connected) : new Ends(connected, accepted);
    }
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
