// Making a child with its pidfd in one step.
//
// clone3(CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_CLEAR_SIGHAND [| CLONE_INTO_CGROUP])
// on a stack of its own: no page tables are copied (spawning costs the same at any heap
// size), the pidfd exists from the child's first instruction, and this thread waits until
// the child has exec'd or failed. Where clone3 is refused (ENOSYS, EPERM from container
// seccomp filters) or lacks a flag, glibc's clone() with CLONE_PIDFD; as the last resort
// posix_spawn + pidfd_open (race-free too: nobody else reaps our children).
//
// The child shares memory with every Node thread: it runs ChildMain on raw syscalls only
// (native/child.h), with every signal blocked until just before execve, and reports a
// failure by writing errno into the plan, which this thread reads once it wakes up.
// exit_signal is 0, but only until execve: exec makes it SIGCHLD again (fs/exec.c), so a
// child that fails before exec sends none, and one that runs a program sends SIGCHLD as
// any child does (libuv's SIGCHLD loop only waits for pids of its own). Waits use __WALL.
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "addon.h"
#include "child.h"
#include "compat.h"
#include "errno.h"

// The clone3 trampoline: clone3(args, size); the child calls fn(arg) on its new stack and
// exits with what it returns; the parent returns the pid or -errno.
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl PidfdClone3\n"
    ".hidden PidfdClone3\n"
    ".type PidfdClone3, @function\n"
    "PidfdClone3:\n"
    "  movq %rcx, %r8\n"          // arg survives the syscall in r8 (rdx, fn, does too)
    "  movl $435, %eax\n"         // SYS_clone3
    "  syscall\n"
    "  testq %rax, %rax\n"
    "  jz 1f\n"
    "  ret\n"
    "1:\n"
    "  xorl %ebp, %ebp\n"          // the outermost frame
    "  movq %r8, %rdi\n"
    "  callq *%rdx\n"
    "  movl %eax, %edi\n"
    "  movl $60, %eax\n"          // SYS_exit
    "  syscall\n"
    "  ud2\n"
    ".size PidfdClone3, .-PidfdClone3\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl PidfdClone3\n"
    ".hidden PidfdClone3\n"
    ".type PidfdClone3, %function\n"
    "PidfdClone3:\n"
    "  mov x9, x2\n"               // fn and arg survive the syscall in x9, x10
    "  mov x10, x3\n"
    "  mov x8, #435\n"             // SYS_clone3
    "  svc #0\n"
    "  cbz x0, 1f\n"
    "  ret\n"
    "1:\n"
    "  mov x29, #0\n"              // the outermost frame
    "  mov x30, #0\n"
    "  mov x0, x10\n"
    "  blr x9\n"
    "  mov x8, #93\n"              // SYS_exit
    "  svc #0\n"
    "  brk #0\n"
    ".size PidfdClone3, .-PidfdClone3\n");
#endif

namespace pidfd {

namespace {

constexpr uint64_t kCloneVm = 0x100, kCloneVfork = 0x4000, kClonePidfd = 0x1000;
constexpr uint64_t kCloneClearSighand = 1ULL << 32, kCloneIntoCgroup = 1ULL << 33, kCloneAutoreap = 1ULL << 34;
constexpr size_t kStackSize = 64 * 1024, kGuardSize = 4096;

enum Method { kAuto = 0, kClone3 = 1, kClone = 2, kPosixSpawn = 3 };

// struct clone_args up to CLONE_ARGS_SIZE_VER2 (Linux 5.7, with `cgroup`).
struct CloneArgs {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
static_assert(sizeof(CloneArgs) == 88, "CLONE_ARGS_SIZE_VER2");

// The kernel's struct sigaction (SA_RESTORER layout: x86-64 and arm64 alike).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

// Everything the child needs, prepared in C memory by the parent before clone. The child
// writes only `stdio` (its moves) and `err`/`step`.
struct ChildPlan {
  std::vector<std::string> path_store, argv_store, env_store;
  std::vector<char*> paths, argv, sh_argv, env;
  std::string cwd;
  bool has_cwd = false;
  std::vector<int> stdio;
  int uid = -1, gid = -1, pgid = -1, pdeath_signal = 0, cgroup_fd = -1;
  bool setsid = false;
  uint64_t flags = 0;
  pid_t parent_pid = 0;
  int close_limit = 1024;  // how far to close fds where close_range(2) is missing
  // Raw views of the above for the child, which calls no C++ library code.
  char** path_list = nullptr;
  char** argv_list = nullptr;
  char** sh_list = nullptr;
  char** env_list = nullptr;
  const char* cwd_path = nullptr;
  int* stdio_list = nullptr;
  int stdio_count = 0;
  // Written by the child on failure.
  int err = 0;
  const char* step = nullptr;
};

#define PIDFD_CHILD __attribute__((noinline, no_sanitize("address", "undefined")))

PIDFD_CHILD int Fail(ChildPlan* p, long rc, const char* step) {
  p->err = static_cast<int>(-rc);
  p->step = step;
  return 127;
}

// Places each requested fd at its number; everything else stays out of the program.
PIDFD_CHILD int SetUpFds(ChildPlan* p) {
  int n = p->stdio_count;
  int* src = p->stdio_list;
  long rc;
  // A source below its target could be overwritten by an earlier dup (swapping 1 and 2):
  // move it above the range first.
  for (int fd = 0; fd < n; fd++) {
    if (src[fd] >= 0 && src[fd] < fd) {
      if ((rc = RawSyscall(SYS_fcntl, src[fd], F_DUPFD_CLOEXEC, n)) < 0) return Fail(p, rc, "fcntl");
      src[fd] = static_cast<int>(rc);
    }
  }
  for (int fd = 0; fd < n; fd++) {
    int from = src[fd];
    if (from == -2) {
      RawSyscall(SYS_close, fd);
      continue;
    }
    if (from == -1) {
      if ((rc = RawSyscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/dev/null"), fd == 0 ? O_RDONLY : O_RDWR, 0)) < 0)
        return Fail(p, rc, "open");
      from = static_cast<int>(rc);
      if (from == fd) continue;
      rc = RawSyscall(SYS_dup3, from, fd, 0);
      RawSyscall(SYS_close, from);
      if (rc < 0) return Fail(p, rc, "dup3");
    } else if (from == fd) {
      if ((rc = RawSyscall(SYS_fcntl, fd, F_SETFD, 0)) < 0) return Fail(p, rc, "fcntl");
    } else if ((rc = RawSyscall(SYS_dup3, from, fd, 0)) < 0) {
      return Fail(p, rc, "dup3");
    }
    // As libuv does for child_process: the program gets blocking stdio.
    if (fd <= 2) {
      long fl = RawSyscall(SYS_fcntl, fd, F_GETFL);
      if (fl >= 0 && (fl & O_NONBLOCK)) RawSyscall(SYS_fcntl, fd, F_SETFL, fl & ~O_NONBLOCK);
    }
  }
  if (RawSyscall(SYS_close_range, n, ~0U, 0) == -ENOSYS) {  // before Linux 5.9
    for (int fd = n; fd < p->close_limit; fd++) RawSyscall(SYS_close, fd);
  }
  return 0;
}

// execvp's rules over the candidates the parent found on PATH: ENOEXEC runs the file with
// /bin/sh; EACCES wins over ENOENT at the end; any other error stops the search.
PIDFD_CHILD int Exec(ChildPlan* p) {
  long rc = -ENOENT;
  bool eacces = false;
  for (char** path = p->path_list; *path != nullptr; path++) {
    rc = RawSyscall(SYS_execve, reinterpret_cast<long>(*path), reinterpret_cast<long>(p->argv_list), reinterpret_cast<long>(p->env_list));
    if (rc == -ENOEXEC) {
      p->sh_list[1] = *path;
      rc = RawSyscall(SYS_execve, reinterpret_cast<long>(p->sh_list[0]), reinterpret_cast<long>(p->sh_list), reinterpret_cast<long>(p->env_list));
    }
    if (rc == -EACCES) eacces = true;
    else if (rc != -ENOENT && rc != -ENOTDIR && rc != -ESTALE && rc != -ENODEV && rc != -ETIMEDOUT) break;
  }
  return Fail(p, eacces ? -EACCES : rc, "execve");
}

// The child: in libuv's order (session, group, fds, cwd, ids), then the parent-death
// signal (cleared by an id change, so after it), default signal handlers, an empty mask,
// exec. Signals stay blocked until the very end, so no handler of Node's runs here.
PIDFD_CHILD int ChildMain(void* arg) {
  ChildPlan* p = static_cast<ChildPlan*>(arg);
  long rc;
  if (p->setsid && (rc = RawSyscall(SYS_setsid)) < 0) return Fail(p, rc, "setsid");
  if (p->pgid >= 0 && (rc = RawSyscall(SYS_setpgid, 0, p->pgid)) < 0) return Fail(p, rc, "setpgid");
  if ((rc = SetUpFds(p)) != 0) return static_cast<int>(rc);
  if (p->cwd_path != nullptr && (rc = RawSyscall(SYS_chdir, reinterpret_cast<long>(p->cwd_path))) < 0) return Fail(p, rc, "chdir");
  if (p->uid != -1 || p->gid != -1) {
    RawSyscall(SYS_setgroups, 0, 0);  // drops root's extra groups; fails harmlessly otherwise
    if (p->gid != -1 && (rc = RawSyscall(SYS_setgid, p->gid)) < 0) return Fail(p, rc, "setgid");
    if (p->uid != -1 && (rc = RawSyscall(SYS_setuid, p->uid)) < 0) return Fail(p, rc, "setuid");
  }
  if (p->pdeath_signal != 0) {
    if ((rc = RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, p->pdeath_signal)) < 0) return Fail(p, rc, "prctl");
    // The parent may have died before the prctl: then nobody will send it. (Still blocked,
    // the signal is delivered when the mask is cleared below, before exec.)
    if (RawSyscall(SYS_getppid) != p->parent_pid) RawSyscall(SYS_kill, RawSyscall(SYS_getpid), p->pdeath_signal);
  }
  KernelSigaction dfl = {nullptr, 0, nullptr, 0};  // SIG_DFL is 0
  for (int sig = 1; sig < 32; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) RawSyscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, 8);
  }
  uint64_t empty = 0;
  RawSyscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&empty), 0, 8);
  return Exec(p);
}

// ---- the parent -----------------------------------------------------------------------

std::vector<std::string> Strings(Napi::Env env, Napi::Object plan, const char* name) {
  Napi::Value value = plan.Get(name);
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string("plan.") + name + " must be an array of strings");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<std::string> out;
  out.reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value item = array.Get(i);
    if (!item.IsString()) throw Napi::TypeError::New(env, std::string("plan.") + name + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

int Int(Napi::Env env, Napi::Object plan, const char* name) {
  Napi::Value value = plan.Get(name);
  if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string("plan.") + name + " must be a number");
  return value.As<Napi::Number>().Int32Value();
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

void ReadPlan(Napi::Env env, Napi::Object js, ChildPlan& p) {
  p.path_store = Strings(env, js, "paths");
  p.argv_store = Strings(env, js, "argv");
  p.env_store = Strings(env, js, "env");
  p.paths = Pointers(p.path_store);
  p.argv = Pointers(p.argv_store);
  p.env = Pointers(p.env_store);
  // execvp's fallback for a file without #!: /bin/sh FILE ARGS... (FILE set in the child).
  static char sh[] = "/bin/sh";
  p.sh_argv = {sh, nullptr};
  for (size_t i = 1; i < p.argv_store.size(); i++) p.sh_argv.push_back(&p.argv_store[i][0]);
  p.sh_argv.push_back(nullptr);
  Napi::Value cwd = js.Get("cwd");
  if (cwd.IsString()) {
    p.cwd = cwd.As<Napi::String>().Utf8Value();
    p.has_cwd = true;
  }
  Napi::Value stdio = js.Get("stdio");
  if (!stdio.IsArray()) throw Napi::TypeError::New(env, "plan.stdio must be an array of numbers");
  Napi::Array array = stdio.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) p.stdio.push_back(array.Get(i).As<Napi::Number>().Int32Value());
  p.uid = Int(env, js, "uid");
  p.gid = Int(env, js, "gid");
  p.pgid = Int(env, js, "pgid");
  p.setsid = js.Get("setsid").ToBoolean();
  p.pdeath_signal = Int(env, js, "pdeathSignal");
  p.cgroup_fd = Int(env, js, "cgroupFd");
  bool lossless;
  p.flags = js.Get("flags").As<Napi::BigInt>().Uint64Value(&lossless);
  p.parent_pid = getpid();
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) p.close_limit = limit.rlim_cur > 65536 ? 65536 : static_cast<int>(limit.rlim_cur);
  p.path_list = p.paths.data();
  p.argv_list = p.argv.data();
  p.sh_list = p.sh_argv.data();
  p.env_list = p.env.data();
  p.cwd_path = p.has_cwd ? p.cwd.c_str() : nullptr;
  p.stdio_list = p.stdio.data();
  p.stdio_count = static_cast<int>(p.stdio.size());
}

// The child's stack, made once per environment: a guard page below 64 KiB.
void* ChildStack(State& state) {
  if (state.child_stack == nullptr) {
    void* base = mmap(nullptr, kGuardSize + kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    mprotect(base, kGuardSize, PROT_NONE);
    state.child_stack = base;
  }
  return static_cast<char*>(state.child_stack) + kGuardSize;
}

// Runs make() with every signal blocked in this thread, so that the child starts with no
// handler of Node's able to run on its stack; returns its result with errno preserved.
template <typename F>
long WithSignalsBlocked(F make) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  long rc = make();
  int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return rc;
}

// Returns the pid, or -errno; the pidfd goes to *pidfd.
long ViaClone3(void* stack, ChildPlan& p, int* pidfd) {
  CloneArgs args = {};
  args.flags = kCloneVm | kCloneVfork | kClonePidfd | kCloneClearSighand | p.flags;
  if (p.cgroup_fd >= 0) {
    args.flags |= kCloneIntoCgroup;
    args.cgroup = static_cast<uint64_t>(p.cgroup_fd);
  }
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.stack = reinterpret_cast<uint64_t>(stack);
  args.stack_size = kStackSize;
  return WithSignalsBlocked([&] { return PidfdClone3(&args, sizeof args, ChildMain, &p); });
}

long ViaClone(void* stack, ChildPlan& p, int* pidfd) {
  if (p.cgroup_fd >= 0 || p.flags != 0) return -ENOTSUP;  // clone3-only: never silently dropped
  // exit signal 0 in the low byte; the pidfd comes back through parent_tid.
  int flags = static_cast<int>(kCloneVm | kCloneVfork | kClonePidfd);
  long pid = WithSignalsBlocked([&] { return clone(ChildMain, static_cast<char*>(stack) + kStackSize, flags, &p, pidfd); });
  return pid < 0 ? -errno : pid;
}

using AddChdir = int (*)(posix_spawn_file_actions_t*, const char*);
using AddClosefrom = int (*)(posix_spawn_file_actions_t*, int);

// posix_spawn + pidfd_open: for where CLONE_PIDFD and CLONE_VM are refused. No ids, parent
// death signal, cgroup or extra flags. The glibc extensions for cwd (2.29) and for closing
// the fds past stdio (2.34) are looked up at run time, so the binary needs no newer glibc.
long ViaPosixSpawn(ChildPlan& p, int* pidfd) {
  if (p.uid != -1 || p.gid != -1 || p.pdeath_signal != 0 || p.cgroup_fd >= 0 || p.flags != 0) {
    p.step = "posix_spawn";
    return -ENOTSUP;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  int n = static_cast<int>(p.stdio.size());
  int spare = n;  // moves through fds above every source and target, as SetUpFds does
  for (int from : p.stdio) spare = from >= spare ? from + 1 : spare;
  for (int fd = 0; fd < n; fd++)
    if (p.stdio[fd] >= 0) posix_spawn_file_actions_adddup2(&actions, p.stdio[fd], spare + fd);
  for (int fd = 0; fd < n; fd++) {
    int from = p.stdio[fd];
    if (from >= 0) {
      posix_spawn_file_actions_adddup2(&actions, spare + fd, fd);
      posix_spawn_file_actions_addclose(&actions, spare + fd);
    } else if (from == -1) {
      posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_RDWR, 0);
    } else if (fcntl(fd, F_GETFD) >= 0) {
      posix_spawn_file_actions_addclose(&actions, fd);
    }
  }
  int rc = 0;
  if (p.has_cwd) {
    auto add_chdir = reinterpret_cast<AddChdir>(dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addchdir_np"));
    rc = add_chdir == nullptr ? ENOTSUP : add_chdir(&actions, p.cwd.c_str());
  }
  auto add_closefrom = reinterpret_cast<AddClosefrom>(dlsym(RTLD_DEFAULT, "posix_spawn_file_actions_addclosefrom_np"));
  if (add_closefrom != nullptr) add_closefrom(&actions, n);  // else O_CLOEXEC is all there is
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 1; sig < 32; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaddset(&set, sig);
  posix_spawnattr_setsigdefault(&attr, &set);
  sigemptyset(&set);
  posix_spawnattr_setsigmask(&attr, &set);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (p.setsid) flags |= POSIX_SPAWN_SETSID;
  if (p.pgid >= 0) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attr, p.pgid);
  }
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid = -1;
  bool eacces = false;
  for (size_t i = 0; rc == 0 || rc == ENOENT || rc == ENOTDIR || rc == EACCES; i++) {
    if (p.paths[i] == nullptr) break;
    rc = posix_spawn(&pid, p.paths[i], &actions, &attr, p.argv.data(), p.env.data());
    if (rc == ENOEXEC) {
      p.sh_argv[1] = p.paths[i];
      rc = posix_spawn(&pid, p.sh_argv[0], &actions, &attr, p.sh_argv.data(), p.env.data());
    }
    if (rc == 0) break;
    eacces = eacces || rc == EACCES;
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    p.step = "posix_spawn";
    return -(eacces ? EACCES : rc);
  }
  *pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (*pidfd < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    p.step = "pidfd_open";
    return -err;
  }
  return pid;
}

// Refused outright, or a flag unknown: worth the next method only if nothing that method
// lacks was asked for.
bool WorthFallingBack(long rc, const ChildPlan& p) {
  return (rc == -ENOSYS || rc == -EPERM || rc == -EINVAL) && p.cgroup_fd < 0 && p.flags == 0;
}

// spawn(plan): makes the child; returns { pid, pidfd, method } once it has exec'd. See
// SpawnPlan in lib/binding.ts. Errors name the step that failed (see there).
Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "The \"plan\" argument must be an object");
  ChildPlan p;
  ReadPlan(env, info[0].As<Napi::Object>(), p);
  int method = Int(env, info[0].As<Napi::Object>(), "method");
  if (method < kAuto || method > kPosixSpawn) throw Napi::RangeError::New(env, "plan.method must be 0 to 3");
  State& state = StateOf(env);
  int pidfd = -1;
  long pid = -ENOSYS;
  int used = kAuto;
  const char* step = nullptr;
  if (method == kAuto || method == kClone3 || method == kClone) {
    void* stack = ChildStack(state);
    if (stack == nullptr) throw ErrnoException(env, errno, "mmap");
    if (method != kClone) {
      used = kClone3;
      pid = ViaClone3(stack, p, &pidfd);
      step = "clone3";
    }
    if (method == kClone || (method == kAuto && pid < 0 && p.err == 0 && WorthFallingBack(pid, p))) {
      used = kClone;
      pid = ViaClone(stack, p, &pidfd);
      step = "clone";
    }
  }
  if (method == kPosixSpawn || (method == kAuto && pid < 0 && p.err == 0 && WorthFallingBack(pid, p))) {
    used = kPosixSpawn;
    pid = ViaPosixSpawn(p, &pidfd);
    step = p.step;
  }
  if (pid < 0) throw ErrnoException(env, static_cast<int>(-pid), step != nullptr ? step : "spawn");
  if (p.err != 0) {
    // The child failed before exec and has exited: reap it (unless the kernel did).
    siginfo_t si;
    while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR) {
    }
    close(pidfd);
    throw ErrnoException(env, p.err, p.step);
  }
  // An autoreaped child is nobody's to reap: a Worker's teardown closes its pidfd (which,
  // with CLONE_PIDFD_AUTOKILL, ends it) like any other owned fd.
  if ((p.flags & kCloneAutoreap) != 0) state.Own(pidfd);
  else state.OwnChild(pidfd);
  Napi::Object result = Napi::Object::New(env);
  result.Set("pid", Napi::Number::New(env, static_cast<double>(pid)));
  result.Set("pidfd", Napi::Number::New(env, pidfd));
  result.Set("method", Napi::Number::New(env, used));
  return result;
}

// clone3Errno(flags, size): what clone3 says to `flags` (bigint; CLONE_INTO_CGROUP is
// added, on a cgroup fd that cannot be open, with `size` bytes of clone_args): 0 or the
// errno, EBADF meaning every flag is known. No process is ever made: the cgroup fd is
// looked up before the child exists. Should a kernel make one anyway, it is not CLONE_VM,
// exits at once, and is reaped here. Size 0 asks only whether clone3 exists (EINVAL).
Napi::Value Clone3Errno(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBigInt()) throw Napi::TypeError::New(env, "The \"flags\" argument must be a bigint");
  bool lossless;
  CloneArgs args = {};
  args.flags = (info[0].As<Napi::BigInt>().Uint64Value(&lossless) & ~(kCloneVm | kCloneVfork)) | kCloneIntoCgroup;
  args.cgroup = 0x7fffffff;
  uint32_t size = Uint32Arg(info, 1, "size");
  if (size > sizeof args) throw Napi::RangeError::New(env, "size is at most 88");
  int pidfd = -1;
  if ((args.flags & kClonePidfd) != 0) args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  long pid = syscall(SYS_clone3, size == 0 ? nullptr : &args, size);
  if (pid == 0) RawSyscall(SYS_exit_group, 127);
  int err = pid < 0 ? errno : 0;
  if (pid > 0) {
    siginfo_t si;
    while (waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | __WALL) < 0 && errno == EINTR) {
    }
    if (pidfd >= 0) close(pidfd);
  }
  return Napi::Number::New(env, err);
}

}  // namespace

void FreeChildStack(State& state) {
  if (state.child_stack != nullptr) munmap(state.child_stack, kGuardSize + kStackSize);
  state.child_stack = nullptr;
}

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New<Spawn>(env, "spawn"));
  exports.Set("clone3Errno", Napi::Function::New<Clone3Errno>(env, "clone3Errno"));
}

}  // namespace pidfd
