// (jpipe's copy of shared/bench/c_shm_limit.c, with the cross-process copy figures added)
// The physical limit for cross-process messaging on this machine: two processes ping-pong a
// sequence number through one shared cache line (busy-spin, no system call), and one process
// copies 1 MiB blocks with memcpy (a bound for moving bulk data, but within one core's caches).
// Then the cross-process bounds for bulk data: two processes move 1 MiB messages one way through
// a shared 4 MiB byte ring (jpipe bench's ring), spinning on the cursors (after 4096 spins a
// waiter yields the CPU between looks, as a loaded machine needs; no other system call):
//   shm_copy_gbps    the sender memcpys each message from its own buffer into the ring, the
//                    receiver memcpys it out into its own buffer (two copies, as a pipe that
//                    delivers into the receiver's memory must); the ring's cursors move every
//                    SHM_PIECE bytes, so the receiver copies while the sender writes
//   shm_copy1_gbps   the same, but the receiver reads every byte in place (sums it) instead of
//                    copying it out: one copy, the bound for a receiver that borrows the ring
// Every byte crosses from one core's caches to the other's, which memcpy_gbps never measures.
// Prints one JSON line: {"shm_rtt_us": ..., "shm_spin_msgs_per_s": ..., "memcpy_gbps": ...,
// "shm_copy_gbps": ..., "shm_copy1_gbps": ...}. With an argument, "sweep", it first prints both
// for other ring and piece sizes (one line each, to stderr).
// With one CPU the spinning peers take turns through the scheduler: run it on >= 2 CPUs.
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void relax(void) {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// One direction of a ring in shared memory: cursors only grow (bytes ever written, ever read).
struct ring {
  _Alignas(64) _Atomic uint64_t w;
  _Alignas(64) _Atomic uint64_t r;
  _Alignas(64) char data[];
};

// A cursor wait of the ring figures: spins, then yields the CPU between looks, so that on a
// machine shared with other work a descheduled peer is not waited for a whole time slice.
static void relax_then_yield(unsigned *spins) {
  if (++*spins < 4096) {
    relax();
  } else {
    sched_yield();
  }
}

#define MSG ((size_t)1 << 20)
#define SHM_RING ((size_t)4 << 20)
#define SHM_PIECE ((size_t)64 << 10)

// Moves n messages of MSG bytes from a child (the sender) to this process through a ring of
// `cap` bytes, publishing every `piece` bytes; copy_out: memcpy out, else read in place.
// Returns GB/s from the first byte sent to the last byte received.
static double ring_gbps(size_t cap, size_t piece, int copy_out, int n) {
  struct ring *q = mmap(NULL, sizeof *q + cap, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (q == MAP_FAILED) { perror("mmap"); exit(1); }
  memset(q->data, 0, cap); // fault the pages in before the clock starts
  pid_t pid = fork();
  if (pid == 0) {
    char *src = malloc(MSG);
    memset(src, 'x', MSG);
    uint64_t w = 0;
    for (int m = 0; m < n; m++) {
      for (size_t done = 0; done < MSG; done += piece) {
        unsigned spins = 0;
        while (w + piece - atomic_load_explicit(&q->r, memory_order_acquire) > cap) relax_then_yield(&spins);
        memcpy(q->data + (w & (cap - 1)), src + done, piece);
        w += piece;
        atomic_store_explicit(&q->w, w, memory_order_release);
      }
    }
    _exit(0);
  }
  char *dst = malloc(MSG);
  memset(dst, 0, MSG);
  uint64_t r = 0, sum = 0;
  double t0 = 0;
  for (int m = 0; m < n; m++) {
    for (size_t done = 0; done < MSG;) {
      uint64_t w;
      unsigned spins = 0;
      while ((w = atomic_load_explicit(&q->w, memory_order_acquire)) == r) relax_then_yield(&spins);
      if (t0 == 0) t0 = now();
      size_t k = w - r; // whole pieces, never across the end of the ring (piece divides cap)
      if (k > MSG - done) k = MSG - done;
      const char *at = q->data + (r & (cap - 1));
      if (copy_out) {
        memcpy(dst + done, at, k);
      } else {
        const uint64_t *p = (const uint64_t *)at;
        for (size_t i = 0; i < k / 8; i++) sum += p[i];
      }
      done += k;
      r += k;
      atomic_store_explicit(&q->r, r, memory_order_release);
    }
  }
  double gbps = (double)MSG * n / (now() - t0) / 1e9;
  waitpid(pid, NULL, 0);
  if (dst[MSG - 1] != 'x' && copy_out) { fprintf(stderr, "c_shm_limit: bad copy\n"); exit(1); }
  if (!copy_out && sum == 1) fprintf(stderr, "%llu\n", (unsigned long long)sum); // keep the reads
  free(dst);
  munmap(q, sizeof *q + cap);
  return gbps;
}

// The best of three runs of 2000 messages, after a warm-up of 200.
static double best_gbps(size_t cap, size_t piece, int copy_out) {
  ring_gbps(cap, piece, copy_out, 200);
  double best = 0;
  for (int i = 0; i < 3; i++) {
    double g = ring_gbps(cap, piece, copy_out, 2000);
    if (g > best) best = g;
  }
  return best;
}

int main(int argc, char **argv) {
  struct shared { _Alignas(64) _Atomic uint64_t ping; _Alignas(64) _Atomic uint64_t pong; };
  struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) { perror("mmap"); return 1; }
  const uint64_t warm = 20000, n = 200000;
  pid_t pid = fork();
  if (pid == 0) {
    for (uint64_t i = 1; i <= warm + n; i++) {
      while (atomic_load_explicit(&s->ping, memory_order_acquire) != i) relax();
      atomic_store_explicit(&s->pong, i, memory_order_release);
    }
    _exit(0);
  }
  double t0 = 0;
  for (uint64_t i = 1; i <= warm + n; i++) {
    if (i == warm + 1) t0 = now();
    atomic_store_explicit(&s->ping, i, memory_order_release);
    while (atomic_load_explicit(&s->pong, memory_order_acquire) != i) relax();
  }
  double rtt_us = (now() - t0) / n * 1e6;
  waitpid(pid, NULL, 0);

  size_t size = 1 << 20;
  char *a = malloc(size), *b = malloc(size);
  memset(a, 1, size); memset(b, 2, size);
  int reps = 2000;
  double t1 = now();
  for (int i = 0; i < reps; i++) { memcpy(i & 1 ? a : b, i & 1 ? b : a, size); }
  double gbps = (double)size * reps / (now() - t1) / 1e9;
  if (argc > 1 && strcmp(argv[1], "sweep") == 0) {
    size_t caps[] = {(size_t)256 << 10, (size_t)512 << 10, (size_t)1 << 20, (size_t)4 << 20};
    size_t pieces[] = {(size_t)16 << 10, (size_t)64 << 10, (size_t)256 << 10, MSG};
    for (int i = 0; i < 4; i++) {
      for (int j = 0; j < 4; j++) {
        if (pieces[j] * 2 > caps[i]) continue;
        fprintf(stderr, "ring %5zu KiB, piece %5zu KiB: copy %.3f GB/s, copy1 %.3f GB/s\n",
                caps[i] >> 10, pieces[j] >> 10, best_gbps(caps[i], pieces[j], 1),
                best_gbps(caps[i], pieces[j], 0));
      }
    }
  }
  double copy2 = best_gbps(SHM_RING, SHM_PIECE, 1);
  double copy1 = best_gbps(SHM_RING, SHM_PIECE, 0);
  printf("{\"shm_rtt_us\": %.3f, \"shm_spin_msgs_per_s\": %.0f, \"memcpy_gbps\": %.3f, "
         "\"shm_copy_gbps\": %.3f, \"shm_copy1_gbps\": %.3f, \"impl\": \"c-shm-spin\"}\n",
         rtt_us, 1e6 / rtt_us, gbps, copy2, copy1);
  return a[0] == 3; // keep the copies alive
}
