package io.jpipe.internal.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.TestSupport;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.net.AuthenticationException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The handshake byte for byte, against the captures in shared/reference/cpython-connection.md §2.4
 * (key {@code b'secret'}, server nonce all 00, client nonce all 11): both roles, against a CPython
 * 3.12+ peer and a 3.11 peer. The peer here is a script that writes the captured bytes and checks
 * that jpipe writes exactly the captured bytes.
 */
class HandshakeGoldenTest {
  static final byte[] KEY = "secret".getBytes(StandardCharsets.US_ASCII);
  static final HexFormat HEX = HexFormat.of();

  // Frames of the captures, header included.
  static final String CHALLENGE_312_00 =
      "0000003b" + "234348414c4c454e474523" + "7b7368613235367d" + "00".repeat(40);
  static final String CHALLENGE_312_11 =
      "0000003b" + "234348414c4c454e474523" + "7b7368613235367d" + "11".repeat(40);
  static final String CHALLENGE_311_00 = "0000001f" + "234348414c4c454e474523" + "00".repeat(20);
  static final String CHALLENGE_311_11 = "0000001f" + "234348414c4c454e474523" + "11".repeat(20);
  static final String WELCOME = "00000009" + "2357454c434f4d4523";
  static final String FAILURE = "00000009" + "234641494c55524523";
  static final String SHA256_RESPONSE_00 =
      "00000028"
          + "7b7368613235367d"
          + "d0fb99539f09a6c25a9c79a4ca1bb663bbec18ef7bc13404114bc7afe1ea91ab";
  static final String SHA256_RESPONSE_11 =
      "00000028"
          + "7b7368613235367d"
          + "b995818c8efbb1c9593531533138e381718d63c2c7bc75e9c5960c3da504da29";
  static final String MD5_OF_311_00 = "00000010" + "b16bdf68b6f9a3bd05d37380b5779985";
  static final String MD5_OF_311_11 = "00000010" + "acaea49efbc66d232affdba4906587f6";
  static final String MD5_OF_312_00 = "00000010" + "e30575249d9b7e2576ba2cb50a3e2453";
  static final String MD5_OF_312_11 = "00000010" + "2c41edde90b6c2a554d1c9a1501fde7f";

  private Supplier<byte[]> saved;
  private int[] pair;
  private FdChannel ours;
  private int peer;

  @BeforeEach
  void pair() throws Exception {
    saved = Handshake.nonces;
    pair = Fds.socketpair();
    ours = new FdChannel(pair[0], FdChannel.Kind.SOCKET);
    peer = pair[1];
  }

  @AfterEach
  void restore() {
    Handshake.nonces = saved;
    Fds.closeQuietly(ours);
    Fds.closeQuietly(peer);
  }

  private static void nonce(int fill) {
    Handshake.nonces =
        () -> {
          byte[] b = new byte[Handshake.MESSAGE_LENGTH];
          Arrays.fill(b, (byte) fill);
          return b;
        };
  }

  /** Reads exactly the expected frame from the peer side and compares. */
  private void expect(String hex) throws Exception {
    byte[] want = HEX.parseHex(hex);
    byte[] got = readExactly(peer, want.length);
    assertEquals(hex, HEX.formatHex(got));
  }

  private void write(String hex) throws Exception {
    TestSupport.rawWrite(peer, HEX.parseHex(hex));
  }

  static byte[] readExactly(int fd, int n) {
    Scratch s = Scratch.get();
    MemorySegment buf = Arena.ofAuto().allocate(Math.max(1, n));
    int off = 0;
    while (off < n) {
      long r = Libc.read(s.errno, fd, buf.asSlice(off), n - off);
      assertTrue(r > 0, "the peer closed or failed after " + off + " of " + n + " bytes");
      off += (int) r;
    }
    return buf.toArray(ValueLayout.JAVA_BYTE);
  }

  private CompletableFuture<Object> serve() {
    return TestSupport.async(
        () -> {
          Handshake.serve(ours, KEY, "sha256", FdChannel.deadlineAfter(30_000_000_000L));
          return null;
        });
  }

  private CompletableFuture<Object> connect() {
    return TestSupport.async(
        () -> {
          Handshake.connect(ours, KEY, "sha256", FdChannel.deadlineAfter(30_000_000_000L));
          return null;
        });
  }

  @Test
  void listenerAgainstACPython312Client() throws Exception {
    nonce(0x00);
    CompletableFuture<Object> done = serve();
    expect(CHALLENGE_312_00);
    write(SHA256_RESPONSE_00);
    expect(WELCOME);
    write(CHALLENGE_312_11);
    expect(SHA256_RESPONSE_11);
    write(WELCOME);
    TestSupport.await(done);
  }

  @Test
  void clientAgainstACPython312Listener() throws Exception {
    nonce(0x11);
    CompletableFuture<Object> done = connect();
    write(CHALLENGE_312_00);
    expect(SHA256_RESPONSE_00);
    write(WELCOME);
    expect(CHALLENGE_312_11);
    write(SHA256_RESPONSE_11);
    expect(WELCOME);
    TestSupport.await(done);
  }

  @Test
  void listenerAgainstACPython311Client() throws Exception {
    // (c): the 3.11 client MACs our whole prefixed challenge with MD5; its own challenge is legacy.
    nonce(0x00);
    CompletableFuture<Object> done = serve();
    expect(CHALLENGE_312_00);
    write(MD5_OF_312_00);
    expect(WELCOME);
    write(CHALLENGE_311_11);
    expect(MD5_OF_311_11);
    write(WELCOME);
    TestSupport.await(done);
  }

  @Test
  void clientAgainstACPython311Listener() throws Exception {
    // (d): the 3.11 listener's 20-byte challenge gets a raw MD5; it answers ours with MD5 too.
    nonce(0x11);
    CompletableFuture<Object> done = connect();
    write(CHALLENGE_311_00);
    expect(MD5_OF_311_00);
    write(WELCOME);
    expect(CHALLENGE_312_11);
    write(MD5_OF_312_11);
    expect(WELCOME);
    TestSupport.await(done);
  }

  @Test
  void aWrongDigestIsAFailureAndAnAuthenticationException() throws Exception {
    nonce(0x00);
    CompletableFuture<Object> done = serve();
    expect(CHALLENGE_312_00);
    write(SHA256_RESPONSE_11); // answers another challenge
    expect(FAILURE);
    Throwable t = TestSupport.failureOf(done);
    assertInstanceOf(AuthenticationException.class, t);
    assertEquals("digest received was wrong", t.getMessage());
  }

  /** CPython's OtherTest.test_deliver_challenge_auth_failure: a bogus reply. */
  @Test
  void deliverChallengeAuthFailure() throws Exception {
    nonce(0x00);
    CompletableFuture<Object> done = serve();
    expect(CHALLENGE_312_00);
    byte[] bogus = "something bogus".getBytes(StandardCharsets.US_ASCII);
    TestSupport.rawWrite(peer, TestSupport.concat(TestSupport.header(bogus.length), bogus));
    expect(FAILURE);
    assertInstanceOf(AuthenticationException.class, TestSupport.failureOf(done));
  }

  /** CPython's OtherTest.test_answer_challenge_auth_failure: a short challenge, then bogus. */
  @Test
  void answerChallengeAuthFailure() throws Exception {
    CompletableFuture<Object> done = connect();
    byte[] challenge = Handshake.CHALLENGE;
    TestSupport.rawWrite(peer, TestSupport.concat(TestSupport.header(challenge.length), challenge));
    Throwable t = TestSupport.failureOf(done);
    assertInstanceOf(AuthenticationException.class, t);
    assertTrue(t.getMessage().contains("challenge too short"), t.getMessage());
  }

  @Test
  void aBogusVerdictIsRejected() throws Exception {
    nonce(0x11);
    CompletableFuture<Object> done = connect();
    write(CHALLENGE_312_00);
    expect(SHA256_RESPONSE_00);
    byte[] bogus = "something bogus".getBytes(StandardCharsets.US_ASCII);
    TestSupport.rawWrite(peer, TestSupport.concat(TestSupport.header(bogus.length), bogus));
    Throwable t = TestSupport.failureOf(done);
    assertEquals("digest sent was rejected", t.getMessage());
  }

  @Test
  void hmacAllowsTheEmptyKeyAsPythonDoes() throws Exception {
    // python3 -c "import hmac; print(hmac.new(b'', b'abc', 'sha256').hexdigest())"
    assertEquals(
        "fd7adb152c05ef80dccf50a1fa4c05d5a3ec6da95575fc312ae7c5d091836351",
        HEX.formatHex(
            Handshake.hmac("sha256", new byte[0], "abc".getBytes(StandardCharsets.US_ASCII))));
  }
}
