// Reaping the children a Worker leaves running. A Worker's children are reaped by its own
// event loop (lib/subprocess.ts); once the Worker is gone nobody would reap them (libuv
// waits only for pids of its own), and each would stay a zombie until this process exits.
// So when an environment other than the main thread is torn down, a duplicate of each of
// its children's pidfds goes to one process-wide thread, which waits for each child to exit
// and reaps it. (On the main thread, teardown means the process is exiting: the children go
// to their new parent, as child_process's do.)
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <vector>

#include "addon.h"
#include "compat.h"

namespace pidfd {

namespace {

// Never destroyed: the reaper thread may still be running while the process exits.
std::mutex& handed_lock = *new std::mutex;
std::vector<int>& handed = *new std::vector<int>;  // pidfds handed over, not yet polled by the reaper thread
int wake_fd = -1;  // eventfd the reaper thread polls for new arrivals; -1 until it runs

// Reaps the child if it has exited; true once there is nothing left to wait for (reaped
// now, or already reaped by someone else).
bool Reaped(int fd) {
  siginfo_t info = {};
  while (waitid(static_cast<idtype_t>(P_PIDFD), fd, &info, WEXITED | WNOHANG | __WALL) < 0) {
    if (errno != EINTR) return true;
  }
  return info.si_pid != 0;
}

void* ReaperLoop(void*) {
  std::vector<pollfd> polled = {{wake_fd, POLLIN, 0}};
  for (;;) {
    if (poll(polled.data(), polled.size(), -1) < 0) continue;  // EINTR
    if (polled[0].revents != 0) {
      uint64_t count;
      ssize_t drained = read(wake_fd, &count, sizeof count);  // resets the eventfd
      (void)drained;
      std::lock_guard<std::mutex> guard(handed_lock);
      for (int fd : handed) polled.push_back({fd, POLLIN, 0});
      handed.clear();
    }
    // A pidfd turns readable when its process exits.
    for (size_t i = 1; i < polled.size();) {
      if (polled[i].revents != 0 && Reaped(polled[i].fd)) {
        close(polled[i].fd);
        polled[i] = polled.back();
        polled.pop_back();
      } else {
        i++;
      }
    }
  }
  return nullptr;
}

// Starts the reaper thread once (called with handed_lock held). The addon is pinned in
// memory first, since the thread runs its code for the rest of the process's life; the
// thread blocks every signal, so it never takes one meant for Node.
bool StartReaper() {
  if (wake_fd >= 0) return true;
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&ReaperLoop), &self) == 0 || dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr)
    return false;
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return false;
  wake_fd = fd;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  int rc = pthread_create(&thread, nullptr, ReaperLoop, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    close(fd);
    wake_fd = -1;
    return false;
  }
  pthread_detach(thread);
  return true;
}

// The environment's cleanup hook: hands a duplicate of the pidfd of each child still
// running to the reaper thread. The originals are closed with the rest of the owned fds.
void HandOver(void* arg) {
  State& state = *static_cast<State*>(arg);
  if (syscall(SYS_gettid) == getpid()) return;  // the main thread: the process is exiting
  std::vector<int> running;
  for (size_t fd = 0; fd < state.child_fds.size(); fd++) {
    if (!state.child_fds[fd] || Reaped(static_cast<int>(fd))) continue;
    int copy = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
    if (copy >= 0) running.push_back(copy);
  }
  if (running.empty()) return;
  std::lock_guard<std::mutex> guard(handed_lock);
  if (!StartReaper()) {
    for (int fd : running) close(fd);  // nothing to hand them to: zombies until the process exits
    return;
  }
  handed.insert(handed.end(), running.begin(), running.end());
  uint64_t one = 1;
  ssize_t woken = write(wake_fd, &one, sizeof one);  // cannot fail short of 2^64 - 1 arrivals
  (void)woken;
}

// ownChild(fd): fd, owned, is a pidfd of a child this environment must reap: at a Worker's
// teardown, the reaper takes the child over if it still runs. No syscall.
Napi::Value OwnChild(const Napi::CallbackInfo& info) {
  StateOf(info.Env()).OwnChild(Int32Arg(info, 0, "fd"));
  return info.Env().Undefined();
}

}  // namespace

void InitReaper(Napi::Env env, Napi::Object exports) {
  // Registered after the State, so it runs before the State's finalizer closes the fds.
  napi_add_env_cleanup_hook(env, HandOver, &StateOf(env));
  exports.Set("ownChild", Napi::Function::New<OwnChild>(env, "ownChild"));
}

}  // namespace pidfd
