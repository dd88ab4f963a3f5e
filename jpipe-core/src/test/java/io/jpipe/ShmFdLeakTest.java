package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * 2,000 shared-memory pipes opened, used and closed, a quarter only dropped for the Cleaner: the
 * process's descriptors and its mappings of pipe segments return to where they started.
 */
class ShmFdLeakTest {
  /** Mappings of shared-memory pipe segments (their memfds are named so). */
  private static long mappings() {
    try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
      return lines.filter(l -> l.contains("memfd:jpipe-shm-pipe")).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long settled(java.util.function.LongSupplier what) throws InterruptedException {
    long last = -1;
    for (int i = 0; i < 50; i++) {
      System.gc();
      Thread.sleep(20);
      long now = what.getAsLong();
      if (now == last) {
        return now;
      }
      last = now;
    }
    return last;
  }

  @Test
  void twoThousandPipesLeaveNoDescriptorOrMappingBehind() throws Exception {
    long fdsBefore = settled(TestSupport::fdCount);
    long mapsBefore = settled(ShmFdLeakTest::mappings);
    List<Pipe> kept = new ArrayList<>();
    for (int i = 0; i < 2_000; i++) {
      Pipe p = Pipe.builder().duplex(i % 2 == 0).sharedMemory(4096).open();
      switch (i % 8) {
        case 0, 1 -> {} // dropped: the Cleaner closes both ends
        case 2 -> {
          p.conn1().poll(Duration.ofMillis(1)); // a sleep on the socket
          p.close();
        }
        case 3 -> {
          p.conn2().send(i);
          p.conn1().recv();
          CompletableFuture<Object> big =
              TestSupport.async(
                  () -> {
                    p.conn2().sendBytes(new byte[10_000]); // through the ring in chunks
                    return null;
                  });
          p.conn1().recvBytes();
          TestSupport.await(big);
          p.close();
        }
        case 4 -> {
          p.conn1().close(); // ends closed one at a time
          kept.add(p);
        }
        default -> p.close();
      }
    }
    kept.forEach(Pipe::close);
    kept.clear();
    long deadline = System.nanoTime() + TestSupport.PATIENCE.toNanos();
    long fds;
    long maps;
    do {
      System.gc();
      Thread.sleep(50);
      fds = TestSupport.fdCount();
      maps = mappings();
    } while ((fds > fdsBefore || maps > mapsBefore) && System.nanoTime() - deadline < 0);
    assertTrue(fds <= fdsBefore, "descriptors leaked: " + (fds - fdsBefore));
    assertTrue(maps <= mapsBefore, "segment mappings leaked: " + (maps - mapsBefore));
  }
}
