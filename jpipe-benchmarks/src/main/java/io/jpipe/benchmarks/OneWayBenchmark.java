package io.jpipe.benchmarks;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One-way messages to a child JVM that swallows a batch and then sends one acknowledgement (the
 * {@code small_msgs_per_s}, {@code bulk_gbps} and {@code bulk_gbps_offheap} figures of {@code jpipe
 * bench}). One operation is one message: {@code small64} reports messages per second; for the 1 MiB
 * benchmarks, ops/s times 0.001048576 is GB/s.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC"})
public class OneWayBenchmark {
  /** 64-byte messages per acknowledgement. */
  public static final int SMALL_BATCH = 1000;

  /** 1 MiB messages per acknowledgement. */
  public static final int BULK_BATCH = 16;

  /** Creates the benchmark (JMH does). */
  public OneWayBenchmark() {}

  /** A child that receives 64-byte messages with {@code recvBytes()}. */
  @State(Scope.Thread)
  public static class SmallSink extends PeerState {
    final byte[] msg = new byte[64];

    /** Creates the state (JMH does). */
    public SmallSink() {}

    @Override
    Peer startPeer() throws IOException {
      Arrays.fill(msg, (byte) 'x');
      return Peer.start(Peer::sinkArrays, SMALL_BATCH);
    }
  }

  /** A child that receives 1 MiB messages with {@code recvBytes()} (a new array each). */
  @State(Scope.Thread)
  public static class BulkArraySink extends PeerState {
    final byte[] msg = new byte[Peer.MAX_MESSAGE];

    /** Creates the state (JMH does). */
    public BulkArraySink() {}

    @Override
    Peer startPeer() throws IOException {
      Arrays.fill(msg, (byte) 'x');
      return Peer.start(Peer::sinkArrays, BULK_BATCH);
    }
  }

  /** A child that receives 1 MiB messages into one reused array with {@code recvBytesInto}. */
  @State(Scope.Thread)
  public static class BulkArrayIntoSink extends PeerState {
    final byte[] msg = new byte[Peer.MAX_MESSAGE];

    /** Creates the state (JMH does). */
    public BulkArrayIntoSink() {}

    @Override
    Peer startPeer() throws IOException {
      Arrays.fill(msg, (byte) 'x');
      return Peer.start(Peer::sinkArrayInto, BULK_BATCH);
    }
  }

  /** A child that receives 1 MiB messages into one native segment. */
  @State(Scope.Thread)
  public static class BulkSegmentSink extends PeerState {
    final MemorySegment msg = Arena.ofAuto().allocate(Peer.MAX_MESSAGE, 64);

    /** Creates the state (JMH does). */
    public BulkSegmentSink() {}

    @Override
    Peer startPeer() throws IOException {
      msg.fill((byte) 'x');
      return Peer.start(Peer::sinkSegment, BULK_BATCH);
    }
  }

  /**
   * {@link #SMALL_BATCH} messages of 64 bytes with {@code sendBytes(byte[])}, then the ack.
   *
   * @param s the peer
   * @return the ack
   * @throws IOException if the pipe fails
   */
  @Benchmark
  @OperationsPerInvocation(SMALL_BATCH)
  public byte[] small64(SmallSink s) throws IOException {
    for (int i = 0; i < SMALL_BATCH; i++) {
      s.peer.conn.sendBytes(s.msg);
    }
    return s.peer.conn.recvBytes();
  }

  /**
   * {@link #BULK_BATCH} messages of 1 MiB with {@code sendBytes(byte[])}, the child receiving each
   * into a new array with {@code recvBytes()}; then the ack.
   *
   * @param s the peer
   * @return the ack
   * @throws IOException if the pipe fails
   */
  @Benchmark
  @OperationsPerInvocation(BULK_BATCH)
  public byte[] bulkArray(BulkArraySink s) throws IOException {
    for (int i = 0; i < BULK_BATCH; i++) {
      s.peer.conn.sendBytes(s.msg);
    }
    return s.peer.conn.recvBytes();
  }

  /**
   * {@link #BULK_BATCH} messages of 1 MiB with {@code sendBytes(byte[])}, the child receiving each
   * into one reused array with {@code recvBytesInto(byte[])}; then the ack. Against {@link
   * #bulkArray}: what the receiver's new 1 MiB array per message costs.
   *
   * @param s the peer
   * @return the ack
   * @throws IOException if the pipe fails
   */
  @Benchmark
  @OperationsPerInvocation(BULK_BATCH)
  public byte[] bulkArrayInto(BulkArrayIntoSink s) throws IOException {
    for (int i = 0; i < BULK_BATCH; i++) {
      s.peer.conn.sendBytes(s.msg);
    }
    return s.peer.conn.recvBytes();
  }

  /**
   * {@link #BULK_BATCH} messages of 1 MiB with {@code sendBytes(MemorySegment)} from a native
   * segment, the child receiving each with {@code recvBytesInto(MemorySegment)}; then the ack.
   *
   * @param s the peer
   * @return the ack
   * @throws IOException if the pipe fails
   */
  @Benchmark
  @OperationsPerInvocation(BULK_BATCH)
  public byte[] bulkOffHeap(BulkSegmentSink s) throws IOException {
    for (int i = 0; i < BULK_BATCH; i++) {
      s.peer.conn.sendBytes(s.msg);
    }
    return s.peer.conn.recvBytes();
  }
}
