package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Shared objects dropped without {@code close()} give their memory mappings back once
 * garbage-collected (a Cleaner per owner), as {@link ProcessLock} does: counted in {@code
 * /proc/self/maps}.
 */
class SharedMappingsReclaimedTest {
  /** How many objects each test drops. */
  private static final int DROPPED = 2000;

  /** Mappings that may come and go meanwhile for other reasons (threads, the heap). */
  private static final int SLACK = 200;

  @Test
  void droppedEventsAreUnmapped() throws Exception {
    int before = settledMaps();
    List<Object> held = new ArrayList<>();
    for (int i = 0; i < DROPPED; i++) {
      held.add(ProcessEvent.create());
    }
    assertReclaimed(before, held);
  }

  @Test
  void droppedValuesAreUnmapped() throws Exception {
    int before = settledMaps();
    List<Object> held = new ArrayList<>();
    for (int i = 0; i < DROPPED / 2; i++) {
      held.add(SharedLong.create(i));
      held.add(SharedIntArray.create(3));
    }
    assertReclaimed(before, held);
  }

  @Test
  void droppedSemaphoresAndBarriersAreUnmapped() throws Exception {
    int before = settledMaps();
    List<Object> held = new ArrayList<>();
    for (int i = 0; i < DROPPED / 2; i++) {
      held.add(ProcessSemaphore.create(1));
      held.add(ProcessBarrier.create(2));
    }
    assertReclaimed(before, held);
  }

  @Test
  void droppedSharedMemoryIsUnmapped() throws Exception {
    int before = settledMaps();
    List<Object> held = new ArrayList<>();
    for (int i = 0; i < DROPPED; i++) {
      SharedMemory shm = SharedMemory.create(64);
      shm.unlink(); // the name goes; the mapping stays until closed or collected
      held.add(shm);
    }
    assertReclaimed(before, held);
  }

  /** A stream naming an existing block attaches to it; the mapping goes with the decoded object. */
  @Test
  void sharedMemoryDecodedFromMessagesIsUnmapped() throws Exception {
    try (SharedMemory shm = SharedMemory.create(64)) {
      try {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ObjectOutputStream oos = new ObjectOutputStream(out)) {
          oos.writeObject(shm);
        }
        byte[] message = out.toByteArray();
        int before = settledMaps();
        List<Object> held = new ArrayList<>();
        for (int i = 0; i < DROPPED; i++) {
          try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(message))) {
            held.add(in.readObject());
          }
        }
        assertReclaimed(before, held);
      } finally {
        shm.unlink();
      }
    }
  }

  /**
   * Drops {@code held}, then fails unless, after collections, the mappings come back to within
   * {@link #SLACK} of {@code before}.
   */
  private static void assertReclaimed(int before, List<Object> held) throws InterruptedException {
    int grown = maps() - before;
    assertTrue(grown >= DROPPED - SLACK, "the objects were mapped: +" + grown);
    held.clear();
    long deadline = System.nanoTime() + 2 * TestSupport.PATIENCE.toNanos();
    int now;
    while ((now = maps()) - before > SLACK) {
      assertTrue(
          System.nanoTime() - deadline < 0,
          "mappings not reclaimed: " + before + " before, " + now + " after collections");
      System.gc();
      Thread.sleep(20);
    }
  }

  /** The number of mappings after a collection has run. */
  private static int settledMaps() throws InterruptedException {
    System.gc();
    Thread.sleep(100);
    return maps();
  }

  private static int maps() {
    try (var lines = Files.lines(Path.of("/proc/self/maps"))) {
      return (int) lines.count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
