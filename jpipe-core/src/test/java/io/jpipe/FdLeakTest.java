package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * 10,000 pipes opened and closed, a quarter of them only dropped and left to the Cleaner: the
 * process's descriptor count returns to where it started.
 */
class FdLeakTest {
  private static int settledFdCount() throws InterruptedException {
    int last = -1;
    for (int i = 0; i < 50; i++) {
      System.gc();
      Thread.sleep(20);
      int now = TestSupport.fdCount();
      if (now == last) {
        return now;
      }
      last = now;
    }
    return last;
  }

  @Test
  void tenThousandPipesLeaveNoDescriptorBehind() throws Exception {
    int before = settledFdCount();
    List<Pipe> kept = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      Pipe p = Pipe.open(i % 2 == 0);
      switch (i % 8) {
        case 0, 1 -> {} // dropped: the Cleaner closes both ends
        case 2 -> {
          // a blocking poll creates the end's wake descriptor too
          p.conn1().poll(Duration.ofMillis(1));
          p.close();
        }
        case 3 -> {
          p.conn2().send(i);
          p.conn1().recv();
          p.close();
        }
        case 4 -> {
          p.conn1().close(); // ends closed one at a time
          kept.add(p);
        }
        default -> p.close();
      }
    }
    assertTrue(TestSupport.fdCount() >= before, "sanity");
    kept.forEach(Pipe::close);
    kept.clear();
    long deadline = System.nanoTime() + TestSupport.PATIENCE.toNanos();
    int after;
    do {
      System.gc();
      Thread.sleep(50);
      after = TestSupport.fdCount();
    } while (after > before && System.nanoTime() - deadline < 0);
    assertTrue(after <= before, "descriptors leaked: " + (after - before));
  }
}
