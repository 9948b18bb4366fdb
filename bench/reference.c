// C reference for bench/run.js: the same syscalls the JS API makes, timed the same way.
//
// Fairness: a Node process always runs several threads, so its fd table is shared and the
// kernel takes the slower, reference-counted path on every fd syscall. This program starts
// as many idle threads as the Node process has (argv[1]) before timing anything. Both sides
// hold a pidfd on the target (themselves) for the whole run, so pidfs keeps the process's
// inode cached on both sides.
//
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

// PIDFD_GET_INFO as native/info.cc makes it: the 80-byte struct (PIDFD_INFO_SIZE_VER2)
// and every mask bit Pidfd#info() asks for.
struct pidfd_info_v2 {
  unsigned long long mask, cgroupid;
  unsigned int pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int exit_code;
  unsigned int coredump_mask, coredump_signal;
  unsigned long long supported_mask;
};
#define PIDFD_GET_INFO_V2 _IOWR(0xFF, 11, struct pidfd_info_v2)
#define INFO_MASK 0x1f

// The statx mask lib/stat.ts asks for by default.
#define STATX_DEFAULT_MASK (STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID)

static pid_t self;
static int held;  // the pidfd both sides hold on themselves
static volatile long sink;

static int open_pidfd(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void op_send_signal(void) {
  if (syscall(SYS_pidfd_send_signal, held, 0, NULL, 0) < 0) die("pidfd_send_signal");
}

static void op_fstat(void) {
  struct stat st;
  if (fstat(held, &st) < 0) die("fstat");
  sink = st.st_ino;
}

static void op_statx(void) {
  struct statx stx;
  if (statx(held, "", AT_EMPTY_PATH, STATX_DEFAULT_MASK, &stx) < 0) die("statx");
  sink = stx.stx_ino;
}

static void op_info(void) {
  struct pidfd_info_v2 info;
  memset(&info, 0, sizeof info);
  info.mask = INFO_MASK;
  if (ioctl(held, PIDFD_GET_INFO_V2, &info) < 0) die("ioctl(PIDFD_GET_INFO)");
  sink = info.pid;
}

static void op_to_handle(void) {
  struct {
    struct file_handle header;
    unsigned char bytes[128];
  } handle;
  handle.header.handle_bytes = 128;
  int mount_id;
  if (name_to_handle_at(held, "", &handle.header, &mount_id, AT_EMPTY_PATH) < 0) die("name_to_handle_at");
  sink = handle.header.handle_type;
}

static void op_open_close(void) {
  int fd = open_pidfd(self);
  if (fd < 0) die("pidfd_open");
  close(fd);
}

// Open two pidfds on one pid, compare pidfs inodes, close both.
static void op_identity(void) {
  int a = open_pidfd(self), b = open_pidfd(self);
  if (a < 0 || b < 0) die("pidfd_open");
  struct stat sa, sb;
  if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0) die("fstat");
  sink = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  close(a);
  close(b);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const struct {
  const char* name;
  void (*run)(void);
} operations[] = {
    {"sendSignal", op_send_signal}, {"stat", op_fstat},         {"statx", op_statx},
    {"openClose", op_open_close},   {"identity", op_identity},      {"info", op_info},
    {"toHandle", op_to_handle},
};

static void* idle(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

// Serves timing requests so that bench/run.js can interleave C and JS rounds finely:
// each stdin line "OPERATION ITERATIONS" runs one round and answers "NS_PER_OP".
int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s THREADS < requests\n", argv[0]);
    return 2;
  }
  int threads = atoi(argv[1]);
  for (int i = 1; i < threads; i++) {  // the main thread counts as one
    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0) die("pthread_create");
  }
  self = getpid();
  held = open_pidfd(self);
  if (held < 0) die("pidfd_open");
  char name[64];
  long iterations;
  while (scanf("%63s %ld", name, &iterations) == 2) {
    void (*run)(void) = NULL;
    for (size_t i = 0; i < sizeof operations / sizeof operations[0]; i++)
      if (strcmp(operations[i].name, name) == 0) run = operations[i].run;
    if (run == NULL) {
      fprintf(stderr, "unknown operation %s\n", name);
      return 2;
    }
    double start = now_ns();
    for (long i = 0; i < iterations; i++) run();
    printf("%.1f\n", (now_ns() - start) / iterations);
    fflush(stdout);
  }
  return 0;
}
