package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.jfr.Jfr;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.spawn.ChildHandle;
import io.jpipe.internal.spawn.ChildrenAtExit;
import io.jpipe.internal.spawn.Launcher;
import io.jpipe.internal.spawn.StartHandshake;
import java.io.IOException;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A child JVM that runs one task with the arguments it is given (CPython's {@code
 * multiprocessing.Process} with the {@code spawn} start method). Connection ends and {@link
 * ProcessLock}s among the arguments arrive in the child as live objects: the child inherits exactly
 * their descriptors and nothing else.
 *
 * <pre>{@code
 * static void consumer(Connection in) throws IOException {
 *   try {
 *     for (;;) System.out.println("received: " + in.recv());
 *   } catch (EOFException e) { }
 * }
 *
 * Pipe pipe = Pipe.open(false);
 * ChildProcess c1 = ChildProcess.of(Demo::consumer, pipe.conn1()).name("c1");
 * c1.start();
 * pipe.conn1().close();            // the child has its own copy now
 * pipe.conn2().send("hello");
 * pipe.conn2().close();            // the child sees end of file
 * c1.join();
 * }</pre>
 *
 * <p>The child is the same {@code java} and sees the program's code as the parent does: the same
 * class path (for a task loaded by another class loader, such as the one {@code mvn exec:java} runs
 * programs in, that loader's class path), the same module path and resolved modules, the parent's
 * {@code --add-modules}, {@code --add-opens}, {@code --add-exports}, {@code --add-reads}, {@code
 * --enable-native-access}, {@code --limit-modules} and other module options (also those of the
 * manifest of a jar run by {@code java -jar}), and the system properties named in {@link
 * #INHERIT_PROPERTIES_PROPERTY}; add JVM options with {@link #jvmOptions}. The target is a
 * serializable functional interface, usually a method reference to a static method; it and every
 * argument are serialized (Java serialization) to the child. The child's standard streams are the
 * parent's.
 *
 * <h2>Lifecycle, as in CPython</h2>
 *
 * <ul>
 *   <li>{@link #start()} returns once the child JVM runs and has decoded its task; a child that
 *       cannot start is a {@link ProcessStartException} here, never a hang.
 *   <li>{@link #exitCode()}: 0 when the task returned, 1 after an uncaught exception (its stack
 *       trace is on the child's stderr), N after {@code System.exit(N)}, minus the signal number if
 *       a signal killed it: {@link #terminate()} gives -15, {@link #kill()} -9.
 *   <li>Every child is reaped as soon as it exits: no zombies.
 *   <li>A {@linkplain #daemon(boolean) daemon} child is terminated when the parent JVM exits, and
 *       dies at once if the parent is killed (even by SIGKILL). When the parent JVM exits, it first
 *       waits for its non-daemon children, as CPython does. A daemon child may not start children.
 *       This wait happens in a shutdown hook, so it also holds up an exit caused by SIGTERM or
 *       Ctrl-C: a parent stopped that way still waits for its non-daemon children (terminate or
 *       join them first if that is not what you want).
 * </ul>
 */
public final class ChildProcess {
  /** System property holding the process name inside a child ({@link #currentName()}). */
  public static final String NAME_PROPERTY = "jpipe.process.name";

  /** System property set to {@code "true"} inside a daemon child. */
  public static final String DAEMON_PROPERTY = "jpipe.process.daemon";

  /**
   * System property that names the system properties children inherit: comma-separated names, or
   * prefixes ending in {@code *} ({@code -Djpipe.child.inheritProperties=app.config,app.log.*}).
   * Each of them that the parent has when a child starts is given to the child as {@code
   * -Dname=value}, and so is this property, so that grandchildren inherit them too.
   */
  public static final String INHERIT_PROPERTIES_PROPERTY = "jpipe.child.inheritProperties";

  /** A task with no arguments. */
  @FunctionalInterface
  public interface Target0 extends Serializable {
    /**
     * Runs in the child.
     *
     * @throws Exception anything; the child then exits with code 1
     */
    void run() throws Exception;
  }

  /**
   * A task with one argument.
   *
   * @param <A> the argument's type
   */
  @FunctionalInterface
  public interface Target1<A> extends Serializable {
    /**
     * Runs in the child.
     *
     * @param a the argument
     * @throws Exception anything; the child then exits with code 1
     */
    void run(A a) throws Exception;
  }

  /**
   * A task with two arguments.
   *
   * @param <A> the first argument's type
   * @param <B> the second argument's type
   */
  @FunctionalInterface
  public interface Target2<A, B> extends Serializable {
    /**
     * Runs in the child.
     *
     * @param a the first argument
     * @param b the second argument
     * @throws Exception anything; the child then exits with code 1
     */
    void run(A a, B b) throws Exception;
  }

  /**
   * A task with three arguments.
   *
   * @param <A> the first argument's type
   * @param <B> the second argument's type
   * @param <C> the third argument's type
   */
  @FunctionalInterface
  public interface Target3<A, B, C> extends Serializable {
    /**
     * Runs in the child.
     *
     * @param a the first argument
     * @param b the second argument
     * @param c the third argument
     * @throws Exception anything; the child then exits with code 1
     */
    void run(A a, B b, C c) throws Exception;
  }

  /**
   * A task with four arguments.
   *
   * @param <A> the first argument's type
   * @param <B> the second argument's type
   * @param <C> the third argument's type
   * @param <D> the fourth argument's type
   */
  @FunctionalInterface
  public interface Target4<A, B, C, D> extends Serializable {
    /**
     * Runs in the child.
     *
     * @param a the first argument
     * @param b the second argument
     * @param c the third argument
     * @param d the fourth argument
     * @throws Exception anything; the child then exits with code 1
     */
    void run(A a, B b, C c, D d) throws Exception;
  }

  /**
   * How a child JVM is started (CPython's start methods).
   *
   * <ul>
   *   <li>{@link #SPAWN}: a new JVM for each child, booted in {@link #start()} (CPython's {@code
   *       spawn}). Children share the parent's class path; when it holds only jars, jpipe builds a
   *       JDK AOT cache for children in the background and later children boot from it, much
   *       faster.
   *   <li>{@link #WARM}: the child is a spare JVM that jpipe booted and warmed up earlier and that
   *       waits on a private socketpair (which no other process can reach); {@link #start()} only
   *       hands it the task and the connection ends, so the child runs within milliseconds
   *       (CPython's {@code forkserver}). Taking a spare starts its replacement in the background;
   *       the spare is created on first use, or ahead of time by {@link #prestartWarm}, which can
   *       also keep several (for children started back to back). With no spare ready, {@link
   *       #start()} does not wait for one: it spawns the child, as {@link #SPAWN} does, and a spare
   *       boots once warm starts pause. An idle spare costs one idle JVM's memory (about 80 MB of
   *       RSS), and exits with its parent.
   * </ul>
   */
  public enum StartMethod {
    /** A new JVM per child, booted in start(). */
    SPAWN,
    /** A pre-booted spare JVM per child. */
    WARM
  }

  private static volatile StartMethod defaultStartMethod = StartMethod.SPAWN;

  /**
   * Sets the start method of children created from now on (CPython's {@code set_start_method});
   * {@link StartMethod#SPAWN} by default.
   *
   * @param method the method
   */
  public static void setDefaultStartMethod(StartMethod method) {
    defaultStartMethod = Objects.requireNonNull(method, "method");
  }

  /**
   * Boots a warm spare for children with these JVM options, if none is waiting, and waits up to
   * {@code wait} for it to be ready (CPython's {@code forkserver.ensure_running}), so that the
   * first {@link StartMethod#WARM} start is fast too. With a zero wait it returns at once and the
   * spare boots in the background.
   *
   * @param wait the longest wait; zero for none
   * @param jvmOptions the options the children will have
   * @return whether a ready spare is waiting now
   */
  public static boolean prestartWarm(Duration wait, String... jvmOptions) {
    return prestartWarm(1, wait, jvmOptions);
  }

  /**
   * Keeps {@code spares} warm spares ready for children with these JVM options, from now on, and
   * waits up to {@code wait} until that many are ready, so that as many {@link StartMethod#WARM}
   * children started back to back (the workers of a pool, say) all start warm. Each spare taken is
   * replaced in the background once warm starts pause (see {@link StartMethod#WARM}). The number
   * only grows: a later call with a smaller one keeps the larger; {@link #prestartWarm(Duration,
   * String...)} is this call with one spare.
   *
   * <p>Each spare is an idle JVM that has booted and warmed up: about 80 MB of resident memory
   * (measured with jpipe's default options), so 64 spares, the most allowed, hold about 5 GB; an
   * idle spare uses no CPU. Keep only as many as children will come. Spares exit with this JVM,
   * even if it is killed.
   *
   * @param spares how many spares to keep ready, 1 to 64
   * @param wait the longest wait; zero for none (the spares boot in the background)
   * @param jvmOptions the options the children will have
   * @return whether {@code spares} ready spares are waiting now
   * @throws IllegalArgumentException if {@code spares} is not between 1 and 64
   */
  public static boolean prestartWarm(int spares, Duration wait, String... jvmOptions) {
    return Launcher.warm()
        .prestart(spares, List.of(jvmOptions), Math.max(0, Durations.toNanos(wait)));
  }

  /**
   * Builds, if it does not exist yet, the JDK AOT cache that {@link StartMethod#SPAWN} children
   * with these JVM options boot from, and waits up to {@code wait} for it. Children never need this
   * call (the first of them starts the cache's training in the background); it lets a program or a
   * deployment step pay that once, up front. A class path with directories on it cannot have a
   * cache.
   *
   * @param wait the longest wait
   * @param jvmOptions the options the children will have
   * @return whether children with these options now boot from a cache
   */
  public static boolean prepareSpawn(Duration wait, String... jvmOptions) {
    return Launcher.spawn().prepare(List.of(jvmOptions), Durations.toNanos(wait));
  }

  private static final AtomicInteger COUNTER = new AtomicInteger();

  /** Where the actions that depend on {@link #onExit()} run: never on the reaper's thread. */
  private static final Executor ON_EXIT =
      task -> Thread.ofVirtual().name("jpipe-on-exit").start(task);

  private final Object target;
  private final Object[] args;
  private String name = "ChildProcess-" + COUNTER.incrementAndGet();
  private boolean daemon;
  private final List<String> jvmOptions = new ArrayList<>();
  private Duration startTimeout = Duration.ofSeconds(120);
  private StartMethod startMethod = defaultStartMethod;

  // Written once, by start(), under this.
  private volatile ChildHandle child;

  /** Completed, on the reaper's thread, once the child has exited and its exit is recorded. */
  private final CompletableFuture<ChildProcess> exited = new CompletableFuture<>();

  private ChildProcess(Object target, Object... args) {
    this.target = Objects.requireNonNull(target, "target");
    this.args = args;
  }

  /**
   * A child that runs {@code target()}.
   *
   * @param target the task
   * @return the child, not started
   */
  public static ChildProcess of(Target0 target) {
    return new ChildProcess(target);
  }

  /**
   * A child that runs {@code target(a)}.
   *
   * @param <A> the argument's type
   * @param target the task
   * @param a the argument
   * @return the child, not started
   */
  public static <A> ChildProcess of(Target1<A> target, A a) {
    return new ChildProcess(target, a);
  }

  /**
   * A child that runs {@code target(a, b)}.
   *
   * @param <A> the first argument's type
   * @param <B> the second argument's type
   * @param target the task
   * @param a the first argument
   * @param b the second argument
   * @return the child, not started
   */
  public static <A, B> ChildProcess of(Target2<A, B> target, A a, B b) {
    return new ChildProcess(target, a, b);
  }

  /**
   * A child that runs {@code target(a, b, c)}.
   *
   * @param <A> the first argument's type
   * @param <B> the second argument's type
   * @param <C> the third argument's type
   * @param target the task
   * @param a the first argument
   * @param b the second argument
   * @param c the third argument
   * @return the child, not started
   */
  public static <A, B, C> ChildProcess of(Target3<A, B, C> target, A a, B b, C c) {
    return new ChildProcess(target, a, b, c);
  }

  /**
   * A child that runs {@code target(a, b, c, d)}.
   *
   * @param <A> the first argument's type
   * @param <B> the second argument's type
   * @param <C> the third argument's type
   * @param <D> the fourth argument's type
   * @param target the task
   * @param a the first argument
   * @param b the second argument
   * @param c the third argument
   * @param d the fourth argument
   * @return the child, not started
   */
  public static <A, B, C, D> ChildProcess of(Target4<A, B, C, D> target, A a, B b, C c, D d) {
    return new ChildProcess(target, a, b, c, d);
  }

  // ---------------------------------------------------------------- configuration

  /**
   * Sets the name (default {@code ChildProcess-N}), visible in the child as {@link #currentName()}.
   *
   * @param name the name
   * @return this
   */
  public synchronized ChildProcess name(String name) {
    this.name = Objects.requireNonNull(name, "name");
    return this;
  }

  /**
   * Makes the child a daemon (or not; the default): see the class comment.
   *
   * @param daemon whether it is a daemon
   * @return this
   * @throws IllegalStateException if already started
   */
  public synchronized ChildProcess daemon(boolean daemon) {
    checkNotStarted();
    this.daemon = daemon;
    return this;
  }

  /**
   * Adds options for the child's JVM, such as {@code -Xmx64m}; they come after jpipe's own, so they
   * win.
   *
   * @param options the options
   * @return this
   * @throws IllegalStateException if already started
   */
  public synchronized ChildProcess jvmOptions(String... options) {
    checkNotStarted();
    jvmOptions.addAll(List.of(options));
    return this;
  }

  /**
   * Chooses how this child starts; the default is {@link #setDefaultStartMethod}'s.
   *
   * @param method the start method
   * @return this
   * @throws IllegalStateException if already started
   */
  public synchronized ChildProcess startMethod(StartMethod method) {
    checkNotStarted();
    this.startMethod = Objects.requireNonNull(method, "method");
    return this;
  }

  /**
   * How long {@link #start()} waits for the child JVM to come up (default 120 s).
   *
   * @param timeout the longest wait
   * @return this
   */
  public synchronized ChildProcess startTimeout(Duration timeout) {
    this.startTimeout = Objects.requireNonNull(timeout, "timeout");
    return this;
  }

  /**
   * The name.
   *
   * @return the name
   */
  public synchronized String name() {
    return name;
  }

  /**
   * Whether this is a daemon child.
   *
   * @return true for a daemon
   */
  public synchronized boolean isDaemon() {
    return daemon;
  }

  /**
   * The name of the current process: its {@link #name()} inside a child, else {@code "MainProcess"}
   * (CPython's {@code current_process().name}).
   *
   * @return the name
   */
  public static String currentName() {
    return System.getProperty(NAME_PROPERTY, "MainProcess");
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts the child JVM and waits until it has decoded its task.
   *
   * @throws IllegalStateException if already started, or if this process is a daemon child
   * @throws java.io.NotSerializableException if the target or an argument cannot be serialized
   *     (nothing was started); the message names the argument, or the value the target captured
   * @throws IllegalCallerException if this JVM does not grant jpipe native access (the message
   *     gives the flag)
   * @throws java.nio.channels.ClosedChannelException if a connection argument is closed
   * @throws ProcessStartException if the child JVM exits, or fails to decode its task, before
   *     running it (its stderr says why), or does not come up within the start timeout; or, before
   *     any child is started, if no child JVM could load a class the task needs (one defined from
   *     bytes, or in a module layer of its own)
   * @throws IOException if the spawn itself fails. When {@code start} throws before a child JVM has
   *     been given its task (the target does not serialize, the spawn fails, a warm spare dies or
   *     hangs), this object stays unstarted and {@code start} may be called again; after a child
   *     JVM with its task failed, it is started and has an exit code.
   */
  public synchronized void start() throws IOException {
    checkNotStarted();
    if (Boolean.getBoolean(DAEMON_PROPERTY)) {
      throw new IllegalStateException("a daemon process may not start child processes");
    }
    Object jfr = Jfr.childStartBegin();
    // Launch first: if it throws (a target that will not serialize, a failed spawn), this
    // object stays unstarted and start() may be called again.
    Launcher.Launched launched;
    try (Launcher.Task task = Launcher.Task.encode(name, daemon, target, args, jvmOptions)) {
      launched = Launcher.of(startMethod).launch(task, Durations.toNanos(startTimeout));
    }
    ChildHandle c = launched.child();
    long startedNanos = System.nanoTime();
    child = c;
    ChildrenAtExit.track(c, daemon);
    c.exit()
        .thenRun(
            () -> {
              try { // before join() can return: a test reads it
                Jfr.childExited(name, c.pid(), c.exit().join(), startedNanos);
              } finally { // whatever the hook throws, join() returns
                exited.complete(this);
              }
            });
    StartHandshake.await(launched, name, startTimeout);
    // What happened, not what was asked: a WARM start with no spare ready is spawned.
    Jfr.childStarted(
        jfr,
        name,
        (launched.fromSpare() ? StartMethod.WARM : StartMethod.SPAWN).name(),
        c.pid(),
        target);
  }

  /**
   * Waits until the child exits.
   *
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if not started
   */
  public void join() throws InterruptedException {
    checkStarted("join");
    try {
      exited.get();
    } catch (ExecutionException e) {
      throw new IllegalStateException(e); // never: the future only completes normally
    }
  }

  /**
   * Waits until the child exits or the time runs out.
   *
   * @param timeout the longest wait
   * @return true if the child has exited
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if not started
   */
  public boolean join(Duration timeout) throws InterruptedException {
    checkStarted("join");
    try {
      exited.get(Math.max(0, Durations.toNanos(timeout)), TimeUnit.NANOSECONDS);
      return true;
    } catch (TimeoutException e) {
      return false;
    } catch (ExecutionException e) {
      throw new IllegalStateException(e); // never: the future only completes normally
    }
  }

  /**
   * A future that completes with this object once the child has exited and been reaped ({@link
   * java.lang.Process#onExit()}'s counterpart); {@link #exitCode()} is then present: {@code -9}
   * after {@link #kill()}, and so on. Each call returns a new future, so completing or cancelling
   * one changes nothing else. Actions that depend on it run on a virtual thread of jpipe's (or in
   * the caller, when added after the exit), never on the thread that reaps children: they may
   * block.
   *
   * <p>Only a started child has an exit: for a child whose {@link #start()} has not been called, or
   * threw before the child JVM got its task (this object then stays unstarted), this throws, as
   * {@link #join()} does. A child whose start failed after its JVM got the task has exited, and its
   * future is complete.
   *
   * @return the future
   * @throws IllegalStateException if not started
   */
  public CompletableFuture<ChildProcess> onExit() {
    checkStarted("wait for the exit of");
    return exited.thenApplyAsync(p -> p, ON_EXIT);
  }

  /**
   * Whether the child has started and not yet exited.
   *
   * @return true while it runs
   */
  public boolean isAlive() {
    ChildHandle c = child;
    return c != null && !c.hasExited();
  }

  /**
   * The exit code, once the child has exited: 0, 1 after an uncaught exception, N after {@code
   * System.exit(N)}, or minus the signal that killed it.
   *
   * @return the exit code, or empty while the child runs (or before it starts)
   */
  public OptionalInt exitCode() {
    ChildHandle c = child;
    return c != null && c.hasExited() ? OptionalInt.of(c.exit().join()) : OptionalInt.empty();
  }

  /**
   * Sends SIGTERM: the child dies at once (exit code -15). Nothing happens if it has exited.
   *
   * @throws IllegalStateException if not started
   * @throws IOException if the signal cannot be sent
   */
  public void terminate() throws IOException {
    checkStarted("signal");
    child.signal(Linux.SIGTERM);
  }

  /**
   * Sends SIGKILL (exit code -9). Nothing happens if it has exited.
   *
   * @throws IllegalStateException if not started
   * @throws IOException if the signal cannot be sent
   */
  public void kill() throws IOException {
    checkStarted("signal");
    child.signal(Linux.SIGKILL);
  }

  /**
   * The child's process id.
   *
   * @return the pid
   * @throws IllegalStateException if not started
   */
  public long pid() {
    checkStarted("pid");
    return child.pid();
  }

  /**
   * A descriptor that becomes readable when the child exits (a pidfd; CPython's {@code sentinel}),
   * for {@link Connections#waitAny} or your own {@code poll}. Valid until {@link #close()}.
   *
   * @return the descriptor
   * @throws IllegalStateException if not started, or closed
   */
  public int sentinel() {
    checkStarted("sentinel");
    FdChannel ch = child.pidfd();
    if (ch.isClosed()) {
      throw new IllegalStateException("the process is closed");
    }
    return ch.fd();
  }

  FdChannel sentinelChannel() {
    checkStarted("sentinel");
    return child.pidfd();
  }

  /**
   * Releases the sentinel (CPython's {@code Process.close()}); also done when this object is
   * garbage-collected.
   *
   * @throws IllegalStateException if the child is still running
   */
  public void close() {
    if (isAlive()) {
      throw new IllegalStateException("cannot close a process while it is still running");
    }
    ChildHandle c = child;
    if (c != null) {
      c.close();
    }
  }

  @Override
  public String toString() {
    ChildHandle c = child;
    String state;
    if (c == null) {
      state = "initial";
    } else if (!c.hasExited()) {
      state = "started, pid=" + c.pid();
    } else {
      state = "stopped, pid=" + c.pid() + ", exitcode=" + c.exit().join();
    }
    return "ChildProcess[" + name + ", " + state + (daemon ? ", daemon]" : "]");
  }

  private void checkNotStarted() {
    if (child != null) {
      throw new IllegalStateException("cannot start a process twice: " + name);
    }
  }

  private void checkStarted(String what) {
    if (child == null) {
      throw new IllegalStateException("can only " + what + " a started process: " + name);
    }
  }
}
