// The spawn.* checks of `pidfd check`: children made by clone() and clone3() with their
// pidfds, and CLONE_INTO_CGROUP. Run as users run them (the package's bin, a real
// subprocess), and in this process to count what is left behind.
import { spawn, spawnSync, type SpawnSyncOptionsWithStringEncoding } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { features, unsupportedReason } from '../lib'
import { runChecks } from '../lib/check'
import { findCgroup2Mount } from '../lib/spawn'
import { canRefuseSyscalls, NOBODY, refusing, removePackageCopy, root, scaled, until, worldReadablePackage } from './helpers'
import { childrenOfThisProcess } from './spawn-helpers'

const bin = path.join(root, 'dist', 'cli.js')
const ids = ['spawn.clone-pidfd', 'spawn.clone3', 'spawn.into-cgroup']
const RUN_MS = scaled(30_000)

interface Result {
  id: string
  status: string
  feature?: string
  since?: string
  reason?: string
  expected?: string
  observed?: string
}

afterAll(removePackageCopy)

/** `pidfd check --json` (through `prefix`, a launcher), its spawn.* results, and the CLI's pid. */
function check(prefix: string[] = [], dir = root, options: Omit<SpawnSyncOptionsWithStringEncoding, 'encoding'> = {}) {
  const argv = [...prefix, process.execPath, path.join(dir, 'dist', 'cli.js'), 'check', '--json']
  const result = spawnSync(argv[0]!, argv.slice(1), { timeout: RUN_MS, ...options, encoding: 'utf8' })
  let report: { checks: Result[] }
  try {
    report = JSON.parse(result.stdout) as { checks: Result[] }
  } catch {
    throw new Error(`pidfd check printed no JSON report (exit ${result.status}): ${result.stderr}${result.stdout.slice(0, 500)}`)
  }
  const byId = Object.fromEntries(report.checks.filter((c) => ids.includes(c.id)).map((c) => [c.id, c])) as Record<string, Result>
  return { status: result.status, byId, pid: result.pid, stderr: result.stderr, report }
}

/** This process's cgroup v2 directory (where the check makes its cgroups), or null. */
function ownCgroupDir(): string | null {
  const mount = findCgroup2Mount()
  const line = fs.readFileSync('/proc/self/cgroup', 'latin1').split('\n').find((l) => l.startsWith('0::'))
  return mount === null || line === undefined ? null : path.resolve(mount, `.${line.slice(3)}`)
}

/** The cgroups a check run by process `pid` made (and left) in this process's cgroup. */
function cgroupsOf(pid: number): string[] {
  const dir = ownCgroupDir()
  return dir === null ? [] : fs.readdirSync(dir).filter((name) => name.startsWith(`pidfd-check-${pid}-`))
}

/** Whether this process may make a cgroup where the check does (root, a writable v2 mount). */
const canMakeCgroups = (() => {
  const dir = ownCgroupDir()
  if (dir === null) return false
  const probe = path.join(dir, `pidfd-check-test-${process.pid}`)
  try {
    fs.mkdirSync(probe)
    fs.rmdirSync(probe)
    return true
  } catch {
    return false
  }
})()

describe('pidfd check: spawn.*', () => {
  it('all three pass here, and the cgroup spawn.into-cgroup made is gone afterwards', { timeout: RUN_MS }, () => {
    const { status, byId, pid, stderr } = check()
    expect(status, stderr).toBe(0)
    for (const id of ids) {
      const result = byId[id]!
      expect(result, id).toBeDefined()
      // Where this process cannot make cgroups (not root), neither can the CLI: unsupported.
      const expected = id === 'spawn.into-cgroup' && !canMakeCgroups ? 'unsupported' : 'pass'
      expect(result.status, `${id}: ${result.reason ?? `${result.expected} / ${result.observed}`}`).toBe(expected)
    }
    expect(cgroupsOf(pid)).toEqual([])
  })

  it('spawn.kill-on-close and spawn.autoreap pass on Linux 7.1+, and before it are unsupported, naming autoKill and 7.1', { timeout: RUN_MS }, () => {
    const { status, stderr, report } = check()
    expect(status, stderr).toBe(0)
    for (const id of ['spawn.kill-on-close', 'spawn.autoreap']) {
      const result = report.checks.find((c) => c.id === id)
      expect(result, id).toBeDefined()
      if (features().autoKill) expect(result, id).toMatchObject({ status: 'pass' })
      else expect(result, id).toMatchObject({ status: 'unsupported', feature: 'autoKill', since: '7.1', reason: unsupportedReason('autoKill') })
    }
  })

  it('leaves no process, zombie, fd or cgroup behind (run in this process)', { timeout: RUN_MS }, async () => {
    const fds = fs.readdirSync('/proc/self/fd').sort()
    const children = childrenOfThisProcess()
    const results = await runChecks()
    for (const id of ids) {
      const result = results.find((r) => r.id === id)!
      expect(['pass', 'unsupported'], `${id}: ${result.reason ?? `${result.expected} / ${result.observed}`}`).toContain(result.status)
    }
    expect(childrenOfThisProcess()).toEqual(children)
    expect(fs.readdirSync('/proc/self/fd').sort()).toEqual(fds)
    expect(cgroupsOf(process.pid)).toEqual([])
  })

  it.skipIf(!canMakeCgroups)('removes its cgroup when interrupted (SIGINT) while the cgroup exists', { timeout: RUN_MS }, async () => {
    const child = spawn(process.execPath, [bin, 'check'], { stdio: 'ignore' })
    const exited = once(child, 'exit')
    expect(child.pid).toBeDefined() // a ChildProcess without a pid must never be signalled
    // The cgroup is made (and its child started) before the first check runs.
    await until(() => child.exitCode !== null || cgroupsOf(child.pid!).length > 0, 'the check to make its cgroup', scaled(10_000))
    child.kill('SIGINT')
    expect(await exited).toEqual([130, null])
    expect(cgroupsOf(child.pid!)).toEqual([])
  })

  it('with ulimit -n 64 and as pid 1 of a pid namespace, all three still pass', { timeout: 2 * RUN_MS }, () => {
    const limited = check(['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
    for (const id of ids) expect(limited.byId[id]?.status, `ulimit -n 64: ${id}: ${limited.byId[id]?.reason ?? limited.byId[id]?.observed}`).toBe(id === 'spawn.into-cgroup' && !canMakeCgroups ? 'unsupported' : 'pass')
    if (spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status !== 0) return
    const init = check(['unshare', '--pid', '--fork', '--mount-proc'])
    for (const id of ids) expect(init.byId[id]?.status, `pid 1: ${id}: ${init.byId[id]?.reason ?? init.byId[id]?.observed}`).toBe(id === 'spawn.into-cgroup' && !canMakeCgroups ? 'unsupported' : 'pass')
  })

  it.skipIf(process.getuid!() !== 0)('as uid 65534: spawn.into-cgroup is unsupported, with the reason, and leaves nothing; the other two pass', { timeout: RUN_MS }, () => {
    const dir = worldReadablePackage()
    const { status, byId, pid, stderr } = check([], dir, { uid: NOBODY, gid: NOBODY, cwd: dir })
    expect(status, stderr).toBe(0)
    expect(byId['spawn.clone-pidfd']?.status).toBe('pass')
    expect(byId['spawn.clone3']?.status).toBe('pass')
    expect(byId['spawn.into-cgroup']).toMatchObject({ status: 'unsupported', reason: expect.stringMatching(/^(cannot create a cgroup in \/.* \((EACCES|EPERM|EROFS)\)|no cgroup v2 hierarchy is mounted here)$/) })
    expect(cgroupsOf(pid)).toEqual([])
  })

  // Docker's default seccomp profile answers clone3 with ENOSYS. (With EPERM Node itself
  // cannot start: glibc's pthread_create falls back to clone only on ENOSYS.)
  it.skipIf(!canRefuseSyscalls)('with clone3 refused (ENOSYS): spawn.clone3 and spawn.into-cgroup are unsupported, naming the block; clone() still passes', { timeout: RUN_MS }, () => {
    const { status, byId, stderr } = check(refusing('ENOSYS', ['clone3']))
    expect(status, stderr).toBe(0)
    expect(byId['spawn.clone-pidfd']?.status).toBe('pass')
    const blocked = { status: 'unsupported', feature: 'clone3', since: '5.3', reason: 'blocked (ENOSYS from clone3)' }
    expect(byId['spawn.clone3']).toMatchObject(blocked)
    // The cgroup check fails earlier where this process cannot make cgroups.
    if (canMakeCgroups) expect(byId['spawn.into-cgroup']).toMatchObject(blocked)
    else expect(byId['spawn.into-cgroup']?.status).toBe('unsupported')
  })
})
