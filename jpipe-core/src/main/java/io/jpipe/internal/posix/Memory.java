package io.jpipe.internal.posix;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Anonymous and shared memory mappings, sized and owned safely (the restricted calls live here).
 */
public final class Memory {
  private Memory() {}

  /**
   * Maps {@code length} bytes of private anonymous memory that the kernel commits only when touched
   * ({@code MAP_NORESERVE}).
   *
   * @param errno the capture segment
   * @param length the size in bytes, at least 1
   * @return the mapping, {@code length} bytes long, not owned by any arena
   * @throws IOException if the address space cannot be reserved
   */
  @SuppressWarnings("restricted")
  public static MemorySegment mapReserve(MemorySegment errno, long length) throws IOException {
    MemorySegment map =
        Libc.mmap(
            errno,
            length,
            Linux.PROT_READ | Linux.PROT_WRITE,
            Linux.MAP_PRIVATE | Linux.MAP_ANONYMOUS | Linux.MAP_NORESERVE,
            -1,
            0);
    if (map.address() == -1L) {
      throw Errno.exception("mmap " + length + " bytes", Native.errno(errno));
    }
    return map.reinterpret(length);
  }

  /**
   * Maps {@code length} bytes of {@code fd} shared ({@code MAP_SHARED}, read and write).
   *
   * @param errno the capture segment
   * @param fd the file, at least {@code length} bytes long
   * @param length the size in bytes
   * @return the mapping, not owned by any arena
   * @throws IOException if mmap fails
   */
  public static MemorySegment mapShared(MemorySegment errno, int fd, long length)
      throws IOException {
    return mapShared(errno, fd, length, 0);
  }

  /**
   * Maps {@code length} bytes of {@code fd} from {@code offset} on, shared ({@code MAP_SHARED},
   * read and write).
   *
   * @param errno the capture segment
   * @param fd the file, at least {@code offset + length} bytes long
   * @param length the size in bytes
   * @param offset where in the file the mapping starts, a multiple of the page size
   * @return the mapping, not owned by any arena
   * @throws IOException if mmap fails
   */
  @SuppressWarnings("restricted")
  public static MemorySegment mapShared(MemorySegment errno, int fd, long length, long offset)
      throws IOException {
    MemorySegment map =
        Libc.mmap(errno, length, Linux.PROT_READ | Linux.PROT_WRITE, Linux.MAP_SHARED, fd, offset);
    if (map.address() == -1L) {
      throw Errno.exception("mmap", Native.errno(errno));
    }
    return map.reinterpret(length);
  }

  /**
   * Hands a mapping to an arena: it is unmapped when the arena closes.
   *
   * @param map a mapping from this class
   * @param arena the new owner
   * @return the same memory, with the arena's lifetime
   */
  @SuppressWarnings("restricted")
  public static MemorySegment attach(MemorySegment map, Arena arena) {
    long length = map.byteSize();
    return MemorySegment.ofAddress(map.address())
        .reinterpret(length, arena, m -> Libc.munmap(m, length));
  }

  /**
   * Unmaps a mapping that no arena owns.
   *
   * @param map a mapping from this class
   */
  public static void unmap(MemorySegment map) {
    Libc.munmap(map, map.byteSize());
  }
}
