// The pidfd command, run as users run it: the package's bin, as a real subprocess.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd, featureInfo, features } from '../lib'
import { killChildren, root, scaled, sleeper, until } from './helpers'

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

/** `text` as a literal inside a RegExp. */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

type Report = { summary: Record<string, number>; checks: { id: string; status: string; reason?: string; observed?: string }[] }

describe('pidfd check', () => {
  it('is the package bin', () => {
    expect(path.join(root, pkg.bin.pidfd!)).toBe(bin)
  })

  it('--json follows the documented schema, and every check passes or is unsupported here', () => {
    const started = Date.now()
    const result = cli(['check', '--json'])
    expect(Date.now() - started).toBeLessThan(scaled(5_000))
    expect(result.status, result.stdout.slice(0, 3000) + result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ schema: 'pidfd-check/1', kernel: os.release(), arch: process.arch, node: process.version, pidfd: pkg.version })
    expect(report.durationMs).toBeLessThan(scaled(2_000))
    expect(Object.keys(report.features).sort()).toEqual(Object.keys(featureInfo).sort())
    for (const [name, feature] of Object.entries(report.features) as [keyof typeof featureInfo, { supported: boolean; since: string }][]) {
      expect(feature.supported, name).toBe(features()[name])
      expect(feature.since).toBe(featureInfo[name].since)
    }
    expect(report.checks.length).toBeGreaterThanOrEqual(30)
    expect(new Set(report.checks.map((c: { id: string }) => c.id)).size).toBe(report.checks.length)
    for (const check of report.checks) {
      expect(check.id).toMatch(/^[a-z]+\.[a-z-]+$/)
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
    expect(unknown.stderr).toMatch(/unknown feature or check in --require: warpDrive/)
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

  it('wait --timeout exits 124 for a process still running', () => {
    const target = sleeper()
    const result = cli(['wait', '--timeout', '100', String(target.pid)])
    expect(result.status).toBe(124)
    expect(result.stderr).toMatch(/still running after 100 ms/)
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

  it.each([
    [['bogus']],
    [['check', 'extra']],
    [['check', '--nope']],
    [['check', '--json', '--tap']],
    [['id']],
    [['id', 'abc']],
    [['kill', '-s', 'SIGFOO', '1']],
    [['kill', 'x:1']],
    [['wait', '--timeout', 'soon', '1']],
    [[]],
  ])('exits 2 with a short message for %j', (args) => {
    const result = cli(args)
    expect(result.status).toBe(2)
    expect(result.stderr.split('\n').length).toBeLessThan(20)
    expect(result.stderr).toMatch(/pidfd|Usage/)
  })

  it('prints --help for each command, and --version', () => {
    for (const command of ['check', 'id', 'info', 'wait', 'kill']) expect(cli([command, '--help']).stdout).toMatch(new RegExp(`^Usage: pidfd ${command}`))
    expect(cli(['--help']).stdout).toMatch(/^Usage: pidfd/)
    expect(cli(['--version']).stdout).toBe(`${pkg.version}\n`)
  })
})
