package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The connection contract on a one-way pipe whose ends read and write through private non-blocking
 * descriptions of the pipe: the path taken on kernels before 6.4, which refuse {@code RWF_NOWAIT}
 * on pipes. Forced here, so it is tested on any kernel.
 */
class PrivateDescriptionPipeTest extends ConnectionContract {
  @Override
  protected Ends open() throws IOException {
    int[] fds = Fds.pipe();
    return new Ends(end(fds[0], true), end(fds[1], false));
  }

  private static Connection end(int fd, boolean reader) throws IOException {
    FdChannel ch = new FdChannel(fd, FdChannel.Kind.PIPE);
    ch.acquire();
    try {
      ch.usePrivateDescription(Scratch.get());
    } finally {
      ch.release();
    }
    return Access.connections().newConnection(ch, reader, !reader, Codec.javaSerialization());
  }

  @Override
  protected boolean duplex() {
    return false;
  }

  @Override
  protected String fdKind() {
    return "pipe";
  }

  @Test
  void writingWithNoReaderLeftIsABrokenPipe() throws Exception {
    int[] fds = Fds.pipe();
    Fds.closeQuietly(fds[0]);
    FdChannel ch = new FdChannel(fds[1], FdChannel.Kind.PIPE);
    try (Connection w =
        Access.connections().newConnection(ch, false, true, Codec.javaSerialization())) {
      ch.acquire();
      try {
        ch.usePrivateDescription(Scratch.get()); // reopening works; the write then fails
      } finally {
        ch.release();
      }
      assertThrows(BrokenPipeException.class, () -> w.sendBytes(new byte[] {1}));
    }
  }

  /** A child JVM told that its kernel lacks RWF_NOWAIT on pipes still speaks over them. */
  @Test
  void aChildWithoutRwfNoWaitEchoesOverOneWayPipes() throws Exception {
    Pipe in = Pipe.open(false);
    Pipe out = Pipe.open(false);
    ChildProcess child =
        ChildProcess.of(PrivateDescriptionPipeTest::echo, in.conn1(), out.conn2())
            .jvmOptions("-Djpipe.pipe.nowait=false");
    child.start();
    in.conn1().close();
    out.conn2().close();
    Connection tx = in.conn2();
    try (Connection rx = out.conn1()) {
      byte[] big = new byte[3 << 20];
      for (int i = 0; i < big.length; i++) {
        big[i] = (byte) (i * 31);
      }
      tx.sendBytes(new byte[] {1});
      // the child reads its pipe through a second, private description of it
      assertEquals(2, (Integer) rx.recv(), "descriptions of the pipe in the child");
      for (byte[] msg : List.of(new byte[0], new byte[] {7}, big)) {
        tx.sendBytes(msg);
        assertArrayEquals(msg, rx.recvBytes());
      }
      tx.send("bye");
      assertEquals("bye", rx.recv());
      tx.close();
      assertThrows(EOFException.class, rx::recvBytes); // the child saw end of file, and left
    } finally {
      tx.close();
    }
    child.join(Duration.ofSeconds(60));
    assertEquals(0, child.exitCode().orElseThrow());
  }

  private static void echo(Connection rx, Connection tx) throws IOException {
    try (rx;
        tx) {
      rx.recvBytes();
      tx.send(descriptionsOf(rx.fileno()));
      for (; ; ) {
        byte[] m;
        try {
          m = rx.recvBytes();
        } catch (EOFException e) {
          return;
        }
        tx.sendBytes(m);
      }
    }
  }

  /** How many of this process's descriptors refer to the same pipe as {@code fd}. */
  private static int descriptionsOf(int fd) throws IOException {
    String pipe = TestSupport.fdTarget(fd);
    int n = 0;
    try (var fds = Files.list(Path.of("/proc/self/fd"))) {
      for (Path p : (Iterable<Path>) fds::iterator) {
        try {
          if (Files.readSymbolicLink(p).toString().equals(pipe)) {
            n++;
          }
        } catch (IOException e) {
          // the directory's own descriptor, gone by now
        }
      }
    }
    return n;
  }
}
