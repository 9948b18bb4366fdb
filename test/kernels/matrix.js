#!/usr/bin/env node
// The kernel matrix: boots Debian's 6.1 (bookworm), 6.12 (bookworm-backports), 7.0
// (trixie-backports) and 7.2 (sid) cloud kernels under qemu (TCG, one CPU; KVM does not work
// on these machines), one guest after another, with a small initramfs holding busybox, node,
// dash, bash, setpriv, ps and this package (dist/, the addon, lib/, the vitest files of
// GUEST_TESTS with vitest's dependency closure). In each guest it runs test/kernels/guest.js
// (what must hold on that kernel), `pidfd check --json` and vitest on GUEST_TESTS, prints a
// line per guest and fails on any failed expectation, check or test, timeout or missing
// report of a guest that booted. A kernel whose package cannot be had (mirror down) is
// skipped, with the reason. Each guest's vitest JSON report goes to
// node_modules/.cache/pidfd/vitest-kernel-<kernel>.json (PIDFD_KERNEL_REPORTS), where
// .ci/run counts it.
//
// Kernel packages are cached in ${XDG_CACHE_HOME:-~/.cache}/pidfd/kernels (PIDFD_KERNEL_CACHE)
// and used from there when the mirror is unreachable; a fresh machine downloads them. Run
// with `npm run test:kernels` (as root: it may apt-get install qemu-system-x86 and
// busybox-static) after building (build/Release/pidfd.node, dist/). `PIDFD_KERNELS=7.2` runs
// one kernel, `PIDFD_GUEST_TESTS=0` leaves vitest out, `PIDFD_KERNEL_LOG=prefix` keeps each
// guest's console in prefix-<kernel>.log. Nothing is installed into /boot; every temporary
// file goes at the end.
'use strict'

/** The vitest files every guest runs (globs on the file name, relative to the package). */
const GUEST_TESTS = [
  'test/spawn*.test.ts',
  'test/exit.test.ts',
  'test/identity.test.ts',
  'test/signals.test.ts',
  'test/clone.test.ts',
  'test/lifecycle.test.ts',
]
/**
 * Tests (by name) left out in the guests: they say nothing about the kernel and take
 * minutes under emulation. The fd/RSS leak test makes 10,000 spawns (3 minutes in a 7.2
 * guest), the 1,000 concurrent children of exit.test.ts take 160 s there; the host runs both
 * in `npm test`.
 */
const GUEST_LEFT_OUT = ['leave the fd count and RSS flat', 'resolves 1,000 concurrent children']

const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')

const root = path.join(__dirname, '..', '..')
/** How much slower than the host a TCG guest is (tests stretch their time budgets by it). */
const TIME_SCALE = Number(process.env.PIDFD_GUEST_TIME_SCALE ?? 10)
/** The whole vitest run in one guest, then a boot as a whole. */
const VITEST_TIMEOUT_MS = Number(process.env.PIDFD_GUEST_VITEST_TIMEOUT_MS ?? 600_000)
const BOOT_TIMEOUT_MS = Number(process.env.PIDFD_BOOT_TIMEOUT_MS ?? VITEST_TIMEOUT_MS + 150_000)
/** From qemu's start to the init script (5 to 17 s seen): a guest kernel that hangs is cut short. */
const INIT_TIMEOUT_MS = Number(process.env.PIDFD_INIT_TIMEOUT_MS ?? 120_000)
const GUEST_MEMORY = process.env.PIDFD_GUEST_MEMORY ?? '2048'
const RUN_TESTS = process.env.PIDFD_GUEST_TESTS !== '0'
const CACHE = process.env.PIDFD_KERNEL_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'pidfd', 'kernels')
const REPORTS = process.env.PIDFD_KERNEL_REPORTS ?? path.join(root, 'node_modules', '.cache', 'pidfd')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pidfd-kernels-'))

/** Runs one named step; a failure says which step failed. */
function step(name, run) {
  try {
    return run()
  } catch (error) {
    throw new Error(`${name} failed: ${error.message.split('\n').slice(0, 6).join('\n')}`)
  }
}

function sh(command, args, options = {}) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options })
}

function ensureTools() {
  const missing = [
    ['qemu-system-x86_64', 'qemu-system-x86'],
    ['busybox', 'busybox-static'],
  ].filter(([binary]) => {
    try {
      sh('which', [binary])
      return false
    } catch {
      return true
    }
  })
  if (missing.length === 0) return
  step('apt-get install', () => {
    sh('apt-get', ['update', '-qq'])
    sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing.map(([, pkg]) => pkg)], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  })
}

/** apt options for a private sources list, so the machine's apt configuration is untouched. */
function privateApt(name, line) {
  const dir = path.join(work, `apt-${name}`)
  fs.mkdirSync(path.join(dir, 'cache', 'archives', 'partial'), { recursive: true })
  fs.rmSync(path.join(dir, 'lists'), { recursive: true, force: true })
  fs.mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'sources.list'), `${line}\n`)
  const options = [
    '-o', `Dir::Etc::SourceList=${path.join(dir, 'sources.list')}`,
    '-o', 'Dir::Etc::SourceParts=-',
    '-o', `Dir::State::Lists=${path.join(dir, 'lists')}`,
    '-o', `Dir::Cache=${path.join(dir, 'cache')}`,
  ]
  sh('apt-get', [...options, 'update', '-qq'])
  // apt-get update says nothing when a mirror is unreachable: no package list is a failure.
  if (!fs.readdirSync(path.join(dir, 'lists')).some((f) => f.includes('Packages'))) throw new Error(`no package list from ${line}`)
  return options
}

/**
 * Package names that may hold a cloud kernel's vmlinuz for `version` (a regexp source such
 * as `7\.0`), best first. Until 6.x Debian shipped it in linux-image-<abi>-cloud-amd64-unsigned;
 * the 2026 packaging (trixie-backports' 6.19 on, sid) makes linux-image-<abi>-cloud-amd64 a
 * meta package and puts the image into linux-binary[-unsigned]-<abi>-cloud-amd64, as
 * /boot/vmlinuz-<abi> or /usr/lib/modules/<abi>/vmlinuz.unsigned.
 */
function cloudPackages(version) {
  const abi = `${version}\\.\\d+\\+[\\w.]+`
  return [`linux-image-${abi}-cloud-amd64-unsigned`, `linux-binary-unsigned-${abi}-cloud-amd64`, `linux-binary-${abi}-cloud-amd64`, `linux-image-${abi}-cloud-amd64`].map((source) => new RegExp(`^${source}$`))
}

const kernels = [
  { name: '6.1', apt: 'deb http://deb.debian.org/debian bookworm main', patterns: [/^linux-image-6\.1\.0-\d+-cloud-amd64-unsigned$/] },
  { name: '6.12', apt: 'deb http://deb.debian.org/debian bookworm-backports main', patterns: cloudPackages('6\\.12') },
  // If trixie-backports drops 7.0, its oldest 7.x is booted instead (and the output says so).
  { name: '7.0', apt: 'deb http://deb.debian.org/debian trixie-backports main', patterns: cloudPackages('7\\.0'), fallback: cloudPackages('7\\.\\d+') },
  { name: '7.2', apt: 'deb http://deb.debian.org/debian sid main', patterns: cloudPackages('7\\.2') },
]

/** Runs `attempt`, once more after a pause if it fails (a mirror's passing hiccup). */
function retried(attempt) {
  try {
    return attempt()
  } catch {
    execFileSync('sleep', ['5'])
    return attempt()
  }
}

/** PIDFD_KERNELS=6.12 (comma-separated) runs only those kernels. */
const only = process.env.PIDFD_KERNELS?.split(',')

/** The kernel version in a package name (6.1.0-50, 7.0.13), for sorting. */
const versionOf = (name) => /-(\d+\.\d+\.\d+(?:-\d+)?)[-+]/.exec(name)?.[1] ?? name
const byVersion = (a, b) => versionOf(a).localeCompare(versionOf(b), 'en', { numeric: true })

/**
 * The packages to try for a kernel among `names`: every candidate of the newest version
 * (the oldest when only the fallback patterns match), best package form first.
 */
function choose(kernel, names) {
  for (const [patterns, pick, note] of [[kernel.patterns, 'newest', undefined], [kernel.fallback ?? [], 'oldest', `no ${kernel.name} package: oldest other taken`]]) {
    const matching = names.filter((name) => patterns.some((p) => p.test(name))).sort(byVersion)
    if (matching.length === 0) continue
    const version = versionOf(pick === 'newest' ? matching.at(-1) : matching[0])
    const rank = (name) => patterns.findIndex((p) => p.test(name))
    return { note, candidates: matching.filter((name) => versionOf(name) === version).sort((a, b) => rank(a) - rank(b)) }
  }
  throw new Error(`no package matches ${kernel.patterns.join(' or ')}`)
}

const cached = (pkg) => path.join(CACHE, `${pkg}.deb`)

/**
 * Finds the newest matching kernel package (from the mirror; from the cache if the mirror is
 * unreachable), downloads it unless cached, and extracts its vmlinuz.
 */
function fetchKernel(kernel) {
  return step(`fetching the ${kernel.name} kernel`, () => {
    let options
    let choice
    let offline
    try {
      choice = retried(() => {
        options = privateApt(kernel.name, kernel.apt)
        const names = sh('apt-cache', [...options, 'search', '--names-only', '^linux-(image|binary)-.*cloud-amd64'])
          .split('\n')
          .map((line) => line.split(' ')[0])
        return choose(kernel, names)
      })
    } catch (error) {
      const names = fs.existsSync(CACHE) ? fs.readdirSync(CACHE).filter((f) => f.endsWith('.deb')).map((f) => f.slice(0, -4)) : []
      try {
        choice = choose(kernel, names)
      } catch {
        throw error
      }
      offline = `mirror unreachable (${error.message.split('\n')[0]}): cached package used`
    }
    const dir = path.join(work, `kernel-${kernel.name}`)
    for (const pkg of choice.candidates) {
      const deb = cached(pkg)
      let from = 'cache'
      if (!fs.existsSync(deb)) {
        if (offline) continue
        from = 'mirror'
        const download = path.join(work, `download-${kernel.name}`)
        fs.rmSync(download, { recursive: true, force: true })
        fs.mkdirSync(download)
        retried(() => sh('apt-get', [...options, 'download', '-qq', pkg], { cwd: download }))
        fs.mkdirSync(CACHE, { recursive: true })
        const file = fs.readdirSync(download).find((f) => f.endsWith('.deb'))
        fs.copyFileSync(path.join(download, file), `${deb}.partial`)
        fs.renameSync(`${deb}.partial`, deb)
      }
      fs.rmSync(dir, { recursive: true, force: true })
      fs.mkdirSync(dir)
      sh('dpkg-deb', ['-x', deb, dir])
      // /boot/vmlinuz-<abi> until 7.0; /usr/lib/modules/<abi>/vmlinuz[.unsigned] in the 2026 packaging.
      const vmlinuz = fs.readdirSync(dir, { recursive: true }).find((f) => path.basename(f).startsWith('vmlinuz') && fs.statSync(path.join(dir, f)).isFile())
      if (vmlinuz) return { package: pkg, from, note: [choice.note, offline].filter(Boolean).join('; '), vmlinuz: path.join(dir, vmlinuz) }
    }
    throw new Error(`no vmlinuz in ${choice.candidates.join(', ')}${offline ? ` (${offline}; only cached packages tried)` : ''}`)
  })
}

/** A gzipped newc cpio archive of `files` ({ path in the archive: source path or Buffer }). */
function cpio(files) {
  const chunks = []
  let ino = 1
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4)
  const entry = (name, mode, data) => {
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, name.length + 1, 0]
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`
    chunks.push(Buffer.from(header), Buffer.from(`${name}\0`), pad(110 + name.length + 1), data, pad(data.length))
  }
  const dirs = new Set()
  for (const name of Object.keys(files).sort()) {
    const parts = name.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (!dirs.has(dir)) {
        dirs.add(dir)
        entry(dir, 0o40755, Buffer.alloc(0))
      }
    }
    const source = files[name]
    const data = Buffer.isBuffer(source) ? source : fs.readFileSync(source)
    const mode = (Buffer.isBuffer(source) ? EXECUTABLE_BUFFERS.has(name) : fs.statSync(source).mode & 0o111) ? 0o100755 : 0o100644
    entry(name, mode, data)
  }
  for (const dir of ['proc', 'sys', 'dev', 'tmp']) if (!dirs.has(dir)) entry(dir, 0o40755, Buffer.alloc(0))
  entry('TRAILER!!!', 0, Buffer.alloc(0))
  return zlib.gzipSync(Buffer.concat(chunks), { level: 1 })
}

// Host binaries busybox lacks or does differently: setpriv (--reuid/--regid/--clear-groups),
// ps (-o sid=), perl (exit tests), bash; dash as /bin/sh (busybox sh runs applets such as
// grep inside the shell process, so /proc/self is the shell's, and it takes argv0 for the
// applet's name).
const HOST_BINARIES = { 'bin/bash': 'bash', 'usr/bin/bash': 'bash', 'bin/sh': 'dash', 'usr/bin/setpriv': 'setpriv', 'usr/bin/ps': 'ps', 'usr/bin/perl': 'perl' }
const EXECUTABLE_BUFFERS = new Set(['init', 'usr/bin/cc'])

// busybox --install puts each applet where it usually lives (/bin/sleep, /usr/bin/env, ...)
// and leaves the files already there (sh, bash, setpriv, cc) alone.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s 2>/dev/null
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname guest
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp LANG=C PIDFD_TIME_SCALE=${TIME_SCALE}
cd /pkg
echo "=== PIDFD-MATRIX-INIT $(cut -d' ' -f1 /proc/uptime) ==="
/usr/bin/node /pkg/test/kernels/guest.js
echo "=== PIDFD-MATRIX-DONE ==="
poweroff -f
`

// cc in the guest: there is no compiler, so it hands out the test fixtures (test/fixtures/*.c)
// that the host compiled with the same flags, and fails for anything else.
const CC = `#!/bin/sh
out= src=
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    *.c) src="$1" ;;
  esac
  shift
done
built=/usr/lib/pidfd-fixtures/$(basename "$src" .c)
[ -n "$out" ] && [ -f "$built" ] || { echo "cc: this guest has no compiler, only prebuilt fixtures (not $src)" >&2; exit 1; }
cp "$built" "$out" && chmod 755 "$out"
`

/** Matches `pattern` (a glob on file names: `*` and `?` in the last part) in the package. */
function glob(pattern) {
  const dir = path.dirname(pattern)
  const re = new RegExp(`^${path.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`)
  if (!fs.existsSync(path.join(root, dir))) return []
  return fs.readdirSync(path.join(root, dir)).filter((f) => re.test(f)).map((f) => path.join(dir, f)).sort()
}

/**
 * node_modules folders that `names` need at run time, resolved as node does through the
 * lockfile's layout (dependencies, optional and peer dependencies, when installed), without
 * type-only packages.
 */
function dependencyClosure(names) {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages
  const resolve = (from, name) => {
    for (let dir = from; ; ) {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`
      if (lock[candidate] && fs.existsSync(path.join(root, candidate))) return candidate
      if (!dir) return undefined
      const at = dir.lastIndexOf('/node_modules/')
      dir = at < 0 ? '' : dir.slice(0, at)
    }
  }
  const seen = new Set()
  const walk = (dir) => {
    if (dir === undefined || seen.has(dir) || /node_modules\/(@types\/|undici-types$|typescript$)/.test(dir)) return
    seen.add(dir)
    const { dependencies, optionalDependencies, peerDependencies } = lock[dir]
    for (const name of Object.keys({ ...dependencies, ...optionalDependencies, ...peerDependencies })) walk(resolve(dir, name))
  }
  for (const name of names) walk(resolve('', name))
  return [...seen].sort()
}

/** The bare module names that `files` import (not node: builtins, not this package). */
function importsOf(files) {
  const names = new Set()
  for (const file of files) {
    for (const [, name] of fs.readFileSync(path.join(root, file), 'utf8').matchAll(/(?:from|import|require\()\s*['"]([^'"./][^'"]*)['"]/g)) {
      if (name.startsWith('node:') || name === 'pidfd') continue
      names.add(name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0])
    }
  }
  return [...names]
}

function buildInitramfs() {
  return step('building the initramfs', () => {
    const files = {
      init: Buffer.from(INIT),
      'bin/busybox': sh('which', ['busybox']).trim(),
      'usr/bin/node': process.execPath,
      'etc/passwd': Buffer.from('root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'),
      'etc/group': Buffer.from('root:x:0:\nnogroup:x:65534:\n'),
      'etc/hosts': Buffer.from('127.0.0.1 localhost guest\n'),
      'usr/bin/cc': Buffer.from(CC),
    }
    const binaries = [process.execPath]
    for (const [at, name] of Object.entries(HOST_BINARIES)) {
      const binary = fs.realpathSync(sh('which', [name]).trim())
      files[at] = binary
      binaries.push(binary)
    }
    const add = (relative) => {
      const full = path.join(root, relative)
      if (!fs.existsSync(full)) return
      if (fs.statSync(full).isDirectory()) for (const child of fs.readdirSync(full)) add(path.join(relative, child))
      else if (!/\.(map|md|d\.[mc]?ts)$/.test(relative)) files[path.join('pkg', relative)] = full
    }
    for (const built of ['build/Release/pidfd.node', 'dist/index.js']) {
      if (!fs.existsSync(path.join(root, built))) throw new Error(`${built} is missing: build first (npx node-gyp rebuild && npx tsc -p tsconfig.build.json)`)
    }
    const parts = ['package.json', 'dist', 'build/Release/pidfd.node', 'node_modules/node-gyp-build', 'test/kernels/guest.js']
    let tests = []
    if (RUN_TESTS) {
      tests = [...new Set(GUEST_TESTS.flatMap(glob))]
      // Every helper module in test/, and the sources the tests import.
      const helpers = fs.readdirSync(path.join(root, 'test')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => `test/${f}`)
      const sources = [...tests, ...helpers, ...glob('lib/*.ts')]
      parts.push(...sources, 'test/fixtures', 'lib', 'tsconfig.json', 'vitest.config.mts', ...dependencyClosure(['vitest', 'node-gyp-build', ...importsOf(sources)]))
      files['pkg/test/kernels/guest-tests.json'] = Buffer.from(JSON.stringify({ files: tests, timeScale: TIME_SCALE, timeoutMs: VITEST_TIMEOUT_MS, leftOut: GUEST_LEFT_OUT }))
      for (const source of glob('test/fixtures/*.c')) {
        const out = path.join(work, path.basename(source, '.c'))
        try {
          sh('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', out, path.join(root, source)])
          files[`usr/lib/pidfd-fixtures/${path.basename(out)}`] = out
        } catch (error) {
          console.log(`  (${source} not prebuilt for the guests: ${error.message.split('\n')[0]})`)
        }
      }
    }
    for (const part of parts) add(part)
    binaries.push(...Object.keys(files).filter((f) => f.endsWith('.node')).map((f) => files[f]))
    for (const binary of binaries) {
      for (const line of sh('ldd', [binary]).split('\n')) {
        const lib = /(\/\S+) \(0x/.exec(line)?.[1]
        if (lib) files[lib.slice(1)] = fs.realpathSync(lib)
      }
    }
    const image = path.join(work, 'initramfs.gz')
    fs.writeFileSync(image, cpio(files))
    return { image, tests }
  })
}

/** Boots a kernel with the initramfs; resolves with the guest's report, or throws. */
function boot(kernel, vmlinuz, initramfs) {
  return new Promise((resolve, reject) => {
    // -cpu max without 5-level paging and without cmpxchg16b: with them, Debian's 6.12
    // panicked at a cmpxchg16b in kmem_cache_alloc (3 boots of 3) or went idle mid-run under
    // this machine's qemu 7.2 TCG. max beats a named model (Nehalem: guest.js and check 25%
    // slower).
    const args = ['-accel', 'tcg,thread=single', '-cpu', process.env.PIDFD_QEMU_CPU ?? 'max,la57=off,cx16=off', '-m', GUEST_MEMORY, '-smp', '1', '-nographic', '-nic', 'none', '-no-reboot', '-kernel', vmlinuz, '-initrd', initramfs, '-append', `console=ttyS0 panic=-1 ${process.env.PIDFD_KERNEL_QUIET === '0' ? '' : 'quiet'}`]
    const started = Date.now()
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let console = ''
    let initAt
    const log = process.env.PIDFD_KERNEL_LOG ? fs.createWriteStream(`${process.env.PIDFD_KERNEL_LOG}-${kernel.name}.log`) : undefined
    const timer = setTimeout(() => {
      qemu.kill('SIGKILL')
      // A guest that ran its tests this long and hung is not booted again (minutes each).
      reject(Object.assign(new Error(`booting ${kernel.name}: no report within ${BOOT_TIMEOUT_MS / 1000} s; console ends:\n${console.slice(-2000)}`), { again: false }))
    }, BOOT_TIMEOUT_MS)
    const initTimer = setTimeout(() => {
      if (initAt !== undefined) return
      qemu.kill('SIGKILL')
      reject(new Error(`booting ${kernel.name}: the kernel did not reach /init within ${INIT_TIMEOUT_MS / 1000} s; console ends:\n${console.slice(-2000)}`))
    }, INIT_TIMEOUT_MS)
    qemu.stdout.on('data', (chunk) => {
      console += chunk
      log?.write(String(chunk).replace(/\n/g, `\n[${((Date.now() - started) / 1000).toFixed(1)}] `))
      if (initAt === undefined && console.includes('PIDFD-MATRIX-INIT')) initAt = Date.now()
      if (console.includes('PIDFD-MATRIX-DONE')) qemu.kill('SIGKILL')
    })
    qemu.stderr.on('data', (chunk) => (console += chunk))
    qemu.on('exit', () => {
      clearTimeout(timer)
      clearTimeout(initTimer)
      log?.end()
      const match = /=== PIDFD-MATRIX-REPORT ===\r?\n([A-Za-z0-9+/=]+)\r?\n=== PIDFD-MATRIX-REPORT-END ===/.exec(console)
      if (match === null) return reject(new Error(`booting ${kernel.name}: no report marker; console ends:\n${console.slice(-2000)}`))
      try {
        const report = JSON.parse(zlib.gunzipSync(Buffer.from(match[1], 'base64')))
        // Boot time: from qemu's start to the init script (kernel and initramfs unpacked).
        resolve({ ...report, bootMs: (initAt ?? Date.now()) - started })
      } catch (error) {
        reject(new Error(`booting ${kernel.name}: unreadable report (${error.message})`))
      }
    })
  })
}

/** The first line of an error that says something (vitest's messages start with it). */
const firstLine = (text) => String(text ?? '').split('\n').find((line) => line.trim() !== '')?.trim() ?? ''

/** Counts, failures and skipped tests (by name) from a guest's vitest run. */
function summarize(vitest) {
  const summary = { passed: 0, failed: 0, skipped: 0, unfinished: 0, failures: [], skippedNames: [], files: [], durationMs: vitest.durationMs }
  if (vitest.error) summary.failures.push(`vitest: ${vitest.error}`)
  const json = vitest.json
  if (json === undefined) return summary
  Object.assign(summary, { passed: json.numPassedTests, failed: json.numFailedTests, skipped: json.numPendingTests + json.numTodoTests })
  summary.unfinished = json.numTotalTests - summary.passed - summary.failed - summary.skipped
  if (summary.unfinished > 0) summary.failures.push(`${summary.unfinished} tests never finished`)
  for (const file of json.testResults) {
    const name = path.relative('/pkg', file.name)
    const tests = file.assertionResults
    summary.files.push(`${name} ${seconds((file.endTime - file.startTime) / 1000)} (${tests.length} tests)`)
    // A file that failed as a whole (an import error, a failed hook) has a message of its own.
    if (file.status === 'failed' && tests.every((t) => t.status !== 'failed')) summary.failures.push(`${name}: ${firstLine(file.message) || 'the file failed'}`)
    for (const t of tests) {
      const full = `${name} > ${[...t.ancestorTitles, t.title].join(' > ')}`
      if (t.status === 'failed') summary.failures.push(`test failed: ${full}: ${firstLine(t.failureMessages?.[0])}`)
      else if (t.status !== 'passed') summary.skippedNames.push(full)
    }
  }
  return summary
}

/**
 * Writes a guest's vitest report where .ci/run counts it; a guest that booted but brought no
 * report gets one that counts its tests as a single failed one.
 */
function writeReport(kernel, vitest) {
  const json = vitest?.json ?? { numTotalTests: 1, numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numTodoTests: 0, success: false, testResults: [], error: vitest?.error ?? 'the guest brought no vitest report' }
  fs.mkdirSync(REPORTS, { recursive: true })
  fs.writeFileSync(path.join(REPORTS, `vitest-kernel-${kernel.name}.json`), JSON.stringify(json))
}

/** Boots one kernel (up to three times when no report comes) and makes its output row. */
async function runKernel(kernel, fetched, initramfs) {
  const started = Date.now()
  // Emulation (TCG) sometimes panics a guest kernel on its own (seen here about one boot in
  // five with 6.x, with no report at all): up to two more boots tell that from a real failure.
  // A guest that reports, or hangs until BOOT_TIMEOUT_MS, is never booted again.
  let report
  for (let attempt = 1; report === undefined; attempt++) {
    try {
      report = await boot(kernel, fetched.vmlinuz, initramfs.image)
    } catch (error) {
      if (attempt === 3 || error.again === false) {
        if (RUN_TESTS) writeReport(kernel, undefined)
        throw error
      }
      console.log(`  ${kernel.name}: boot ${attempt} gave no report, booting again (${error.message.split('\n')[0]})`)
    }
  }
  if (report.crashed) throw new Error(`guest crashed: ${report.crashed}`)
  const failures = report.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error}`)
  const checks = report.check.checks ?? []
  failures.push(...checks.filter((c) => c.status === 'fail').map((c) => `check ${c.id}: expected ${c.expected}, observed ${c.observed}`))
  failures.push(...checks.filter((c) => c.status === 'error').map((c) => `check ${c.id} could not run: ${c.reason}`))
  if (report.check.error) failures.push(report.check.error)
  if (report.checkExit !== 0) failures.push(`pidfd check exited ${report.checkExit}`)
  let vitest
  if (RUN_TESTS) {
    writeReport(kernel, report.vitest)
    if (report.vitest === undefined) failures.push('the guest ran no vitest')
    else {
      vitest = summarize(report.vitest)
      failures.push(...vitest.failures)
      if (vitest.passed + vitest.failed + vitest.skipped === 0) failures.push('vitest ran no test')
    }
  }
  const count = (status) => checks.filter((c) => c.status === status).length
  return {
    kernel: kernel.name,
    status: failures.length === 0 ? 'ok' : 'FAIL',
    release: report.kernel,
    package: fetched.package,
    note: fetched.note,
    from: fetched.from,
    bootSeconds: report.bootMs / 1000,
    seconds: (Date.now() - started) / 1000,
    expectations: `${report.results.filter((r) => r.ok).length}/${report.results.length}`,
    checks: `${count('pass')} pass, ${count('fail')} fail, ${count('error')} error, ${count('unsupported')} unsupported`,
    missing: Object.entries(report.features).filter(([, ok]) => !ok).map(([name]) => name),
    vitest,
    failures,
  }
}

const seconds = (s) => `${Math.round(s)} s`

function printRow(row) {
  if (row.status === 'skipped') {
    console.log(`  ${row.kernel.padEnd(5)} skipped: ${row.reason.split('\n').join('\n        ')}`)
    return
  }
  const v = row.vitest
  const tests = v ? `vitest ${v.passed} passed, ${v.failed} failed, ${v.skipped} skipped (${seconds(v.durationMs / 1000)})` : 'vitest -'
  console.log(`  ${row.kernel.padEnd(5)} ${row.status.padEnd(4)} ${row.release ?? '-'}  ${tests}  check ${row.checks ?? '-'}  guest.js ${row.expectations ?? '-'}  boot ${row.bootSeconds === undefined ? '-' : `${row.bootSeconds.toFixed(1)} s`}, all ${row.seconds === undefined ? '-' : seconds(row.seconds)}`)
  if (row.missing) console.log(`        missing features: ${row.missing.join(', ') || 'none'}`)
  if (row.package) console.log(`        package: ${row.package} (${row.from ?? '-'})${row.note ? `; ${row.note}` : ''}`)
  if (v && process.env.PIDFD_KERNEL_VERBOSE) console.log(`        files: ${v.files.join(', ')}`)
  if (v && v.skippedNames.length > 0) console.log(`        skipped: ${v.skippedNames.join('; ')}`)
  for (const failure of row.failures) console.log(`        ${failure.split('\n').join('\n        ')}`)
}

async function main() {
  const started = Date.now()
  ensureTools()
  for (const file of fs.existsSync(REPORTS) ? fs.readdirSync(REPORTS) : []) {
    if (/^vitest-kernel-.*\.json$/.test(file)) fs.rmSync(path.join(REPORTS, file))
  }
  const initramfs = buildInitramfs()
  const chosen = kernels.filter((k) => only === undefined || only.includes(k.name))
  console.log(`kernel matrix: ${chosen.map((k) => k.name).join(', ')}, one guest at a time; vitest: ${initramfs.tests.map((f) => path.basename(f, '.test.ts')).join(', ') || 'none'}${GUEST_LEFT_OUT.length > 0 && RUN_TESTS ? ` (left out: ${GUEST_LEFT_OUT.join('; ')})` : ''}`)
  const rows = []
  for (const kernel of chosen) {
    let row
    let fetched
    try {
      fetched = fetchKernel(kernel)
    } catch (error) {
      // No package to boot (mirror down, nothing cached): nothing was tested, nothing failed.
      row = { kernel: kernel.name, status: 'skipped', reason: error.message }
    }
    if (fetched) {
      row = await runKernel(kernel, fetched, initramfs).catch((error) => ({ kernel: kernel.name, status: 'FAIL', package: fetched.package, failures: [error.message] }))
    }
    printRow(row)
    rows.push(row)
  }
  const failed = rows.some((row) => row.status === 'FAIL')
  const skipped = rows.filter((row) => row.status === 'skipped').map((row) => row.kernel)
  console.log(`kernel matrix (${seconds((Date.now() - started) / 1000)}):`)
  for (const row of rows) printRow(row)
  console.log(failed ? 'kernel matrix: FAILED' : `kernel matrix: every kernel that booted behaved as expected${skipped.length > 0 ? ` (skipped: ${skipped.join(', ')})` : ''}`)
  return failed ? 1 : 0
}

process.once('SIGINT', () => {
  fs.rmSync(work, { recursive: true, force: true })
  process.exit(130)
})

main()
  .then((code) => (process.exitCode = code))
  .catch((error) => {
    console.error(error.message)
    process.exitCode = 1
  })
  .finally(() => fs.rmSync(work, { recursive: true, force: true }))
