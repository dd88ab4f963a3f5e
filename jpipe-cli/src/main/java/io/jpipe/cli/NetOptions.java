package io.jpipe.cli;

import io.jpipe.codec.Codec;
import io.jpipe.net.Address;
import io.jpipe.pickle.PickleCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine.Option;

/** The options {@code serve} and {@code send} share. */
final class NetOptions {
  /** How messages are turned into objects. */
  enum CodecChoice {
    /** Raw byte messages (send_bytes/recv_bytes). */
    bytes,
    /** Python's pickle: objects that CPython's send/recv understand. */
    pickle,
    /** Java serialization: objects for another JVM. */
    java;

    Codec codec() {
      return switch (this) {
        case bytes, java -> Codec.javaSerialization();
        case pickle -> PickleCodec.create();
      };
    }
  }

  @Option(
      names = "--authkey-file",
      paramLabel = "FILE",
      description =
          "Authenticate with the key in FILE (its bytes, without one trailing newline), as"
              + " CPython's authkey. Without it, no authentication.")
  Path authkeyFile;

  @Option(
      names = "--codec",
      paramLabel = "CODEC",
      defaultValue = "bytes",
      description = "bytes (default), pickle or java.")
  CodecChoice codec;

  /** The key, or null for none. */
  byte[] authkey() throws IOException {
    if (authkeyFile == null) {
      return null;
    }
    byte[] key = Files.readAllBytes(authkeyFile);
    int n = key.length;
    if (n > 0 && key[n - 1] == '\n') {
      n--;
      if (n > 0 && key[n - 1] == '\r') {
        n--;
      }
    }
    return Arrays.copyOf(key, n);
  }

  /** Parses an address argument. */
  static Address address(String text) {
    return Address.parse(text);
  }
}
