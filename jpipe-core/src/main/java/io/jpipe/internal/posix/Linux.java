package io.jpipe.internal.posix;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;

/**
 * Constants and struct layouts of Linux and glibc on 64-bit x86 and ARM (the same numbers on both
 * for everything used here). A BSD or macOS port gets its own class beside this one.
 */
public final class Linux {
  private Linux() {}

  // errno (asm-generic)
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int ESRCH = 3;
  public static final int EINTR = 4;
  public static final int EBADF = 9;
  public static final int ECHILD = 10;
  public static final int EAGAIN = 11;
  public static final int ENOMEM = 12;
  public static final int EACCES = 13;
  public static final int EBUSY = 16;
  public static final int EEXIST = 17;
  public static final int EINVAL = 22;
  public static final int EMFILE = 24;
  public static final int EPIPE = 32;
  public static final int EDEADLK = 35;
  public static final int ENAMETOOLONG = 36;
  public static final int ENOSYS = 38;
  public static final int ENONET = 64;
  public static final int EPROTO = 71;
  public static final int ENOTSOCK = 88;
  public static final int ENOPROTOOPT = 92;
  public static final int EOPNOTSUPP = 95;
  public static final int EADDRINUSE = 98;
  public static final int EADDRNOTAVAIL = 99;
  public static final int ENETDOWN = 100;
  public static final int ENETUNREACH = 101;
  public static final int ECONNABORTED = 103;
  public static final int ECONNRESET = 104;
  public static final int ENOTCONN = 107;
  public static final int ETIMEDOUT = 110;
  public static final int ECONNREFUSED = 111;
  public static final int EHOSTDOWN = 112;
  public static final int EHOSTUNREACH = 113;
  public static final int EALREADY = 114;
  public static final int EINPROGRESS = 115;
  public static final int EOWNERDEAD = 130;
  public static final int ENOTRECOVERABLE = 131;

  // fcntl, open, pipe2, eventfd, memfd
  public static final int F_GETFD = 1;
  public static final int F_SETFD = 2;
  public static final int F_GETFL = 3;
  public static final int F_SETFL = 4;
  public static final int F_DUPFD_CLOEXEC = 1030;

  /** {@code F_OFD_GETLK}: which open file description's lock would conflict. */
  public static final int F_OFD_GETLK = 36;

  /** {@code F_OFD_SETLK}: take or drop a lock owned by the open file description, no waiting. */
  public static final int F_OFD_SETLK = 37;

  /** {@code struct flock.l_type}: a write lock. */
  public static final short F_WRLCK = 1;

  /** {@code struct flock.l_type}: no lock. */
  public static final short F_UNLCK = 2;

  /** {@code sizeof(struct flock)} on x86-64 and aarch64. */
  public static final long FLOCK_SIZE = 32;

  /** Offsets in {@code struct flock}: l_type (short), l_whence (short), l_start, l_len (off_t). */
  public static final long FLOCK_TYPE = 0;

  /** {@code l_whence}. */
  public static final long FLOCK_WHENCE = 2;

  /** {@code l_start}. */
  public static final long FLOCK_START = 8;

  /** {@code l_len}. */
  public static final long FLOCK_LEN = 16;

  public static final int F_SETPIPE_SZ = 1031;
  public static final int F_GETPIPE_SZ = 1032;
  public static final int FD_CLOEXEC = 1;
  public static final int O_ACCMODE = 3;
  public static final int O_NONBLOCK = 0x800;
  public static final int O_CLOEXEC = 0x80000;
  public static final int EFD_CLOEXEC = 0x80000;
  public static final int EFD_NONBLOCK = 0x800;
  public static final int MFD_CLOEXEC = 1;

  /** {@code MFD_ALLOW_SEALING}: the memfd accepts {@code F_ADD_SEALS}. */
  public static final int MFD_ALLOW_SEALING = 2;

  /** {@code F_ADD_SEALS}: forbid operations on a memfd's inode, for good. */
  public static final int F_ADD_SEALS = 1033;

  /** {@code F_GET_SEALS}: the seals of a memfd's inode. */
  public static final int F_GET_SEALS = 1034;

  /** {@code F_SEAL_SEAL}: no more seals may be added. */
  public static final int F_SEAL_SEAL = 1;

  /** {@code F_SEAL_SHRINK}: the file can never get smaller. */
  public static final int F_SEAL_SHRINK = 2;

  public static final int O_RDONLY = 0;
  public static final int O_RDWR = 2;
  public static final int O_CREAT = 0x40;
  public static final int O_EXCL = 0x80;

  /** {@code sizeof(struct stat)}: 144 on x86-64, 128 on aarch64; we reserve 256. */
  public static final long STAT_SIZE = 256;

  /** Offset of {@code st_size} in {@code struct stat}: 48 on both x86-64 and aarch64. */
  public static final long STAT_ST_SIZE = 48;

  // sockets
  public static final int AF_UNIX = 1;
  public static final int AF_INET = 2;
  public static final int AF_INET6 = 10;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_NONBLOCK = 0x800;
  public static final int SOCK_CLOEXEC = 0x80000;
  public static final int SOL_SOCKET = 1;
  public static final int SO_REUSEADDR = 2;
  public static final int SO_ERROR = 4;
  public static final int SO_SNDBUF = 7;
  public static final int SO_RCVBUF = 8;
  public static final int SO_PEERCRED = 17;
  public static final int IPPROTO_TCP = 6;
  public static final int IPPROTO_IPV6 = 41;
  public static final int IPV6_V6ONLY = 26;
  public static final int TCP_NODELAY = 1;
  public static final int MSG_PEEK = 0x2;
  public static final int MSG_DONTWAIT = 0x40;
  public static final int MSG_NOSIGNAL = 0x4000;
  public static final int MSG_CTRUNC = 0x8;
  public static final int MSG_CMSG_CLOEXEC = 0x40000000;
  public static final int SCM_RIGHTS = 1;

  // preadv2/pwritev2
  public static final int RWF_NOWAIT = 0x8;

  // poll
  public static final short POLLIN = 0x1;
  public static final short POLLOUT = 0x4;
  public static final short POLLERR = 0x8;
  public static final short POLLHUP = 0x10;
  public static final short POLLNVAL = 0x20;

  // epoll
  public static final int EPOLL_CLOEXEC = 0x80000;
  public static final int EPOLL_CTL_ADD = 1;
  public static final int EPOLL_CTL_DEL = 2;
  public static final int EPOLL_CTL_MOD = 3;
  public static final int EPOLLIN = 0x1;
  public static final int EPOLLOUT = 0x4;
  public static final int EPOLLERR = 0x8;
  public static final int EPOLLHUP = 0x10;
  public static final int EPOLLONESHOT = 1 << 30;

  // signals, processes
  public static final int SIGHUP = 1;
  public static final int SIGINT = 2;
  public static final int SIGKILL = 9;
  public static final int SIGPIPE = 13;
  public static final int SIGTERM = 15;
  public static final int WNOHANG = 1;
  public static final int PR_SET_PDEATHSIG = 1;
  public static final short POSIX_SPAWN_SETSIGDEF = 0x04;
  public static final short POSIX_SPAWN_SETSIGMASK = 0x08;

  // mmap, clocks, mutexes
  public static final int PROT_READ = 1;
  public static final int PROT_WRITE = 2;
  public static final int MAP_SHARED = 1;
  public static final int MAP_PRIVATE = 2;
  public static final int MAP_ANONYMOUS = 0x20;
  public static final int MAP_NORESERVE = 0x4000;
  public static final int CLOCK_REALTIME = 0;
  public static final int CLOCK_MONOTONIC = 1;
  public static final int PTHREAD_PROCESS_SHARED = 1;
  public static final int PTHREAD_MUTEX_ROBUST = 1;
  public static final int PTHREAD_MUTEX_ERRORCHECK = 2;

  /** {@code sizeof(pthread_mutex_t)}: 40 on x86-64, 48 on aarch64; we reserve 64. */
  public static final long PTHREAD_MUTEX_SIZE = 64;

  /** {@code sizeof(pthread_mutexattr_t)}: 4 on x86-64, 8 on aarch64; we reserve 16. */
  public static final long PTHREAD_MUTEXATTR_SIZE = 16;

  /** {@code sizeof(posix_spawn_file_actions_t)} is 80 on glibc; we reserve 128. */
  public static final long SPAWN_FILE_ACTIONS_SIZE = 128;

  /** {@code sizeof(posix_spawnattr_t)} is 336 on glibc; we reserve 512. */
  public static final long SPAWNATTR_SIZE = 512;

  /** {@code sizeof(sigset_t)} on glibc. */
  public static final long SIGSET_SIZE = 128;

  /**
   *
   *
   * <pre>
   * struct pollfd {   // 8 bytes
   *   int   fd;       // 0
   *   short events;   // 4
   *   short revents;  // 6
   * };
   * </pre>
   */
  public static final StructLayout POLLFD =
      MemoryLayout.structLayout(
          JAVA_INT.withName("fd"), JAVA_SHORT.withName("events"), JAVA_SHORT.withName("revents"));

  public static final long POLLFD_FD = 0;
  public static final long POLLFD_EVENTS = 4;
  public static final long POLLFD_REVENTS = 6;

  /**
   *
   *
   * <pre>
   * struct iovec {       // 16 bytes
   *   void  *iov_base;   // 0
   *   size_t iov_len;    // 8
   * };
   * </pre>
   */
  public static final StructLayout IOVEC =
      MemoryLayout.structLayout(ADDRESS.withName("iov_base"), JAVA_LONG.withName("iov_len"));

  public static final long IOVEC_BASE = 0;
  public static final long IOVEC_LEN = 8;

  /**
   *
   *
   * <pre>
   * struct msghdr {            // 56 bytes
   *   void         *msg_name;       // 0
   *   socklen_t     msg_namelen;    // 8  (+4 padding)
   *   struct iovec *msg_iov;        // 16
   *   size_t        msg_iovlen;     // 24
   *   void         *msg_control;    // 32
   *   size_t        msg_controllen; // 40
   *   int           msg_flags;      // 48 (+4 padding)
   * };
   * </pre>
   */
  public static final StructLayout MSGHDR =
      MemoryLayout.structLayout(
          ADDRESS.withName("msg_name"),
          JAVA_INT.withName("msg_namelen"),
          MemoryLayout.paddingLayout(4),
          ADDRESS.withName("msg_iov"),
          JAVA_LONG.withName("msg_iovlen"),
          ADDRESS.withName("msg_control"),
          JAVA_LONG.withName("msg_controllen"),
          JAVA_INT.withName("msg_flags"),
          MemoryLayout.paddingLayout(4));

  public static final long MSGHDR_IOV = 16;
  public static final long MSGHDR_IOVLEN = 24;
  public static final long MSGHDR_CONTROL = 32;
  public static final long MSGHDR_CONTROLLEN = 40;
  public static final long MSGHDR_FLAGS = 48;

  /**
   *
   *
   * <pre>
   * struct timespec {   // 16 bytes
   *   time_t tv_sec;    // 0
   *   long   tv_nsec;   // 8
   * };
   * </pre>
   */
  public static final StructLayout TIMESPEC =
      MemoryLayout.structLayout(JAVA_LONG.withName("tv_sec"), JAVA_LONG.withName("tv_nsec"));

  /**
   * {@code struct epoll_event}: packed on x86-64 (12 bytes, data at offset 4), naturally aligned
   * elsewhere (16 bytes, data at offset 8).
   *
   * <pre>
   * struct epoll_event {
   *   uint32_t     events;  // 0
   *   epoll_data_t data;    // 4 (x86-64) or 8
   * };
   * </pre>
   */
  public static final long EPOLL_EVENT_SIZE;

  /** Offset of {@code epoll_event.events}. */
  public static final long EPOLL_EVENT_EVENTS = 0;

  /** Offset of {@code epoll_event.data} (a 64-bit value, unaligned on x86-64). */
  public static final long EPOLL_EVENT_DATA;

  static {
    String arch = System.getProperty("os.arch", "");
    boolean packed = arch.equals("amd64") || arch.equals("x86_64");
    EPOLL_EVENT_SIZE = packed ? 12 : 16;
    EPOLL_EVENT_DATA = packed ? 4 : 8;
  }

  /** {@code sizeof(struct sockaddr_un)}: a 2-byte family and a 108-byte path. */
  public static final int SOCKADDR_UN_SIZE = 110;

  /** {@code sizeof(sockaddr_un.sun_path)}. */
  public static final int SUN_PATH_SIZE = 108;

  /** {@code sizeof(struct sockaddr_in)}. */
  public static final int SOCKADDR_IN_SIZE = 16;

  /** {@code sizeof(struct sockaddr_in6)}. */
  public static final int SOCKADDR_IN6_SIZE = 28;

  /** {@code sizeof(struct sockaddr_storage)}. */
  public static final int SOCKADDR_STORAGE_SIZE = 128;

  /** Decodes a {@code waitpid} status: {@code WIFEXITED}. */
  public static boolean exited(int status) {
    return (status & 0x7f) == 0;
  }

  /** {@code WEXITSTATUS}. */
  public static int exitStatus(int status) {
    return (status >> 8) & 0xff;
  }

  /** {@code WIFSIGNALED}. */
  public static boolean signaled(int status) {
    int sig = status & 0x7f;
    return sig != 0 && sig != 0x7f;
  }

  /** {@code WTERMSIG}. */
  public static int termSignal(int status) {
    return status & 0x7f;
  }

  /** The {@code futex} system call's number: 202 on x86-64, 98 on aarch64. */
  public static final long SYS_FUTEX =
      System.getProperty("os.arch", "").equals("aarch64") ? 98 : 202;

  /** {@code FUTEX_WAIT}: sleep while the word holds the value given (shared, not private). */
  public static final int FUTEX_WAIT = 0;

  /** {@code FUTEX_WAKE}: wake that many sleepers on the word. */
  public static final int FUTEX_WAKE = 1;
}
