package io.jpipe.benchmarks;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The bytes path of a shared-memory pipe ({@code Pipe.builder().sharedMemory(n)}) with a child JVM:
 * off-heap {@code sendBytes(MemorySegment)} and {@code recvBytesInto(MemorySegment)}, which need
 * allocate nothing. Run with {@code -prof gc}: {@code gc.alloc.rate.norm} is what jpipe allocates
 * per operation in the benchmark's JVM (the target is 0 B/op).
 */
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC"})
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
public class ShmBenchmark {
  /** Creates the benchmark (JMH does). */
  public ShmBenchmark() {}

  /** The ring per direction (1 MiB). */
  static final long RING = 1 << 20;

  /** Messages per acknowledgement in {@link #oneWay64}. */
  static final int BATCH = 1000;

  /** A peer that echoes through a native segment, over a shared-memory pipe. */
  @State(Scope.Thread)
  public static class Echo extends PeerState {
    Arena arena;
    MemorySegment msg;
    MemorySegment buf;

    /** Creates the state (JMH does). */
    public Echo() {}

    @Override
    Peer startPeer() throws IOException {
      return Peer.start(Peer::echoSegment, 0, RING);
    }

    /** Allocates the message and the receive buffer once. */
    @Setup(Level.Trial)
    public void buffers() {
      arena = Arena.ofShared();
      msg = arena.allocate(8, 8);
      msg.fill((byte) 'x');
      buf = arena.allocate(64, 64);
    }

    /** Frees them. */
    @TearDown(Level.Trial)
    public void free() {
      arena.close();
    }
  }

  /** A peer that receives into a native segment and acknowledges every {@link #BATCH}. */
  @State(Scope.Thread)
  public static class Sink extends PeerState {
    Arena arena;
    MemorySegment msg;
    final byte[] ack = new byte[16];

    /** Creates the state (JMH does). */
    public Sink() {}

    @Override
    Peer startPeer() throws IOException {
      return Peer.start(Peer::sinkSegment, BATCH, RING);
    }

    /** Allocates the message once. */
    @Setup(Level.Trial)
    public void buffers() {
      arena = Arena.ofShared();
      msg = arena.allocate(64, 64);
      msg.fill((byte) 'x');
    }

    /** Frees it. */
    @TearDown(Level.Trial)
    public void free() {
      arena.close();
    }
  }

  /**
   * 8 bytes out with {@code sendBytes(MemorySegment)}, back with {@code
   * recvBytesInto(MemorySegment)} (the {@code shm_rtt_bytes_us} workload, off-heap forms).
   *
   * @param s the peer
   * @return the echo's length
   * @throws IOException if the pipe fails
   */
  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public long roundTripSegment(Echo s) throws IOException {
    s.peer.conn.sendBytes(s.msg);
    return s.peer.conn.recvBytesInto(s.buf);
  }

  /**
   * {@value #BATCH} 64-byte messages out with {@code sendBytes(MemorySegment)}, then the child's
   * acknowledgement received with {@code recvBytesInto(byte[])}; one op = one message.
   *
   * @param s the peer
   * @return the acknowledgement's length
   * @throws IOException if the pipe fails
   */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  @OperationsPerInvocation(BATCH)
  public int oneWay64(Sink s) throws IOException {
    for (int i = 0; i < BATCH; i++) {
      s.peer.conn.sendBytes(s.msg);
    }
    return s.peer.conn.recvBytesInto(s.ack);
  }
}
