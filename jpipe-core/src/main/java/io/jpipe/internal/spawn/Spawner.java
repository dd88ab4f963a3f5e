package io.jpipe.internal.spawn;

import io.jpipe.internal.io.IoStatus;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Starts a program with {@code posix_spawn} so that it inherits exactly stdin, stdout, stderr and
 * the chosen descriptors, renumbered 3, 4, 5... ({@code ProcessBuilder} cannot: it closes every
 * descriptor above 2 in the child).
 *
 * <p>The chosen descriptors are first duplicated out of the way (above every source and target),
 * then to their final numbers, so no source is overwritten before it is copied; then {@code
 * closefrom} closes everything else, including descriptors the JVM itself holds without
 * close-on-exec ({@code lib/modules}) or inherited from its own parent. The child starts with no
 * signal blocked and every signal at its default action.
 */
public final class Spawner {
  private Spawner() {}

  /**
   * Spawns a program.
   *
   * @param argv the program (absolute path) and its arguments
   * @param fds descriptors the child gets as 3, 4, 5... in this order
   * @return the child's pid
   * @throws IOException if the spawn fails (the program is missing, too many processes...)
   */
  public static int spawn(List<String> argv, int[] fds) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fa = arena.allocate(Linux.SPAWN_FILE_ACTIONS_SIZE, 16);
      MemorySegment attr = arena.allocate(Linux.SPAWNATTR_SIZE, 16);
      check("posix_spawn_file_actions_init", Libc.fileActionsInit(fa));
      try {
        check("posix_spawnattr_init", Libc.spawnattrInit(attr));
        try {
          int base = 3 + fds.length;
          for (int fd : fds) {
            base = Math.max(base, fd + 1);
          }
          for (int i = 0; i < fds.length; i++) {
            check("adddup2", Libc.fileActionsAdddup2(fa, fds[i], base + i));
          }
          for (int i = 0; i < fds.length; i++) {
            check("adddup2", Libc.fileActionsAdddup2(fa, base + i, 3 + i));
          }
          check("addclosefrom_np", Libc.fileActionsAddclosefrom(fa, 3 + fds.length));

          MemorySegment none = arena.allocate(Linux.SIGSET_SIZE, 8);
          MemorySegment all = arena.allocate(Linux.SIGSET_SIZE, 8);
          Libc.sigemptyset(none);
          Libc.sigfillset(all);
          check("posix_spawnattr_setsigmask", Libc.spawnattrSetsigmask(attr, none));
          check("posix_spawnattr_setsigdefault", Libc.spawnattrSetsigdefault(attr, all));
          check(
              "posix_spawnattr_setflags",
              Libc.spawnattrSetflags(
                  attr, (short) (Linux.POSIX_SPAWN_SETSIGMASK | Linux.POSIX_SPAWN_SETSIGDEF)));

          MemorySegment argvSeg = arena.allocate(ValueLayout.ADDRESS, argv.size() + 1);
          for (int i = 0; i < argv.size(); i++) {
            argvSeg.setAtIndex(ValueLayout.ADDRESS, i, arena.allocateFrom(argv.get(i)));
          }
          argvSeg.setAtIndex(ValueLayout.ADDRESS, argv.size(), MemorySegment.NULL);
          MemorySegment pid = arena.allocate(ValueLayout.JAVA_INT);
          int err =
              Libc.posixSpawn(
                  pid, arena.allocateFrom(argv.get(0)), fa, attr, argvSeg, Libc.environ());
          if (err != 0) {
            throw Errno.exception("posix_spawn " + argv.get(0), err);
          }
          return pid.get(ValueLayout.JAVA_INT, 0);
        } finally {
          Libc.spawnattrDestroy(attr);
        }
      } finally {
        Libc.fileActionsDestroy(fa);
      }
    }
  }

  private static void check(String call, int error) throws IOException {
    if (error != 0) {
      throw Errno.exception(call, error);
    }
  }

  /**
   * Creates a close-on-exec memfd holding {@code data}, positioned at its start for a reader that
   * opens {@code /proc/self/fd/N}.
   *
   * @param name a name for debugging
   * @param data the contents
   * @return the memfd
   * @throws IOException if it cannot be created
   */
  public static int memfd(String name, byte[] data) throws IOException {
    Scratch s = Scratch.get();
    int fd;
    try (Arena arena = Arena.ofConfined()) {
      fd = Libc.memfdCreate(s.errno, arena.allocateFrom(name), Linux.MFD_CLOEXEC);
      if (fd < 0) {
        throw Errno.exception("memfd_create", Native.errno(s.errno));
      }
      MemorySegment buf = arena.allocate(Math.max(1, data.length));
      MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, data.length);
      long off = 0;
      try {
        while (off < data.length) {
          long r =
              IoStatus.of(
                  Libc.write(s.errno, fd, buf.asSlice(off), data.length - off),
                  s.errno,
                  "write memfd");
          if (r > 0) {
            off += r;
          }
        }
      } catch (IOException e) {
        Libc.close(s.errno, fd);
        throw e;
      }
    }
    return fd;
  }
}
