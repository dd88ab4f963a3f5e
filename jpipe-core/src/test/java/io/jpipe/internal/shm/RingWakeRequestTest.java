package io.jpipe.internal.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The words a sleeper and its peer share ({@link Ring}): a wake request is taken once, by one peer,
 * however many look at it; a writer's request for room only by the reader whose cursor reaches what
 * it asked for; and the header slot that readers wait on.
 */
class RingWakeRequestTest {
  private static final long CAP = ShmLayout.MIN_CAPACITY;

  private static void withRing(java.util.function.BiConsumer<Ring, MemorySegment> test) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment map = arena.allocate(ShmLayout.segmentSize(1, CAP), 4096);
      test.accept(new Ring(map, 0, CAP), map);
    }
  }

  @Test
  void aReadersRequestIsTakenOnceHoweverManyPublish() {
    withRing(
        (r, map) -> {
          assertFalse(r.takeReadWake(), "nobody asked");
          r.armReadWake();
          r.armReadWake(); // two readers, or one asking again: still one wake-up wakes them all
          assertTrue(r.takeReadWake());
          assertFalse(r.takeReadWake(), "taken: the next publishes call no kernel");
          assertFalse(r.takeReadWake());
        });
  }

  @Test
  void aCorruptRequestCostsOneWakeUp() {
    withRing(
        (r, map) -> {
          map.set(ValueLayout.JAVA_INT, ShmLayout.RING_CONTROL + ShmLayout.READ_WAKE, 0x7fff_1234);
          map.set(ValueLayout.JAVA_INT, ShmLayout.RING_CONTROL + ShmLayout.WRITE_WAKE, -5);
          map.set(ValueLayout.JAVA_LONG, ShmLayout.RING_CONTROL + ShmLayout.ROOM_WANTED, 0L);
          assertTrue(r.takeReadWake());
          assertFalse(r.takeReadWake());
          assertTrue(r.takeRoomWake(8));
          assertFalse(r.takeRoomWake(16));
        });
  }

  @Test
  void aWritersRequestIsTakenByTheReaderThatMakesTheRoom() {
    withRing(
        (r, map) -> {
          assertFalse(r.takeRoomWake(1 << 20), "nobody asked");
          r.armRoomWake(640);
          assertFalse(r.takeRoomWake(632), "not enough room yet: the writer sleeps on");
          assertFalse(r.takeRoomWake(8));
          assertTrue(r.takeRoomWake(640));
          assertFalse(r.takeRoomWake(648), "taken once");
          r.armRoomWake(1000);
          r.disarmRoomWake(); // the writer stopped waiting: no wake-up for it
          assertFalse(r.takeRoomWake(2000));
          r.armRoomWake(Long.MAX_VALUE - 7); // cursors near the end of their range still compare
          assertFalse(r.takeRoomWake(Long.MAX_VALUE - 15));
          assertTrue(r.takeRoomWake(Long.MAX_VALUE - 7));
        });
  }

  @Test
  void aHeaderSlotReadsZeroUntilARecordIsStoredThere() {
    withRing(
        (r, map) -> {
          long pos = 3 * CAP + 40; // any lap: the slot is the cursor masked into the ring
          assertEquals(0, r.header(pos));
          r.putHeader(pos, ShmLayout.TYPE_WHOLE | 5);
          assertEquals(ShmLayout.TYPE_WHOLE | 5, r.header(pos));
          assertEquals(ShmLayout.TYPE_WHOLE | 5, r.header(pos + CAP), "the same slot a lap on");
          r.clearHeader(pos - CAP);
          assertEquals(0, r.header(pos));
          for (long type :
              new long[] {ShmLayout.TYPE_WHOLE, ShmLayout.TYPE_FIRST, ShmLayout.TYPE_CHUNK}) {
            assertTrue(type != 0, "no record type has a header of 0, even of length 0");
          }
        });
  }
}
