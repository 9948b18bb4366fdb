// Runs inside a kernel-matrix guest (see matrix.js): checks what must hold on the running
// kernel, whatever its version, runs `pidfd check --json`, then the vitest files that
// matrix.js packed (guest-tests.json), and prints one report between markers on the console
// (gzipped JSON in base64, so that vitest's whole JSON report fits on one line).
// Each expectation is stated for every kernel: "works" from the release that added the
// feature, "refused by name" before it. Never "skipped".
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const { once } = require('node:events')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
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
    const tid = fs.readdirSync('/proc/self/task').map(Number).find((t) => t !== process.pid)
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
    if (atLeast('6.11')) fs.closeSync(pidfd.namespace('pid'))
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

/**
 * Runs the packed vitest files (guest-tests.json names them, with the time scale, the run's
 * time limit and the tests left out by name). Returns vitest's JSON report as it is, with how
 * the run ended, or undefined when matrix.js packed no test.
 */
function runVitest() {
  const config = path.join(__dirname, 'guest-tests.json')
  if (!fs.existsSync(config)) return undefined
  const { files, timeScale, timeoutMs, leftOut } = JSON.parse(fs.readFileSync(config, 'utf8'))
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const pkg = path.join(__dirname, '../..')
  const output = '/tmp/vitest.json'
  const started = Date.now()
  // One worker: the guest has one CPU. The verbose reporter names each test on the console as
  // it ends (the console log is what there is to read when a guest never reports).
  const run = spawnSync(process.execPath, [
    path.join(pkg, 'node_modules/vitest/vitest.mjs'), 'run', ...files,
    '--reporter=verbose', '--reporter=json', `--outputFile.json=${output}`,
    `--testTimeout=${30_000 * timeScale}`, `--hookTimeout=${30_000 * timeScale}`, '--maxWorkers=1', '--no-color',
    ...(leftOut.length > 0 ? [`--testNamePattern=^(?!.*(?:${leftOut.map(escape).join('|')}))`] : []),
  ], { cwd: pkg, stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutMs, killSignal: 'SIGKILL', env: { ...process.env, PIDFD_TIME_SCALE: String(timeScale), CI: '1' } })
  const result = { durationMs: Date.now() - started, exit: run.status, signal: run.signal }
  if (run.error) result.error = `vitest did not finish: ${run.error.message}`
  try {
    result.json = JSON.parse(fs.readFileSync(output, 'utf8'))
  } catch (error) {
    result.error ??= `no JSON report (exit ${run.status}, signal ${run.signal}): ${error.message}`
  }
  return result
}

/** Prints the report: gzipped JSON, base64, on one line between markers. */
function report(value) {
  const encoded = zlib.gzipSync(JSON.stringify(value)).toString('base64')
  fs.writeSync(1, `\n=== PIDFD-MATRIX-REPORT ===\n${encoded}\n=== PIDFD-MATRIX-REPORT-END ===\n`)
}

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
  const cli = spawnSync(process.execPath, [path.join(__dirname, '../../dist/cli.js'), 'check', '--json'], { encoding: 'utf8', timeout: 300_000 })
  let check
  try {
    check = JSON.parse(cli.stdout)
  } catch {
    check = { error: `pidfd check exited ${cli.status}: ${cli.stderr}` }
  }
  report({ kernel: os.release(), features: features(), results, check, checkExit: cli.status, vitest: runVitest() })
}

main().catch((error) => report({ kernel: os.release(), crashed: String(error.stack) }))
