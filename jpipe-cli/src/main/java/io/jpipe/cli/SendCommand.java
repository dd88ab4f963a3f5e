package io.jpipe.cli;

import io.jpipe.Connection;
import io.jpipe.MessageTooLongException;
import io.jpipe.codec.Codec;
import io.jpipe.net.Address;
import io.jpipe.net.Client;
import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jpipe send}: connects and sends each argument as one message. */
@Command(
    name = "send",
    mixinStandardHelpOptions = true,
    description = {
      "Connects to ADDRESS and sends each MESSAGE as one message: its UTF-8 bytes, or with"
          + " --json the JSON value as an object through the codec (pickle or java). Exits 0"
          + " when all were sent, non-zero with a one-line error when the connection or the"
          + " authentication fails, or when the server demands a key and none was given.",
      "Without a key, send then shuts down its side of the connection and waits (--wait) for"
          + " the server to close its side: a server that demands a key sends its challenge"
          + " first, and that is how send tells.",
      "ADDRESS: unix:/path, unix:@name (Linux abstract) or tcp:host:port."
    })
final class SendCommand implements Callable<Integer> {
  /** The longest frame a server sends before authentication (CPython reads at most 256). */
  private static final int HANDSHAKE_FRAME = 256;

  private static final byte[] CHALLENGE = "#CHALLENGE#".getBytes(StandardCharsets.US_ASCII);

  @Parameters(index = "0", paramLabel = "ADDRESS", description = "Where to connect.")
  String address;

  @Parameters(index = "1..*", paramLabel = "MESSAGE", description = "The messages.")
  List<String> messages = List.of();

  @Mixin NetOptions net;

  @Option(
      names = "--json",
      description =
          "Each MESSAGE is a JSON value, sent as an object (needs --codec pickle or java).")
  boolean json;

  @Option(
      names = "--wait",
      paramLabel = "DURATION",
      defaultValue = "10s",
      converter = Converters.DurationConverter.class,
      description =
          "Without a key: how long to wait, after sending, for the server to close the connection"
              + " or demand a key (default: 10s, the handshake timeout; 0 not to wait).")
  Duration wait;

  @Override
  public Integer call() throws CliException, IOException {
    if (json && !net.codec.objects()) {
      throw new CliException("--json needs --codec pickle or --codec java");
    }
    List<Object> values = new ArrayList<>();
    for (String m : messages) {
      values.add(json ? Json.parse(m) : m); // parse them all before connecting
    }
    Address where = NetOptions.address(address);
    byte[] key = net.authkey();
    net.checkTrust(where, key, "send");
    Codec codec = net.codec(List.of());
    try (Connection conn =
        Client.builder(where)
            .authkey(key)
            .codec(codec)
            .allowUnauthenticated(true) // checkTrust has applied the command's rule
            .connect()) {
      if (key == null && conn.poll()) {
        checkNotChallenge(conn, where); // the server spoke first: that can only be a challenge
      }
      for (Object v : values) {
        try {
          if (net.codec.objects()) {
            conn.send(v);
          } else {
            conn.sendBytes(((String) v).getBytes(StandardCharsets.UTF_8));
          }
        } catch (IOException e) {
          if (key == null && !conn.isClosed() && conn.isReadable() && conn.poll()) {
            checkNotChallenge(conn, where); // a server that demands a key may hang up on us
          }
          throw e;
        }
      }
      if (key == null && !wait.isZero() && conn.isReadable()) {
        awaitServer(conn, where);
      }
    }
    return 0;
  }

  /**
   * Shuts down our side, then waits for the server's first frame or end of file. A server that
   * demands a key has sent its challenge before reading anything, so this tells for certain once
   * the server has accepted us; a server that does not closes its side when it has read our end of
   * file.
   */
  private void awaitServer(Connection conn, Address where) throws IOException, CliException {
    HalfClose.shutdownOutput(conn);
    try (Watchdog w = new Watchdog("jpipe-send-wait")) {
      w.after(wait, conn::close);
      checkNotChallenge(conn, where);
    } catch (ClosedChannelException e) {
      // the server kept the connection open past --wait without a word: it did not demand a key
    }
  }

  /** Receives the server's first frame; a challenge means the server demands a key. */
  private static void checkNotChallenge(Connection conn, Address where)
      throws IOException, CliException {
    byte[] first;
    try {
      first = conn.recvBytes(HANDSHAKE_FRAME);
    } catch (EOFException | MessageTooLongException e) {
      return; // closed, or too long to be a challenge
    }
    if (first.length >= CHALLENGE.length
        && Arrays.equals(first, 0, CHALLENGE.length, CHALLENGE, 0, CHALLENGE.length)) {
      throw new CliException(
          "the server at " + where + " demands an authkey: give --authkey-file FILE");
    }
  }
}
