/**
 * Pipes, connections, child JVMs, a process-shared lock and shared memory: Python's {@code
 * multiprocessing} Pipe model on real kernel objects.
 *
 * <ul>
 *   <li>{@link io.jpipe.Pipe} opens a {@code socketpair} (duplex) or a {@code pipe2} (one-way) and
 *       hands out its two {@link io.jpipe.Connection} ends; a connection sends and receives whole
 *       messages, framed as CPython frames them, as objects (through a {@link
 *       io.jpipe.codec.Codec}) or as bytes.
 *   <li>{@link io.jpipe.ChildProcess} runs a serializable method reference in a new JVM; the
 *       connections and locks among its arguments arrive there as live objects, and the child holds
 *       no other descriptor of the parent's.
 *   <li>{@link io.jpipe.ProcessLock} is a {@link java.util.concurrent.locks.Lock} shared by
 *       processes that survives a holder that dies.
 *   <li>{@link io.jpipe.ProcessLock#createReentrant()} is CPython's {@code RLock}, and {@link
 *       io.jpipe.ProcessLock#newCondition()} its {@code Condition} (a {@link
 *       io.jpipe.ProcessCondition}); {@link io.jpipe.ProcessSemaphore} is its {@code Semaphore} and
 *       {@code BoundedSemaphore}, {@link io.jpipe.ProcessEvent} its {@code Event} and {@link
 *       io.jpipe.ProcessBarrier} its {@code Barrier}: synchronization shared with child JVMs, where
 *       a process that dies blocks no other and virtual threads park.
 *   <li>{@link io.jpipe.SimpleQueue} is CPython's {@code multiprocessing.SimpleQueue}: a queue that
 *       any number of producer and consumer processes share, each item taken whole and exactly
 *       once, built from a one-way pipe and two process locks. {@link io.jpipe.ProcessQueue} is its
 *       {@code Queue} (a capacity, timed {@code offer} and {@code poll}, an approximate size) and
 *       {@link io.jpipe.JoinableQueue} its {@code JoinableQueue} ({@code taskDone}, {@code join}),
 *       with no feeder thread: {@code put} fails in the caller and leaves nothing to flush.
 *   <li>{@link io.jpipe.SharedMemory} is a named block of POSIX shared memory that CPython's {@code
 *       multiprocessing.shared_memory.SharedMemory} attaches to by name; {@link
 *       io.jpipe.SharedInt}, {@link io.jpipe.SharedLong}, {@link io.jpipe.SharedDouble} and their
 *       arrays ({@link io.jpipe.SharedLongArray} and so on) are CPython's {@code Value} and {@code
 *       Array}: numbers shared with child JVMs, each with its {@link io.jpipe.ProcessLock}.
 *   <li>{@link io.jpipe.Connections#waitAny(java.util.Collection, java.time.Duration)} waits on
 *       many connections, processes and listeners at once.
 * </ul>
 *
 * <p>The exceptions of this package are the {@link java.io.IOException}s CPython's errors map to:
 * {@link io.jpipe.BrokenPipeException}, {@link io.jpipe.MessageTooLongException}, {@link
 * io.jpipe.TruncatedMessageException}, {@link io.jpipe.ProtocolException}, {@link
 * io.jpipe.BufferTooShortException} and {@link io.jpipe.ProcessStartException}; end of file is a
 * {@link java.io.EOFException}. {@link io.jpipe.BrokenQueueException}, which CPython has no
 * counterpart for, says that a queue was left off a message boundary by a process that died.
 *
 * <p>Every JVM that uses this package needs native access: {@code
 * --enable-native-access=ALL-UNNAMED} on the class path, {@code =io.jpipe} on the module path (see
 * the overview). Child JVMs get it from jpipe.
 */
package io.jpipe;
