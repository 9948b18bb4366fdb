// C reference for bench/exit.js: a pidfd + epoll loop, the fastest way Linux offers to
// learn that a child exited. With LIVE other children alive (as the JS side has), it
// runs SAMPLES times: fork+exec `stamp`, pidfd_open, epoll_wait until readable, stamp the
// time, waitid(P_PIDFD) to collect the status, and prints each latency in ns, one a line.
// Usage: exit_reference STAMP FILE LIVE SAMPLES DELAY_MS
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static pid_t spawn(char* const argv[]) {
  pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  return pid;
}

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s STAMP FILE LIVE SAMPLES DELAY_MS\n", argv[0]);
    return 2;
  }
  int live = atoi(argv[3]), samples = atoi(argv[4]);
  pid_t* others = calloc(live > 0 ? live : 1, sizeof(pid_t));
  char* sleep_argv[] = {"/bin/sleep", "1000", NULL};
  for (int i = 0; i < live; i++) others[i] = spawn(sleep_argv);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  char* stamp_argv[] = {argv[1], argv[2], argv[5], NULL};
  for (int s = 0; s < samples; s++) {
    pid_t pid = spawn(stamp_argv);
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    while (epoll_wait(ep, &out, 1, -1) < 1) {
    }
    siginfo_t si;
    syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED, NULL);
    long long seen = now_ns();
    FILE* f = fopen(argv[2], "r");
    long long stamped = 0;
    if (f == NULL || fscanf(f, "%lld", &stamped) != 1) return 1;
    fclose(f);
    printf("%lld\n", seen - stamped);
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
  }
  for (int i = 0; i < live; i++) kill(others[i], SIGKILL);
  for (int i = 0; i < live; i++) waitpid(others[i], NULL, 0);
  return 0;
}
