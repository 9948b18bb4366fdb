// The pidfd command, run as users run it: the package's bin, as a real subprocess.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Pidfd, featureInfo, features } from '../lib'
import { unsupportedReason } from '../lib/features'
import { type Native, native } from '../lib/binding'
import { checks } from '../lib/check'
import { main, parse, type Plan, type Target, UsageError } from '../lib/cli'
import { killChildren, openPidfds, root, scaled, sleeper, until } from './helpers'

afterEach(killChildren)

const bin = path.join(root, 'dist', 'cli.js')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, timeout: 30_000 })
}

/** The pids of processes that have not exited (zombies are left out). */
function living(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
    } catch {
      return false
    }
  })
}

/** Whether process `holder` has a pidfd open on process `target` (read from /proc, not the library). */
function holdsPidfdOn(holder: number, target: number): boolean {
  try {
    return fs.readdirSync(`/proc/${holder}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${holder}/fd/${fd}`) === 'anon_inode:[pidfd]' && new RegExp(`^Pid:\\s+${target}$`, 'm').test(fs.readFileSync(`/proc/${holder}/fdinfo/${fd}`, 'latin1'))
      } catch {
        return false
      }
    })
  } catch {
    return false
  }
}

/** Pids of processes whose environment carries this marker (the CLI's children inherit it). */
function processesMarked(marker: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)
}

/**
 * Runs `command` (bash, with $NODE and $BIN set) in a new session and process group, next
 * to a sentinel `sleep` in that same group, its stdout going to a file. Anything that
 * signals the group (kill(0, ...)) kills bash and the sentinel: then `survived` is false.
 */
function besideSentinel(command: string, env: NodeJS.ProcessEnv = {}) {
  const file = path.join(os.tmpdir(), `pidfd-cli-${process.pid}-${Date.now()}.out`)
  const script = `sleep 1000 & sentinel=$!
${command} > "$OUT" 2> "$OUT.err"
echo "exit=$?"
kill -0 "$sentinel" && echo survived
kill "$sentinel"`
  try {
    const result = spawnSync('setsid', ['--wait', 'bash', '-c', script], {
      encoding: 'utf8',
      env: { ...process.env, ...env, NODE: process.execPath, BIN: bin, OUT: file },
      timeout: scaled(60_000),
    })
    const read = (name: string) => (fs.existsSync(name) ? fs.readFileSync(name, 'utf8') : '')
    const status = /^exit=(\d+)$/m.exec(result.stdout)
    return {
      status: status === null ? null : Number(status[1]),
      survived: /^survived$/m.test(result.stdout),
      stdout: read(file),
      stderr: read(`${file}.err`),
      shell: result,
    }
  } finally {
    fs.rmSync(file, { force: true })
    fs.rmSync(`${file}.err`, { force: true })
  }
}

/** Whether this test may hide /bin/sh from the CLI (a private mount namespace), and it would matter. */
const canHideShell = !('execve' in process) && spawnSync('unshare', ['--mount', 'true']).status === 0

/** Whether this test may run the CLI as pid 1 of a new pid namespace. */
const canUnsharePid = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0

/** `text` as a literal inside a RegExp. */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

type Report = { summary: Record<string, number>; checks: { id: string; status: string; reason?: string; observed?: string }[] }

describe('pidfd check', () => {
  it('is the package bin', () => {
    expect(path.join(root, pkg.bin.pidfd!)).toBe(bin)
  })

  it('--json follows the documented schema, and every check passes or is unsupported here', () => {
    // A guard against hangs, not a speed test (speed is for benchmarks: a loaded 2-core CI
    // machine took 2.8 s for what takes 0.6 s on a quiet one).
    const started = Date.now()
    const result = cli(['check', '--json'])
    const wallMs = Date.now() - started
    expect(wallMs).toBeLessThan(scaled(15_000))
    expect(result.status, result.stdout.slice(0, 3000) + result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ schema: 'pidfd-check/1', kernel: os.release(), arch: process.arch, node: process.version, pidfd: pkg.version })
    expect(report.durationMs).toBeLessThan(wallMs) // measured inside the same run
    expect(Object.keys(report.features).sort()).toEqual(Object.keys(featureInfo).sort())
    for (const [name, feature] of Object.entries(report.features) as [keyof typeof featureInfo, { supported: boolean; since: string }][]) {
      expect(feature.supported, name).toBe(features()[name])
      expect(feature.since).toBe(featureInfo[name].since)
      expect((feature as { reason?: string }).reason).toBe(unsupportedReason(name))
    }
    expect(report.checks.length).toBeGreaterThanOrEqual(30)
    expect(new Set(report.checks.map((c: { id: string }) => c.id)).size).toBe(report.checks.length)
    for (const check of report.checks) {
      expect(check.id).toMatch(/^[a-z]+\.[a-z0-9-]+$/)
      expect(['pass', 'unsupported'], `${check.id}: ${check.expected} / ${check.observed}`).toContain(check.status)
      expect(typeof check.title).toBe('string')
      expect(typeof check.durationMs).toBe('number')
      if (check.status === 'unsupported') {
        expect(typeof check.reason).toBe('string')
        if (check.feature !== undefined) expect(Object.keys(featureInfo)).toContain(check.feature)
      }
    }
    expect(report.summary).toEqual({
      total: report.checks.length,
      pass: report.checks.filter((c: { status: string }) => c.status === 'pass').length,
      fail: 0,
      unsupported: report.checks.filter((c: { status: string }) => c.status === 'unsupported').length,
      error: 0,
    })
  })

  it('prints a table for people, without colour off a terminal', () => {
    const result = cli(['check'])
    expect(result.status).toBe(0)
    expect(result.stdout).toMatch(/^pidfd .* check on Linux /)
    expect(result.stdout).toMatch(/^pass\s+identity\.same\s/m)
    expect(result.stdout).toMatch(/\d+ passed, 0 failed, \d+ unsupported/)
    expect(result.stdout).not.toContain('\x1b[')
  })

  it('--tap prints TAP 14 and --junit writes a JUnit report', () => {
    const file = path.join(os.tmpdir(), `pidfd-junit-${process.pid}.xml`)
    try {
      const result = cli(['check', '--tap', '--junit', file])
      expect(result.status).toBe(0)
      const lines = result.stdout.split('\n')
      expect(lines[0]).toBe('TAP version 14')
      const plan = Number(/^1\.\.(\d+)$/.exec(lines[1]!)![1])
      expect(lines.filter((l) => /^ok \d+ - /.test(l)).length).toBe(plan)
      const xml = fs.readFileSync(file, 'utf8')
      expect(xml).toMatch(/^<\?xml version="1.0"/)
      expect(xml).toContain(`tests="${plan}" failures="0"`)
      expect((xml.match(/<testcase /g) ?? []).length).toBe(plan)
    } finally {
      fs.rmSync(file, { force: true })
    }
  })

  it('--require passes for supported features and check ids, and fails cleanly for unknown names', () => {
    const supported = Object.keys(featureInfo).filter((name) => features()[name as keyof typeof featureInfo])
    expect(cli(['check', '--json', '--require', `${supported.join(',')},identity.same`]).status).toBe(features().pidfs ? 0 : 1)
    const unknown = cli(['check', '--require', 'pidfs,warpDrive'])
    expect(unknown.status).toBe(2)
    expect(unknown.stderr).toMatch(/^pidfd check: unknown feature or check in --require: 'warpDrive' \(known features: pidfd, /)
    expect(unknown.stdout).toBe('')
    const missing = Object.keys(featureInfo).find((name) => !features()[name as keyof typeof featureInfo])
    if (missing !== undefined) expect(cli(['check', '--require', missing]).status).toBe(1)
  })

  it('needs nothing on PATH and signals nothing it did not start (env -i PATH=/nonexistent, a sentinel in its process group)', () => {
    const run = besideSentinel('env -i PATH=/nonexistent "$NODE" "$BIN" check --json')
    expect(run.survived, `${run.shell.stdout}${run.shell.stderr}${run.stderr}`).toBe(true)
    expect(run.status, run.stdout.slice(0, 3000) + run.stderr).toBe(0)
    const report = JSON.parse(run.stdout) as Report
    for (const check of report.checks) expect(['pass', 'unsupported'], `${check.id}: ${check.reason ?? check.observed}`).toContain(check.status)
  })

  it('reports a check whose helper cannot start as an error, with the reason, still prints a report, and signals nothing (EMFILE under ulimit -n)', () => {
    // The lowest fd limit at which Node can start the CLI at all leaves too few fds to
    // spawn a helper (its pipes): some check then cannot set itself up.
    const limited = (limit: number, args: string) => {
      const run = besideSentinel(`ulimit -n ${limit}; "$NODE" "$BIN" check ${args}`, { JUNIT: junitFile })
      expect(run.survived, `ulimit -n ${limit}: ${run.shell.stdout}${run.shell.stderr}${run.stderr}`).toBe(true)
      return run
    }
    const junitFile = path.join(os.tmpdir(), `pidfd-junit-emfile-${process.pid}.xml`)
    let limit = 15
    let run
    do run = limited(++limit, '--json')
    while (run.stdout === '' && limit < 64) // Node itself could not start with so few fds
    expect(run.status, run.stderr).toBe(1)
    const report = JSON.parse(run.stdout) as Report
    const errors = report.checks.filter((c) => c.status === 'error')
    expect(errors.length).toBeGreaterThan(0)
    for (const check of errors) expect(check.reason).toMatch(/^EMFILE: /)
    for (const check of report.checks) expect(['pass', 'unsupported', 'error']).toContain(check.status)
    expect(report.summary.error).toBe(errors.length)

    // The other formats show the reason too (one fd more for the JUnit file).
    try {
      const tap = limited(limit + 1, '--tap --junit "$JUNIT"')
      expect(tap.status).toBe(1)
      expect(tap.stdout).toMatch(/^not ok \d+ - [a-z.-]+: .*\n {2}---\n {2}error: "EMFILE: /m)
      expect(fs.readFileSync(junitFile, 'utf8')).toMatch(/errors="[1-9]\d*"[^]*<error message="EMFILE: /)
      const table = limited(limit, '')
      expect(table.status).toBe(1)
      expect(table.stdout).toMatch(/^ERROR {7}[a-z.-]+ +.*\n {12}could not run: EMFILE: /m)
      expect(table.stdout).toMatch(/\d+ passed, 0 failed, \d+ unsupported, [1-9]\d* could not run\n/)
    } finally {
      fs.rmSync(junitFile, { force: true })
    }
  })

  it.skipIf(!canHideShell)('reports a check this process cannot run as unsupported, with the reason, in every format (no process.execve, no /bin/sh)', () => {
    const junitFile = path.join(os.tmpdir(), `pidfd-junit-unsupported-${process.pid}.xml`)
    // A private mount namespace in which /bin/sh is /dev/null: not executable.
    const hidden = (args: string) =>
      spawnSync('unshare', ['--mount', 'bash', '-c', `mount --bind /dev/null /bin/sh && exec "$NODE" "$BIN" check ${args}`], {
        encoding: 'utf8',
        env: { ...process.env, NODE: process.execPath, BIN: bin, JUNIT: junitFile },
        timeout: scaled(30_000),
      })
    const reason = 'needs process.execve (Node 22.15+) or /bin/sh'
    try {
      const json = hidden('--json')
      expect(json.status, json.stderr).toBe(0)
      const report = JSON.parse(json.stdout) as Report
      expect(report.checks.find((c) => c.id === 'identity.exec')).toMatchObject({ status: 'unsupported', reason })
      const tap = hidden('--tap --junit "$JUNIT"')
      expect(tap.stdout).toMatch(new RegExp(`^ok \\d+ - identity\\.exec: .* # SKIP ${escape(reason)}$`, 'm'))
      expect(fs.readFileSync(junitFile, 'utf8')).toMatch(new RegExp(`name="identity.exec"[^>]*>\\s*<skipped message="unsupported: ${escape(reason)}"/>`))
      expect(hidden('').stdout).toMatch(new RegExp(`^unsupported identity\\.exec +.* \\(${escape(reason)}\\)$`, 'm'))
    } finally {
      fs.rmSync(junitFile, { force: true })
    }
  })

  it.skipIf(!canUnsharePid)("runs as pid 1 of a pid namespace (a container's init): every check passes or is unsupported", () => {
    const result = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, bin, 'check', '--json'], { encoding: 'utf8', timeout: scaled(30_000) })
    expect(result.status, result.stdout.slice(0, 3000) + result.stderr).toBe(0)
    const report = JSON.parse(result.stdout) as Report
    for (const check of report.checks) expect(['pass', 'unsupported'], `${check.id}: ${check.reason ?? check.observed}`).toContain(check.status)
    expect(report.checks.find((c) => c.id === 'waitid.not-child')).toMatchObject({ status: 'unsupported', reason: 'needs a parent process in its pid namespace' })
  })

  it('leaves no process behind, even when interrupted with SIGINT', async () => {
    const marker = `PIDFD_CHECK_TEST=${process.pid}-${Date.now()}`
    const [key, value] = marker.split('=') as [string, string]
    const child = spawn(process.execPath, [bin, 'check'], { env: { ...process.env, [key]: value }, stdio: 'ignore' })
    // Listen before any wait: the run may be over in a few hundred ms.
    const exited = once(child, 'exit')
    expect(child.pid).toBeDefined() // a ChildProcess without a pid must never be signalled
    // Interrupt it while one of its checks has a helper running.
    await until(() => child.exitCode !== null || processesMarked(marker).some((pid) => pid !== child.pid), 'a helper of pidfd check', scaled(10_000))
    child.kill('SIGINT')
    const [code, signal] = await exited
    expect([code, signal]).toEqual([130, null])
    // A helper's own child exits by itself within ms; nothing may stay longer.
    await until(() => living(processesMarked(marker)).length === 0, 'no process left behind', scaled(1_000))
  })
})

describe('pidfd id, info, wait, kill', () => {
  it('id prints PID:INODE', () => {
    const target = sleeper()
    using pidfd = Pidfd.open(target.pid)
    const result = cli(['id', String(target.pid)])
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`${pidfd.processId}\n`)
  })

  it('info --json describes a process', () => {
    const target = sleeper()
    const result = cli(['info', '--json', String(target.pid)])
    expect(result.status).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ pid: target.pid, ppid: process.pid })
  })

  it('wait reports a process killed meanwhile', async () => {
    const target = sleeper()
    using pidfd = Pidfd.open(target.pid)
    const waiter = spawn(process.execPath, [bin, 'wait', pidfd.processId], { stdio: ['ignore', 'pipe', 'inherit'] })
    // Listen before any wait, and kill the target only once the waiter holds a pidfd on it.
    const exited = once(waiter, 'exit')
    let output = ''
    waiter.stdout.on('data', (chunk) => (output += chunk))
    expect(waiter.pid).toBeDefined()
    await until(() => waiter.exitCode !== null || holdsPidfdOn(waiter.pid!, target.pid), 'the waiter to open its target', scaled(10_000))
    pidfd.sendSignal('SIGKILL')
    const [code] = await exited
    expect(code).toBe(0)
    expect(output).toBe(`${pidfd.processId} killed by SIGKILL\n`)
  })

  it('wait --timeout SECONDS exits 3, as util-linux waitpid, for a process still running', () => {
    const target = sleeper()
    const result = cli(['wait', '--timeout', '0.1', String(target.pid)])
    expect(result.status).toBe(3)
    expect(result.stderr).toMatch(/still running after 0.1 s/)
  })

  it('kill signals a process by PID:INODE', async () => {
    const target = sleeper()
    using pidfd = Pidfd.open(target.pid)
    const exited = once(target, 'exit')
    expect(cli(['kill', '-s', 'KILL', pidfd.processId]).status).toBe(0)
    await exited
    expect(target.signalCode).toBe('SIGKILL')
  })

  it('kill refuses a stale PID:INODE and signals nothing', () => {
    const target = sleeper()
    // The right pid with another inode: what a reused pid looks like.
    const result = cli(['kill', '-s', 'KILL', `${target.pid}:1`])
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/ESRCH: .*now belongs to another process/)
    expect(target.exitCode).toBeNull()
    expect(spawnSync('kill', ['-0', String(target.pid)]).status).toBe(0)
  })

  // Every pid here that could be signalled is 2147483647, which no process has (pid_max is
  // at most 2^22): a validation slip must never reach a real process.
  it.each([
    [['bogus'], /^pidfd: unknown command 'bogus'/],
    [['check', 'extra'], /unexpected argument 'extra'/],
    [['check', '--nope'], /'--nope'/],
    [['check', '--json', '--tap'], /--json and --tap/],
    [['check', '--junit', ''], /--junit needs a file name/],
    [['check', '--junit', '/nonexistent/dir/report.xml'], /--junit: cannot write '\/nonexistent\/dir\/report.xml': ENOENT/],
    [['check', '--junit', os.tmpdir()], /--junit: cannot write .*: EISDIR/],
    [['check', '--require', 'pidfs,warpDrive'], /--require: 'warpDrive'/],
    [['id'], /no PID given/],
    [['id', 'abc'], /PID 'abc' is not a pid/],
    [['id', '0'], /PID '0' is not a pid \(1 to 2147483647\)/],
    [['id', '-1'], /'-1'/],
    [['id', '2147483648'], /PID '2147483648' is not a pid/],
    [['id', String(process.pid), 'abc'], /PID 'abc' is not a pid/],
    [['info'], /exactly one TARGET/],
    [['info', '2147483647', '2147483647'], /exactly one TARGET/],
    [['info', '1.5'], /TARGET '1.5' is not a pid/],
    [['kill', '-s', 'SIGFOO', '2147483647'], /-s\/--signal: 'SIGFOO' is not a signal/],
    [['kill', '-s', '65', '2147483647'], /-s\/--signal: '65' is not a signal name or a number from 0 to 64/],
    [['kill', '-s', '-1', '2147483647'], /--signal/],
    [['kill', '--signal=', '2147483647'], /-s\/--signal: '' is not a signal/],
    [['kill', '-s', 'KILL'], /no TARGET given/],
    [['kill', 'x:1'], /TARGET 'x:1': the pid must be 1 to 2147483647/],
    [['kill', '2147483648:1'], /TARGET '2147483648:1': the pid must be/],
    [['kill', '2147483647:0'], /TARGET '2147483647:0': the inode must be 1 to 2\^64-1/],
    [['kill', '2147483647:18446744073709551616'], /the inode must be 1 to 2\^64-1/],
    [['kill', '2147483647:1:1'], /the inode must be/],
    [['kill', '2147483647', '1e3'], /TARGET '1e3' is not a pid/],
    [['wait'], /no TARGET given/],
    [['wait', '--timeout', 'soon', '2147483647'], /-t\/--timeout takes seconds from 0 to 2147483.647 .* not 'soon'/],
    [['wait', '--timeout=-1', '2147483647'], /--timeout takes seconds .* not '-1'/],
    [['wait', '--timeout', '-1', '2147483647'], /--timeout/],
    [['wait', '--timeout', '2147484', '2147483647'], /--timeout takes seconds .* not '2147484'/],
    [['wait', '-t', '1e3', '2147483647'], /--timeout takes seconds .* not '1e3'/],
    [['wait', '2147483647', 'abc'], /TARGET 'abc' is not a pid/],
    [['wait', '2147483647', '0'], /TARGET '0' is not a pid/],
    [['kill', 'a\nb'], /TARGET 'a\\u000ab' is not a pid/],
  ])('%j: exits 2 with one line naming the argument, before doing anything', (args, message) => {
    const result = cli(args)
    expect(result.status, result.stderr).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^pidfd[^\n]*\n$/)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).not.toMatch(/options\.|The value of|ERR_|\n\s+at /)
  })

  it('with no arguments, prints the usage on stderr and exits 2', () => {
    const result = cli([])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^Usage: pidfd <command>/)
  })

  it('wait opens nothing when a later argument is bad (no pidfd left open)', async () => {
    const target = sleeper()
    const before = openPidfds()
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    try {
      expect(await main(['wait', String(target.pid), 'abc'])).toBe(2)
      expect(stderr).toHaveBeenCalledWith(expect.stringMatching(/^pidfd wait: TARGET 'abc'/))
    } finally {
      stderr.mockRestore()
    }
    expect(openPidfds()).toEqual(before)
  })

  it('check --junit to a path it cannot write runs no check', () => {
    const started = Date.now()
    const result = cli(['check', '--json', '--junit', '/nonexistent/report.xml'])
    expect(result.status).toBe(2)
    expect(result.stdout).toBe('')
    // Far less than the checks take (each starts processes).
    expect(Date.now() - started).toBeLessThan(scaled(2_000))
  })

  it('takes the edges of every range: signal 0 and lower-case names, timeout 0, inode 2^64-1', async () => {
    const target = sleeper()
    using pidfd = Pidfd.open(target.pid)
    expect(cli(['kill', '-s', '0', String(target.pid)]).status).toBe(0)
    expect(cli(['kill', '-s', 'usr2', '-s', '0', String(target.pid)]).status).toBe(0) // the last -s wins
    const timedOut = cli(['wait', '--timeout', '0', String(target.pid)])
    expect([timedOut.status, timedOut.stderr]).toEqual([3, `pidfd wait: ${pidfd.processId}: still running after 0 s\n`])
    const stale = cli(['kill', '-s', 'KILL', `${target.pid}:18446744073709551615`])
    expect(stale.status).toBe(1)
    expect(stale.stderr).toMatch(/ESRCH: .*now belongs to another process/)
    expect(pidfd.hasExited()).toBe(false)
    const exited = once(target, 'exit')
    expect(cli(['kill', '-s', 'kill', String(target.pid)]).status).toBe(0)
    expect(await exited).toEqual([null, 'SIGKILL'])
  })

  it('prints --help for each command, and --version', () => {
    for (const command of ['check', 'id', 'info', 'wait', 'kill', 'tree']) expect(cli([command, '--help']).stdout).toMatch(new RegExp(`^Usage: pidfd ${command}`))
    expect(cli(['--help']).stdout).toMatch(/^Usage: pidfd/)
    expect(cli(['--version']).stdout).toBe(`${pkg.version}\n`)
  })
})

describe('the command-line parser, fuzzed (fast-check)', () => {
  const commands = ['check', 'id', 'info', 'wait', 'kill', 'tree'] as const
  const token = fc.oneof(
    fc.constantFrom(
      ...commands,
      ...['help', '-h', '--help', '-v', '--version', '--', '-', '--json', '--tap', '--junit', '--junit=', '--require', '--no-color'],
      ...['--timeout', '--timeout=', '--timeout=-1', '-s', '-s9', '-sKILL', '--signal', '--signal=TERM', 'SIGKILL', 'kill', 'usr1', 'SIG', 'pidfs', 'identity.exec'],
      ...['-9', '-KILL', '-SIGKILL', '-l', '-L', '--list=9', '--tree', '--verbose', '-t', '-t0.5', '-c', '-e', '-V', '0x3', '137'],
      ...['0', '1', '-1', '64', '65', '2147483647', '2147483648', '18446744073709551615', '18446744073709551616', '1:1', '0:1', '1:0'],
    ),
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }),
    fc.integer().map(String),
    fc.double().map(String),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
    fc.tuple(fc.bigInt({ min: -3n, max: 2n ** 66n }), fc.bigInt({ min: -3n, max: 2n ** 66n })).map(([pid, inode]) => `${pid}:${inode}`),
    fc.stringMatching(/^-{1,2}[a-z-]{0,10}(=.{0,8})?$/),
  )
  // Near the edges of the ranges, so that many lines are valid and reach the plan.
  const number = fc.oneof(fc.integer({ min: -2, max: 2 ** 31 + 1 }), fc.bigInt({ min: 2n ** 64n - 3n, max: 2n ** 64n + 1n })).map(String)
  const nearlyValid = fc.oneof(number, fc.tuple(number, number).map(([pid, inode]) => `${pid}:${inode}`), fc.constantFrom('-s', 'KILL', 'usr1', '--timeout', '--json', '--require', 'pidfs'))
  const argvs = fc.oneof(
    fc.tuple(fc.constantFrom(...commands), fc.array(token, { maxLength: 8 })).map(([command, rest]) => [command, ...rest]),
    fc.tuple(fc.constantFrom(...commands), fc.array(nearlyValid, { minLength: 1, maxLength: 5 })).map(([command, rest]) => [command, ...rest]),
    fc.array(token, { maxLength: 8 }),
  )
  const signals = os.constants.signals as Record<string, number>
  const knownNames = new Set<string>(Object.keys(featureInfo))

  /** What a plan may hold: every value in its range. */
  function expectValid(plan: Plan): void {
    const pid = (value: number) => expect(Number.isInteger(value) && value >= 1 && value <= 2 ** 31 - 1, `pid ${value}`).toBe(true)
    const target = (t: Target) => {
      pid(t.pid)
      if (t.inode !== undefined) expect(t.inode >= 1n && t.inode <= 2n ** 64n - 1n, `inode ${t.inode}`).toBe(true)
    }
    if (plan.command === 'id') plan.pids.forEach(pid)
    if (plan.command === 'info' || plan.command === 'tree') target(plan.target)
    if (plan.command === 'signals') for (const n of plan.query?.numbers ?? []) expect(Number.isInteger(n) && n >= 0 && n <= 64).toBe(true)
    if (plan.command === 'wait' || plan.command === 'kill') {
      expect(plan.targets.length).toBeGreaterThan(0)
      plan.targets.forEach(target)
    }
    if (plan.command === 'wait' && plan.timeout !== undefined) expect(Number.isInteger(plan.timeout) && plan.timeout >= 0 && plan.timeout <= 2 ** 31 - 1).toBe(true)
    if (plan.command === 'kill') {
      if (typeof plan.signal === 'number') expect(Number.isInteger(plan.signal) && plan.signal >= 0 && plan.signal <= 64).toBe(true)
      else expect(Object.hasOwn(signals, plan.signal), plan.signal).toBe(true)
      for (const followUp of plan.followUps) expect(Number.isInteger(followUp.ms) && followUp.ms >= 0 && followUp.ms <= 2 ** 31 - 1).toBe(true)
      if (plan.tree) expect(plan.followUps.length).toBeLessThanOrEqual(1)
    }
    if (plan.command === 'check') for (const name of plan.required) expect(knownNames.has(name) || checks.some((c) => c.id === name), name).toBe(true)
  }

  /** The plan, or the usage error, for argv. */
  function attempt(argv: string[]): Plan | UsageError {
    try {
      return parse(argv)
    } catch (error) {
      if (error instanceof UsageError) return error
      throw error
    }
  }

  it('returns a valid plan or throws a one-line usage error, at once, with no syscall and no output', () => {
    // Everything through which parsing could touch the system: the addon, fs, signals, output.
    const spies = [
      ...Object.keys(native)
        .filter((name) => typeof native[name as keyof Native] === 'function')
        .map((name) => vi.spyOn(native, name as 'pidfdOpen')),
      ...(['openSync', 'readFileSync', 'writeFileSync', 'accessSync', 'readdirSync', 'statSync'] as const).map((name) => vi.spyOn(fs, name)),
      vi.spyOn(process, 'kill'),
      vi.spyOn(process.stdout, 'write'),
      vi.spyOn(process.stderr, 'write'),
    ]
    try {
      fc.assert(
        fc.property(argvs, (argv) => {
          for (const spy of spies) spy.mockClear()
          const started = performance.now()
          const outcome = attempt(argv)
          expect(performance.now() - started).toBeLessThan(scaled(100))
          if (outcome instanceof UsageError) {
            expect(outcome.code).toBe('ERR_PIDFD_USAGE')
            expect(outcome.message).toMatch(/^pidfd( [a-z]+)?: [^\n]+ \(see 'pidfd( [a-z]+)? --help'\)$/)
            expect(outcome.message).not.toMatch(/options\.|The value of|[\p{Cc}\u2028\u2029]/u)
            expect(outcome.message.length).toBeLessThan(600)
          } else {
            expectValid(outcome)
          }
          for (const spy of spies) expect(spy).not.toHaveBeenCalled()
        }),
        { numRuns: 3000 },
      )
    } finally {
      for (const spy of spies) spy.mockRestore()
    }
  })

  it('end to end, a few generated bad command lines exit 2 with one line on stderr and nothing on stdout', () => {
    // Only lines the parser refuses: the CLI then runs nothing, so no fuzzed kill can ever
    // reach a process. (argv cannot hold NUL bytes.)
    const bad = argvs.filter((argv) => argv.length > 0 && !argv.some((arg) => arg.includes('\0')) && attempt(argv) instanceof UsageError)
    for (const argv of fc.sample(bad, 8)) {
      const result = cli(argv)
      expect(result.status, JSON.stringify(argv)).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/^pidfd[^\n]*\n$/)
    }
  })
})
