// What runs in a child made with CLONE_VM: it shares every page with Node's threads until
// it execs, so it may not touch libc (errno and locks are the parent thread's), malloc or V8.
// Raw syscalls only, returning -errno; and the entry trampoline clone3 needs, since a
// CLONE_VM child on a new stack cannot return through compiled C frames.
#pragma once

#include <cstdint>

namespace pidfd {

#if defined(__x86_64__)

inline long RawSyscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}

#elif defined(__aarch64__)

inline long RawSyscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}

#else
#error "spawn needs a raw syscall and clone3 trampoline for this architecture"
#endif

// clone3(args, size), then, in the child only, exit(fn(arg)) on the stack args names.
// Returns what clone3 returned in the parent: the child's pid, or -errno.
extern "C" long PidfdClone3(void* args, unsigned long size, int (*fn)(void*), void* arg);

}  // namespace pidfd
