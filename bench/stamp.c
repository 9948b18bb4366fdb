// A child for bench/exit.js: sleeps DELAY_MS (so its parent is idle, waiting), writes the
// CLOCK_MONOTONIC time in ns (the clock process.hrtime uses) to FILE, and exits at once.
// Usage: stamp FILE DELAY_MS
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  struct timespec delay = {0, atol(argv[2]) * 1000000L};
  nanosleep(&delay, NULL);
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600);
  char text[32];
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  int n = snprintf(text, sizeof text, "%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
  if (fd < 0 || write(fd, text, n) != n) return 1;
  _exit(0);
}
