// (jpipe's copy of shared/bench/c_shm_limit.c, unchanged)
// The physical limit for cross-process messaging on this machine: two processes ping-pong a
// sequence number through one shared cache line (busy-spin, no system call), and one process
// copies 1 MiB blocks with memcpy (the bound for moving bulk data through shared memory).
// Prints one JSON line: {"shm_rtt_us": ..., "shm_spin_msgs_per_s": ..., "memcpy_gbps": ...}.
// With one CPU the spinning peers take turns through the scheduler: run it on >= 2 CPUs.
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

int main(void) {
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
  printf("{\"shm_rtt_us\": %.3f, \"shm_spin_msgs_per_s\": %.0f, \"memcpy_gbps\": %.3f, \"impl\": \"c-shm-spin\"}\n",
         rtt_us, 1e6 / rtt_us, gbps);
  return a[0] == 3; // keep the copies alive
}
