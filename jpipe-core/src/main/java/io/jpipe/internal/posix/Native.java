package io.jpipe.internal.posix;

import io.jpipe.internal.ThisJvm;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The linker, the libc symbol lookup and errno capture: the one place that creates downcall
 * handles.
 *
 * <p>Handles are linked lazily, each in its own holder class in {@link Libc}: the first handle
 * costs 50-100 ms of JVM start-up and each further one 5-17 ms, which is most of a child JVM's
 * start-up time (see {@code shared/reference/ffm-on-this-machine.md}).
 */
public final class Native {
  private Native() {}

  private static final Linker LINKER = Linker.nativeLinker();
  private static final SymbolLookup LIBC = LINKER.defaultLookup();

  private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  /** How a downcall is linked. */
  enum Mode {
    /** No errno: the function returns its error (posix_spawn, pthread_*). */
    PLAIN,
    /** errno captured into a segment passed as the first argument. */
    ERRNO,
    /**
     * errno captured, no thread-state transition, heap segments allowed. Only for calls that never
     * block: non-blocking reads and writes.
     */
    CRITICAL_ERRNO,
    /**
     * No errno, no thread-state transition, heap segments allowed. Only for calls that never block
     * and are short: the JVM waits for them at a safepoint.
     */
    CRITICAL
  }

  /** Whether jpipe's module may call native code; computed once, never thrown at class init. */
  private static final boolean NATIVE_ACCESS = Native.class.getModule().isNativeAccessEnabled();

  /**
   * Refuses to go on without native access, with one {@link IllegalCallerException} that gives the
   * exact flag for the way this JVM was launched. Thrown afresh on every use (a failed static
   * initializer would surface as an {@code ExceptionInInitializerError}, then as a {@code
   * NoClassDefFoundError} that no longer says why). Every path into native code passes here first:
   * the per-thread {@code Scratch} takes its errno segment from {@link #newErrnoSegment}, and
   * {@link #downcall} checks again.
   */
  public static void requireNativeAccess() {
    if (!NATIVE_ACCESS) {
      throw new IllegalCallerException(ThisJvm.nativeAccessMessage(Native.class.getModule()));
    }
  }

  static MethodHandle downcall(String name, FunctionDescriptor descriptor, Mode mode) {
    return downcall(name, descriptor, mode, -1);
  }

  @SuppressWarnings("restricted")
  static MethodHandle downcall(
      String name, FunctionDescriptor descriptor, Mode mode, int firstVariadicArg) {
    requireNativeAccess();
    MemorySegment symbol =
        LIBC.find(name)
            .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol '" + name + "'"));
    java.util.List<Linker.Option> options = new java.util.ArrayList<>(3);
    switch (mode) {
      case PLAIN -> {}
      case ERRNO -> options.add(CAPTURE_ERRNO);
      case CRITICAL_ERRNO -> {
        options.add(CAPTURE_ERRNO);
        options.add(Linker.Option.critical(true));
      }
      case CRITICAL -> options.add(Linker.Option.critical(true));
    }
    if (firstVariadicArg >= 0) {
      options.add(Linker.Option.firstVariadicArg(firstVariadicArg));
    }
    return LINKER.downcallHandle(symbol, descriptor, options.toArray(Linker.Option[]::new));
  }

  /** Finds a libc data symbol, such as {@code environ}. */
  static MemorySegment symbol(String name) {
    return LIBC.find(name)
        .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol '" + name + "'"));
  }

  /**
   * Allocates a segment that receives errno from the calls linked with errno capture.
   *
   * @param arena the arena that owns the segment
   * @return a new capture segment
   * @throws IllegalCallerException if jpipe has no native access
   */
  public static MemorySegment newErrnoSegment(Arena arena) {
    requireNativeAccess();
    return arena.allocate(CAPTURE_LAYOUT);
  }

  /**
   * Reads the errno captured by the last call that used {@code captured}.
   *
   * @param captured a segment from {@link #newErrnoSegment}
   * @return the errno value
   */
  public static int errno(MemorySegment captured) {
    return (int) ERRNO.get(captured, 0L);
  }

  /** Turns what {@code invokeExact} threw into an unchecked error; downcalls throw nothing. */
  static RuntimeException rethrow(Throwable t) {
    if (t instanceof RuntimeException r) {
      throw r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    throw new IllegalStateException("unexpected exception from a downcall", t);
  }
}
