package io.jpipe.cli;

import io.jpipe.Connection;
import io.jpipe.net.Client;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
          + " authentication fails.",
      "ADDRESS: unix:/path, unix:@name (Linux abstract) or tcp:host:port."
    })
final class SendCommand implements Callable<Integer> {
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

  @Override
  public Integer call() {
    try {
      if (json && net.codec == NetOptions.CodecChoice.bytes) {
        throw new IllegalArgumentException("--json needs --codec pickle or --codec java");
      }
      List<Object> values = new java.util.ArrayList<>();
      for (String m : messages) {
        values.add(json ? Json.parse(m) : m); // parse them all before connecting
      }
      try (Connection conn =
          Client.builder(NetOptions.address(address))
              .authkey(net.authkey())
              .codec(net.codec.codec())
              .connect()) {
        for (Object v : values) {
          if (net.codec == NetOptions.CodecChoice.bytes) {
            conn.sendBytes(((String) v).getBytes(StandardCharsets.UTF_8));
          } else {
            conn.send(v);
          }
        }
      }
      return 0;
    } catch (IOException | IllegalArgumentException e) {
      System.err.println("jpipe send: " + e.getClass().getSimpleName() + ": " + e.getMessage());
      return 1;
    }
  }
}
