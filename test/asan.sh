#!/usr/bin/env bash
# Runs the test suite against an AddressSanitizer + UBSan build of the addon, then rebuilds
# the normal one. (valgrind 3.19 does not know the pidfd syscalls: they return ENOSYS there.)
#   npm run test:asan [-- vitest args]
# Its vitest report is vitest-asan.json: the normal run's vitest.json stays as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize="-g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
build() { npx node-gyp rebuild --jobs max --loglevel=warn >/dev/null; }
# ASan reports go to files here, so that one from a child whose stderr and exit status a
# test ignores is not lost (some children run as nobody). UBSan cannot follow (its log_path
# lands in ASan's copy of the runtime): its reports are looked for in the output.
logs="$(mktemp -d)"
chmod 1777 "$logs"
# A failed rebuild would leave the ASan build behind, which no plain node can load: say so.
trap 'rm -rf "$logs"; build || { echo "asan.sh: could not rebuild the normal addon" >&2; exit 1; }' EXIT
CXXFLAGS="$sanitize" LDFLAGS="$sanitize" build
# Without the runtime linked in, every test would pass without checking anything.
# (ldd's output read whole first: `grep -q` quits at the first match, and under pipefail
# ldd's SIGPIPE then failed this check at random.)
libraries="$(ldd build/Release/pidfd.node)"
if ! grep -q libasan <<<"$libraries"; then
  echo "asan.sh: build/Release/pidfd.node is not built with ASan" >&2
  exit 1
fi

# Node itself is not built with ASan: preload the runtime; Node's own allocations at exit
# are not ours to judge, so leak checking stays off. Child processes inherit the preload:
# ASan must leave their signals alone (the core dump test kills one with SIGSEGV).
# With the runtime every node process starts about 5 times slower, and `pidfd check` runs 10
# times slower (measured on 2 cores): PIDFD_TIME_SCALE stretches the tests' time budgets,
# and vitest's own per-test timeout (30 s in vitest.config.mts) with them.
scale="${PIDFD_TIME_SCALE:-10}"
timeout="$(node -p "30000 * $scale")"
status=0
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:handle_segv=0:handle_abort=0:log_path=$logs/asan" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  PIDFD_TIME_SCALE="$scale" \
  npx vitest run --testTimeout="$timeout" --hookTimeout="$timeout" \
    --outputFile.json=node_modules/.cache/pidfd/vitest-asan.json "$@" 2>&1 | tee "$logs/output" || status=$?
if grep -qE ': runtime error: ' "$logs/output"; then
  echo "asan.sh: UBSan reported undefined behaviour (above)" >&2
  status=1
fi
for report in "$logs"/asan.*; do
  [ -e "$report" ] || continue
  echo "=== $(basename "$report")" >&2
  cat "$report" >&2
  echo "asan.sh: ASan report above" >&2
  status=1
done
exit "$status"
