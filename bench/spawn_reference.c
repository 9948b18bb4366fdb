// C reference for bench/spawn.js: the fastest way Linux offers to start a program and learn
// that it ended, done the way pidfd's spawn() does it, with nothing else around it:
// clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) with exit signal 0 (no page tables copied; the
// parent waits until the child has exec'd), then waitid(P_PIDFD, WEXITED | __WALL) once the
// pidfd is readable.
//
// stdio: "ignore" opens /dev/null in the child for fds 0-2; "pipe" gives the child one end
// of a socketpair for each of fds 0-2 (as libuv and pidfd's spawn() do) and counts a spawn
// as done once the child is reaped and both stdout and stderr have reached EOF (what the
// 'close' event means on the JS side).
//
// Fairness: it runs as many idle threads as the Node process has (the kernel's work on a
// shared mm and fd table depends on it; see bench/reference.c), and holds as much touched
// memory as the Node process's RSS ("hold"), in 1 MiB blocks like the Node side's Buffers.
//
// It serves requests on stdin, one a line, so that bench/spawn.js can interleave rounds:
//   threads N          start idle threads until there are N          -> "ok N"
//   hold MB            hold MB MiB of touched memory (grows or frees)   -> "ok RSS_KB"
//   serial STDIO N    N spawns one at a time          -> "NS_PER_SPAWN START_NS START_CPU_NS CPU_NS"
//   parallel STDIO N  N spawns, 64 in flight (epoll)  -> "NS_PER_SPAWN START_NS START_CPU_NS CPU_NS"
// NS_PER_SPAWN is, one at a time, the median spawn's time (start to EOFs and reap); in
// flight, the whole batch's time divided by N.
// START_NS is the median time to start one child (socketpairs, clone() until the child has
// exec'd, closing the child's ends): the C counterpart of the event-loop block time of one
// spawn() call; START_CPU_NS the median CPU time this process spent in it. CPU_NS is this
// process's CPU time (user + system, all threads, children excluded) per spawn.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define IN_FLIGHT 64
#define STACK_SIZE (64 * 1024)
#define MAX_SPAWNS 4096

extern char** environ;

static char* const true_argv[] = {"/bin/true", NULL};

struct job {
  int pipe;      // 1: socketpairs, 0: /dev/null
  int child[3];  // the child's ends (pipe)
  int parent[3]; // our ends: [0] stdin, [1] stdout, [2] stderr
  int pidfd;
  int open;      // what is still awaited: pidfd, stdout, stderr
};

static char* stack_top;

static void die(const char* what) {
  perror(what);
  exit(1);
}

static long long cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// The child: shares our memory until execve, so raw calls only (no malloc, no stdio).
static int child_main(void* arg) {
  struct job* j = arg;
  if (j->pipe) {
    for (int fd = 0; fd < 3; fd++)
      if (dup2(j->child[fd], fd) < 0) _exit(126);
  } else {
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(126);
    for (int fd = 0; fd < 3; fd++) dup2(null, fd);
    if (null > 2) close(null);
  }
  execve(true_argv[0], true_argv, environ);
  _exit(127);
}

static long long start_times[MAX_SPAWNS], start_cpu[MAX_SPAWNS];

// Starts child number `n`, recording how long that held us (clone() returns once the child
// has exec'd) and the CPU time it took.
static void start(struct job* j, int pipe, int n) {
  long long cpu0 = cpu_ns(), t0 = now_ns();
  j->pipe = pipe;
  if (pipe) {
    for (int fd = 0; fd < 3; fd++) {
      int sv[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");
      j->parent[fd] = sv[0];
      j->child[fd] = sv[1];
    }
  }
  // Exit signal 0 (the low byte): no SIGCHLD; waitid needs __WALL.
  pid_t pid = clone(child_main, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD, j, &j->pidfd);
  if (pid < 0) die("clone");
  if (pipe)
    for (int fd = 0; fd < 3; fd++) close(j->child[fd]);
  j->open = pipe ? 3 : 1;
  start_times[n] = now_ns() - t0;
  start_cpu[n] = cpu_ns() - cpu0;
}

static void reap(struct job* j) {
  siginfo_t si;
  if (syscall(SYS_waitid, P_PIDFD, j->pidfd, &si, WEXITED | __WALL, NULL) < 0) die("waitid");
  if (si.si_code != CLD_EXITED || si.si_status != 0) {
    fprintf(stderr, "child ended with code %d status %d\n", si.si_code, si.si_status);
    exit(1);
  }
  close(j->pidfd);
  if (j->pipe) close(j->parent[0]);  // stdin: closed at exit, as the JS sides do
  j->pidfd = -1;
}

// Reads what one of our pipe ends has (epoll said readable, so one read() never blocks):
// 1 once it reached EOF (and is closed), else 0 (epoll is level-triggered: more comes).
// Removed from the epoll set before close(): a child between clone and exec may still hold
// a copy of the fd, and epoll forgets an fd only when the last copy goes.
static int drain(int ep, int fd) {
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n < 0) die("read");
  if (n > 0) return 0;
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  return 1;
}

static int compare(const void* a, const void* b) {
  long long x = *(const long long*)a, y = *(const long long*)b;
  return x < y ? -1 : x > y;
}

static long long median(long long* values, int n) {
  qsort(values, n, sizeof *values, compare);
  return values[n / 2];
}

// per_spawn: the time per spawn (one at a time: the median spawn; in flight: total / count).
static void report(long long per_spawn, long long cpu0, int count) {
  long long cpu = cpu_ns() - cpu0;
  printf("%lld %lld %lld %lld\n", per_spawn, median(start_times, count), median(start_cpu, count), cpu / count);
}

static long long spawn_times[MAX_SPAWNS];

// One at a time: start, then wait on the pidfd (and the pipes) with epoll.
static void serial(int ep, int pipe, int count) {
  struct job j;
  long long cpu0 = cpu_ns();
  for (int s = 0; s < count; s++) {
    long long t0 = now_ns();
    start(&j, pipe, s);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 0};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, j.pidfd, &ev) < 0) die("epoll_ctl");
    for (int fd = 1; pipe && fd < 3; fd++) {
      ev.data.u32 = fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, j.parent[fd], &ev) < 0) die("epoll_ctl");
    }
    while (j.open > 0) {
      struct epoll_event out[3];
      int n = epoll_wait(ep, out, 3, -1);
      for (int i = 0; i < n; i++) {
        unsigned which = out[i].data.u32;
        if (which == 0) {
          epoll_ctl(ep, EPOLL_CTL_DEL, j.pidfd, NULL);
          reap(&j);
          j.open--;
        } else if (drain(ep, j.parent[which])) {
          j.open--;
        }
      }
    }
    spawn_times[s] = now_ns() - t0;
  }
  report(median(spawn_times, count), cpu0, count);
}

// 64 in flight: each finished spawn starts the next, until count have been started.
static void parallel(int ep, int pipe, int count) {
  static struct job jobs[IN_FLIGHT];
  int started = 0, done = 0;
  long long t0 = now_ns(), cpu0 = cpu_ns();
  for (int slot = 0; slot < IN_FLIGHT && started < count; slot++) {
    start(&jobs[slot], pipe, started++);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)slot << 2};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, jobs[slot].pidfd, &ev) < 0) die("epoll_ctl");
    for (int fd = 1; pipe && fd < 3; fd++) {
      ev.data.u32 = ((unsigned)slot << 2) | fd;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, jobs[slot].parent[fd], &ev) < 0) die("epoll_ctl");
    }
  }
  while (done < count) {
    struct epoll_event out[IN_FLIGHT * 3];
    int n = epoll_wait(ep, out, IN_FLIGHT * 3, -1);
    for (int i = 0; i < n; i++) {
      int slot = out[i].data.u32 >> 2;
      unsigned which = out[i].data.u32 & 3;
      struct job* j = &jobs[slot];
      if (which == 0) {
        epoll_ctl(ep, EPOLL_CTL_DEL, j->pidfd, NULL);
        reap(j);
        j->open--;
      } else if (drain(ep, j->parent[which])) {
        j->open--;
      }
      if (j->open > 0) continue;
      done++;
      if (started == count) continue;
      start(j, pipe, started++);
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)slot << 2};
      if (epoll_ctl(ep, EPOLL_CTL_ADD, j->pidfd, &ev) < 0) die("epoll_ctl");
      for (int fd = 1; pipe && fd < 3; fd++) {
        ev.data.u32 = ((unsigned)slot << 2) | fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, j->parent[fd], &ev) < 0) die("epoll_ctl");
      }
    }
  }
  report((now_ns() - t0) / count, cpu0, count);
}

static void* idle(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

// Held memory: 1 MiB blocks, every page touched.
static char** blocks;
static int held_mb;

static void hold(int mb) {
  blocks = realloc(blocks, (mb > 0 ? mb : 1) * sizeof *blocks);
  if (blocks == NULL) die("realloc");
  for (; held_mb < mb; held_mb++) {
    blocks[held_mb] = malloc(1 << 20);
    if (blocks[held_mb] == NULL) die("malloc");
    memset(blocks[held_mb], 1, 1 << 20);
  }
  for (; held_mb > mb; held_mb--) free(blocks[held_mb - 1]);
}

static long rss_kb(void) {
  FILE* f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f == NULL || fscanf(f, "%ld %ld", &size, &resident) != 2) die("statm");
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(void) {
  char* stack = malloc(STACK_SIZE);
  if (stack == NULL) die("malloc");
  stack_top = stack + STACK_SIZE;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  // 64 children with three pipe ends each, and their pidfds.
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 1024 && limit.rlim_max >= 1024) {
    limit.rlim_cur = 1024;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  int threads = 1;  // the main thread counts as one
  char command[32], stdio[32];
  int n;
  while (scanf("%31s", command) == 1) {
    if (strcmp(command, "threads") == 0 && scanf("%d", &n) == 1) {
      for (; threads < n; threads++) {
        pthread_t t;
        if (pthread_create(&t, NULL, idle, NULL) != 0) die("pthread_create");
      }
      printf("ok %d\n", threads);
    } else if (strcmp(command, "hold") == 0 && scanf("%d", &n) == 1) {
      hold(n);
      printf("ok %ld\n", rss_kb());
    } else if ((strcmp(command, "serial") == 0 || strcmp(command, "parallel") == 0) && scanf("%31s %d", stdio, &n) == 2 &&
               n > 0 && n <= MAX_SPAWNS) {
      int pipe = strcmp(stdio, "pipe") == 0;
      if (command[0] == 's') serial(ep, pipe, n);
      else parallel(ep, pipe, n);
    } else {
      fprintf(stderr, "bad request at %s\n", command);
      return 2;
    }
    fflush(stdout);
  }
  return 0;
}
