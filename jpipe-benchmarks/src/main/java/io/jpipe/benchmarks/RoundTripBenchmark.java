package io.jpipe.benchmarks;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One round trip with a child JVM that echoes (the {@code rtt_bytes_us} and {@code rtt_obj_us}
 * figures of {@code jpipe bench}, C and CPython). Run {@code bytesInto} with {@code -prof gc}: its
 * {@code gc.alloc.rate.norm} is what jpipe allocates per round trip on the bytes path (the child's
 * allocation is not counted: it is another JVM).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC"})
public class RoundTripBenchmark {
  /** Creates the benchmark (JMH does). */
  public RoundTripBenchmark() {}

  /** A peer that echoes with {@code recvBytes()}/{@code sendBytes(byte[])}. */
  @State(Scope.Thread)
  public static class BytesEcho extends PeerState {
    final byte[] msg = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};

    /** Creates the state (JMH does). */
    public BytesEcho() {}

    @Override
    Peer startPeer() throws IOException {
      return Peer.start(Peer::echoBytes, 0);
    }
  }

  /** A peer that echoes through one reused array. */
  @State(Scope.Thread)
  public static class IntoEcho extends PeerState {
    final byte[] msg = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
    final byte[] buf = new byte[64];

    /** Creates the state (JMH does). */
    public IntoEcho() {}

    @Override
    Peer startPeer() throws IOException {
      return Peer.start(Peer::echoInto, 0);
    }
  }

  /** A peer that echoes objects with {@code recv()}/{@code send(Object)}. */
  @State(Scope.Thread)
  public static class ObjectEcho extends PeerState {
    int next;

    /** Creates the state (JMH does). */
    public ObjectEcho() {}

    @Override
    Peer startPeer() throws IOException {
      return Peer.start(Peer::echoObjects, 0);
    }
  }

  /**
   * 8 bytes out with {@code sendBytes(byte[])}, back with {@code recvBytes()} (a new array).
   *
   * @param s the peer
   * @return the echo
   * @throws IOException if the pipe fails
   */
  @Benchmark
  public byte[] bytes(BytesEcho s) throws IOException {
    s.peer.conn.sendBytes(s.msg);
    return s.peer.conn.recvBytes();
  }

  /**
   * 8 bytes out with {@code sendBytes(byte[])}, back with {@code recvBytesInto(byte[])}: nothing
   * needs allocating, so {@code -prof gc} shows what jpipe itself allocates per round trip.
   *
   * @param s the peer
   * @return the echo's length
   * @throws IOException if the pipe fails
   */
  @Benchmark
  public int bytesInto(IntoEcho s) throws IOException {
    s.peer.conn.sendBytes(s.msg);
    return s.peer.conn.recvBytesInto(s.buf);
  }

  /**
   * An {@code Integer} out with {@code send}, back with {@code recv()}, the child echoing with
   * {@code recv()}/{@code send} (CPython's {@code send(i)}/{@code recv()}).
   *
   * @param s the peer
   * @return the echo
   * @throws IOException if the pipe fails
   */
  @Benchmark
  public Object object(ObjectEcho s) throws IOException {
    s.peer.conn.send(s.next++);
    return s.peer.conn.recv();
  }
}
