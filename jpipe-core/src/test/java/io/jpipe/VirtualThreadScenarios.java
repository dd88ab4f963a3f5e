package io.jpipe;

import io.jpipe.codec.Codec;
import io.jpipe.internal.Access;
import io.jpipe.internal.io.FdChannel;
import io.jpipe.internal.io.FdPassing;
import io.jpipe.net.Address;
import io.jpipe.net.Client;
import io.jpipe.net.Listener;
import java.io.EOFException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Many virtual threads blocked in jpipe calls on a scheduler with ONE carrier: run in a JVM of its
 * own by {@link VirtualThreadsParkTest} with {@code -Djdk.virtualThreadScheduler.parallelism=1
 * -Djdk.virtualThreadScheduler.maxPoolSize=1}. If any blocked call pinned the carrier, the thread
 * that releases them could never run, and the scenario would stall until its watchdog fails it.
 *
 * <p>Arguments: the scenario's name, its size, and {@code shm} to block on shared-memory pipes (4
 * KiB rings) instead of kernel pipes (see {@link PipeFactory}).
 *
 * <p>Prints one line {@code OK key=value ...} and exits 0, or prints what went wrong and exits 1.
 */
public final class VirtualThreadScenarios {
  private VirtualThreadScenarios() {}

  /** How long a whole scenario may take before the watchdog fails it. */
  static final long LIMIT_SECONDS = 150;

  /**
   * Runs one scenario.
   *
   * @param args the scenario's name, its size, and optionally {@code shm} (for recv and waitAny)
   */
  public static void main(String[] args) throws Exception {
    startWatchdog(args[0]);
    int n = Integer.parseInt(args[1]);
    PipeFactory pipes = args.length > 2 && args[2].equals("shm") ? SHM_PIPES : FarWriters::new;
    String result =
        switch (args[0]) {
          case "recv" -> recv(n, pipes);
          case "waitAny" -> waitAny(n, pipes);
          case "send" -> send(n);
          case "accept" -> accept(n);
          case "join" -> join(n);
          case "lock" -> lock(n);
          default -> throw new IllegalArgumentException(args[0]);
        };
    System.out.println("OK " + result);
    System.out.flush();
    System.exit(0);
  }

  /**
   * Starts a daemon thread that, if the scenario has not ended within {@link #LIMIT_SECONDS},
   * prints every thread's stack and halts the JVM with status 3.
   */
  static void startWatchdog(String scenario) {
    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(LIMIT_SECONDS));
                System.out.println("STALLED: " + scenario + " did not finish; threads:");
                Thread.getAllStackTraces()
                    .forEach((t, st) -> System.out.println(t + " " + List.of(st)));
                System.out.flush();
                Runtime.getRuntime().halt(3);
              } catch (InterruptedException e) {
                // finished in time
              }
            },
            "watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
  }

  /** Waits until {@code count} of {@code threads} are parked (WAITING or TIMED_WAITING). */
  static void awaitParked(List<Thread> threads, int count) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(LIMIT_SECONDS);
    for (; ; ) {
      int parked = 0;
      for (Thread t : threads) {
        Thread.State st = t.getState();
        if (st == Thread.State.WAITING || st == Thread.State.TIMED_WAITING) {
          parked++;
        }
      }
      if (parked >= count) {
        return;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError(parked + " of " + count + " threads parked");
      }
      Thread.sleep(20);
    }
  }

  /** The one-way pipes of a scenario, whose read ends this JVM keeps. */
  interface Pipes extends AutoCloseable {
    /** Creates the next pipe; returns its read end. */
    Connection open() throws Exception;

    /** Sends Integer i to the i-th pipe; returns when it has. */
    void sendToAll() throws Exception;

    @Override
    void close() throws java.io.IOException;
  }

  /** Makes the {@link Pipes} of one scenario. */
  interface PipeFactory {
    Pipes create() throws Exception;
  }

  /** One-way shared-memory pipes with 4 KiB rings, both ends in this JVM. */
  private static final PipeFactory SHM_PIPES =
      () -> new LocalPipes(() -> Pipe.builder().duplex(false).sharedMemory(4096).open());

  /** Pipes whose both ends this JVM keeps (four descriptors a shared-memory pipe). */
  static final class LocalPipes implements Pipes {
    /** Opens one pipe. */
    interface Opener {
      Pipe open() throws Exception;
    }

    private final Opener opener;
    private final List<Pipe> pipes = new ArrayList<>();

    LocalPipes(Opener opener) {
      this.opener = opener;
    }

    @Override
    public Connection open() throws Exception {
      Pipe p = opener.open();
      pipes.add(p);
      return p.conn1();
    }

    /** The i-th pipe's read end. */
    Connection readEnd(int i) {
      return pipes.get(i).conn1();
    }

    /** The i-th pipe's write end. */
    Connection writeEnd(int i) {
      return pipes.get(i).conn2();
    }

    @Override
    public void sendToAll() throws Exception {
      for (int i = 0; i < pipes.size(); i++) {
        writeEnd(i).send(i);
      }
    }

    @Override
    public void close() {
      pipes.forEach(Pipe::close);
    }
  }

  /**
   * The write ends of many pipes, kept in a helper JVM: 10,000 pipes are 20,000 descriptors, and
   * this sandbox's open-file limit is 20,000 (hard, not raisable even by root). The scenario JVM
   * keeps the read ends and passes each write end over a socket ({@code SCM_RIGHTS}); a virtual
   * thread of the scenario JVM later tells the helper to send message i to pipe i.
   */
  static final class FarWriters implements Pipes {
    private static final byte ENDS = 1;
    private static final byte SEND = 2;

    private final Pipe ctl;
    private final ChildProcess helper;

    FarWriters() throws Exception {
      ctl = Pipe.open();
      helper = ChildProcess.of(VirtualThreadScenarios::farWriter, ctl.conn2());
      helper.start();
      ctl.conn2().close();
    }

    /** Creates a one-way pipe; the helper gets its write end, this JVM keeps the read end. */
    @Override
    public Connection open() throws Exception {
      Pipe p = Pipe.open(false);
      FdPassing.send(channel(ctl.conn1()), ENDS, new int[] {p.conn2().fileno()});
      p.conn2().close();
      return p.conn1();
    }

    /** Tells the helper to send Integer i to the i-th pipe; returns when it has. */
    @Override
    public void sendToAll() throws Exception {
      FdPassing.send(channel(ctl.conn1()), SEND, new int[0]);
      if (!"sent".equals(ctl.conn1().recv())) {
        throw new AssertionError("the helper did not send");
      }
    }

    @Override
    public void close() throws java.io.IOException {
      ctl.close();
      try {
        helper.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while the helper exits");
      }
      helper.close();
    }
  }

  private static FdChannel channel(Connection c) {
    return Access.connections().channel(c);
  }

  /** The helper of {@link FarWriters}. */
  static void farWriter(Connection ctl) throws Exception {
    List<Connection> ends = new ArrayList<>();
    for (; ; ) {
      int[] fds;
      try {
        fds = FdPassing.receive(ctl.fileno());
      } catch (EOFException e) {
        return;
      }
      if (fds.length == 1) {
        ends.add(
            Access.connections()
                .newConnection(
                    new FdChannel(fds[0], FdChannel.Kind.PIPE),
                    false,
                    true,
                    Codec.javaSerialization()));
      } else {
        for (int i = 0; i < ends.size(); i++) {
          ends.get(i).send(i);
          ends.get(i).close();
        }
        ends.clear();
        ctl.send("sent");
      }
    }
  }

  /**
   * n virtual threads each in recv() on a pipe of its own; one more has every pipe sent to (by the
   * helper process that holds the write ends, see {@link FarWriters}).
   */
  static String recv(int n, PipeFactory factory) throws Exception {
    return blockOnPipes(
        n,
        "received",
        factory,
        (pipes, in, i) -> Integer.valueOf(i).equals(in.recv()),
        Pipes::sendToAll);
  }

  /** n virtual threads each in waitAny() on a pipe of its own; then every pipe is sent to. */
  static String waitAny(int n, PipeFactory factory) throws Exception {
    return blockOnPipes(
        n,
        "woken",
        factory,
        (pipes, in, i) -> Connections.waitAny(List.of(in)).equals(List.of(in)),
        Pipes::sendToAll);
  }

  /**
   * n virtual threads each in a send that waits for room (thrice the ring) on a shared-memory pipe
   * of its own; then every pipe is read to the end.
   */
  static String send(int n) throws Exception {
    return blockOnPipes(
        n,
        "sent",
        SHM_PIPES,
        (pipes, in, i) -> {
          ((LocalPipes) pipes).writeEnd(i).sendBytes(TestSupport.payload(i, 3 * 4096));
          return true;
        },
        pipes -> {
          LocalPipes local = (LocalPipes) pipes;
          for (int i = 0; i < n; i++) {
            if (!java.util.Arrays.equals(
                TestSupport.payload(i, 3 * 4096), local.readEnd(i).recvBytes())) {
              throw new AssertionError("message " + i + " differs");
            }
          }
        });
  }

  /** A blocking call on the i-th pipe (read end {@code in}); true if it saw what it should. */
  interface PipeCall {
    boolean call(Pipes pipes, Connection in, int i) throws Exception;
  }

  /** What releases every blocked call. */
  interface PipeRelease {
    void run(Pipes pipes) throws Exception;
  }

  /**
   * n virtual threads each blocked in {@code call} on a pipe of its own; once all are parked, one
   * more virtual thread runs {@code release} (message i sent to pipe i, say), and every call must
   * return true.
   */
  private static String blockOnPipes(
      int n, String verb, PipeFactory factory, PipeCall call, PipeRelease release)
      throws Exception {
    try (Pipes pipes = factory.create()) {
      int fdsBefore = TestSupport.fdCount();
      List<Connection> ends = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        ends.add(pipes.open());
      }
      int fdsWithPipes = TestSupport.fdCount();
      AtomicInteger right = new AtomicInteger();
      ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
      CountDownLatch done = new CountDownLatch(n);
      List<Thread> blocked = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        Connection in = ends.get(i);
        int index = i;
        blocked.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        if (call.call(pipes, in, index)) {
                          right.incrementAndGet();
                        }
                      } catch (Throwable t) {
                        failures.add(t);
                      } finally {
                        done.countDown();
                      }
                    }));
      }
      awaitParked(blocked, n);
      int extraFds = TestSupport.fdCount() - fdsWithPipes;
      long start = System.nanoTime();
      Thread sender = Thread.ofVirtual().start(() -> run(failures, () -> release.run(pipes)));
      done.await();
      long ms = (System.nanoTime() - start) / 1_000_000;
      sender.join();
      for (Connection c : ends) {
        c.close();
      }
      check(failures);
      if (right.get() != n) {
        throw new AssertionError(right.get() + " of " + n + " threads " + verb + " as expected");
      }
      if (extraFds > 8) {
        throw new AssertionError(n + " parked threads cost " + extraFds + " descriptors");
      }
      return "threads="
          + n
          + " "
          + verb
          + "="
          + right.get()
          + " readEndFds="
          + (fdsWithPipes - fdsBefore)
          + " extraFdsWhileParked="
          + extraFds
          + " releaseMs="
          + ms;
    }
  }

  /** Something to run that may throw. */
  interface Step {
    void run() throws Exception;
  }

  private static void run(ConcurrentLinkedQueue<Throwable> failures, Step step) {
    try {
      step.run();
    } catch (Throwable t) {
      failures.add(t);
    }
  }

  /** n virtual threads each in accept() on a listener of its own; one more connects to each. */
  static String accept(int n) throws Exception {
    List<Listener> listeners = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      listeners.add(
          Listener.open(
              Address.parse("unix:@jpipe-vt-" + ProcessHandle.current().pid() + "-" + i)));
    }
    AtomicInteger right = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch done = new CountDownLatch(n);
    List<Thread> acceptors = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Listener l = listeners.get(i);
      int expect = i;
      acceptors.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try (Connection c = l.accept()) {
                      if (Integer.valueOf(expect).equals(c.recv())) {
                        right.incrementAndGet();
                      }
                    } catch (Throwable t) {
                      failures.add(t);
                    } finally {
                      done.countDown();
                    }
                  }));
    }
    awaitParked(acceptors, n);
    long start = System.nanoTime();
    List<Connection> clients = new ArrayList<>(n);
    Thread connector =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (int i = 0; i < n; i++) {
                      Connection c = Client.connect(listeners.get(i).address());
                      c.send(i);
                      clients.add(c);
                    }
                  } catch (Throwable t) {
                    failures.add(t);
                  }
                });
    done.await();
    long ms = (System.nanoTime() - start) / 1_000_000;
    connector.join();
    for (Connection c : clients) {
      c.close();
    }
    for (Listener l : listeners) {
      l.close();
    }
    check(failures);
    if (right.get() != n) {
      throw new AssertionError(right.get() + " of " + n + " accepted their client");
    }
    return "threads=" + n + " accepted=" + right.get() + " releaseMs=" + ms;
  }

  /** Started by {@link #join}: waits for a message or end of file, then exits. */
  static void waitThenExit(Connection conn) throws Exception {
    try {
      conn.recv();
    } catch (EOFException e) {
      // released
    }
  }

  /**
   * n children, started from virtual threads, and 50 virtual threads joining each; one more virtual
   * thread releases the children.
   */
  static String join(int n) throws Exception {
    int perChild = 50;
    List<ChildProcess> children = new ArrayList<>(n);
    List<Pipe> pipes = new ArrayList<>(n);
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    for (int i = 0; i < n; i++) {
      Pipe p = Pipe.open(false);
      pipes.add(p);
      ChildProcess c = ChildProcess.of(VirtualThreadScenarios::waitThenExit, p.conn1());
      children.add(c);
    }
    List<Thread> starters = new ArrayList<>();
    for (ChildProcess c : children) {
      starters.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      c.start();
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  }));
    }
    for (Thread t : starters) {
      t.join();
    }
    check(failures);
    for (Pipe p : pipes) {
      p.conn1().close(); // the children hold their copies
    }
    AtomicInteger right = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(n * perChild);
    List<Thread> joiners = new ArrayList<>();
    for (ChildProcess c : children) {
      for (int j = 0; j < perChild; j++) {
        joiners.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        c.join();
                        if (c.exitCode().equals(java.util.OptionalInt.of(0))) {
                          right.incrementAndGet();
                        }
                      } catch (Throwable t) {
                        failures.add(t);
                      } finally {
                        done.countDown();
                      }
                    }));
      }
    }
    awaitParked(joiners, joiners.size());
    long start = System.nanoTime();
    Thread releaser =
        Thread.ofVirtual()
            .start(
                () -> {
                  try {
                    for (Pipe p : pipes) {
                      p.conn2().send("go");
                    }
                  } catch (Throwable t) {
                    failures.add(t);
                  }
                });
    done.await();
    long ms = (System.nanoTime() - start) / 1_000_000;
    releaser.join();
    for (Pipe p : pipes) {
      p.close();
    }
    for (ChildProcess c : children) {
      c.close();
    }
    check(failures);
    if (right.get() != joiners.size()) {
      throw new AssertionError(right.get() + " of " + joiners.size() + " joins saw exit code 0");
    }
    return "children="
        + n
        + " joiners="
        + joiners.size()
        + " joined="
        + right.get()
        + " releaseMs="
        + ms;
  }

  /** Started by {@link #lock}: takes the lock, says so, holds it until told, then unlocks. */
  static void holdLock(ProcessLock lock, Connection ctl) throws Exception {
    lock.lock();
    try {
      ctl.send("locked");
      ctl.recv();
    } finally {
      lock.unlock();
    }
  }

  /**
   * A child holds a ProcessLock; n virtual threads block in lock(); one more tells the child to
   * release it: every thread then holds the lock in turn, exactly one at a time.
   */
  static String lock(int n) throws Exception {
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    try (ProcessLock lock = ProcessLock.create();
        Pipe ctl = Pipe.open()) {
      ChildProcess child = ChildProcess.of(VirtualThreadScenarios::holdLock, lock, ctl.conn2());
      child.start();
      if (!"locked".equals(ctl.conn1().recv())) {
        throw new AssertionError("the child did not take the lock");
      }
      AtomicInteger inside = new AtomicInteger();
      AtomicInteger overlaps = new AtomicInteger();
      AtomicInteger held = new AtomicInteger();
      List<Thread> lockers = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        boolean timed = i % 2 == 1;
        lockers.add(
            Thread.ofVirtual()
                .start(
                    () -> {
                      try {
                        if (timed) {
                          if (!lock.tryLock(Duration.ofMinutes(2))) {
                            throw new AssertionError("tryLock timed out");
                          }
                        } else {
                          lock.lock();
                        }
                        try {
                          if (inside.incrementAndGet() != 1) {
                            overlaps.incrementAndGet();
                          }
                          Thread.yield();
                          inside.decrementAndGet();
                          held.incrementAndGet();
                        } finally {
                          lock.unlock();
                        }
                      } catch (Throwable t) {
                        failures.add(t);
                      }
                    }));
      }
      awaitParked(lockers, n);
      long start = System.nanoTime();
      Thread releaser =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      ctl.conn1().send("release");
                    } catch (Throwable t) {
                      failures.add(t);
                    }
                  });
      for (Thread t : lockers) {
        t.join();
      }
      long ms = (System.nanoTime() - start) / 1_000_000;
      releaser.join();
      child.join();
      check(failures);
      if (held.get() != n || overlaps.get() != 0 || child.exitCode().orElse(-999) != 0) {
        throw new AssertionError(
            "held " + held + " of " + n + ", overlaps " + overlaps + ", child " + child.exitCode());
      }
      child.close();
      return "threads=" + n + " held=" + held.get() + " overlaps=0 releaseMs=" + ms;
    }
  }

  private static void check(ConcurrentLinkedQueue<Throwable> failures) {
    if (!failures.isEmpty()) {
      AssertionError e = new AssertionError(failures.size() + " threads failed");
      failures.stream().limit(5).forEach(e::addSuppressed);
      throw e;
    }
  }
}
