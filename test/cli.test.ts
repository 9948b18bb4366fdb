// The pidfd command, run as users run it: the package's bin, as a real subprocess.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd, featureInfo, features } from '../lib'
import { killChildren, root, sleeper } from './helpers'

afterEach(killChildren)

const bin = path.join(root, 'dist', 'cli.js')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env, timeout: 30_000 })
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

describe('pidfd check', () => {
  it('is the package bin', () => {
    expect(path.join(root, pkg.bin.pidfd!)).toBe(bin)
  })

  it('--json follows the documented schema, and every check passes or is unsupported here', () => {
    const started = Date.now()
    const result = cli(['check', '--json'])
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(result.status, result.stdout.slice(0, 3000) + result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ schema: 'pidfd-check/1', kernel: os.release(), arch: process.arch, node: process.version, pidfd: pkg.version })
    expect(report.durationMs).toBeLessThan(2_000)
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
      if (check.status === 'unsupported') expect(Object.keys(featureInfo)).toContain(check.feature)
    }
    expect(report.summary).toEqual({
      total: report.checks.length,
      pass: report.checks.filter((c: { status: string }) => c.status === 'pass').length,
      fail: 0,
      unsupported: report.checks.filter((c: { status: string }) => c.status === 'unsupported').length,
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

  it('leaves no process behind, even when interrupted with SIGINT', async () => {
    const marker = `PIDFD_CHECK_TEST=${process.pid}-${Date.now()}`
    const [key, value] = marker.split('=') as [string, string]
    const child = spawn(process.execPath, [bin, 'check'], { env: { ...process.env, [key]: value }, stdio: 'ignore' })
    await new Promise((resolve) => setTimeout(resolve, 150))
    child.kill('SIGINT')
    const [code, signal] = await once(child, 'exit')
    expect(code === 130 || code === 0 || signal === 'SIGINT').toBe(true)
    expect(processesMarked(marker).filter((pid) => {
      try {
        return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))
      } catch {
        return false
      }
    })).toEqual([])
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
    let output = ''
    waiter.stdout.on('data', (chunk) => (output += chunk))
    await new Promise((resolve) => setTimeout(resolve, 300))
    target.kill('SIGKILL')
    const [code] = await once(waiter, 'exit')
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
    expect(cli(['kill', '-s', 'KILL', pidfd.processId]).status).toBe(0)
    await once(target, 'exit')
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
