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
    long before = w.nanos(false);
    w.spun(false);
    assertTrue(w.nanos(false) > before);
    for (int i = 0; i < 100; i++) {
      w.spun(false);
    }
    assertEquals(ShmWait.MAX_SPIN_NANOS, w.nanos(false));
  }

  @Test
  void idleWaitsHalveItToTheFloor() {
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 100; i++) {
      w.slept(false, Long.MAX_VALUE); // far past any window: an idle end
    }
    assertEquals(ShmWait.MIN_SPIN_NANOS, w.nanos(false));
  }

  @Test
  void aShrunkWindowComesBackToThePeersAnswerTime() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU never probes");
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 100; i++) {
      w.slept(false, Long.MAX_VALUE);
    }
    // a late answer after 30 us, slept for: the next wait spins for twice that
    w.slept(false, 30_000);
    assertEquals(60_000, w.nanos(false));
    w.spun(false); // and it sufficed: the window grows as usual from there
    assertTrue(w.nanos(false) > 60_000);
  }

  @Test
  void failedProbesAreTriedAgainLessAndLessOften() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU never probes");
    ShmWait.Window w = new ShmWait.Window();
    int probes = 0;
    for (int i = 0; i < 10_000; i++) {
      w.slept(false, 20_000); // each wait sleeps, though the answer always comes within 20 us
      if (w.nanos(false) == 40_000) {
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
      w.slept(false, 20_000);
    }
    w.spun(false);
    w.slept(false, 50_000);
    assertEquals(100_000, w.nanos(false));
  }

  @Test
  void answersLaterThanTheMaximumProbeTheStartingWindowLessAndLessOften() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU never probes");
    ShmWait.Window w = new ShmWait.Window();
    int probes = 0;
    for (int i = 0; i < 10_000; i++) {
      // each answer came after the wake-up of a sleep: its real time is unknown
      w.slept(false, ShmWait.MAX_SPIN_NANOS + 1);
      if (w.nanos(false) == ShmWait.START_SPIN_NANOS) {
        probes++;
      }
    }
    assertTrue(probes < 10_000 / 32, "probes: " + probes);
    assertTrue(probes > 0);
    w.spun(false); // a probe that sufficed: the window grows from there
    assertTrue(w.nanos(false) > ShmWait.MIN_SPIN_NANOS);
  }

  @Test
  void waitsThatGaveUpNeverProbe() {
    ShmWait.Window w = new ShmWait.Window();
    for (int i = 0; i < 1000; i++) {
      w.slept(false, Long.MAX_VALUE);
      assertTrue(
          i < 10 || w.nanos(false) == ShmWait.MIN_SPIN_NANOS, "wait " + i + ": " + w.nanos(false));
    }
  }

  @Test
  void aWaitForAWokenPeerSpinsThroughItsWakeUpAndLeavesTheWindowAlone() {
    assumeFalse(ShmWait.ONE_CPU, "a process on one CPU spins no longer after a wake-up");
    ShmWait.Window w = new ShmWait.Window();
    long window = w.nanos(false);
    assertEquals(ShmWait.AFTER_WAKE_SPIN_NANOS, w.nanos(true));
    w.slept(true, 3_000_000); // a peer slow to answer even once awake: the after-wake spin halves
    assertEquals(ShmWait.AFTER_WAKE_SPIN_NANOS / 2, w.nanos(true));
    assertEquals(window, w.nanos(false), "the window is not the woken peer's business");
    for (int i = 0; i < 40; i++) {
      w.slept(true, 3_000_000);
    }
    assertEquals(window, w.nanos(true), "halved away: the usual window");
    w.spun(true); // a woken peer that answered within it: the whole after-wake spin again
    assertEquals(ShmWait.AFTER_WAKE_SPIN_NANOS, w.nanos(true));
  }
}
