package io.jpipe.internal.sync;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Holds a {@link SharedMutex} on behalf of the virtual threads of this JVM.
 *
 * <p>A pthread mutex belongs to the OS thread that locked it (glibc checks the owner's thread id on
 * unlock and links a robust mutex into that thread's robust list), and a virtual thread may run on
 * another carrier when it unlocks; blocking in {@code pthread_mutex_lock} would also pin its
 * carrier. So virtual threads never call the mutex: they queue for a {@link ReentrantLock} (where
 * they park), and the one at its head asks this agent, a platform thread, to lock and later unlock
 * the mutex, parking on a future meanwhile. One agent per lock, started on first use by a virtual
 * thread and ended when idle; nothing is sized by the number of waiters. Platform threads keep
 * calling the mutex directly and contend with the agent as with any other thread.
 *
 * <p>If the process dies while the agent holds the mutex, the next locker sees its owner died, as
 * for any holder.
 */
public final class MutexAgent {
  /** The agent waits for the mutex in slices this long, to notice cancellation and close. */
  private static final long SLICE_NANOS = 50_000_000L;

  /** An idle agent ends after this long. */
  private static final long IDLE_SECONDS = 30;

  /** The answer to a request its requester gave up (interrupted); nobody reads it. */
  private static final int ABANDONED = -1;

  private final SharedMutex mutex;

  /** Orders this JVM's virtual threads; its holder is the only one that talks to the agent. */
  private final ReentrantLock gate = new ReentrantLock();

  private final LinkedBlockingQueue<Request> requests = new LinkedBlockingQueue<>();

  /** Guarded by {@code this}: the agent thread, or null when none runs. */
  private Thread thread;

  /** Guarded by {@code this}: set once, by {@link #close}. */
  private boolean closed;

  /** Written by the agent thread only: whether it holds the mutex now. */
  private volatile boolean holding;

  /**
   * An agent for {@code mutex}.
   *
   * @param mutex the mutex, which outlives this agent's use
   */
  public MutexAgent(SharedMutex mutex) {
    this.mutex = mutex;
  }

  private enum Kind {
    LOCK,
    TRY,
    UNLOCK
  }

  private static final class Request {
    static final int PENDING = 0;
    static final int DONE = 1;
    static final int CANCELLED = 2;

    final Kind kind;
    final long deadline; // System.nanoTime(), or Long.MAX_VALUE
    final AtomicInteger state = new AtomicInteger(PENDING);
    final CompletableFuture<Integer> result = new CompletableFuture<>();

    Request(Kind kind, long deadline) {
      this.kind = kind;
      this.deadline = deadline;
    }
  }

  /**
   * Whether the current (virtual) thread holds the mutex through this agent.
   *
   * @return true if it does
   */
  public boolean heldByCurrentThread() {
    return gate.isHeldByCurrentThread() && holding;
  }

  /**
   * Locks for the current virtual thread.
   *
   * @param deadline a {@link System#nanoTime} value, or {@link Long#MAX_VALUE} for none
   * @param interruptible whether an interrupt abandons the wait
   * @return {@link SharedMutex#OK}, {@link SharedMutex#OWNER_DIED}, {@link SharedMutex#BUSY} (the
   *     time ran out), {@link SharedMutex#DEADLOCK} (this thread holds it already)
   * @throws InterruptedException if interruptible and interrupted before the mutex was taken
   * @throws IOException if the lock is closed ({@link ClosedChannelException}) or fails
   */
  public int lock(long deadline, boolean interruptible) throws InterruptedException, IOException {
    if (gate.isHeldByCurrentThread()) {
      return SharedMutex.DEADLOCK;
    }
    if (!enterGate(deadline, interruptible)) {
      return SharedMutex.BUSY;
    }
    boolean held = false;
    try {
      Request r = submit(new Request(Kind.LOCK, deadline));
      int got = await(r, interruptible);
      held = got == SharedMutex.OK || got == SharedMutex.OWNER_DIED;
      return got;
    } finally {
      if (!held) {
        gate.unlock();
      }
    }
  }

  /**
   * Tries once, without waiting for another holder.
   *
   * @return as {@link #lock}, {@link SharedMutex#BUSY} if held elsewhere
   * @throws IOException if the lock is closed or fails
   */
  public int tryLock() throws IOException {
    if (gate.isHeldByCurrentThread()) {
      return SharedMutex.DEADLOCK;
    }
    if (!gate.tryLock()) {
      return SharedMutex.BUSY;
    }
    boolean held = false;
    try {
      int got = awaitUninterruptibly(submit(new Request(Kind.TRY, 0)));
      held = got == SharedMutex.OK || got == SharedMutex.OWNER_DIED;
      return got;
    } finally {
      if (!held) {
        gate.unlock();
      }
    }
  }

  /**
   * Unlocks for the current virtual thread.
   *
   * @return {@link SharedMutex#OK}, or {@link SharedMutex#NOT_OWNER} if this thread does not hold
   *     it through this agent
   * @throws IOException if the lock is closed or fails
   */
  public int unlock() throws IOException {
    if (!gate.isHeldByCurrentThread()) {
      return SharedMutex.NOT_OWNER;
    }
    try {
      return awaitUninterruptibly(submit(new Request(Kind.UNLOCK, 0)));
    } finally {
      gate.unlock();
    }
  }

  /** Ends the agent: a pending lock fails as closed, a held mutex is unlocked. Idempotent. */
  public void close() {
    Thread t;
    synchronized (this) {
      closed = true;
      t = thread;
    }
    if (t != null) {
      t.interrupt();
      boolean interrupted = false;
      while (t.isAlive()) {
        try {
          t.join();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
    for (Request r; (r = requests.poll()) != null; ) {
      r.result.completeExceptionally(new ClosedChannelException());
    }
  }

  private boolean enterGate(long deadline, boolean interruptible) throws InterruptedException {
    if (deadline == Long.MAX_VALUE) {
      if (interruptible) {
        gate.lockInterruptibly();
      } else {
        gate.lock();
      }
      return true;
    }
    return gate.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
  }

  private Request submit(Request r) throws ClosedChannelException {
    synchronized (this) {
      if (closed) {
        throw new ClosedChannelException();
      }
      requests.add(r);
      if (thread == null) {
        thread = new Thread(this::run, "jpipe-lock-agent");
        thread.setDaemon(true);
        thread.start();
      }
    }
    return r;
  }

  /** Waits for a lock request; an interrupt (if allowed) or a passed deadline abandons it. */
  private int await(Request r, boolean interruptible) throws InterruptedException, IOException {
    boolean interrupted = false;
    try {
      for (; ; ) {
        try {
          return r.result.get();
        } catch (InterruptedException e) {
          if (!interruptible) {
            interrupted = true;
            continue;
          }
          if (r.state.compareAndSet(Request.PENDING, Request.CANCELLED)) {
            throw e;
          }
          interrupted = true; // taken meanwhile: keep it, and the interrupt status
        } catch (ExecutionException e) {
          throw unwrap(e);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static int awaitUninterruptibly(Request r) throws IOException {
    try {
      return await0(r);
    } catch (ExecutionException e) {
      throw unwrap(e);
    }
  }

  private static int await0(Request r) throws ExecutionException {
    boolean interrupted = false;
    try {
      for (; ; ) {
        try {
          return r.result.get(1, TimeUnit.DAYS);
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (TimeoutException e) {
          // keep waiting: the agent always answers
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static IOException unwrap(ExecutionException e) {
    Throwable c = e.getCause();
    if (c instanceof IOException io) {
      return io;
    }
    if (c instanceof RuntimeException re) {
      throw re;
    }
    if (c instanceof Error err) {
      throw err;
    }
    return new IOException(c);
  }

  private void run() {
    try {
      for (; ; ) {
        Request r;
        try {
          r = requests.poll(IDLE_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          r = null; // close() interrupts: fall through to the exit check
        }
        if (r == null) {
          synchronized (this) {
            if (closed || (requests.isEmpty() && !holding)) {
              thread = null;
              return;
            }
          }
          continue;
        }
        serve(r);
      }
    } finally {
      if (holding) {
        try {
          mutex.unlock(); // closed while held: leave the mutex free for the other processes
        } catch (IOException e) {
          // closed in this process already; the page stays mapped for our robust list
        }
        holding = false;
      }
    }
  }

  private void serve(Request r) {
    try {
      switch (r.kind) {
        case TRY -> r.result.complete(took(mutex.tryLock(), r));
        case UNLOCK -> {
          int got = mutex.unlock();
          if (got == SharedMutex.OK) {
            holding = false;
          }
          r.result.complete(got);
        }
        case LOCK -> {
          for (; ; ) {
            if (r.state.get() == Request.CANCELLED) {
              r.result.complete(ABANDONED); // nobody waits for this answer any more
              return;
            }
            if (isClosing()) {
              r.result.completeExceptionally(new ClosedChannelException());
              return;
            }
            long slice = System.nanoTime() + SLICE_NANOS;
            long until = r.deadline - slice < 0 ? r.deadline : slice;
            int got = mutex.lockUntil(until);
            if (got != SharedMutex.BUSY || r.deadline - System.nanoTime() <= 0) {
              r.result.complete(took(got, r));
              return;
            }
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      r.result.completeExceptionally(e);
    }
  }

  /** After a locking call: keep the mutex if the requester still wants it, else give it back. */
  private int took(int got, Request r) throws IOException {
    if (got != SharedMutex.OK && got != SharedMutex.OWNER_DIED) {
      return got;
    }
    if (!r.state.compareAndSet(Request.PENDING, Request.DONE)) {
      mutex.unlock(); // abandoned meanwhile
      return ABANDONED;
    }
    holding = true;
    return got;
  }

  private synchronized boolean isClosing() {
    return closed;
  }
}
