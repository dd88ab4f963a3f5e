package io.jpipe.internal.posix;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import io.jpipe.internal.posix.Native.Mode;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * glibc functions, one lazily linked holder class each.
 *
 * <p>Functions that set errno take the capture segment ({@link Native#newErrnoSegment}) as their
 * first argument and return what C returns (-1 on error, errno then in the segment). Functions that
 * return their error number ({@code posix_spawn*}, {@code pthread_*}) take no segment. This class
 * has no policy: no retries, no exceptions for errno, no timeouts; that belongs to {@code
 * io.jpipe.internal.io}.
 */
public final class Libc {
  private Libc() {}

  /**
   * Links, ahead of need, the calls every connection makes (close, send, receive, poll). A child
   * JVM runs this on a second thread at once, so that linking, most of a fresh JVM's cost of its
   * first message, overlaps with decoding its task.
   */
  public static void prelink() {
    MethodHandle[] handles = {
      Close.H,
      RecvRaw.H,
      SendRaw.H,
      Recv.H,
      Send.H,
      Sendmsg.H,
      Poll.H,
      Preadv2.H,
      Pwritev2.H,
      Eventfd.H,
      Write.H
    };
    if (handles.length == 0) {
      throw new AssertionError();
    }
  }

  private static FunctionDescriptor fn(
      java.lang.foreign.MemoryLayout ret, java.lang.foreign.MemoryLayout... args) {
    return FunctionDescriptor.of(ret, args);
  }

  // ---------------------------------------------------------------- fds

  private static final class Close {
    static final MethodHandle H = Native.downcall("close", fn(JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int close(int fd)}. */
  public static int close(MemorySegment errno, int fd) {
    try {
      return (int) Close.H.invokeExact(errno, fd);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Pipe2 {
    static final MethodHandle H =
        Native.downcall("pipe2", fn(JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int pipe2(int fds[2], int flags)}. */
  public static int pipe2(MemorySegment errno, MemorySegment fds, int flags) {
    try {
      return (int) Pipe2.H.invokeExact(errno, fds, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Socketpair {
    static final MethodHandle H =
        Native.downcall(
            "socketpair", fn(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), Mode.ERRNO);
  }

  /** {@code int socketpair(int domain, int type, int protocol, int sv[2])}. */
  public static int socketpair(
      MemorySegment errno, int domain, int type, int protocol, MemorySegment sv) {
    try {
      return (int) Socketpair.H.invokeExact(errno, domain, type, protocol, sv);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Fcntl {
    static final MethodHandle H =
        Native.downcall("fcntl", fn(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Mode.ERRNO, 2);
  }

  /** {@code int fcntl(int fd, int cmd, int arg)} (variadic in C). */
  public static int fcntl(MemorySegment errno, int fd, int cmd, int arg) {
    try {
      return (int) Fcntl.H.invokeExact(errno, fd, cmd, arg);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class FcntlLock {
    static final MethodHandle H =
        Native.downcall("fcntl", fn(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), Mode.ERRNO, 2);
  }

  /**
   * {@code int fcntl(int fd, int cmd, struct flock *lock)}: the record-lock commands ({@code
   * F_OFD_SETLK}, {@code F_OFD_GETLK}).
   */
  public static int fcntlLock(MemorySegment errno, int fd, int cmd, MemorySegment flock) {
    try {
      return (int) FcntlLock.H.invokeExact(errno, fd, cmd, flock);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Open {
    static final MethodHandle H =
        Native.downcall("open", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Mode.ERRNO, 2);
  }

  /** {@code int open(const char *path, int flags, mode_t mode)} (variadic in C). */
  public static int open(MemorySegment errno, MemorySegment path, int flags, int mode) {
    try {
      return (int) Open.H.invokeExact(errno, path, flags, mode);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Dup {
    static final MethodHandle H = Native.downcall("dup", fn(JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int dup(int fd)} (the copy is not close-on-exec; see {@link #fcntl}). */
  public static int dup(MemorySegment errno, int fd) {
    try {
      return (int) Dup.H.invokeExact(errno, fd);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Eventfd {
    static final MethodHandle H =
        Native.downcall("eventfd", fn(JAVA_INT, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int eventfd(unsigned int initval, int flags)} (Linux). */
  public static int eventfd(MemorySegment errno, int initval, int flags) {
    try {
      return (int) Eventfd.H.invokeExact(errno, initval, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class EpollCreate1 {
    static final MethodHandle H =
        Native.downcall("epoll_create1", fn(JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int epoll_create1(int flags)} (Linux). */
  public static int epollCreate1(MemorySegment errno, int flags) {
    try {
      return (int) EpollCreate1.H.invokeExact(errno, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class EpollCtl {
    static final MethodHandle H =
        Native.downcall(
            "epoll_ctl", fn(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), Mode.ERRNO);
  }

  /** {@code int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)} (Linux). */
  public static int epollCtl(MemorySegment errno, int epfd, int op, int fd, MemorySegment event) {
    try {
      return (int) EpollCtl.H.invokeExact(errno, epfd, op, fd, event);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class EpollWait {
    static final MethodHandle H =
        Native.downcall(
            "epoll_wait", fn(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /**
   * {@code int epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms)} (Linux);
   * blocks.
   */
  public static int epollWait(
      MemorySegment errno, int epfd, MemorySegment events, int max, int timeoutMillis) {
    try {
      return (int) EpollWait.H.invokeExact(errno, epfd, events, max, timeoutMillis);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  // ---------------------------------------------------------------- I/O

  private static final class Write {
    static final MethodHandle H =
        Native.downcall("write", fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), Mode.ERRNO);
  }

  /** {@code ssize_t write(int fd, const void *buf, size_t n)}; may block. */
  public static long write(MemorySegment errno, int fd, MemorySegment buf, long n) {
    try {
      return (long) Write.H.invokeExact(errno, fd, buf, n);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Read {
    static final MethodHandle H =
        Native.downcall("read", fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), Mode.ERRNO);
  }

  /** {@code ssize_t read(int fd, void *buf, size_t n)}; may block. */
  public static long read(MemorySegment errno, int fd, MemorySegment buf, long n) {
    try {
      return (long) Read.H.invokeExact(errno, fd, buf, n);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Recv {
    static final MethodHandle H =
        Native.downcall(
            "recv", fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), Mode.CRITICAL_ERRNO);
  }

  /**
   * {@code ssize_t recv(int fd, void *buf, size_t n, int flags)}, linked critical: {@code buf} may
   * be a heap segment, and {@code flags} must contain {@code MSG_DONTWAIT}.
   */
  public static long recvNonBlocking(
      MemorySegment errno, int fd, MemorySegment buf, long n, int flags) {
    try {
      return (long) Recv.H.invokeExact(errno, fd, buf, n, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Send {
    static final MethodHandle H =
        Native.downcall(
            "send", fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), Mode.CRITICAL_ERRNO);
  }

  /**
   * {@code ssize_t send(int fd, const void *buf, size_t n, int flags)}, linked critical: {@code
   * buf} may be a heap segment, and {@code flags} must contain {@code MSG_DONTWAIT}.
   */
  public static long sendNonBlocking(
      MemorySegment errno, int fd, MemorySegment buf, long n, int flags) {
    try {
      return (long) Send.H.invokeExact(errno, fd, buf, n, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class RecvRaw {
    static final MethodHandle H =
        Native.downcall(
            "recv", fn(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), Mode.CRITICAL_ERRNO);
  }

  /**
   * {@code recv} into native memory given as a raw address (no segment object per call), linked
   * critical; {@code flags} must contain {@code MSG_DONTWAIT}.
   */
  public static long recvRaw(MemorySegment errno, int fd, long address, long n, int flags) {
    try {
      return (long) RecvRaw.H.invokeExact(errno, fd, address, n, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class SendRaw {
    static final MethodHandle H =
        Native.downcall(
            "send", fn(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), Mode.CRITICAL_ERRNO);
  }

  /**
   * {@code send} from native memory given as a raw address, linked critical; {@code flags} must
   * contain {@code MSG_DONTWAIT}.
   */
  public static long sendRaw(MemorySegment errno, int fd, long address, long n, int flags) {
    try {
      return (long) SendRaw.H.invokeExact(errno, fd, address, n, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Sendmsg {
    static final MethodHandle H =
        Native.downcall("sendmsg", fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), Mode.CRITICAL_ERRNO);
  }

  /**
   * {@code ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)}, linked critical ({@code
   * flags} must contain {@code MSG_DONTWAIT}); every address in {@code msg} is native.
   */
  public static long sendmsgNonBlocking(MemorySegment errno, int fd, MemorySegment msg, int flags) {
    try {
      return (long) Sendmsg.H.invokeExact(errno, fd, msg, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Recvmsg {
    static final MethodHandle H =
        Native.downcall("recvmsg", fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code ssize_t recvmsg(int fd, struct msghdr *msg, int flags)}. */
  public static long recvmsg(MemorySegment errno, int fd, MemorySegment msg, int flags) {
    try {
      return (long) Recvmsg.H.invokeExact(errno, fd, msg, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Preadv2 {
    static final MethodHandle H =
        Native.downcall(
            "preadv2",
            fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT),
            Mode.CRITICAL_ERRNO);
  }

  /**
   * {@code ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)} at the
   * current position ({@code off = -1}), linked critical: {@code flags} must contain {@code
   * RWF_NOWAIT}, which makes the read of a pipe non-blocking without touching the file's flags
   * (they are shared with every process that has a copy).
   */
  public static long preadv2NoWait(
      MemorySegment errno, int fd, MemorySegment iov, int cnt, int flags) {
    try {
      return (long) Preadv2.H.invokeExact(errno, fd, iov, cnt, -1L, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Pwritev2 {
    static final MethodHandle H =
        Native.downcall(
            "pwritev2",
            fn(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT),
            Mode.CRITICAL_ERRNO);
  }

  /** {@code pwritev2} at the current position, linked critical; {@code flags} has RWF_NOWAIT. */
  public static long pwritev2NoWait(
      MemorySegment errno, int fd, MemorySegment iov, int cnt, int flags) {
    try {
      return (long) Pwritev2.H.invokeExact(errno, fd, iov, cnt, -1L, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Poll {
    static final MethodHandle H =
        Native.downcall("poll", fn(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int poll(struct pollfd *fds, nfds_t n, int timeout_ms)}; blocks. */
  public static int poll(MemorySegment errno, MemorySegment fds, long n, int timeoutMillis) {
    try {
      return (int) Poll.H.invokeExact(errno, fds, n, timeoutMillis);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  // ---------------------------------------------------------------- sockets

  private static final class Socket {
    static final MethodHandle H =
        Native.downcall("socket", fn(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int socket(int domain, int type, int protocol)}. */
  public static int socket(MemorySegment errno, int domain, int type, int protocol) {
    try {
      return (int) Socket.H.invokeExact(errno, domain, type, protocol);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Bind {
    static final MethodHandle H =
        Native.downcall("bind", fn(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int bind(int fd, const struct sockaddr *addr, socklen_t len)}. */
  public static int bind(MemorySegment errno, int fd, MemorySegment addr, int len) {
    try {
      return (int) Bind.H.invokeExact(errno, fd, addr, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Listen {
    static final MethodHandle H =
        Native.downcall("listen", fn(JAVA_INT, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int listen(int fd, int backlog)}. */
  public static int listen(MemorySegment errno, int fd, int backlog) {
    try {
      return (int) Listen.H.invokeExact(errno, fd, backlog);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Accept4 {
    static final MethodHandle H =
        Native.downcall("accept4", fn(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)}. */
  public static int accept4(
      MemorySegment errno, int fd, MemorySegment addr, MemorySegment len, int flags) {
    try {
      return (int) Accept4.H.invokeExact(errno, fd, addr, len, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Connect {
    static final MethodHandle H =
        Native.downcall("connect", fn(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int connect(int fd, const struct sockaddr *addr, socklen_t len)}. */
  public static int connect(MemorySegment errno, int fd, MemorySegment addr, int len) {
    try {
      return (int) Connect.H.invokeExact(errno, fd, addr, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Getsockname {
    static final MethodHandle H =
        Native.downcall("getsockname", fn(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Mode.ERRNO);
  }

  /** {@code int getsockname(int fd, struct sockaddr *addr, socklen_t *len)}. */
  public static int getsockname(
      MemorySegment errno, int fd, MemorySegment addr, MemorySegment len) {
    try {
      return (int) Getsockname.H.invokeExact(errno, fd, addr, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Getpeername {
    static final MethodHandle H =
        Native.downcall("getpeername", fn(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Mode.ERRNO);
  }

  /** {@code int getpeername(int fd, struct sockaddr *addr, socklen_t *len)}. */
  public static int getpeername(
      MemorySegment errno, int fd, MemorySegment addr, MemorySegment len) {
    try {
      return (int) Getpeername.H.invokeExact(errno, fd, addr, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Setsockopt {
    static final MethodHandle H =
        Native.downcall(
            "setsockopt",
            fn(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT),
            Mode.ERRNO);
  }

  /** {@code int setsockopt(int fd, int level, int name, const void *val, socklen_t len)}. */
  public static int setsockopt(
      MemorySegment errno, int fd, int level, int name, MemorySegment val, int len) {
    try {
      return (int) Setsockopt.H.invokeExact(errno, fd, level, name, val, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Getsockopt {
    static final MethodHandle H =
        Native.downcall(
            "getsockopt", fn(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Mode.ERRNO);
  }

  /** {@code int getsockopt(int fd, int level, int name, void *val, socklen_t *len)}. */
  public static int getsockopt(
      MemorySegment errno, int fd, int level, int name, MemorySegment val, MemorySegment len) {
    try {
      return (int) Getsockopt.H.invokeExact(errno, fd, level, name, val, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  // ---------------------------------------------------------------- processes

  private static final class Getpid {
    static final MethodHandle H = Native.downcall("getpid", fn(JAVA_INT), Mode.PLAIN);
  }

  /** {@code pid_t getpid(void)}. */
  public static int getpid() {
    try {
      return (int) Getpid.H.invokeExact();
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Getppid {
    static final MethodHandle H = Native.downcall("getppid", fn(JAVA_INT), Mode.PLAIN);
  }

  /** {@code pid_t getppid(void)}. */
  public static int getppid() {
    try {
      return (int) Getppid.H.invokeExact();
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Kill {
    static final MethodHandle H =
        Native.downcall("kill", fn(JAVA_INT, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int kill(pid_t pid, int sig)}. */
  public static int kill(MemorySegment errno, int pid, int sig) {
    try {
      return (int) Kill.H.invokeExact(errno, pid, sig);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Waitpid {
    static final MethodHandle H =
        Native.downcall("waitpid", fn(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code pid_t waitpid(pid_t pid, int *status, int options)}. */
  public static int waitpid(MemorySegment errno, int pid, MemorySegment status, int options) {
    try {
      return (int) Waitpid.H.invokeExact(errno, pid, status, options);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class PidfdOpen {
    static final MethodHandle H =
        Native.downcall("pidfd_open", fn(JAVA_INT, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int pidfd_open(pid_t pid, unsigned int flags)} (Linux 5.3, glibc 2.36). */
  public static int pidfdOpen(MemorySegment errno, int pid, int flags) {
    try {
      return (int) PidfdOpen.H.invokeExact(errno, pid, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class PidfdSendSignal {
    static final MethodHandle H =
        Native.downcall(
            "pidfd_send_signal", fn(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)}. */
  public static int pidfdSendSignal(MemorySegment errno, int pidfd, int sig) {
    try {
      return (int) PidfdSendSignal.H.invokeExact(errno, pidfd, sig, MemorySegment.NULL, 0);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Prctl {
    static final MethodHandle H =
        Native.downcall("prctl", fn(JAVA_INT, JAVA_INT, JAVA_LONG), Mode.ERRNO, 1);
  }

  /** {@code int prctl(int option, unsigned long arg2)} (variadic in C). */
  public static int prctl(MemorySegment errno, int option, long arg2) {
    try {
      return (int) Prctl.H.invokeExact(errno, option, arg2);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class PosixSpawn {
    static final MethodHandle H =
        Native.downcall(
            "posix_spawn",
            fn(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS),
            Mode.PLAIN);
  }

  /**
   * {@code int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
   * const posix_spawnattr_t *attr, char *const argv[], char *const envp[])}; returns the error.
   */
  public static int posixSpawn(
      MemorySegment pid,
      MemorySegment path,
      MemorySegment fileActions,
      MemorySegment attr,
      MemorySegment argv,
      MemorySegment envp) {
    try {
      return (int) PosixSpawn.H.invokeExact(pid, path, fileActions, attr, argv, envp);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class FileActionsInit {
    static final MethodHandle H =
        Native.downcall("posix_spawn_file_actions_init", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code posix_spawn_file_actions_init}; returns the error. */
  public static int fileActionsInit(MemorySegment fa) {
    try {
      return (int) FileActionsInit.H.invokeExact(fa);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class FileActionsDestroy {
    static final MethodHandle H =
        Native.downcall("posix_spawn_file_actions_destroy", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code posix_spawn_file_actions_destroy}; returns the error. */
  public static int fileActionsDestroy(MemorySegment fa) {
    try {
      return (int) FileActionsDestroy.H.invokeExact(fa);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class FileActionsAdddup2 {
    static final MethodHandle H =
        Native.downcall(
            "posix_spawn_file_actions_adddup2",
            fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Mode.PLAIN);
  }

  /** {@code posix_spawn_file_actions_adddup2}; returns the error. */
  public static int fileActionsAdddup2(MemorySegment fa, int fd, int newFd) {
    try {
      return (int) FileActionsAdddup2.H.invokeExact(fa, fd, newFd);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class FileActionsAddclosefrom {
    static final MethodHandle H =
        Native.downcall(
            "posix_spawn_file_actions_addclosefrom_np",
            fn(JAVA_INT, ADDRESS, JAVA_INT),
            Mode.PLAIN);
  }

  /** {@code posix_spawn_file_actions_addclosefrom_np} (glibc 2.34); returns the error. */
  public static int fileActionsAddclosefrom(MemorySegment fa, int from) {
    try {
      return (int) FileActionsAddclosefrom.H.invokeExact(fa, from);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class SpawnattrInit {
    static final MethodHandle H =
        Native.downcall("posix_spawnattr_init", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code posix_spawnattr_init}; returns the error. */
  public static int spawnattrInit(MemorySegment attr) {
    try {
      return (int) SpawnattrInit.H.invokeExact(attr);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class SpawnattrDestroy {
    static final MethodHandle H =
        Native.downcall("posix_spawnattr_destroy", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code posix_spawnattr_destroy}; returns the error. */
  public static int spawnattrDestroy(MemorySegment attr) {
    try {
      return (int) SpawnattrDestroy.H.invokeExact(attr);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class SpawnattrSetflags {
    static final MethodHandle H =
        Native.downcall("posix_spawnattr_setflags", fn(JAVA_INT, ADDRESS, JAVA_SHORT), Mode.PLAIN);
  }

  /** {@code posix_spawnattr_setflags}; returns the error. */
  public static int spawnattrSetflags(MemorySegment attr, short flags) {
    try {
      return (int) SpawnattrSetflags.H.invokeExact(attr, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class SpawnattrSetsigmask {
    static final MethodHandle H =
        Native.downcall("posix_spawnattr_setsigmask", fn(JAVA_INT, ADDRESS, ADDRESS), Mode.PLAIN);
  }

  /** {@code posix_spawnattr_setsigmask}; returns the error. */
  public static int spawnattrSetsigmask(MemorySegment attr, MemorySegment sigset) {
    try {
      return (int) SpawnattrSetsigmask.H.invokeExact(attr, sigset);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class SpawnattrSetsigdefault {
    static final MethodHandle H =
        Native.downcall(
            "posix_spawnattr_setsigdefault", fn(JAVA_INT, ADDRESS, ADDRESS), Mode.PLAIN);
  }

  /** {@code posix_spawnattr_setsigdefault}; returns the error. */
  public static int spawnattrSetsigdefault(MemorySegment attr, MemorySegment sigset) {
    try {
      return (int) SpawnattrSetsigdefault.H.invokeExact(attr, sigset);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Sigfillset {
    static final MethodHandle H = Native.downcall("sigfillset", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code int sigfillset(sigset_t *set)}. */
  public static int sigfillset(MemorySegment set) {
    try {
      return (int) Sigfillset.H.invokeExact(set);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Sigemptyset {
    static final MethodHandle H = Native.downcall("sigemptyset", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code int sigemptyset(sigset_t *set)}. */
  public static int sigemptyset(MemorySegment set) {
    try {
      return (int) Sigemptyset.H.invokeExact(set);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  /** glibc's {@code char **environ}, the current environment. */
  @SuppressWarnings("restricted")
  public static MemorySegment environ() {
    return Native.symbol("environ").reinterpret(ADDRESS.byteSize()).get(ADDRESS, 0);
  }

  // ---------------------------------------------------------------- shared memory and mutexes

  private static final class MemfdCreate {
    static final MethodHandle H =
        Native.downcall("memfd_create", fn(JAVA_INT, ADDRESS, JAVA_INT), Mode.ERRNO);
  }

  /** {@code int memfd_create(const char *name, unsigned int flags)} (Linux). */
  public static int memfdCreate(MemorySegment errno, MemorySegment name, int flags) {
    try {
      return (int) MemfdCreate.H.invokeExact(errno, name, flags);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Ftruncate {
    static final MethodHandle H =
        Native.downcall("ftruncate", fn(JAVA_INT, JAVA_INT, JAVA_LONG), Mode.ERRNO);
  }

  /** {@code int ftruncate(int fd, off_t length)}. */
  public static int ftruncate(MemorySegment errno, int fd, long length) {
    try {
      return (int) Ftruncate.H.invokeExact(errno, fd, length);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Mmap {
    static final MethodHandle H =
        Native.downcall(
            "mmap",
            fn(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
            Mode.ERRNO);
  }

  /** {@code void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)}. */
  public static MemorySegment mmap(
      MemorySegment errno, long len, int prot, int flags, int fd, long off) {
    try {
      return (MemorySegment)
          Mmap.H.invokeExact(errno, MemorySegment.NULL, len, prot, flags, fd, off);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class ShmOpen {
    static final MethodHandle H =
        Native.downcall("shm_open", fn(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Mode.ERRNO);
  }

  /**
   * {@code int shm_open(const char *name, int oflag, mode_t mode)} (POSIX; in libc.so.6 since glibc
   * 2.34): opens {@code /dev/shm/NAME}, close-on-exec.
   */
  public static int shmOpen(MemorySegment errno, MemorySegment name, int flags, int mode) {
    try {
      return (int) ShmOpen.H.invokeExact(errno, name, flags, mode);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class ShmUnlink {
    static final MethodHandle H = Native.downcall("shm_unlink", fn(JAVA_INT, ADDRESS), Mode.ERRNO);
  }

  /** {@code int shm_unlink(const char *name)} (POSIX; in libc.so.6 since glibc 2.34). */
  public static int shmUnlink(MemorySegment errno, MemorySegment name) {
    try {
      return (int) ShmUnlink.H.invokeExact(errno, name);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Fstat {
    static final MethodHandle H =
        Native.downcall("fstat", fn(JAVA_INT, JAVA_INT, ADDRESS), Mode.ERRNO);
  }

  /**
   * {@code int fstat(int fd, struct stat *st)} (a real symbol since glibc 2.33); {@code st} is
   * {@link Linux#STAT_SIZE} bytes.
   */
  public static int fstat(MemorySegment errno, int fd, MemorySegment st) {
    try {
      return (int) Fstat.H.invokeExact(errno, fd, st);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Munmap {
    static final MethodHandle H =
        Native.downcall("munmap", fn(JAVA_INT, ADDRESS, JAVA_LONG), Mode.PLAIN);
  }

  /** {@code int munmap(void *addr, size_t len)}; only fails for invalid arguments. */
  public static int munmap(MemorySegment addr, long len) {
    try {
      return (int) Munmap.H.invokeExact(addr, len);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexattrInit {
    static final MethodHandle H =
        Native.downcall("pthread_mutexattr_init", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code pthread_mutexattr_init}; returns the error. */
  public static int mutexattrInit(MemorySegment attr) {
    try {
      return (int) MutexattrInit.H.invokeExact(attr);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexattrSetpshared {
    static final MethodHandle H =
        Native.downcall(
            "pthread_mutexattr_setpshared", fn(JAVA_INT, ADDRESS, JAVA_INT), Mode.PLAIN);
  }

  /** {@code pthread_mutexattr_setpshared}; returns the error. */
  public static int mutexattrSetpshared(MemorySegment attr, int value) {
    try {
      return (int) MutexattrSetpshared.H.invokeExact(attr, value);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexattrSetrobust {
    static final MethodHandle H =
        Native.downcall("pthread_mutexattr_setrobust", fn(JAVA_INT, ADDRESS, JAVA_INT), Mode.PLAIN);
  }

  /** {@code pthread_mutexattr_setrobust}; returns the error. */
  public static int mutexattrSetrobust(MemorySegment attr, int value) {
    try {
      return (int) MutexattrSetrobust.H.invokeExact(attr, value);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexattrSettype {
    static final MethodHandle H =
        Native.downcall("pthread_mutexattr_settype", fn(JAVA_INT, ADDRESS, JAVA_INT), Mode.PLAIN);
  }

  /** {@code pthread_mutexattr_settype}; returns the error. */
  public static int mutexattrSettype(MemorySegment attr, int value) {
    try {
      return (int) MutexattrSettype.H.invokeExact(attr, value);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexattrDestroy {
    static final MethodHandle H =
        Native.downcall("pthread_mutexattr_destroy", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code pthread_mutexattr_destroy}; returns the error. */
  public static int mutexattrDestroy(MemorySegment attr) {
    try {
      return (int) MutexattrDestroy.H.invokeExact(attr);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexInit {
    static final MethodHandle H =
        Native.downcall("pthread_mutex_init", fn(JAVA_INT, ADDRESS, ADDRESS), Mode.PLAIN);
  }

  /** {@code pthread_mutex_init}; returns the error. */
  public static int mutexInit(MemorySegment mutex, MemorySegment attr) {
    try {
      return (int) MutexInit.H.invokeExact(mutex, attr);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexTrylock {
    static final MethodHandle H =
        Native.downcall("pthread_mutex_trylock", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code pthread_mutex_trylock}; returns the error (0, EBUSY, EOWNERDEAD...). */
  public static int mutexTrylock(MemorySegment mutex) {
    try {
      return (int) MutexTrylock.H.invokeExact(mutex);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexClocklock {
    static final MethodHandle H =
        Native.downcall(
            "pthread_mutex_clocklock", fn(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /**
   * {@code pthread_mutex_clocklock(mutex, clock, abstime)} (glibc 2.30); blocks until the absolute
   * time on {@code clock}; returns the error (0, ETIMEDOUT, EOWNERDEAD...).
   */
  public static int mutexClocklock(MemorySegment mutex, int clock, MemorySegment abstime) {
    try {
      return (int) MutexClocklock.H.invokeExact(mutex, clock, abstime);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexUnlock {
    static final MethodHandle H =
        Native.downcall("pthread_mutex_unlock", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code pthread_mutex_unlock}; returns the error. */
  public static int mutexUnlock(MemorySegment mutex) {
    try {
      return (int) MutexUnlock.H.invokeExact(mutex);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class MutexConsistent {
    static final MethodHandle H =
        Native.downcall("pthread_mutex_consistent", fn(JAVA_INT, ADDRESS), Mode.PLAIN);
  }

  /** {@code pthread_mutex_consistent}; returns the error. */
  public static int mutexConsistent(MemorySegment mutex) {
    try {
      return (int) MutexConsistent.H.invokeExact(mutex);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class ClockGettime {
    static final MethodHandle H =
        Native.downcall("clock_gettime", fn(JAVA_INT, JAVA_INT, ADDRESS), Mode.ERRNO);
  }

  /** {@code int clock_gettime(clockid_t clock, struct timespec *ts)}. */
  public static int clockGettime(MemorySegment errno, int clock, MemorySegment ts) {
    try {
      return (int) ClockGettime.H.invokeExact(errno, clock, ts);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Strerror {
    static final MethodHandle H = Native.downcall("strerror", fn(ADDRESS, JAVA_INT), Mode.PLAIN);
  }

  /** {@code char *strerror(int errnum)}, as a Java string. */
  @SuppressWarnings("restricted")
  public static String strerror(int errnum) {
    try {
      MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errnum);
      return s.reinterpret(1024).getString(0);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  private static final class Futex {
    static final MethodHandle H =
        Native.downcall(
            "syscall",
            fn(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
            Mode.ERRNO,
            1);
  }

  /**
   * {@code long syscall(SYS_futex, uint32_t *uaddr, int op, uint32_t val, const struct timespec
   * *timeout, uint32_t *uaddr2, uint32_t val3)}. The word is given by its address as a number, so
   * that a wait in progress does not keep its memory's arena open.
   */
  public static long futex(
      MemorySegment errno, long uaddr, int op, int val, MemorySegment timeout) {
    try {
      return (long) Futex.H.invokeExact(errno, Linux.SYS_FUTEX, uaddr, op, val, timeout, 0L, 0);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  // ---------------------------------------------------------------- memory

  private static final class MemcpyIn {
    static final MethodHandle H =
        Native.downcall("memcpy", fn(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG), Mode.CRITICAL);
  }

  private static final class MemcpyOut {
    static final MethodHandle H =
        Native.downcall("memcpy", fn(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG), Mode.CRITICAL);
  }

  /**
   * {@code memcpy(dst, src, n)} into native memory given as a raw address, from a segment (heap or
   * native; the linker checks it is alive and {@code n} bytes long), linked critical: keep {@code
   * n} to a few MiB, the JVM waits for the copy at a safepoint. The caller guarantees that {@code
   * dst} is mapped and {@code n} bytes are its to write.
   */
  public static void memcpyToAddress(long dst, MemorySegment src, long n) {
    try {
      long unused = (long) MemcpyIn.H.invokeExact(dst, src, n);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }

  /**
   * {@code memcpy(dst, src, n)} into a segment (heap or native) from native memory given as a raw
   * address; as {@link #memcpyToAddress}.
   */
  public static void memcpyFromAddress(MemorySegment dst, long src, long n) {
    try {
      long unused = (long) MemcpyOut.H.invokeExact(dst, src, n);
    } catch (Throwable t) {
      throw Native.rethrow(t);
    }
  }
}
