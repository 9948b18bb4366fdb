#!/usr/bin/env node
// The kernel matrix: boots Debian's 6.1 and 6.12 cloud kernels under qemu (TCG; KVM does not
// work on these machines) with a small initramfs holding busybox, node and this package, runs
// test/kernels/guest.js and `pidfd check --json` in each guest, and fails on any failure,
// timeout or missing report. Run with `npm run test:kernels` (as root: it may apt-get install
// qemu-system-x86 and busybox-static). Nothing is installed into /boot; every temporary file
// goes at the end.
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')

const root = path.join(__dirname, '..', '..')
const BOOT_TIMEOUT_MS = Number(process.env.PIDFD_BOOT_TIMEOUT_MS ?? 150_000)
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
  fs.mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true })
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
  return options
}

const kernels = [
  { name: '6.1', apt: 'deb http://deb.debian.org/debian bookworm main', pattern: /^linux-image-6\.1\.0-\d+-cloud-amd64-unsigned$/ },
  { name: '6.12', apt: 'deb http://deb.debian.org/debian bookworm-backports main', pattern: /^linux-image-6\.12\.[\d.]+\+[\w.]+-cloud-amd64-unsigned$/ },
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

/** Downloads the newest matching kernel package and extracts its vmlinuz. */
function fetchKernel(kernel) {
  return step(`fetching the ${kernel.name} kernel`, () => retried(() => {
    const options = privateApt(kernel.name, kernel.apt)
    const names = sh('apt-cache', [...options, 'search', '--names-only', 'linux-image-.*-cloud-amd64-unsigned'])
      .split('\n')
      .map((line) => line.split(' ')[0])
      .filter((name) => kernel.pattern.test(name))
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    if (names.length === 0) throw new Error(`no package matches ${kernel.pattern}`)
    const dir = path.join(work, `kernel-${kernel.name}`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir)
    sh('apt-get', [...options, 'download', '-qq', names.at(-1)], { cwd: dir })
    const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'))
    sh('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'x')])
    const boot = path.join(dir, 'x', 'boot')
    return { package: names.at(-1), vmlinuz: path.join(boot, fs.readdirSync(boot).find((f) => f.startsWith('vmlinuz'))) }
  }))
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
    const mode = Buffer.isBuffer(source) || fs.statSync(source).mode & 0o111 ? 0o100755 : 0o100644
    entry(name, mode, data)
  }
  for (const dir of ['proc', 'sys', 'dev', 'tmp']) if (!dirs.has(dir)) entry(dir, 0o40755, Buffer.alloc(0))
  entry('TRAILER!!!', 0, Buffer.alloc(0))
  return zlib.gzipSync(Buffer.concat(chunks), { level: 1 })
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
export PATH=/bin:/usr/bin HOME=/tmp
/usr/bin/node /pkg/test/kernels/guest.js
echo "=== PIDFD-MATRIX-DONE ==="
poweroff -f
`

function buildInitramfs() {
  return step('building the initramfs', () => {
    const files = { init: Buffer.from(INIT), 'bin/busybox': sh('which', ['busybox']).trim(), 'usr/bin/node': process.execPath }
    for (const line of sh('ldd', [process.execPath]).split('\n')) {
      const lib = /(\/\S+) \(0x/.exec(line)?.[1]
      if (lib) files[lib.slice(1)] = fs.realpathSync(lib)
    }
    const add = (relative) => {
      const full = path.join(root, relative)
      if (fs.statSync(full).isDirectory()) for (const child of fs.readdirSync(full)) add(path.join(relative, child))
      else if (!relative.endsWith('.map')) files[path.join('pkg', relative)] = full
    }
    for (const part of ['package.json', 'dist', 'build/Release/pidfd.node', 'node_modules/node-gyp-build', 'test/kernels/guest.js']) add(part)
    const image = path.join(work, 'initramfs.gz')
    fs.writeFileSync(image, cpio(files))
    return image
  })
}

/** Boots a kernel with the initramfs; resolves with the guest's report, or throws. */
function boot(kernel, vmlinuz, initramfs) {
  return new Promise((resolve, reject) => {
    const args = ['-accel', 'tcg,thread=single', '-cpu', process.env.PIDFD_QEMU_CPU ?? 'max', '-m', '1024', '-smp', '1', '-nographic', '-nic', 'none', '-no-reboot', '-kernel', vmlinuz, '-initrd', initramfs, '-append', `console=ttyS0 panic=-1 ${process.env.PIDFD_KERNEL_QUIET === '0' ? '' : 'quiet'}`]
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let console = ''
    const timer = setTimeout(() => {
      qemu.kill('SIGKILL')
      reject(new Error(`booting ${kernel.name}: no report within ${BOOT_TIMEOUT_MS / 1000} s; console ends:\n${console.slice(-2000)}`))
    }, BOOT_TIMEOUT_MS)
    qemu.stdout.on('data', (chunk) => {
      console += chunk
      if (console.includes('PIDFD-MATRIX-DONE')) qemu.kill('SIGKILL')
    })
    qemu.stderr.on('data', (chunk) => (console += chunk))
    qemu.on('exit', () => {
      clearTimeout(timer)
      const match = /=== PIDFD-MATRIX-REPORT ===\r?\n(.*)\r?\n=== PIDFD-MATRIX-REPORT-END ===/.exec(console)
      if (match === null) return reject(new Error(`booting ${kernel.name}: no report marker; console ends:\n${console.slice(-2000)}`))
      try {
        resolve(JSON.parse(match[1]))
      } catch (error) {
        reject(new Error(`booting ${kernel.name}: unreadable report (${error.message})`))
      }
    })
  })
}

async function main() {
  const started = Date.now()
  ensureTools()
  const initramfs = buildInitramfs()
  const rows = []
  let failed = false
  for (const kernel of kernels.filter((k) => only === undefined || only.includes(k.name))) {
    let row
    try {
      const { package: pkg, vmlinuz } = fetchKernel(kernel)
      const bootStarted = Date.now()
      // Emulation (TCG) sometimes panics a guest kernel on its own (seen here about one
      // boot in five, with no report at all): up to two more boots tell that from a real
      // failure. A guest that reports is never booted again, whatever it reported.
      let report
      for (let attempt = 1; report === undefined; attempt++) {
        try {
          report = await boot(kernel, vmlinuz, initramfs)
        } catch (error) {
          if (attempt === 3) throw error
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
      const count = (status) => checks.filter((c) => c.status === status).length
      row = {
        kernel: kernel.name,
        release: report.kernel,
        package: pkg,
        bootSeconds: Math.round((Date.now() - bootStarted) / 1000),
        expectations: `${report.results.filter((r) => r.ok).length}/${report.results.length}`,
        checks: `${count('pass')} pass, ${count('fail')} fail, ${count('error')} error, ${count('unsupported')} unsupported`,
        missing: Object.entries(report.features).filter(([, ok]) => !ok).map(([name]) => name),
        failures,
      }
    } catch (error) {
      row = { kernel: kernel.name, failures: [error.message] }
    }
    if (row.failures.length > 0) failed = true
    rows.push(row)
  }
  console.log(`kernel matrix (${Math.round((Date.now() - started) / 1000)} s):`)
  for (const row of rows) {
    console.log(`  ${row.kernel.padEnd(5)} ${row.failures.length === 0 ? 'ok  ' : 'FAIL'} ${row.release ?? ''}  expectations ${row.expectations ?? '-'}  checks: ${row.checks ?? '-'}  boot ${row.bootSeconds ?? '-'} s`)
    if (row.missing) console.log(`        missing features: ${row.missing.join(', ') || 'none'}`)
    for (const failure of row.failures) console.log(`        ${failure.split('\n').join('\n        ')}`)
  }
  console.log(failed ? 'kernel matrix: FAILED' : 'kernel matrix: every kernel behaved as expected')
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
