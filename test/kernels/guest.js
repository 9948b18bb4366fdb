// Runs inside a kernel-matrix guest (see matrix.js): checks what must hold on the running
// kernel, whatever its version, and prints one JSON report between markers on the console.
// Each expectation is stated for every kernel: "works" from the release that added the
// feature, "refused by name" before it. Never "skipped".
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const { once } = require('node:events')
const os = require('node:os')
const path = require('node:path')
const { Pidfd, sameProcess, features, featureInfo } = require('../..')

const [major, minor] = os.release().split('.').map(Number)
const atLeast = (version) => {
  const [wantMajor, wantMinor] = version.split('.').map(Number)
  return major > wantMajor || (major === wantMajor && minor >= wantMinor)
}

function fail(message) {
  throw new Error(message)
}

/** Expects `attempt` to throw an error with `code` (and, for unsupported errors, `feature`). */
function refused(attempt, code, feature) {
  try {
    attempt()
  } catch (error) {
    if (error.code !== code || (feature !== undefined && error.feature !== feature)) fail(`expected ${code} ${feature ?? ''}, got ${error.code} ${error.feature ?? ''}: ${error.message}`)
    return
  }
  fail(`expected ${code}, but it succeeded`)
}

const expectations = [
  ['features() matches the kernel version', () => {
    const wrong = Object.entries(featureInfo).filter(([name, { since }]) => features()[name] !== atLeast(since))
    if (wrong.length > 0) fail(`wrong: ${wrong.map(([name]) => `${name}=${features()[name]}`).join(', ')}`)
  }],
  ['sendSignal works', () => {
    const pidfd = Pidfd.open(process.pid)
    pidfd.sendSignal(0)
    pidfd.close()
  }],
  ['exit notification reports a child', async () => {
    const child = spawn('sh', ['-c', 'exit 3'])
    const pidfd = Pidfd.fromChildProcess(child)
    const status = await pidfd.wait({ timeout: 20_000 })
    if (status.code !== 3) fail(`exit code ${status.code} (${status.source})`)
    pidfd.close()
  }],
  ['exit notification settles for a non-child, never hangs', async () => {
    const shell = spawn('sh', ['-c', 'exec 3<&0; (read go <&3; exit 9) & echo $!; wait; exec sleep 60'], { stdio: ['pipe', 'pipe', 'inherit'] })
    const [line] = await once(shell.stdout, 'data')
    const pidfd = Pidfd.open(Number(String(line).trim()))
    shell.stdin.write('go\n')
    const status = await pidfd.wait({ timeout: 20_000 })
    // Caught as a zombie (root may read its /proc entry) or after the reap: from the kernel
    // on 6.15+, unavailable before.
    const expected = atLeast('6.15') ? 'pidfd-info' : 'unavailable'
    if (status.source !== expected && status.source !== 'procfs') fail(`source ${status.source}, expected ${expected} or procfs`)
    if (status.source !== 'unavailable' && status.code !== 9) fail(`code ${status.code}`)
    pidfd.close()
    shell.kill('SIGKILL')
  }],
  ['identity: works on pidfs (6.9), refused by name before', () => {
    const a = Pidfd.open(process.pid)
    const b = Pidfd.open(process.pid)
    if (a.isPidfs !== atLeast('6.9')) fail(`isPidfs ${a.isPidfs}`)
    if (atLeast('6.9')) {
      if (!a.equals(b) || !sameProcess(a, process.pid) || a.id !== b.id) fail('identity wrong')
      if (sameProcess(a, process.ppid)) fail('a different process compared equal')
    } else {
      refused(() => a.id, 'ERR_PIDFS_UNSUPPORTED')
      refused(() => a.equals(b), 'ERR_PIDFS_UNSUPPORTED')
      refused(() => a.processId, 'ERR_PIDFS_UNSUPPORTED')
    }
    a.close()
    b.close()
  }],
  ['thread pidfds: work from 6.9, refused by name before', () => {
    const tid = require('node:fs').readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid)
    if (atLeast('6.9')) Pidfd.open(tid, { thread: true }).close()
    else refused(() => Pidfd.open(tid, { thread: true }), 'ERR_PIDFD_UNSUPPORTED', 'threadPidfd')
  }],
  ['info(): works from 6.13, refused by name before', () => {
    const pidfd = Pidfd.open(process.pid)
    if (atLeast('6.13')) {
      if (pidfd.info().pid !== process.pid) fail('wrong pid')
    } else refused(() => pidfd.info(), 'ERR_PIDFD_UNSUPPORTED', 'getInfo')
    if (pidfd.pid !== process.pid) fail(`pid ${pidfd.pid}`) // fdinfo fallback before 6.13
    pidfd.close()
  }],
  ['namespaces: work from 6.11, refused by name before', () => {
    const pidfd = Pidfd.open(process.pid)
    if (atLeast('6.11')) require('node:fs').closeSync(pidfd.namespace('pid'))
    else refused(() => pidfd.namespace('pid'), 'ERR_PIDFD_UNSUPPORTED', 'namespaces')
    pidfd.close()
  }],
  ['file handles: work from 6.14, refused by name before', () => {
    const pidfd = Pidfd.open(process.pid)
    if (atLeast('6.14')) {
      if (!Pidfd.fromHandle(pidfd.toHandle()).equals(pidfd)) fail('handle reopened another process')
    } else refused(() => pidfd.toHandle(), 'ERR_PIDFD_UNSUPPORTED', 'fileHandles')
    pidfd.close()
  }],
]

async function main() {
  const results = []
  for (const [name, run] of expectations) {
    try {
      await run()
      results.push({ name, ok: true })
    } catch (error) {
      results.push({ name, ok: false, error: error.message })
    }
  }
  const cli = spawnSync(process.execPath, [path.join(__dirname, '../../dist/cli.js'), 'check', '--json'], { encoding: 'utf8', timeout: 120_000 })
  let check
  try {
    check = JSON.parse(cli.stdout)
  } catch {
    check = { error: `pidfd check exited ${cli.status}: ${cli.stderr}` }
  }
  const report = { kernel: os.release(), features: features(), results, check, checkExit: cli.status }
  process.stdout.write(`\n=== PIDFD-MATRIX-REPORT ===\n${JSON.stringify(report)}\n=== PIDFD-MATRIX-REPORT-END ===\n`)
}

main().catch((error) => {
  process.stdout.write(`\n=== PIDFD-MATRIX-REPORT ===\n${JSON.stringify({ kernel: os.release(), crashed: String(error.stack) })}\n=== PIDFD-MATRIX-REPORT-END ===\n`)
})
