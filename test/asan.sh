#!/usr/bin/env bash
# Runs the test suite against an AddressSanitizer + UBSan build of the addon, then rebuilds
# the normal one. (valgrind 3.19 does not know the pidfd syscalls: they return ENOSYS there.)
#   npm run test:asan [-- vitest args]
# Its vitest report is vitest-asan.json: the normal run's vitest.json stays as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize="-g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
build() { npx node-gyp rebuild --jobs max --loglevel=warn >/dev/null; }
work="$(mktemp -d)"
chmod 755 "$work"
# A failed rebuild would leave the ASan build behind, which no plain node can load: say so.
trap 'rm -rf "$work"; build || { echo "asan.sh: could not rebuild the normal addon" >&2; exit 1; }' EXIT
CXXFLAGS="$sanitize" LDFLAGS="$sanitize" build
# Without the runtime linked in, every test would pass without checking anything.
# (ldd's output read whole first: `grep -q` quits at the first match, and under pipefail
# ldd's SIGPIPE then failed this check at random.)
libraries="$(ldd build/Release/pidfd.node)"
if ! grep -q libasan <<<"$libraries"; then
  echo "asan.sh: build/Release/pidfd.node is not built with ASan" >&2
  exit 1
fi

# Node itself is not built with ASan, and the runtime must be loaded first. LD_PRELOAD would
# reach every child too: each sh, true or sleep then starts 7 times slower, procps' ps hangs
# (a lock in textdomain()), and `env -i` drops it. So the runtimes go into a copy of node
# (DT_NEEDED), which the tests and their node subprocesses run as process.execPath.
if ! command -v patchelf >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # A new machine may have no package lists yet: update once if the install fails.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null; }
  else
    echo "asan.sh: needs patchelf (apt-get install patchelf)" >&2
    exit 1
  fi
fi
# The options are compiled in (a library ahead of the runtime, whose weak defaults it
# overrides), so that children started with an empty environment keep them.
# Node's own allocations at exit are not ours to judge, so leak checking stays off. ASan must
# leave signals alone (the core dump test kills a child with SIGSEGV). Its reports go to
# files, so that one from a child whose stderr and exit status a test ignores is not lost
# (some children run as nobody). UBSan cannot follow (its log_path lands in ASan's copy of
# the runtime): its reports are looked for in the output.
mkdir -m 1777 "$work/logs"
gcc -shared -fPIC -nostdlib -o "$work/libasan-options.so" -x c - <<C
const char *__asan_default_options(void) {
  return "verify_asan_link_order=0:detect_leaks=0:abort_on_error=1:handle_segv=0:handle_abort=0:log_path=$work/logs/asan";
}
const char *__ubsan_default_options(void) { return "print_stacktrace=1:halt_on_error=1"; }
C
soname() { readelf -d "$(gcc -print-file-name="$1")" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
cp "$(readlink -f "$(command -v node)")" "$work/node"
# Each --add-needed goes in front: the options, then ASan, then UBSan, then node's own.
for library in "$(soname libubsan.so)" "$(soname libasan.so)" "$work/libasan-options.so"; do
  patchelf --add-needed "$library" "$work/node"
done

# Under ASan a node process starts 4.5 times slower, `pidfd check` runs 3.5 to 10 times
# slower and whole tests up to 5.4 times (measured on 2 cores): PIDFD_TIME_SCALE stretches
# the tests' time budgets, and vitest's per-test timeout (30 s in vitest.config.mts) too.
scale="${PIDFD_TIME_SCALE:-5}"
timeout="$(node -p "30000 * $scale")"
status=0
PATH="$work:$PATH" PIDFD_TIME_SCALE="$scale" \
  "$work/node" node_modules/vitest/vitest.mjs run --testTimeout="$timeout" --hookTimeout="$timeout" \
    --outputFile.json=node_modules/.cache/pidfd/vitest-asan.json "$@" 2>&1 | tee "$work/output" || status=$?
if grep -qE ': runtime error: ' "$work/output"; then
  echo "asan.sh: UBSan reported undefined behaviour (above)" >&2
  status=1
fi
for report in "$work"/logs/asan.*; do
  [ -e "$report" ] || continue
  echo "=== $(basename "$report")" >&2
  cat "$report" >&2
  echo "asan.sh: ASan report above" >&2
  status=1
done
exit "$status"
