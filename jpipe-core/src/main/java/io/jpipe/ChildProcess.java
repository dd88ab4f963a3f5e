package io.jpipe;

import io.jpipe.internal.io.Durations;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.Fds;
import io.jpipe.internal.io.Scratch;
import io.jpipe.internal.jfr.Jfr;
import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import io.jpipe.internal.spawn.ChildLauncher;
import java.io.EOFException;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
   *       the spare is created on first use, or ahead of time by {@link #prestartWarm}. With no
   *       spare ready, {@link #start()} does not wait for one: it spawns the child, as {@link
   *       #SPAWN} does, and a spare boots once warm starts pause. An idle spare costs one idle
   *       JVM's memory, and exits with its parent.
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
    return io.jpipe.internal.spawn.WarmPool.awaitSpare(
        List.of(jvmOptions), Math.max(0, Durations.toNanos(wait)));
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
    return ChildLauncher.prepareAotCache(List.of(jvmOptions), Durations.toNanos(wait));
  }

  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Set<ChildProcess> LIVE = ConcurrentHashMap.newKeySet();
  private static boolean hookInstalled;

  private final Object target;
  private final Object[] args;
  private String name = "ChildProcess-" + COUNTER.incrementAndGet();
  private boolean daemon;
  private final List<String> jvmOptions = new ArrayList<>();
  private Duration startTimeout = Duration.ofSeconds(120);
  private StartMethod startMethod = defaultStartMethod;

  // Guarded by this until started; then written once by start() and the reaper.
  private volatile boolean started;
  private volatile int pid;
  private volatile FdChannel pidfd;
  private volatile int exitCode = Integer.MIN_VALUE;
  private volatile long startedNanos; // System.nanoTime() at launch, for the JFR exit event
  private final CountDownLatch exited = new CountDownLatch(1);

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
    ChildLauncher.Launched launched =
        ChildLauncher.launch(
            name,
            daemon,
            target,
            args,
            jvmOptions,
            startMethod == StartMethod.WARM,
            Durations.toNanos(startTimeout));
    pid = launched.pid();
    pidfd = launched.pidfd();
    startedNanos = System.nanoTime();
    started = true;
    installHook();
    LIVE.add(this);
    launched.exit().listen(this::exited);
    awaitReady(launched.status());
    // What happened, not what was asked: a WARM start with no spare ready is spawned.
    Jfr.childStarted(
        jfr,
        name,
        (launched.fromSpare() ? StartMethod.WARM : StartMethod.SPAWN).name(),
        pid,
        target);
  }

  private void awaitReady(Connection status) throws IOException {
    try (status) {
      if (!status.poll(startTimeout)) {
        kill();
        joinQuietly();
        throw new ProcessStartException(
            name + ": the child JVM did not start within " + startTimeout + "; killed it", -9);
      }
      byte[] message;
      try {
        message = status.recvBytes();
      } catch (EOFException | java.net.SocketException e) {
        // End of file, or a reset: the child's JVM died before running its target.
        joinQuietly();
        throw new ProcessStartException(
            name
                + ": the child JVM exited with code "
                + exitCode
                + " before running its target (its stderr says why)",
            exitCode);
      } catch (IOException e) {
        // A garbled status message: whatever that child is, it must not run on.
        kill();
        joinQuietly();
        throw new ProcessStartException(
            name + ": the child JVM sent a bad start status (" + e + "); killed it", exitCode);
      }
      if (message.length > 0) {
        joinQuietly();
        throw new ProcessStartException(
            name
                + ": the child JVM could not decode its task:\n"
                + new String(message, StandardCharsets.UTF_8),
            exitCode);
      }
    }
  }

  private void joinQuietly() {
    boolean interrupted = false;
    for (; ; ) {
      try {
        exited.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void exited(int code) {
    try {
      Jfr.childExited(name, pid, code, startedNanos); // before join() can return: a test reads it
    } finally { // whatever the hook throws, join() returns
      exitCode = code;
      LIVE.remove(this);
      exited.countDown();
    }
  }

  /**
   * Waits until the child exits.
   *
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if not started
   */
  public void join() throws InterruptedException {
    checkStarted("join");
    exited.await();
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
    return exited.await(Math.max(0, Durations.toNanos(timeout)), TimeUnit.NANOSECONDS);
  }

  /**
   * Whether the child has started and not yet exited.
   *
   * @return true while it runs
   */
  public boolean isAlive() {
    return started && exited.getCount() > 0;
  }

  /**
   * The exit code, once the child has exited: 0, 1 after an uncaught exception, N after {@code
   * System.exit(N)}, or minus the signal that killed it.
   *
   * @return the exit code, or empty while the child runs (or before it starts)
   */
  public OptionalInt exitCode() {
    return exited.getCount() == 0 ? OptionalInt.of(exitCode) : OptionalInt.empty();
  }

  /**
   * Sends SIGTERM: the child dies at once (exit code -15). Nothing happens if it has exited.
   *
   * @throws IllegalStateException if not started
   * @throws IOException if the signal cannot be sent
   */
  public void terminate() throws IOException {
    signal(Linux.SIGTERM);
  }

  /**
   * Sends SIGKILL (exit code -9). Nothing happens if it has exited.
   *
   * @throws IllegalStateException if not started
   * @throws IOException if the signal cannot be sent
   */
  public void kill() throws IOException {
    signal(Linux.SIGKILL);
  }

  private void signal(int sig) throws IOException {
    checkStarted("signal");
    FdChannel ch = pidfd;
    if (exited.getCount() == 0 || !ch.tryAcquire()) {
      return;
    }
    try {
      Scratch s = Scratch.get();
      if (Libc.pidfdSendSignal(s.errno, ch.fd(), sig) != 0) {
        int errno = Native.errno(s.errno);
        if (errno != Linux.ESRCH) {
          throw Errno.exception("pidfd_send_signal", errno);
        }
      }
    } finally {
      ch.release();
    }
  }

  /**
   * The child's process id.
   *
   * @return the pid
   * @throws IllegalStateException if not started
   */
  public long pid() {
    checkStarted("pid");
    return pid;
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
    FdChannel ch = pidfd;
    if (ch.isClosed()) {
      throw new IllegalStateException("the process is closed");
    }
    return ch.fd();
  }

  FdChannel sentinelChannel() {
    checkStarted("sentinel");
    return pidfd;
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
    FdChannel ch = pidfd;
    if (ch != null) {
      Fds.closeQuietly(ch);
    }
  }

  @Override
  public String toString() {
    String state;
    if (!started) {
      state = "initial";
    } else if (exited.getCount() > 0) {
      state = "started, pid=" + pid;
    } else {
      state = "stopped, pid=" + pid + ", exitcode=" + exitCode;
    }
    return "ChildProcess[" + name + ", " + state + (daemon ? ", daemon]" : "]");
  }

  private void checkNotStarted() {
    if (started) {
      throw new IllegalStateException("cannot start a process twice: " + name);
    }
  }

  private void checkStarted(String what) {
    if (!started) {
      throw new IllegalStateException("can only " + what + " a started process: " + name);
    }
  }

  /** As CPython's atexit handler: terminate daemon children, then wait for all children. */
  private static synchronized void installHook() {
    if (hookInstalled) {
      return;
    }
    hookInstalled = true;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  for (ChildProcess p : List.copyOf(LIVE)) {
                    if (p.daemon) {
                      try {
                        p.terminate();
                      } catch (IOException | RuntimeException e) {
                        // it is exiting anyway
                      }
                    }
                  }
                  for (ChildProcess p : List.copyOf(LIVE)) {
                    p.joinQuietly();
                  }
                },
                "jpipe-children-exit"));
  }
}
