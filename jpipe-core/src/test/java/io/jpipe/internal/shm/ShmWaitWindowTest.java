package io.jpipe.internal.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import org.junit.jupiter.api.Test;

/** The adaptive spin window's rules, without any timing: the waits' lengths are given. */
class ShmWaitWindowTest {
  @Test
  void growsWhileTheSpinIsEnoughAndNeverPastTheMaximum() {
    ShmWait.Window w = new ShmWait.Window();
    long before = w.nanos();
    w.spun();
    assertTrue(w.nanos() > before);
    for (int i = 0; i < 100; i++) {
      w.spun();
    }
    assertEquals(ShmWait.MAX_SPIN_NANOS, w.nanos());
  }

  @Test
  void idleWaitsHalveItToTheFloor() {
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 100; i++) {
      w.slept(Long.MAX_VALUE); // far past any window: an idle end
    }
    assertEquals(ShmWait.MIN_SPIN_NANOS, w.nanos());
  }

  @Test
  void aShrunkWindowComesBackToThePeersAnswerTime() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU never probes");
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 100; i++) {
      w.slept(Long.MAX_VALUE);
    }
    // a late answer after 30 us, slept for: the next wait spins for twice that
    w.slept(30_000);
    assertEquals(60_000, w.nanos());
    w.spun(); // and it sufficed: the window grows as usual from there
    assertTrue(w.nanos() > 60_000);
  }

  @Test
  void failedProbesAreTriedAgainLessAndLessOften() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU never probes");
    ShmWait.Window w = new ShmWait.Window();
    int probes = 0;
    for (int i = 0; i < 10_000; i++) {
      w.slept(20_000); // each wait sleeps, though the answer always comes within 20 us
      if (w.nanos() == 40_000) {
        probes++;
      }
    }
    // gaps 2, 4, ..., 64, then every 64th: far fewer than one probe per wait
    assertTrue(probes < 10_000 / 32, "probes: " + probes);
    assertTrue(probes > 0);
  }

  @Test
  void aSuccessfulSpinMakesTheNextLateAnswerProbeAtOnce() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU never probes");
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 1000; i++) {
      w.slept(20_000);
    }
    w.spun();
    w.slept(50_000);
    assertEquals(100_000, w.nanos());
  }

  @Test
  void answersLaterThanTheMaximumNeverWidenIt() {
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 100; i++) {
      w.slept(ShmWait.MAX_SPIN_NANOS + 1);
    }
    assertEquals(ShmWait.MIN_SPIN_NANOS, w.nanos());
  }
}
