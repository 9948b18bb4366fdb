#!/usr/bin/env bash
# Runs the test suite against an AddressSanitizer + UBSan build of the addon, then rebuilds
# the normal one. (valgrind 3.19 does not know the pidfd syscalls: they return ENOSYS there.)
#   npm run test:asan
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
trap 'npx node-gyp rebuild >/dev/null' EXIT
CXXFLAGS="$sanitize" LDFLAGS="$sanitize" npx node-gyp rebuild >/dev/null
# Node itself is not built with ASan: preload the runtime; Node's own allocations at exit
# are not ours to judge, so leak checking stays off. Child processes inherit the preload:
# ASan must leave their signals alone (the core dump test kills one with SIGSEGV).
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:handle_segv=0:handle_abort=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  npx vitest run "$@"
