package io.jpipe.internal.net;

import io.jpipe.MessageTooLongException;
import io.jpipe.ProtocolException;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Linux;
import io.jpipe.net.AuthenticationException;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.SocketTimeoutException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * CPython's authentication handshake ({@code deliver_challenge} / {@code answer_challenge}), byte
 * for byte, as spoken by CPython 3.12 and later, which also interoperates with 3.11.
 *
 * <pre>
 * listener -&gt; client  #CHALLENGE#{sha256}&lt;40 random bytes&gt;        (deliver)
 * client -&gt; listener  {sha256}HMAC-SHA256(key, {sha256}&lt;40 bytes&gt;)  (answer)
 * listener -&gt; client  #WELCOME# | #FAILURE#
 * ...then the same with the roles swapped: each side authenticates the other.
 * </pre>
 *
 * <p>Generations are told apart by length, as CPython does: a 20-byte challenge comes from a 3.11
 * peer and is answered with a raw 16-byte HMAC-MD5; a 16- or 20-byte response comes from a 3.11
 * peer and is checked as HMAC-MD5 (a 3.11 peer MACs our whole prefixed challenge). Every frame is
 * at most 256 bytes; a longer one is refused before it is read. Nothing here decodes objects.
 */
public final class Handshake {
  private Handshake() {}

  static final byte[] CHALLENGE = "#CHALLENGE#".getBytes(StandardCharsets.US_ASCII);
  static final byte[] WELCOME = "#WELCOME#".getBytes(StandardCharsets.US_ASCII);
  static final byte[] FAILURE = "#FAILURE#".getBytes(StandardCharsets.US_ASCII);

  /** Random bytes in a challenge (CPython 3.12+). */
  static final int MESSAGE_LENGTH = 40;

  /** Largest handshake frame accepted. */
  static final int MAX_FRAME = 256;

  private static final int MD5_ONLY_MESSAGE_LENGTH = 20;
  private static final int MD5_DIGEST_LENGTH = 16;
  private static final int MAX_DIGEST_NAME = 8;

  /** CPython's allowed digests: name, JCA algorithm, HMAC block size. */
  private record Digest(String algorithm, int blockSize) {}

  private static final Map<String, Digest> DIGESTS =
      Map.of(
          "md5", new Digest("HmacMD5", 64),
          "sha256", new Digest("HmacSHA256", 64),
          "sha384", new Digest("HmacSHA384", 128),
          "sha3_256", new Digest("HmacSHA3-256", 136),
          "sha3_384", new Digest("HmacSHA3-384", 104));

  private static final VarHandle INT_BE =
      MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle LONG_BE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  private static final SecureRandom RANDOM = new SecureRandom();

  /** Where challenge bytes come from (replaced in tests by fixed bytes). */
  static Supplier<byte[]> nonces =
      () -> {
        byte[] b = new byte[MESSAGE_LENGTH];
        RANDOM.nextBytes(b);
        return b;
      };

  /**
   * Whether {@code name} is one of CPython's allowed digests.
   *
   * @param name a digest name such as {@code "sha256"}
   * @return true if allowed
   */
  public static boolean isAllowedDigest(String name) {
    return DIGESTS.containsKey(name);
  }

  /**
   * The listener's side: challenge, then be challenged ({@code Listener.accept}).
   *
   * @param ch the connection's channel
   * @param key the authentication key (may be empty)
   * @param digest the digest to propose, normally {@code "sha256"}
   * @param deadline a {@link System#nanoTime} deadline for the whole handshake
   * @throws AuthenticationException if it fails (the cause says why)
   * @throws java.nio.channels.ClosedChannelException if the channel was closed meanwhile, by
   *     another thread ({@link java.nio.channels.AsynchronousCloseException}) or an interrupt
   *     ({@link java.nio.channels.ClosedByInterruptException}), as any blocking call says it
   */
  public static void serve(FdChannel ch, byte[] key, String digest, long deadline)
      throws AuthenticationException, java.nio.channels.ClosedChannelException {
    serve(ch, key, digest, deadline, 0);
  }

  /**
   * As {@link #serve(FdChannel, byte[], String, long)}, marking our challenge with a shared-memory
   * offer ({@link #shmMark}) when {@code shmLog2} is not 0.
   *
   * @param ch the connection's channel
   * @param key the authentication key (may be empty)
   * @param digest the digest to propose
   * @param deadline a {@link System#nanoTime} deadline for the whole handshake
   * @param shmLog2 0 for no mark, else the log2 of the ring capacity we would use
   * @return the log2 of the ring capacity the client's challenge was marked with, or 0 if it was
   *     not marked (a CPython client, or a jpipe client that did not opt in)
   * @throws AuthenticationException if it fails
   * @throws java.nio.channels.ClosedChannelException if the channel was closed meanwhile
   */
  public static int serve(FdChannel ch, byte[] key, String digest, long deadline, int shmLog2)
      throws AuthenticationException, java.nio.channels.ClosedChannelException {
    int[] peer = new int[1];
    run(
        ch,
        deadline,
        () -> {
          deliver(ch, key, digest, deadline, shmLog2);
          peer[0] = answer(ch, key, deadline);
        });
    return peer[0];
  }

  /**
   * The client's side: be challenged, then challenge ({@code Client}).
   *
   * @param ch the connection's channel
   * @param key the authentication key (may be empty)
   * @param digest the digest to propose, normally {@code "sha256"}
   * @param deadline a {@link System#nanoTime} deadline for the whole handshake
   * @throws AuthenticationException if it fails (the cause says why)
   * @throws java.nio.channels.ClosedChannelException if the channel was closed meanwhile (close or
   *     interrupt), as any blocking call says it
   */
  public static void connect(FdChannel ch, byte[] key, String digest, long deadline)
      throws AuthenticationException, java.nio.channels.ClosedChannelException {
    connect(ch, key, digest, deadline, 0);
  }

  /**
   * As {@link #connect(FdChannel, byte[], String, long)}, marking our challenge with a
   * shared-memory request when {@code shmLog2} is not 0.
   *
   * @param ch the connection's channel
   * @param key the authentication key (may be empty)
   * @param digest the digest to propose
   * @param deadline a {@link System#nanoTime} deadline for the whole handshake
   * @param shmLog2 0 for no mark, else the log2 of the ring capacity we ask for
   * @return the log2 the listener's challenge was marked with, or 0 if it was not marked
   * @throws AuthenticationException if it fails
   * @throws java.nio.channels.ClosedChannelException if the channel was closed meanwhile
   */
  public static int connect(FdChannel ch, byte[] key, String digest, long deadline, int shmLog2)
      throws AuthenticationException, java.nio.channels.ClosedChannelException {
    int[] peer = new int[1];
    run(
        ch,
        deadline,
        () -> {
          peer[0] = answer(ch, key, deadline);
          deliver(ch, key, digest, deadline, shmLog2);
        });
    return peer[0];
  }

  /**
   * The shared-memory mark: the first bytes of a jpipe challenge's 40 nonce bytes when its sender
   * opts in to shared memory, followed by one byte, the log2 of its ring capacity; the other 28
   * bytes stay random. To a CPython peer it is just part of a random nonce: it HMACs it as any
   * other. A CPython nonce begins with these 11 bytes and a plausible log2 by chance only (2^-92
   * per handshake), and even then the jpipe side offers shared memory only if it opted in itself.
   */
  static final byte[] SHM_MARK = "jpipe-shm/1".getBytes(StandardCharsets.US_ASCII);

  /** Smallest and largest log2 capacity a mark may carry. */
  public static final int SHM_MIN_LOG2 = 12;

  /** Largest log2 capacity a mark may carry (1 GiB). */
  public static final int SHM_MAX_LOG2 = 30;

  /** The log2 in a challenge's mark ({@code message} = digest prefix + nonce), or 0 if none. */
  static int shmMark(byte[] message) {
    int at = message.length - MESSAGE_LENGTH;
    if (at < 0 || !Arrays.equals(message, at, at + SHM_MARK.length, SHM_MARK, 0, SHM_MARK.length)) {
      return 0;
    }
    int log2 = message[at + SHM_MARK.length];
    return log2 >= SHM_MIN_LOG2 && log2 <= SHM_MAX_LOG2 ? log2 : 0;
  }

  private interface Steps {
    void run() throws IOException;
  }

  private static void run(FdChannel ch, long deadline, Steps steps)
      throws AuthenticationException, java.nio.channels.ClosedChannelException {
    try {
      ch.acquire();
      try {
        steps.run();
      } finally {
        ch.release();
      }
    } catch (AuthenticationException | java.nio.channels.ClosedChannelException e) {
      throw e; // closed by another thread or an interrupt: the caller's business, not the peer's
    } catch (SocketTimeoutException e) {
      throw new AuthenticationException("authentication handshake timed out", e);
    } catch (EOFException e) {
      throw new AuthenticationException("the peer closed the connection during authentication", e);
    } catch (MessageTooLongException e) {
      throw new AuthenticationException(
          "protocol error: handshake message of " + e.length() + " bytes (at most 256)", e);
    } catch (IOException e) {
      throw new AuthenticationException("authentication handshake failed: " + e.getMessage(), e);
    }
  }

  /** {@code deliver_challenge}: send a challenge, check the response, say welcome or failure. */
  static void deliver(FdChannel ch, byte[] key, String digest, long deadline) throws IOException {
    deliver(ch, key, digest, deadline, 0);
  }

  /** {@code deliver_challenge}, the nonce marked with {@link #SHM_MARK} if {@code shmLog2 != 0}. */
  static void deliver(FdChannel ch, byte[] key, String digest, long deadline, int shmLog2)
      throws IOException {
    byte[] nonce = nonces.get().clone();
    if (shmLog2 != 0) {
      System.arraycopy(SHM_MARK, 0, nonce, 0, SHM_MARK.length);
      nonce[SHM_MARK.length] = (byte) shmLog2;
    }
    byte[] message = concat(("{" + digest + "}").getBytes(StandardCharsets.US_ASCII), nonce);
    send(ch, concat(CHALLENGE, message), deadline);
    byte[] response = recv(ch, deadline);
    try {
      verify(key, message, response);
    } catch (AuthenticationException e) {
      send(ch, FAILURE, deadline);
      throw e;
    }
    send(ch, WELCOME, deadline);
  }

  /**
   * {@code answer_challenge}: answer the peer's challenge, expect welcome.
   *
   * @return the log2 capacity of the challenge's shared-memory mark, or 0 if unmarked
   */
  static int answer(FdChannel ch, byte[] key, long deadline) throws IOException {
    byte[] msg = recv(ch, deadline);
    if (!startsWith(msg, CHALLENGE)) {
      throw new AuthenticationException(
          "protocol error, expected challenge: message=" + printable(msg));
    }
    byte[] message = Arrays.copyOfRange(msg, CHALLENGE.length, msg.length);
    if (message.length < MD5_ONLY_MESSAGE_LENGTH) {
      throw new AuthenticationException("challenge too short: " + message.length + " bytes");
    }
    send(ch, response(key, message), deadline);
    byte[] verdict = recv(ch, deadline);
    if (!Arrays.equals(verdict, WELCOME)) {
      throw new AuthenticationException("digest sent was rejected");
    }
    return shmMark(message);
  }

  /** {@code _create_response}. */
  static byte[] response(byte[] key, byte[] message) throws AuthenticationException {
    String digest = digestName(message);
    if (digest.isEmpty()) {
      return hmac("md5", key, message); // a 3.11 peer: raw HMAC-MD5
    }
    return concat(
        ("{" + digest + "}").getBytes(StandardCharsets.US_ASCII), hmac(digest, key, message));
  }

  /** {@code _verify_challenge}. */
  static void verify(byte[] key, byte[] message, byte[] response) throws AuthenticationException {
    String digest = digestName(response);
    byte[] mac = digest.isEmpty() ? response : payload(response, digest);
    if (digest.isEmpty()) {
      digest = "md5";
    }
    byte[] expected = hmac(digest, key, message);
    if (expected.length != mac.length) {
      throw new AuthenticationException(
          "expected '" + digest + "' of length " + expected.length + " got " + mac.length);
    }
    if (!MessageDigest.isEqual(expected, mac)) {
      throw new AuthenticationException("digest received was wrong");
    }
  }

  /** {@code _get_digest_name_and_payload}: "" for the legacy lengths. */
  private static String digestName(byte[] message) throws AuthenticationException {
    if (message.length == MD5_ONLY_MESSAGE_LENGTH || message.length == MD5_DIGEST_LENGTH) {
      return "";
    }
    if (message.length > 0 && message[0] == '{') {
      for (int i = 1; i < Math.min(message.length, MAX_DIGEST_NAME + 2); i++) {
        if (message[i] == '}') {
          String name = new String(message, 1, i - 1, StandardCharsets.US_ASCII);
          if (DIGESTS.containsKey(name)) {
            return name;
          }
          break;
        }
      }
    }
    throw new AuthenticationException(
        "unsupported message length, missing digest prefix, or unsupported digest: message="
            + printable(message));
  }

  private static byte[] payload(byte[] message, String digest) {
    return Arrays.copyOfRange(message, digest.length() + 2, message.length);
  }

  /**
   * HMAC with one of CPython's digests. An empty key is allowed, as in Python: HMAC pads every key
   * shorter than the block with zeros, so it equals a block of zeros (the JCA refuses empty keys).
   */
  static byte[] hmac(String digest, byte[] key, byte[] message) throws AuthenticationException {
    Digest d = DIGESTS.get(digest);
    if (d == null) {
      throw new AuthenticationException("response_digest='" + digest + "' unsupported");
    }
    try {
      Mac mac = Mac.getInstance(d.algorithm());
      byte[] k = key.length == 0 ? new byte[d.blockSize()] : key;
      mac.init(new SecretKeySpec(k, d.algorithm()));
      return mac.doFinal(message);
    } catch (GeneralSecurityException e) {
      throw new AuthenticationException("response_digest='" + digest + "' unsupported", e);
    }
  }

  // Frames are read and written here rather than through Frames: a handshake frame is at most 256
  // bytes, and heap arrays go to a socket directly, so a pending handshake never makes its thread
  // allocate the 64 KiB bounce buffer (a listener may have hundreds pending).

  private static void send(FdChannel ch, byte[] bytes, long deadline) throws IOException {
    byte[] frame = new byte[4 + bytes.length];
    INT_BE.set(frame, 0, bytes.length);
    System.arraycopy(bytes, 0, frame, 4, bytes.length);
    Scratch s = Scratch.get();
    MemorySegment src = MemorySegment.ofArray(frame);
    long off = 0;
    while (off < frame.length) {
      long r = ch.writeNow(s, src.asSlice(off));
      if (r > 0) {
        off += r;
      } else if (!ch.await(s, Linux.POLLOUT, deadline)) {
        throw new SocketTimeoutException("timed out sending a handshake message");
      }
    }
  }

  /**
   * {@code recv_bytes(256)}: reads one frame of at most {@link #MAX_FRAME} bytes. The header is
   * checked before anything more is read, so a peer claiming a huge frame is refused at once.
   */
  static byte[] recv(FdChannel ch, long deadline) throws IOException {
    byte[] header = new byte[4];
    if (!readFully(ch, header, deadline)) {
      throw new EOFException("end of file during the authentication handshake");
    }
    long n = (int) INT_BE.get(header, 0);
    if (n == -1) { // the long form: CPython accepts it for any length
      byte[] longer = new byte[8];
      if (!readFully(ch, longer, deadline)) {
        throw new EOFException("end of file inside a handshake message");
      }
      n = (long) LONG_BE.get(longer, 0);
    }
    if (n < 0) {
      throw new ProtocolException("invalid message header: negative length " + n);
    }
    if (n > MAX_FRAME) {
      throw new MessageTooLongException(n, MAX_FRAME);
    }
    byte[] body = new byte[(int) n];
    if (n > 0 && !readFully(ch, body, deadline)) {
      throw new EOFException("end of file inside a handshake message");
    }
    return body;
  }

  /**
   * Fills {@code dst} (at least one byte long).
   *
   * @return false at end of file before the first byte
   * @throws EOFException at end of file after the first byte
   */
  private static boolean readFully(FdChannel ch, byte[] dst, long deadline) throws IOException {
    Scratch s = Scratch.get();
    MemorySegment seg = MemorySegment.ofArray(dst);
    int off = 0;
    while (off < dst.length) {
      long r = ch.readNow(s, seg.asSlice(off));
      if (r > 0) {
        off += (int) r;
      } else if (r == 0) {
        if (off == 0) {
          return false;
        }
        throw new EOFException("end of file inside a handshake message");
      } else if (!ch.await(s, Linux.POLLIN, deadline)) {
        throw new SocketTimeoutException("timed out waiting for a handshake message");
      }
    }
    return true;
  }

  private static boolean startsWith(byte[] a, byte[] prefix) {
    return a.length >= prefix.length
        && Arrays.equals(a, 0, prefix.length, prefix, 0, prefix.length);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  /** A bytes repr for messages: printable ASCII as is, the rest in hex. */
  static String printable(byte[] b) {
    byte[] shown = b.length > 64 ? Arrays.copyOf(b, 64) : b;
    boolean text = true;
    for (byte x : shown) {
      text &= x >= 0x20 && x < 0x7f;
    }
    String body =
        text
            ? new String(shown, StandardCharsets.US_ASCII)
            : "0x" + HexFormat.of().formatHex(shown);
    return "b'" + body + (b.length > 64 ? "...' (" + b.length + " bytes)" : "'");
  }
}
