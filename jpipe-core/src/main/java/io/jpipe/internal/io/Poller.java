package io.jpipe.internal.io;

import io.jpipe.internal.posix.Errno;
import io.jpipe.internal.posix.Libc;
import io.jpipe.internal.posix.Linux;
import io.jpipe.internal.posix.Native;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where virtual threads wait for descriptors without pinning their carrier: one epoll instance,
 * watched by one platform thread, for the whole JVM.
 *
 * <p>A waiting virtual thread {@linkplain #register registers} its descriptor and parks; when epoll
 * reports the descriptor ready, the poller thread unparks every thread registered for it with
 * matching events. Registrations are one-shot ({@code EPOLLONESHOT}): each fires at most once and
 * is deleted when its last waiter leaves, so the interest list only holds descriptors that someone
 * is waiting on now, and nothing is sized by the number of waiters (an entry costs a map slot and a
 * kernel epitem, no descriptor or thread). Closing a channel {@linkplain #wake wakes} its waiters
 * through the same table. The epoll data word carries a generation with the descriptor number, so
 * an event for an entry deleted meanwhile (a number reused) is ignored.
 *
 * <p>A waiter holds its channel's use count while registered, so the descriptor cannot be closed,
 * nor its number reused, under a registration. Platform threads do not come here: they poll
 * directly ({@link PollSet}), which costs the fewest system calls.
 */
public final class Poller {
  private static final int MAX_EVENTS = 256;

  private static volatile Poller instance;

  private final int epfd;
  private final ReentrantLock lock = new ReentrantLock();

  /** Guarded by {@link #lock}: the descriptors waited on now. */
  private final Map<Integer, Entry> entries = new HashMap<>();

  /** Guarded by {@link #lock}. */
  private int generation;

  /** Guarded by {@link #lock}: the epoll_event handed to epoll_ctl. */
  private final MemorySegment ctlEvent;

  /** Guarded by {@link #lock}: errno capture for epoll_ctl. */
  private final MemorySegment ctlErrno;

  private Poller(int epfd) {
    this.epfd = epfd;
    Arena arena = Arena.ofAuto();
    this.ctlEvent = arena.allocate(Linux.EPOLL_EVENT_SIZE, 8);
    this.ctlErrno = Native.newErrnoSegment(arena);
  }

  /**
   * The JVM's poller, started on first use.
   *
   * @return the poller
   * @throws IOException if epoll cannot be created
   */
  public static Poller get() throws IOException {
    Poller p = instance;
    return p != null ? p : start();
  }

  private static synchronized Poller start() throws IOException {
    if (instance == null) {
      Scratch s = Scratch.get();
      int epfd = Libc.epollCreate1(s.errno, Linux.EPOLL_CLOEXEC);
      if (epfd < 0) {
        throw Errno.exception("epoll_create1", Native.errno(s.errno));
      }
      Poller p = new Poller(epfd);
      Thread t = new Thread(p::run, "jpipe-poller");
      t.setDaemon(true);
      t.start();
      instance = p;
    }
    return instance;
  }

  /**
   * Wakes every thread waiting on {@code fd}, if any (the descriptor is being closed); does nothing
   * when no virtual thread ever waited.
   *
   * @param fd the descriptor
   */
  static void wakeAll(int fd) {
    Poller p = instance;
    if (p != null) {
      p.wake(fd);
    }
  }

  /** One thread's wait for one descriptor. */
  public static final class Waiter {
    final int fd;
    final int events;
    final Thread thread;

    /** What fired (epoll events), or 0; written under the poller's lock, read by the waiter. */
    private volatile int fired;

    private Waiter(int fd, int events, Thread thread) {
      this.fd = fd;
      this.events = events;
      this.thread = thread;
    }

    /**
     * Whether the descriptor was reported ready (or in error, or hung up).
     *
     * @return true once fired
     */
    public boolean fired() {
      return fired != 0;
    }
  }

  private static final class Entry {
    final int generation;
    final List<Waiter> waiters = new ArrayList<>(1);
    int armed; // the epoll events registered

    Entry(int generation) {
      this.generation = generation;
    }

    int wanted() {
      int w = 0;
      for (Waiter x : waiters) {
        w |= x.events;
      }
      return w;
    }
  }

  /**
   * Registers the current thread's interest in {@code fd}; park after this and {@link #cancel} when
   * done, whatever happened. The caller keeps the descriptor open until then.
   *
   * @param fd the descriptor
   * @param events {@code POLLIN} and/or {@code POLLOUT} (the same bits as {@code EPOLLIN}/{@code
   *     EPOLLOUT})
   * @return the registration
   * @throws IOException if epoll refuses the descriptor (a regular file is reported ready at once
   *     instead, as poll does)
   */
  public Waiter register(int fd, short events) throws IOException {
    Waiter w = new Waiter(fd, events & (Linux.EPOLLIN | Linux.EPOLLOUT), Thread.currentThread());
    lock.lock();
    try {
      Entry e = entries.get(fd);
      if (e == null) {
        e = new Entry(++generation & Integer.MAX_VALUE);
        e.waiters.add(w);
        int r = ctl(Linux.EPOLL_CTL_ADD, fd, w.events, e.generation);
        if (r == Linux.EEXIST) {
          r = ctl(Linux.EPOLL_CTL_MOD, fd, w.events, e.generation); // a stale twin
        }
        if (r == Linux.EPERM) {
          w.fired = w.events; // not pollable by epoll (a regular file): always ready, as poll says
          return w;
        }
        if (r != 0) {
          throw Errno.exception("epoll_ctl", r);
        }
        e.armed = w.events;
        entries.put(fd, e);
      } else {
        e.waiters.add(w);
        int want = e.armed | w.events;
        if (want != e.armed) {
          int r = ctl(Linux.EPOLL_CTL_MOD, fd, want, e.generation);
          if (r != 0) {
            e.waiters.remove(w);
            throw Errno.exception("epoll_ctl", r);
          }
          e.armed = want;
        }
      }
      return w;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Ends a registration (after it fired, or on timeout, close or interrupt).
   *
   * @param w the registration
   */
  public void cancel(Waiter w) {
    lock.lock();
    try {
      Entry e = entries.get(w.fd);
      if (e != null && e.waiters.remove(w) && e.waiters.isEmpty()) {
        entries.remove(w.fd);
        ctl(Linux.EPOLL_CTL_DEL, w.fd, 0, 0); // errors ignored: gone is gone
      }
    } finally {
      lock.unlock();
    }
  }

  private void wake(int fd) {
    List<Thread> wake = new ArrayList<>();
    lock.lock();
    try {
      Entry e = entries.get(fd);
      if (e != null) {
        for (Waiter w : e.waiters) {
          wake.add(w.thread);
        }
      }
    } finally {
      lock.unlock();
    }
    for (Thread t : wake) {
      LockSupport.unpark(t);
    }
  }

  /** epoll_ctl under the lock; returns 0 or the errno. */
  private int ctl(int op, int fd, int events, int gen) {
    ctlEvent.set(ValueLayout.JAVA_INT, Linux.EPOLL_EVENT_EVENTS, events | Linux.EPOLLONESHOT);
    ctlEvent.set(
        ValueLayout.JAVA_LONG_UNALIGNED,
        Linux.EPOLL_EVENT_DATA,
        ((long) gen << 32) | (fd & 0xffffffffL));
    int r = Libc.epollCtl(ctlErrno, epfd, op, fd, ctlEvent);
    return r == 0 ? 0 : Native.errno(ctlErrno);
  }

  private void run() {
    Scratch s = Scratch.get();
    MemorySegment events = Arena.ofAuto().allocate(Linux.EPOLL_EVENT_SIZE * MAX_EVENTS, 8);
    List<Thread> wake = new ArrayList<>();
    for (; ; ) {
      int n = Libc.epollWait(s.errno, epfd, events, MAX_EVENTS, -1);
      if (n < 0) {
        if (Native.errno(s.errno) != Linux.EINTR) {
          LockSupport.parkNanos(10_000_000L); // ENOMEM, say: try again soon rather than spin
        }
        continue;
      }
      lock.lock();
      try {
        for (int i = 0; i < n; i++) {
          long at = i * Linux.EPOLL_EVENT_SIZE;
          int ev = events.get(ValueLayout.JAVA_INT, at + Linux.EPOLL_EVENT_EVENTS);
          long data = events.get(ValueLayout.JAVA_LONG_UNALIGNED, at + Linux.EPOLL_EVENT_DATA);
          fired((int) data, (int) (data >>> 32), ev, wake);
        }
      } finally {
        lock.unlock();
      }
      for (Thread t : wake) {
        LockSupport.unpark(t);
      }
      wake.clear();
    }
  }

  /** Under the lock: hands one event to its waiters and re-arms for those still waiting. */
  private void fired(int fd, int gen, int ev, List<Thread> wake) {
    Entry e = entries.get(fd);
    if (e == null || e.generation != gen) {
      return; // deleted meanwhile; the number may already be someone else's
    }
    boolean all = (ev & (Linux.EPOLLERR | Linux.EPOLLHUP)) != 0;
    for (int i = e.waiters.size() - 1; i >= 0; i--) {
      Waiter w = e.waiters.get(i);
      if (all || (w.events & ev) != 0) {
        w.fired = ev;
        e.waiters.remove(i);
        wake.add(w.thread);
      }
    }
    if (e.waiters.isEmpty()) {
      entries.remove(fd);
      ctl(Linux.EPOLL_CTL_DEL, fd, 0, 0);
    } else {
      int want = e.wanted();
      if (ctl(Linux.EPOLL_CTL_MOD, fd, want, gen) == 0) {
        e.armed = want;
      } else {
        for (Waiter w : e.waiters) { // cannot re-arm: let them look for themselves
          w.fired = ev;
          wake.add(w.thread);
        }
        e.waiters.clear();
        entries.remove(fd);
        ctl(Linux.EPOLL_CTL_DEL, fd, 0, 0);
      }
    }
  }
}
