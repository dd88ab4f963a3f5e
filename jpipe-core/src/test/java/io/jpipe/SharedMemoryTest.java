package io.jpipe;

import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SharedMemory: CPython's {@code _TestSharedMemory} cases that apply, child JVMs, and live
 * interoperability with CPython 3.11, 3.12 and 3.13 by name, in both directions.
 */
class SharedMemoryTest {
  private static final AtomicInteger NAMES = new AtomicInteger();

  /** Every block name a test used: none may be left in /dev/shm. */
  private final List<String> used = new ArrayList<>();

  private static final VarHandle FLAG = JAVA_LONG.varHandle();

  @AfterEach
  void nothingLeftBehind() throws InterruptedException {
    for (String name : used) {
      assertFalse(Files.exists(Path.of("/dev/shm", name)), "left behind: /dev/shm/" + name);
    }
    TestSupport.assertNoChildren();
  }

  private String newName() {
    String name = "jpipe_test_" + ProcessHandle.current().pid() + "_" + NAMES.incrementAndGet();
    used.add(name);
    return name;
  }

  private SharedMemory track(SharedMemory shm) {
    used.add(shm.name());
    return shm;
  }

  static List<CPython> pythons() {
    List<CPython> all = CPython.versions();
    List<String> labels = all.stream().map(CPython::label).toList();
    for (String minor : List.of("3.11.", "3.12.", "3.13.")) {
      assertTrue(
          labels.stream().anyMatch(l -> l.startsWith(minor)),
          "CPython " + minor + "x is required for these tests; found " + labels);
    }
    return all;
  }

  // _TestSharedMemory.test_shared_memory_basics
  @Test
  void basicsCreateAttachByNameWithOrWithoutSlash() throws Exception {
    String name = newName();
    try (SharedMemory shm = SharedMemory.create(name, 512)) {
      try {
        assertEquals(name, shm.name());
        assertEquals(512, shm.size(), "the size asked for, on Linux");
        assertEquals(512, shm.segment().byteSize());
        assertTrue(Files.exists(Path.of("/dev/shm", name)));
        assertEquals(0, shm.segment().get(JAVA_LONG, 504), "a new block is zeroed");
        shm.segment().set(JAVA_LONG, 8, 0x1234_5678_9abcL);

        try (SharedMemory same = SharedMemory.attach(name);
            SharedMemory slashed = SharedMemory.attach("/" + name)) {
          assertEquals(name, slashed.name(), "Python shows the name without its '/'");
          assertEquals(512, same.size(), "attached: the size of the block");
          assertEquals(0x1234_5678_9abcL, same.segment().get(JAVA_LONG, 8));
          slashed.segment().set(JAVA_LONG, 16, -5);
          assertEquals(-5, shm.segment().get(JAVA_LONG, 16), "one memory, three mappings");
        }
        FileAlreadyExistsException exists =
            assertThrows(FileAlreadyExistsException.class, () -> SharedMemory.create(name, 8));
        assertTrue(exists.getMessage().contains(name), exists.getMessage());
      } finally {
        shm.unlink();
      }
      // the unlinked block is still mapped here, and its name is free
      assertEquals(0x1234_5678_9abcL, shm.segment().get(JAVA_LONG, 8));
      assertThrows(NoSuchFileException.class, () -> SharedMemory.attach(name));
      assertThrows(NoSuchFileException.class, shm::unlink, "a second unlink: FileNotFoundError");
    }
  }

  // _TestSharedMemory.test_shared_memory_recreate (generated names are new each time)
  @Test
  void generatedNamesAreCPythonsAndDistinct() throws Exception {
    try (SharedMemory a = track(SharedMemory.create(1));
        SharedMemory b = track(SharedMemory.create(1))) {
      try {
        assertTrue(a.name().matches("psm_[0-9a-f]{8}"), a.name());
        assertNotEquals(a.name(), b.name());
        assertEquals(1, a.size());
      } finally {
        a.unlink();
        b.unlink();
      }
    }
  }

  // _TestSharedMemory.test_invalid_shared_memory_creation and bad names
  @Test
  void badInputIsRefusedClearly() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.create(-1));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.create(0));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.create(newName(), 0));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.attach(""));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.attach("/"));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.attach("a/b"));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.attach(".."));
    assertThrows(IllegalArgumentException.class, () -> SharedMemory.attach("a\0b"));
    IllegalArgumentException tooLong =
        assertThrows(IllegalArgumentException.class, () -> SharedMemory.attach("x".repeat(256)));
    assertTrue(tooLong.getMessage().contains("too long"), tooLong.getMessage());
    assertThrows(NullPointerException.class, () -> SharedMemory.attach(null));
    NoSuchFileException missing =
        assertThrows(NoSuchFileException.class, () -> SharedMemory.attach(newName()));
    assertTrue(missing.getMessage().contains("/dev/shm/jpipe_test_"), missing.getMessage());
  }

  // _TestSharedMemory.test_shared_memory_basics (close, then use)
  @Test
  void closeIsIdempotentAndTheMemoryIsUnusableAfter() throws Exception {
    SharedMemory shm = track(SharedMemory.create(64));
    try {
      MemorySegment seg = shm.segment();
      seg.set(JAVA_LONG, 0, 42);
      shm.close();
      shm.close();
      assertTrue(shm.isClosed());
      assertThrows(IllegalStateException.class, shm::segment);
      assertThrows(IllegalStateException.class, () -> seg.get(JAVA_LONG, 0));
      try (SharedMemory again = SharedMemory.attach(shm.name())) {
        assertEquals(42, again.segment().get(JAVA_LONG, 0), "close leaves the block to others");
      }
    } finally {
      shm.unlink();
    }
  }

  // _TestSharedMemory.test_shared_memory_pickle_unpickle: serialized by name, arrives attached
  @Test
  void serializesByName() throws Exception {
    try (SharedMemory shm = track(SharedMemory.create(16))) {
      byte[] bytes;
      try {
        shm.segment().set(JAVA_LONG, 0, 7);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ObjectOutputStream oos = new ObjectOutputStream(out)) {
          oos.writeObject(shm);
        }
        bytes = out.toByteArray();
        try (SharedMemory copy = (SharedMemory) read(bytes)) {
          assertEquals(shm.name(), copy.name());
          assertEquals(7, copy.segment().get(JAVA_LONG, 0));
          copy.segment().set(JAVA_LONG, 8, 8);
          assertEquals(8, shm.segment().get(JAVA_LONG, 8));
        }
      } finally {
        shm.unlink();
      }
      InvalidObjectException gone = assertThrows(InvalidObjectException.class, () -> read(bytes));
      assertInstanceOf(NoSuchFileException.class, gone.getCause());
    }
  }

  private static Object read(byte[] bytes) throws Exception {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
      return in.readObject();
    }
  }

  static void negateInChild(SharedMemory shm, Integer n) {
    try (shm) {
      MemorySegment seg = shm.segment();
      for (int i = 0; i < n; i++) {
        seg.setAtIndex(JAVA_LONG, 1 + i, -seg.getAtIndex(JAVA_LONG, 1 + i));
      }
      FLAG.setRelease(seg, 0L, 1L);
    }
  }

  // _TestSharedMemory.test_shared_memory_across_processes (a child JVM attaches by name)
  @Test
  void aChildProcessGetsItAttached() throws Exception {
    int n = 1000;
    try (SharedMemory shm = track(SharedMemory.create(8 + 8L * n))) {
      try {
        for (int i = 0; i < n; i++) {
          shm.segment().setAtIndex(JAVA_LONG, 1 + i, i * 3L);
        }
        ChildProcess p = ChildProcess.of(SharedMemoryTest::negateInChild, shm, n);
        p.start();
        p.join();
        assertEquals(0, p.exitCode().orElseThrow());
        assertEquals(1L, (long) FLAG.getAcquire(shm.segment(), 0L));
        for (int i = 0; i < n; i++) {
          assertEquals(-i * 3L, shm.segment().getAtIndex(JAVA_LONG, 1 + i));
        }
        assertTrue(Files.exists(Path.of("/dev/shm", shm.name())), "the child did not unlink");
      } finally {
        shm.unlink();
      }
    }
  }

  // Python creates and writes, Java attaches by name, reads, writes back; Python sees the writes
  @ParameterizedTest
  @MethodSource("pythons")
  void pythonCreatesJavaAttaches(CPython py) throws Exception {
    int n = 1000;
    try (CPython.Peer peer = py.run("shm_peer.py", "create", Integer.toString(n))) {
      String line = peer.readLine();
      assertTrue(line != null && line.startsWith("NAME psm_"), "python said: " + line);
      String name = line.substring("NAME ".length());
      used.add(name);
      try (SharedMemory shm = SharedMemory.attach(name)) {
        assertEquals(8 + 8L * n, shm.size());
        MemorySegment seg = shm.segment();
        long[] seen = new long[n];
        for (int i = 0; i < n; i++) {
          seen[i] = seg.getAtIndex(JAVA_LONG, 1 + i);
        }
        long[] expected = new long[n];
        for (int i = 0; i < n; i++) {
          expected[i] = (long) i * i - 7;
        }
        assertArrayEquals(expected, seen, "what Python wrote");
        for (int i = 0; i < n; i++) {
          seg.setAtIndex(JAVA_LONG, 1 + i, -seen[i]);
        }
        FLAG.setRelease(seg, 0L, 1L);
      }
      assertEquals(List.of(Long.toString(8 + 8L * n)), peer.linesAfterOk("SIZE "));
    }
  }

  // Java creates and writes, Python attaches by name (as a well-behaved peer), reads, writes back
  @ParameterizedTest
  @MethodSource("pythons")
  void javaCreatesPythonAttaches(CPython py) throws Exception {
    int n = 1000;
    try (SharedMemory shm = SharedMemory.create(newName(), 8 + 8L * n)) {
      try {
        MemorySegment seg = shm.segment();
        for (int i = 0; i < n; i++) {
          seg.setAtIndex(JAVA_DOUBLE, 1 + i, i / 2.0);
        }
        try (CPython.Peer peer =
            py.run("shm_peer.py", "attach", "/" + shm.name(), Integer.toString(n))) {
          assertEquals(List.of(Long.toString(shm.size())), peer.linesAfterOk("SIZE "));
        }
        assertEquals(1L, (long) FLAG.getAcquire(seg, 0L));
        for (int i = 0; i < n; i++) {
          assertEquals(2 * (i / 2.0) + 1, seg.getAtIndex(JAVA_DOUBLE, 1 + i));
        }
        assertTrue(
            Files.exists(Path.of("/dev/shm", shm.name())),
            "the Python peer's resource tracker left the block alone");
      } finally {
        shm.unlink();
      }
    }
  }

  // The pitfall the README documents: a Python 3.11 process that attaches with the defaults has
  // its resource tracker unlink the block when it ends.
  @Test
  void aNaivePython311PeerUnlinksTheBlockWhenItEnds() throws Exception {
    CPython py311 =
        pythons().stream().filter(p -> p.label().startsWith("3.11.")).findFirst().orElseThrow();
    try (SharedMemory shm = SharedMemory.create(newName(), 64)) {
      List<String> lines = new ArrayList<>();
      try (CPython.Peer peer = py311.run("shm_peer.py", "attach-naive", shm.name())) {
        for (String l = peer.readLine(); l != null; l = peer.readLine()) {
          lines.add(l); // to the end: the resource tracker has ended too
        }
      }
      assertTrue(lines.contains("OK"), String.join("\n", lines));
      // The tracker unlinks as it ends, which may be just after the peer's output closes.
      TestSupport.eventually(
          "Python's resource tracker to unlink the block",
          () -> !Files.exists(Path.of("/dev/shm", shm.name())));
      assertThrows(NoSuchFileException.class, shm::unlink);
      shm.segment().set(JAVA_LONG, 0, 1); // still mapped here
    }
  }
}
