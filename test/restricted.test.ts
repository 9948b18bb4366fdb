// Restricted environments: seccomp filters that refuse one syscall (as container runtimes
// do), few fds, an unprivileged user. The package runs in a child node under each, through
// its public API and `pidfd check --json`; one refused syscall must cost only its feature.
import { spawnSync, type SpawnSyncOptionsWithStringEncoding } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type FeatureName, type Features, features } from '../lib'
import { canRefuseSyscalls, NOBODY, refusing, removePackageCopy, root, scaled, worldReadablePackage } from './helpers'

/** A check run or a smoke run may take a while on a slow machine. */
const RUN_MS = scaled(30_000)

/**
 * Runs in the child node: loads the package from argv[1], then prints one JSON line with
 * what features() says, the unsupported reasons, an API smoke test on a child process, and
 * what the APIs a filter may refuse do. Every step is caught: a throw is a result too.
 */
const SMOKE = `
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const dir = process.argv[1]
const { Pidfd, featureInfo, features } = require(dir + '/dist/index.js')
const { unsupportedReason } = require(dir + '/dist/features.js')
async function step(run) {
  try {
    return await run()
  } catch (error) {
    return { code: error.code, reason: error.reason, message: error.message }
  }
}
/** Runs use(pidfd) on a pidfd of this process, closed afterwards. */
function withSelf(use) {
  const self = Pidfd.open(process.pid)
  try {
    return use(self)
  } finally {
    self.close()
  }
}
async function main() {
  const report = { reasons: {}, smoke: {}, refused: {} }
  report.features = await step(() => features())
  for (const name of Object.keys(featureInfo)) report.reasons[name] = await step(() => unsupportedReason(name) ?? null)

  const child = spawn('sleep', ['1000'], { stdio: 'ignore' })
  const s = report.smoke
  let pidfd
  s.open = await step(() => (pidfd = Pidfd.fromChildProcess(child)) !== undefined)
  if (pidfd !== undefined) {
    s.info = await step(() => pidfd.info().pid === child.pid)
    s.pid = await step(() => pidfd.pid === child.pid)
    s.id = await step(() => typeof pidfd.id === 'bigint')
    s.equals = await step(() => {
      const other = Pidfd.open(child.pid)
      try {
        return pidfd.equals(other)
      } finally {
        other.close()
      }
    })
    s.processId = await step(() => pidfd.processId === child.pid + ':' + pidfd.id)
    s.sendSignal = await step(() => pidfd.sendSignal('SIGTERM') === undefined)
    s.exited = await step(async () => (await pidfd.exited).signal === 'SIGTERM')
    pidfd.close()
  }
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')

  const r = report.refused
  r.open = await step(() => Pidfd.open(process.pid).close() === undefined)
  r.getfd = await step(() => withSelf((self) => fs.closeSync(self.getfd(self.fd)) === undefined))
  r.toHandle = await step(() => withSelf((self) => self.toHandle().length === 12))
  r.fromHandle = await step(() =>
    withSelf((self) => {
      const handle = Buffer.alloc(12)
      handle.writeUInt32LE(0xfe, 0)
      handle.writeBigUInt64LE(self.id, 4)
      const again = Pidfd.fromHandle(handle)
      try {
        return again.equals(self)
      } finally {
        again.close()
      }
    }),
  )
  process.stdout.write(JSON.stringify(report) + '\\n')
}
main()
`

/** The smoke steps, each with the feature it needs on any kernel. */
const smokeSteps: [step: string, needs: FeatureName][] = [
  ['open', 'pidfd'],
  ['info', 'getInfo'],
  ['pid', 'pidfd'],
  ['id', 'pidfs'],
  ['equals', 'pidfs'],
  ['processId', 'pidfs'],
  ['sendSignal', 'pidfd'],
  ['exited', 'pidfd'],
]

/** The APIs a filter may refuse, each with the feature it needs. */
const refusable: [api: string, needs: FeatureName][] = [
  ['open', 'pidfd'],
  ['getfd', 'getfd'],
  ['toHandle', 'fileHandles'],
  ['fromHandle', 'fileHandles'],
]

interface Outcome {
  code?: string
  reason?: string
  message?: string
}

interface SmokeReport {
  features: Features & Outcome
  reasons: Record<FeatureName, string | null | Outcome>
  smoke: Record<string, true | Outcome>
  refused: Record<string, true | Outcome>
}

interface CheckReport {
  features: Record<FeatureName, { supported: boolean }>
  checks: { id: string; status: string; feature?: FeatureName; reason?: string; observed?: string }[]
}

/** What features() says here, unrestricted: the baseline each restriction is compared with. */
const unrestricted = features()

afterAll(removePackageCopy)

type RunOptions = Omit<SpawnSyncOptionsWithStringEncoding, 'encoding'>

/**
 * Runs argv to completion. Detached: in a session of its own, so that a pid-0 kill in the
 * child (ChildProcess.kill() after a failed spawn signals kill(0)) cannot reach vitest.
 * spawnSync honours `detached` as spawn does, though @types/node leaves it out.
 */
function run(argv: string[], options: RunOptions = {}): { status: number | null; stdout: string; stderr: string } {
  const all: SpawnSyncOptionsWithStringEncoding & { detached: boolean } = { timeout: RUN_MS, detached: true, ...options, encoding: 'utf8' }
  const result = spawnSync(argv[0]!, argv.slice(1), all)
  if (result.error !== undefined) throw result.error
  return result
}


/** The smoke script under `prefix` (a launcher), against the package in dir. */
function smoke(prefix: string[], dir = root, options?: RunOptions): SmokeReport {
  const result = run([...prefix, process.execPath, '-e', SMOKE, dir], options)
  expect(result.stderr, 'stderr of the smoke run').toBe('')
  expect(result.status, 'exit status of the smoke run').toBe(0)
  return JSON.parse(result.stdout) as SmokeReport
}

/** `pidfd check --json` under `prefix`, against the package in dir. */
function check(prefix: string[], dir = root, options?: RunOptions): { status: number | null; report: CheckReport; stderr: string } {
  const result = run([...prefix, process.execPath, path.join(dir, 'dist', 'cli.js'), 'check', '--json'], options)
  let report: CheckReport
  try {
    report = JSON.parse(result.stdout) as CheckReport
  } catch {
    throw new Error(`pidfd check printed no JSON report (exit ${result.status}): ${result.stderr}${result.stdout.slice(0, 500)}`)
  }
  return { status: result.status, report, stderr: result.stderr }
}

/** The smoke steps that must pass: those whose feature this kernel has. */
function expectSmokePasses(report: SmokeReport): void {
  for (const [step, needs] of smokeSteps) if (unrestricted[needs]) expect(report.smoke[step], `smoke step ${step}`).toBe(true)
}

/** Every check passes or is unsupported; the unsupported ones only for a missing feature. */
function expectNoFailedCheck({ status, report, stderr }: ReturnType<typeof check>, missing: (name: FeatureName) => boolean): void {
  const failed = report.checks.filter((c) => c.status !== 'pass' && c.status !== 'unsupported')
  expect(failed, 'checks that neither passed nor were unsupported').toEqual([])
  for (const c of report.checks.filter((c) => c.status === 'unsupported')) expect(missing(c.feature!), `${c.id} unsupported for ${c.feature}`).toBe(true)
  expect(status, `exit status of pidfd check (stderr: ${stderr})`).toBe(0)
}

interface Refusal {
  /** The errno the filter answers with. */
  errno: 'EPERM' | 'ENOSYS'
  /** The syscalls refused. */
  syscalls: string[]
  /** The features that go with them (those this kernel has), and their reason. */
  lost: FeatureName[]
  reason: RegExp
}

/** pidfd_open refused: nothing at all works, so each feature goes, with the same reason. */
const everything = Object.keys(unrestricted) as FeatureName[]

/** What clone3 alone answers for: clone3 itself and every flag only it takes. */
const cloneFlags: FeatureName[] = ['clone3', 'clearSighand', 'intoCgroup', 'autoReap', 'autoKill', 'noNewPrivs']

const refusals: Refusal[] = [
  { errno: 'EPERM', syscalls: ['pidfd_getfd'], lost: ['getfd'], reason: /^blocked \(EPERM from pidfd_getfd\)$/ },
  // ENOSYS is what an old kernel says too: on a kernel shown to be 5.6+ it is a filter.
  { errno: 'ENOSYS', syscalls: ['pidfd_getfd'], lost: ['getfd'], reason: /^(needs Linux 5\.6 or )?blocked \(ENOSYS from pidfd_getfd\)$/ },
  { errno: 'EPERM', syscalls: ['open_by_handle_at'], lost: ['fileHandles', 'pidfsRoot'], reason: /^blocked \(EPERM from open_by_handle_at\)$/ },
  { errno: 'EPERM', syscalls: ['name_to_handle_at'], lost: ['fileHandles', 'pidfsRoot'], reason: /^blocked \(EPERM from name_to_handle_at\)$/ },
  { errno: 'EPERM', syscalls: ['pidfd_open'], lost: everything, reason: /^blocked \(EPERM from pidfd_open\)$/ },
  { errno: 'ENOSYS', syscalls: ['pidfd_open'], lost: everything, reason: /^(needs Linux \d+\.\d+ or )?blocked \(ENOSYS from pidfd_open\)$/ },
  // Docker's default profile: only spawn()'s clone3 features go (glibc's pthread_create falls
  // back to clone, and so does spawn()). With EPERM glibc does not fall back: Node cannot
  // start a thread, so no such sandbox runs Node.
  { errno: 'ENOSYS', syscalls: ['clone3'], lost: cloneFlags, reason: /^blocked \(ENOSYS from clone3\)$/ },
]

describe.skipIf(!canRefuseSyscalls)('one refused syscall costs only its feature', () => {
  describe.each(refusals)('$syscalls refused with $errno', (refusal) => {
    const { errno, lost, reason } = refusal
    const prefix = () => refusing(errno, refusal.syscalls)
    const isLost = (name: FeatureName) => lost.includes(name) && unrestricted[name]

    it('features() does not throw and reports only the lost features missing, with the reason', { timeout: RUN_MS }, () => {
      const report = smoke(prefix())
      expect(report.features.code, `features() threw: ${report.features.message}`).toBeUndefined()
      for (const name of everything) {
        const why = report.reasons[name]
        if (isLost(name)) {
          expect(report.features[name], name).toBe(false)
          expect(why, `unsupportedReason('${name}')`).toMatch(reason)
        } else {
          expect(report.features[name], name).toBe(unrestricted[name])
          if (unrestricted[name]) expect(why, `unsupportedReason('${name}')`).toBeNull()
        }
      }
    })

    it.skipIf(lost.includes('pidfd'))('the API smoke test passes, and only the refused APIs throw ERR_PIDFD_UNSUPPORTED naming the block', { timeout: RUN_MS }, () => {
      const report = smoke(prefix())
      expectSmokePasses(report)
      for (const [api, needs] of refusable) {
        if (!unrestricted[needs]) continue
        if (isLost(needs)) {
          const refused = report.refused[api] as Outcome
          expect(refused, api).toMatchObject({ code: 'ERR_PIDFD_UNSUPPORTED', reason: expect.stringMatching(reason) })
          expect(refused.message, api).toContain(refused.reason)
        } else {
          expect(report.refused[api], api).toBe(true)
        }
      }
    })

    it('pidfd check --json exits 0: each check passes, or is unsupported for a lost feature', { timeout: RUN_MS }, () => {
      const result = check(prefix())
      expectNoFailedCheck(result, (name) => !unrestricted[name] || isLost(name))
      for (const name of lost) expect(result.report.features[name].supported, name).toBe(false)
      const blocked = result.report.checks.filter((c) => c.status === 'unsupported' && isLost(c.feature!))
      for (const c of blocked) expect(c.reason, c.id).toMatch(reason)
    })
  })

  // pidfd_open refused: no Pidfd can exist, so there is nothing to smoke-test; opening one
  // must say why, as any other missing feature does.
  it.each(['EPERM', 'ENOSYS'] as const)('Pidfd.open throws ERR_PIDFD_UNSUPPORTED naming the block when pidfd_open gets %s', { timeout: RUN_MS }, (errno) => {
    const report = smoke(refusing(errno, ['pidfd_open']))
    expect(report.smoke.open, 'Pidfd.fromChildProcess').toMatchObject({ code: 'ERR_PIDFD_UNSUPPORTED', reason: expect.stringContaining(`blocked (${errno} from pidfd_open)`) })
    expect(report.refused.open, 'Pidfd.open').toMatchObject({ code: 'ERR_PIDFD_UNSUPPORTED', reason: expect.stringContaining(`blocked (${errno} from pidfd_open)`) })
  })
})

describe('restricted environments', () => {
  it('with ulimit -n 64: pidfd check reports every check passing or unsupported, and the smoke test passes', { timeout: 2 * RUN_MS }, () => {
    const limit = ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh']
    expectSmokePasses(smoke(limit))
    expectNoFailedCheck(check(limit), (name) => !unrestricted[name])
  })

  it('out of fds: features() neither throws nor caches the shortage, and a later call has every feature', { timeout: RUN_MS }, () => {
    // Every fd taken before the first probe: pidfd_open fails with EMFILE.
    const script = `
      const fs = require('node:fs')
      const { features } = require(process.argv[1] + '/dist/index.js')
      const { unsupportedReason, requireFeature } = require(process.argv[1] + '/dist/features.js')
      const fillers = []
      try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')) } catch (error) { if (error.code !== 'EMFILE') throw error }
      let starved
      try { starved = { pidfd: features().pidfd, reason: unsupportedReason('pidfd') } } catch (error) { starved = { threw: error.code } }
      let required
      try { requireFeature('pidfd'); required = 'no error' } catch (error) { required = error.code }
      for (const fd of fillers) fs.closeSync(fd)
      const after = features()
      process.stdout.write(JSON.stringify({ starved, required, after, again: features() === after }))
    `
    const result = run(['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh', process.execPath, '-e', script, root])
    expect(result.stderr).toBe('')
    const report = JSON.parse(result.stdout) as { starved: unknown; required: string; after: Features; again: boolean }
    expect(report.starved).toEqual({ pidfd: false, reason: 'probe failed (EMFILE from pidfd_open)' })
    // The call itself would have failed so: EMFILE, not "unsupported".
    expect(report.required).toBe('EMFILE')
    expect(report.after).toEqual(unrestricted)
    expect(report.again).toBe(true)
  })

  it('as uid/gid 65534: pidfd check reports every check passing or unsupported, and the smoke test passes', { timeout: 2 * RUN_MS }, () => {
    const dir = worldReadablePackage()
    const asNobody = { uid: NOBODY, gid: NOBODY, cwd: dir }
    expectSmokePasses(smoke([], dir, asNobody))
    expectNoFailedCheck(check([], dir, asNobody), (name) => !unrestricted[name])
  })
})
