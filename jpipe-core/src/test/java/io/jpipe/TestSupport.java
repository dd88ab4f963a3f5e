package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.io.PollSet;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/** Helpers shared by the tests. */
public final class TestSupport {
  private TestSupport() {}

  /** How long a test waits for something that should happen at once: generous for loaded CI. */
  public static final Duration PATIENCE = Duration.ofSeconds(30);

  /** Number of open descriptors of this process. */
  public static int fdCount() {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return (int) fds.count() - 1; // the directory stream's own descriptor
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** What /proc/self/fd/N points to, such as "socket:[123]" or "pipe:[456]". */
  public static String fdTarget(int fd) throws IOException {
    return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
  }

  /** Writes raw bytes to a descriptor, bypassing framing (a hostile or buggy peer). */
  public static void rawWrite(int fd, byte[] bytes) throws IOException {
    Scratch s = Scratch.get();
    MemorySegment seg = java.lang.foreign.Arena.ofAuto().allocate(Math.max(1, bytes.length));
    MemorySegment.copy(bytes, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, bytes.length);
    long off = 0;
    while (off < bytes.length) {
      long r = Libc.write(s.errno, fd, seg.asSlice(off), bytes.length - off);
      if (r < 0) {
        throw new IOException("write errno " + Native.errno(s.errno));
      }
      off += r;
    }
  }

  /** A big-endian 4-byte length header. */
  public static byte[] header(int n) {
    return new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n};
  }

  /** The long header form: FF FF FF FF then an 8-byte big-endian length. */
  public static byte[] longHeader(long n) {
    byte[] h = new byte[12];
    h[0] = h[1] = h[2] = h[3] = (byte) 0xff;
    for (int i = 0; i < 8; i++) {
      h[4 + i] = (byte) (n >>> (56 - 8 * i));
    }
    return h;
  }

  /** Concatenates arrays. */
  public static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] out = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }

  /** Runs {@code task} on a new platform thread. */
  public static <T> CompletableFuture<T> async(Callable<T> task) {
    return async(Thread.ofPlatform().name("test-async").daemon(), task, new Thread[1]);
  }

  /**
   * Runs {@code task} on a new thread of {@code kind} (platform or virtual), which is stored in
   * {@code thread[0]}.
   */
  public static <T> CompletableFuture<T> async(
      Thread.Builder kind, Callable<T> task, Thread[] thread) {
    CompletableFuture<T> f = new CompletableFuture<>();
    thread[0] =
        kind.start(
            () -> {
              try {
                f.complete(task.call());
              } catch (Throwable e) {
                f.completeExceptionally(e);
              }
            });
    return f;
  }

  /** Waits for a future and returns what it threw (unwrapped), failing if it did not throw. */
  public static Throwable failureOf(CompletableFuture<?> f) throws Exception {
    try {
      f.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("expected the task to fail, but it returned");
  }

  /** Waits for a future's value. */
  public static <T> T await(CompletableFuture<T> f) throws Exception {
    try {
      return f.get(PATIENCE.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception ex) {
        throw ex;
      }
      throw e;
    }
  }

  /** Waits until {@code condition} holds, failing after {@link #PATIENCE}. */
  public static void eventually(String what, BooleanSupplier condition)
      throws InterruptedException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() - deadline < 0, "timed out waiting for: " + what);
      Thread.sleep(5);
    }
  }

  /** Waits until {@code thread} is blocked or waiting (it reached its blocking call). */
  public static void awaitBlocked(Thread thread) throws InterruptedException {
    eventually(
        thread.getName() + " to block",
        () -> {
          Thread.State st = thread.getState();
          return st == Thread.State.RUNNABLE
                  && Stream.of(thread.getStackTrace())
                      .anyMatch(
                          e ->
                              e.getMethodName().equals("await")
                                  || e.getClassName().equals(PollSet.class.getName()))
              || st == Thread.State.WAITING
              || st == Thread.State.TIMED_WAITING;
        });
    Thread.sleep(20); // let it enter poll()
  }

  /** The pids of this JVM's child processes that still exist (running or zombie), with state. */
  public static java.util.Map<Long, Character> children() {
    return childrenOf(ProcessHandle.current().pid());
  }

  /** The processes whose parent is {@code ppid}, with their state letter (Z for a zombie). */
  public static java.util.Map<Long, Character> childrenOf(long ppid) {
    java.util.Map<Long, Character> out = new java.util.TreeMap<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs::iterator) {
        String name = p.getFileName().toString();
        if (!name.chars().allMatch(Character::isDigit)) {
          continue;
        }
        String stat;
        try {
          stat = Files.readString(p.resolve("stat"));
        } catch (IOException gone) {
          continue;
        }
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        if (Long.parseLong(f[1]) == ppid) {
          out.put(Long.parseLong(name), f[0].charAt(0));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** Whether a process exists (zombies included). */
  public static boolean exists(long pid) {
    return Files.exists(Path.of("/proc/" + pid));
  }

  /** Waits until this JVM has no child process left, failing after {@link #PATIENCE}. */
  public static void assertNoChildren() throws InterruptedException {
    long deadline = System.nanoTime() + PATIENCE.toNanos();
    java.util.Map<Long, Character> left = children();
    while (!left.isEmpty() && System.nanoTime() - deadline < 0) {
      Thread.sleep(20);
      left = children();
    }
    assertTrue(left.isEmpty(), "child processes left (pid=state): " + left);
  }

  /** A deterministic payload for message {@code i} of {@code size} bytes. */
  public static byte[] payload(int i, int size) {
    byte[] b = new byte[size];
    long x = 0x9E3779B97F4A7C15L * (i + 1);
    for (int k = 0; k < size; k++) {
      x ^= x << 13;
      x ^= x >>> 7;
      x ^= x << 17;
      b[k] = (byte) x;
    }
    return b;
  }
}
