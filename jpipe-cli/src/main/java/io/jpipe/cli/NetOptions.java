package io.jpipe.cli;

import io.jpipe.codec.Codec;
import io.jpipe.codec.JavaSerializationCodec;
import io.jpipe.net.Address;
import io.jpipe.pickle.PickleCodec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import picocli.CommandLine.Option;

/** The options {@code serve} and {@code send} share. */
final class NetOptions {
  /** The longest key file read: a key is a few bytes, anything longer is a mistake. */
  static final int MAX_KEY_FILE = 64 * 1024;

  /** How messages are turned into objects. */
  enum CodecChoice {
    /** Raw byte messages (send_bytes/recv_bytes). */
    bytes,
    /** Python's pickle: objects that CPython's send/recv understand. */
    pickle,
    /** Java serialization: objects for another JVM. */
    java;

    /** Whether messages are decoded into objects. */
    boolean objects() {
      return this != bytes;
    }
  }

  @Option(
      names = "--authkey-file",
      paramLabel = "FILE",
      description =
          "Authenticate with the key in FILE (its bytes, without one trailing newline), as"
              + " CPython's authkey. As ssh does with private keys, a FILE that its group or"
              + " others may access is refused (chmod 600 FILE). Without it, no authentication.")
  Path authkeyFile;

  @Option(
      names = "--no-auth",
      description =
          "Allow objects (--codec pickle or java) over TCP without a key: anyone who can reach"
              + " the port may then send objects to be decoded. Without it, that is refused.")
  boolean noAuth;

  @Option(
      names = "--codec",
      paramLabel = "CODEC",
      defaultValue = "bytes",
      description = "bytes (default), pickle or java.")
  CodecChoice codec;

  /**
   * The codec of the chosen kind. Java serialization always goes through an allow-list here, as
   * suits sockets ({@link JavaSerializationCodec#allowing}), with the {@code --allow-class}
   * patterns added.
   *
   * @param allowClasses the {@code --allow-class} patterns (none for {@code send}, which never
   *     decodes)
   * @return the codec
   * @throws CliException if {@code --allow-class} is given without {@code --codec java}, or a
   *     pattern is malformed
   */
  Codec codec(List<String> allowClasses) throws CliException {
    if (!allowClasses.isEmpty() && codec != CodecChoice.java) {
      throw new CliException("--allow-class needs --codec java");
    }
    return switch (codec) {
      case bytes -> JavaSerializationCodec.allowing(); // never decodes: recvBytes only
      case java -> {
        try {
          yield JavaSerializationCodec.allowing(allowClasses.toArray(String[]::new));
        } catch (IllegalArgumentException e) {
          throw new CliException("bad --allow-class pattern: " + e.getMessage(), e);
        }
      }
      case pickle -> PickleCodec.create();
    };
  }

  /**
   * Checks that objects do not cross TCP unauthenticated unless {@code --no-auth} says so.
   *
   * @param where the address
   * @param key the key, or null
   * @param verb what the command does with objects, for the message ("serve", "send")
   * @throws CliException if they would, or {@code --no-auth} contradicts {@code --authkey-file}
   */
  void checkTrust(Address where, byte[] key, String verb) throws CliException {
    if (noAuth && authkeyFile != null) {
      throw new CliException("--no-auth and --authkey-file contradict each other: give one");
    }
    if ((key == null || key.length == 0)
        && !noAuth
        && codec.objects()
        && where instanceof Address.Tcp) {
      throw new CliException(
          "refusing to "
              + verb
              + " objects (--codec "
              + codec
              + ") over TCP "
              + (key == null ? "without a key" : "with an empty key (everyone knows it)")
              + ": give --authkey-file FILE, or --no-auth to let anyone who can reach "
              + where
              + " exchange objects with this process");
    }
  }

  /**
   * The key, or null for none. The file must belong to nobody but its owner: as ssh does with a
   * private key, a file its group or others may read, write or run is refused.
   *
   * @return the key
   * @throws CliException if the file is missing, unreadable, open to others or too long
   */
  byte[] authkey() throws CliException {
    if (authkeyFile == null) {
      return null;
    }
    Path f = authkeyFile;
    PosixFileAttributes attrs;
    try {
      attrs = Files.readAttributes(f, PosixFileAttributes.class);
    } catch (IOException e) {
      throw new CliException("cannot read key file " + f + ": " + reason(e), e);
    } catch (UnsupportedOperationException e) {
      throw new CliException("cannot check the permissions of key file " + f, e);
    }
    if (attrs.isDirectory()) {
      throw new CliException("cannot read key file " + f + ": it is a directory");
    }
    Set<PosixFilePermission> perms = attrs.permissions();
    int mode = 0;
    for (PosixFilePermission p : perms) {
      mode |= 1 << (8 - p.ordinal()); // OWNER_READ is 0400 ... OTHERS_EXECUTE is 0001
    }
    if ((mode & 0077) != 0) {
      throw new CliException(
          String.format(
              "key file %s has mode %04o: its group or others may access it; run chmod 600 %s",
              f, mode, f));
    }
    byte[] key;
    try (InputStream in = Files.newInputStream(f)) {
      key = in.readNBytes(MAX_KEY_FILE + 1);
    } catch (IOException e) {
      throw new CliException("cannot read key file " + f + ": " + reason(e), e);
    }
    if (key.length > MAX_KEY_FILE) {
      throw new CliException(
          "key file " + f + " is longer than " + MAX_KEY_FILE + " bytes: is it the right file?");
    }
    int n = key.length;
    if (n > 0 && key[n - 1] == '\n') {
      n--;
      if (n > 0 && key[n - 1] == '\r') {
        n--;
      }
    }
    return Arrays.copyOf(key, n);
  }

  /** A file error in words: no such file, permission denied, or the system's own message. */
  static String reason(IOException e) {
    return switch (e) {
      case NoSuchFileException x -> "no such file";
      case AccessDeniedException x -> "permission denied";
      case FileSystemException x when x.getReason() != null -> x.getReason();
      default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    };
  }

  /**
   * Parses an address argument.
   *
   * @param text the argument
   * @return the address
   * @throws CliException if it is not an address
   */
  static Address address(String text) throws CliException {
    try {
      return Address.parse(text);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), e);
    }
  }
}
