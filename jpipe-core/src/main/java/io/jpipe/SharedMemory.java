package io.jpipe;

import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Memory;
import io.jpipe.internal.posix.Native;
import io.jpipe.internal.sync.SharedCells;
import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A named block of shared memory (CPython's {@code multiprocessing.shared_memory.SharedMemory}),
 * which any process can attach to by name: a Java process, or a Python one.
 *
 * <pre>{@code
 * try (SharedMemory shm = SharedMemory.create(8 * 1000)) {  // a new block, named "psm_" + hex
 *   MemorySegment doubles = shm.segment();
 *   doubles.setAtIndex(ValueLayout.JAVA_DOUBLE, 0, 3.5);
 *   // Python: SharedMemory(name) with the name shm.name() gives, or a child process:
 *   ChildProcess.of(Demo::worker, shm).start().join();       // the child gets it attached
 *   shm.unlink();                                           // the creator removes the name
 * }
 * }</pre>
 *
 * <p>It is a POSIX shared memory object ({@code shm_open}, a file in {@code /dev/shm} on Linux),
 * mapped {@code MAP_SHARED}, with CPython's names and rules: a name is up to 255 bytes of UTF-8
 * without {@code '/'} ({@code "/psm_1234abcd"} and {@code "psm_1234abcd"} are the same block,
 * {@link #name()} is without the slash, as Python shows it); a new block is created exclusively
 * ({@code O_CREAT | O_EXCL}, mode 0600); generated names are {@code "psm_"} and eight hex digits;
 * {@link #size()} is the size of the file (the size asked for, when creating on Linux).
 *
 * <h2>Who unlinks</h2>
 *
 * <p>{@link #close()} ends this object's view and leaves the block to the others; {@link #unlink()}
 * removes the name, and the memory goes once every process has closed it. As in Python, the process
 * that created a block unlinks it, once, when no process needs to attach any more; processes that
 * only attach close and do not unlink. A block nobody unlinks stays in {@code /dev/shm} until the
 * machine restarts: unlink in a {@code finally}.
 *
 * <p>A Python process that attaches to a block with Python 3.11 or 3.12 registers it with its
 * resource tracker, which unlinks it when that Python process ends, under the feet of the creator;
 * see the README ("Shared memory with CPython") for how the Python side avoids that.
 *
 * <h2>Passing to child processes</h2>
 *
 * <p>A {@code SharedMemory} given to a {@link ChildProcess} (as an argument, or inside one) arrives
 * attached to the same block by name, as Python pickles it; the child closes it and does not unlink
 * it. The block must still have its name when the child starts.
 *
 * <p>It is decoded so from any stream that the default codec reads, not only a child's start-up: a
 * message naming a block attaches to it, if a block of that name exists and this process's user may
 * open it (blocks are created mode 0600). Such a block, like any other, is unmapped when the
 * decoded object is garbage-collected, so messages cannot pile up mappings; a peer that must not
 * name blocks should be read with a codec that does not accept {@code SharedMemory}.
 *
 * <p>The mapping is as long as the block was when it was mapped here. If another process shrinks
 * the file afterwards ({@code ftruncate}), an access past its new end throws {@link InternalError}
 * (the JVM's answer to the SIGBUS), as with a {@link java.nio.MappedByteBuffer}; nothing else is
 * harmed.
 *
 * <p>Thread-safe. The memory is shared with other processes: order accesses with {@link
 * java.lang.invoke.VarHandle}s on {@link #segment()} (see {@link ValueLayout#varHandle}), a {@link
 * ProcessLock}, or messages.
 */
public final class SharedMemory implements AutoCloseable, Serializable {
  @Serial private static final long serialVersionUID = 1L;

  /** CPython's prefix of generated names (without its leading slash). */
  private static final String PREFIX = "psm_";

  /** {@code NAME_MAX}: the longest name, in bytes. */
  private static final int NAME_MAX = 255;

  private static final SecureRandom RANDOM = new SecureRandom();

  private final transient String name;
  private final transient long size;
  private final transient Arena arena;
  private final transient MemorySegment segment;
  private final transient AtomicBoolean closed = new AtomicBoolean();
  private final transient Cleaner.Cleanable unmap;

  private SharedMemory(String name, long size, Arena arena, MemorySegment segment) {
    this.name = name;
    this.size = size;
    this.arena = arena;
    this.segment = segment;
    this.unmap = SharedCells.unmapWhenUnreachable(this, arena);
  }

  /**
   * Creates a new block of {@code size} bytes, zeroed, with a new name ({@code "psm_"} and eight
   * hex digits, as CPython's {@code SharedMemory(create=True, size=size)}).
   *
   * @param size the size in bytes, at least 1
   * @return the block, attached
   * @throws IllegalArgumentException if {@code size} is not positive
   * @throws IOException if the block cannot be created or mapped (no space in {@code /dev/shm})
   */
  public static SharedMemory create(long size) throws IOException {
    checkSize(size);
    for (; ; ) {
      byte[] random = new byte[4];
      RANDOM.nextBytes(random);
      try {
        return open(PREFIX + HexFormat.of().formatHex(random), size);
      } catch (FileAlreadyExistsException e) {
        // taken: draw again, as CPython does
      }
    }
  }

  /**
   * Creates a new block of {@code size} bytes, zeroed, named {@code name} (CPython's {@code
   * SharedMemory(name, create=True, size=size)}).
   *
   * @param name the name, with or without a leading {@code '/'}
   * @param size the size in bytes, at least 1
   * @return the block, attached
   * @throws IllegalArgumentException if the name is empty, too long, or has a {@code '/'} or NUL
   *     after its start, or if {@code size} is not positive
   * @throws FileAlreadyExistsException if a block of that name exists
   * @throws IOException if the block cannot be created or mapped
   */
  public static SharedMemory create(String name, long size) throws IOException {
    String n = checkName(name);
    checkSize(size);
    return open(n, size);
  }

  /**
   * Attaches to an existing block (CPython's {@code SharedMemory(name)}), for reading and writing.
   *
   * @param name the name, with or without a leading {@code '/'}
   * @return the block, attached; its size is the block's
   * @throws IllegalArgumentException if the name is empty, too long, or has a {@code '/'} or NUL
   *     after its start
   * @throws NoSuchFileException if no block has that name (Python's {@code FileNotFoundError})
   * @throws AccessDeniedException if the block belongs to someone else
   * @throws IOException if the block is empty or cannot be mapped
   */
  public static SharedMemory attach(String name) throws IOException {
    return open(checkName(name), 0);
  }

  /** Opens {@code name}: creates it if {@code size > 0}, else attaches. */
  private static SharedMemory open(String name, long size) throws IOException {
    boolean create = size > 0;
    Scratch s = Scratch.get();
    int fd;
    try (Arena tmp = Arena.ofConfined()) {
      int flags = create ? Linux.O_RDWR | Linux.O_CREAT | Linux.O_EXCL : Linux.O_RDWR;
      fd = Libc.shmOpen(s.errno, tmp.allocateFrom("/" + name), flags, 0600);
    }
    if (fd < 0) {
      throw failure("shm_open", name, Native.errno(s.errno));
    }
    try {
      if (create && Libc.ftruncate(s.errno, fd, size) != 0) {
        throw Errno.exception("ftruncate /dev/shm/" + name, Native.errno(s.errno));
      }
      long length;
      try (Arena tmp = Arena.ofConfined()) {
        MemorySegment st = tmp.allocate(Linux.STAT_SIZE, 8);
        if (Libc.fstat(s.errno, fd, st) != 0) {
          throw Errno.exception("fstat /dev/shm/" + name, Native.errno(s.errno));
        }
        length = st.get(ValueLayout.JAVA_LONG, Linux.STAT_ST_SIZE);
      }
      if (length <= 0) {
        throw new IOException("shared memory block '" + name + "' is empty: nothing to map");
      }
      MemorySegment map = Memory.mapShared(s.errno, fd, length);
      Arena arena = Arena.ofShared();
      return new SharedMemory(name, length, arena, Memory.attach(map, arena));
    } catch (IOException | RuntimeException e) {
      if (create) {
        unlink(name); // as CPython: a block half created is removed
      }
      throw e;
    } finally {
      Libc.close(s.errno, fd); // the mapping keeps the memory
    }
  }

  /**
   * The name, without a leading {@code '/'}: what Python's {@code SharedMemory.name} shows and what
   * {@link #attach} takes.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The size in bytes: the size of the block, as mapped here.
   *
   * @return the size
   */
  public long size() {
    return size;
  }

  /**
   * The memory of the block: {@link #size()} bytes, readable and writable, shared with every
   * process that has the block mapped. It can be used by any thread until {@link #close()}, and
   * only while this {@code SharedMemory} is reachable: a block dropped without being closed is
   * unmapped when it is garbage-collected, even if a segment it gave is still held (keep the {@code
   * SharedMemory}, not just its segment). After either, every access to the segment throws {@link
   * IllegalStateException}; none touches unmapped memory.
   *
   * @return the memory
   * @throws IllegalStateException if closed
   */
  public MemorySegment segment() {
    if (closed.get()) {
      throw new IllegalStateException("the shared memory block '" + name + "' is closed here");
    }
    return segment;
  }

  /**
   * Whether {@link #close()} has been called.
   *
   * @return true once closed
   */
  public boolean isClosed() {
    return closed.get();
  }

  /**
   * Ends this process's view of the block (unmaps it; Python's {@code close()}); the block lives on
   * for other processes, and under its name until {@link #unlink()}. Idempotent. Also done when
   * this object is garbage-collected without being closed (never {@link #unlink()}).
   *
   * @throws IllegalStateException if another thread is inside a native call using the memory
   */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      arena.close(); // throws if a thread is inside a native call on the memory
      unmap.clean(); // deregisters: nothing left for the Cleaner
    }
  }

  /**
   * Removes the block's name (Python's {@code unlink()}): no process can attach any more, and the
   * memory is freed once every process that has it mapped has closed it. The process that created
   * the block calls this, once; it may be called before or after {@link #close()}.
   *
   * @throws NoSuchFileException if the name is already gone
   * @throws IOException if the name cannot be removed
   */
  public void unlink() throws IOException {
    unlinkOrThrow(name);
  }

  private static void unlink(String name) {
    try {
      unlinkOrThrow(name);
    } catch (IOException e) {
      // already gone
    }
  }

  private static void unlinkOrThrow(String name) throws IOException {
    Scratch s = Scratch.get();
    int r;
    try (Arena tmp = Arena.ofConfined()) {
      r = Libc.shmUnlink(s.errno, tmp.allocateFrom("/" + name));
    }
    if (r != 0) {
      throw failure("shm_unlink", name, Native.errno(s.errno));
    }
  }

  @Override
  public String toString() {
    return "SharedMemory[name=" + name + ", size=" + size + (closed.get() ? ", closed" : "") + "]";
  }

  private static void checkSize(long size) {
    if (size <= 0) {
      throw new IllegalArgumentException("size must be positive: " + size);
    }
  }

  /** Validates a name; returns it without its leading slash. */
  private static String checkName(String name) {
    Objects.requireNonNull(name, "name");
    String n = name.startsWith("/") ? name.substring(1) : name;
    if (n.isEmpty() || n.equals(".") || n.equals("..")) {
      throw new IllegalArgumentException("not a shared memory name: '" + name + "'");
    }
    if (n.indexOf('/') >= 0 || n.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(
          "a shared memory name has no '/' (but at its start) and no NUL: '" + name + "'");
    }
    int bytes = n.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > NAME_MAX) {
      throw new IllegalArgumentException(
          "shared memory name too long: " + bytes + " bytes of UTF-8, at most " + NAME_MAX);
    }
    return n;
  }

  private static IOException failure(String call, String name, int errno) {
    String file = "/dev/shm/" + name;
    String reason = Errno.message(call, errno);
    return switch (errno) {
      case Linux.ENOENT -> new NoSuchFileException(file, null, reason);
      case Linux.EEXIST -> new FileAlreadyExistsException(file, null, reason);
      case Linux.EACCES, Linux.EPERM -> new AccessDeniedException(file, null, reason);
      default -> Errno.exception(call + " " + file, errno);
    };
  }

  /**
   * Serialized as its name: it arrives attached to the same block.
   *
   * @return the stand-in that is serialized
   */
  @Serial
  private Object writeReplace() {
    return new ByName(name);
  }

  /**
   * Refuses a stream that claims to hold the object itself: only its stand-in is ever written.
   *
   * @param in the stream
   * @throws InvalidObjectException always
   */
  @Serial
  private void readObject(ObjectInputStream in) throws InvalidObjectException {
    throw new InvalidObjectException("a SharedMemory is serialized by name");
  }

  /** A block on its way to another process: its name. */
  private static final class ByName implements Serializable {
    @Serial private static final long serialVersionUID = 1L;

    /** The block's name. */
    private final String name;

    ByName(String name) {
      this.name = name;
    }

    @Serial
    private Object readResolve() throws InvalidObjectException {
      try {
        return attach(name);
      } catch (IOException | RuntimeException e) {
        throw new InvalidObjectException("cannot attach to shared memory '" + name + "'", e);
      }
    }
  }
}
