// The native spawn: each way of making a child with its pidfd (clone3, clone, posix_spawn +
// pidfd_open), forced, and the automatic fallbacks under seccomp filters that refuse clone3
// (Docker's default profile answers ENOSYS) or clone too. Subprocess-level behaviour is in
// test/spawn*.test.ts.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { native, type SpawnPlan } from '../lib/binding'
import { constants } from '../lib/constants'
import { canRefuseSyscalls, openFdCount, refusing, root, scaled } from './helpers'

const METHODS = { clone3: 1, clone: 2, posixSpawn: 3 } as const

function plan(over: Partial<SpawnPlan> = {}): SpawnPlan {
  return {
    paths: [process.execPath],
    argv: ['node', '--version'],
    env: [],
    cwd: null,
    stdio: [-1, -1, -1],
    uid: -1,
    gid: -1,
    setsid: false,
    pgid: -1,
    pdeathSignal: 0,
    cgroupFd: -1,
    flags: 0n,
    method: 0,
    ...over,
  }
}

/** Reaps the child (blocking: it exits at once) and closes its pidfd; returns its siginfo. */
function reap(child: { pidfd: number }): { code: number; status: number } {
  const info = native.waitid(child.pidfd, constants.WEXITED | constants.__WALL)!
  native.close(child.pidfd)
  return info
}

/** Runs a shell line as the child, its stdout into a file; returns what it wrote. */
function output(over: Partial<SpawnPlan>, script: string): string {
  const file = path.join(os.tmpdir(), `pidfd-clone-${process.pid}`)
  const fd = fs.openSync(file, 'w+')
  try {
    reap(native.spawn(plan({ paths: ['/bin/sh'], argv: ['sh', '-c', script], stdio: [-1, fd, -1], ...over })))
    return fs.readFileSync(file, 'utf8')
  } finally {
    fs.closeSync(fd)
    fs.rmSync(file, { force: true })
  }
}

describe.each(Object.entries(METHODS))('native spawn through %s', (_name, method) => {
  it('makes the child with its pidfd, runs the program, and reports the method', () => {
    const child = native.spawn(plan({ method, argv: ['node', '-e', 'process.exit(7)'] }))
    expect(child.method).toBe(method)
    expect(child.pid).toBeGreaterThan(0)
    expect(fs.readFileSync(`/proc/self/fdinfo/${child.pidfd}`, 'latin1')).toMatch(new RegExp(`^Pid:\\s+${child.pid}$`, 'm'))
    expect(reap(child)).toMatchObject({ code: constants.CLD_EXITED, status: 7 })
  })

  it('gives the program exactly the fds asked for, blocking stdio, default signals and an empty mask', () => {
    const text = output({ method }, 'ls /proc/self/fd; grep -E "^(SigBlk|SigIgn)" /proc/self/status')
    const [fds, ...signals] = text.trim().split('\n').reduce<string[][]>((acc, line) => (/^\d+$/.test(line) ? acc[0]!.push(line) : acc.push([line]), acc), [[]])
    expect(fds!.map(Number).filter((fd) => fd > 2).length).toBe(1) // ls's own directory fd only
    // glibc's posix_spawn leaves its two internal signals (32, 33) ignored, and sigaddset
    // refuses them: the last resort cannot do better.
    const ignored = method === METHODS.posixSpawn ? '0000000180000000' : '0000000000000000'
    expect(signals.flat()).toEqual(['SigBlk:\t0000000000000000', `SigIgn:\t${ignored}`])
  })

  it('reports a failed step in the child with its errno, leaving no zombie and no fd', () => {
    const before = openFdCount()
    expect(() => native.spawn(plan({ method, paths: ['/nonexistent/x'] }))).toThrow(expect.objectContaining({ code: 'ENOENT', errno: -2 }))
    expect(() => native.spawn(plan({ method, paths: ['/etc/passwd'] }))).toThrow(expect.objectContaining({ code: 'EACCES' }))
    if (method !== METHODS.posixSpawn) {
      expect(() => native.spawn(plan({ method, cwd: '/nonexistent' }))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'chdir' }))
    }
    expect(openFdCount()).toBe(before)
    const zombies = fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'latin1').trim()
    for (const pid of zombies.split(' ').filter(Boolean)) expect(fs.readFileSync(`/proc/${pid}/stat`, 'latin1')).not.toMatch(/\) Z /)
  })

  it('runs an executable file without #! through /bin/sh, as execvp does', () => {
    const script = path.join(os.tmpdir(), `pidfd-noshebang-${process.pid}`)
    fs.writeFileSync(script, 'exit 5\n', { mode: 0o755 })
    try {
      expect(reap(native.spawn(plan({ method, paths: [script], argv: ['x'] })))).toMatchObject({ status: 5 })
    } finally {
      fs.rmSync(script)
    }
  })
})

describe('native spawn: what only a native spawn can do', () => {
  it('swaps fds safely (child 1 = our 2 and child 2 = our 1), in a new session', () => {
    const file = path.join(os.tmpdir(), `pidfd-clone-swap-${process.pid}`)
    const a = fs.openSync(`${file}.a`, 'w+')
    const b = fs.openSync(`${file}.b`, 'w+')
    try {
      const child = native.spawn(plan({ paths: ['/bin/sh'], argv: ['sh', '-c', 'echo one; echo two >&2; cat /proc/$$/stat >&2'], stdio: [-1, b, a], setsid: true }))
      reap(child)
      expect(fs.readFileSync(`${file}.a`, 'utf8').split('\n')[0]).toBe('two')
      expect(fs.readFileSync(`${file}.b`, 'utf8')).toBe('one\n')
      const stat = fs.readFileSync(`${file}.a`, 'utf8').split('\n')[1]!
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // Fields after "(comm)": state, ppid, pgrp, session. setsid made sh lead both.
      expect([Number(fields[1]), Number(fields[2]), Number(fields[3])]).toEqual([process.pid, child.pid, child.pid])
    } finally {
      fs.closeSync(a)
      fs.closeSync(b)
      fs.rmSync(`${file}.a`)
      fs.rmSync(`${file}.b`)
    }
  })

  it('returns once the child has exec\'d: it already runs the program', () => {
    const child = native.spawn(plan({ argv: ['node', '-e', 'setTimeout(() => {}, 5000)'] }))
    try {
      expect(fs.readlinkSync(`/proc/${child.pid}/exe`)).toBe(fs.realpathSync(process.execPath))
    } finally {
      native.pidfdSendSignal(child.pidfd, 9, 0)
      reap(child)
    }
  })
})

describe.skipIf(!canRefuseSyscalls)('native spawn under seccomp filters', () => {
  /** Spawns through the package in a node under the filter; returns the method used. */
  function methodUnder(prefix: string[]): number {
    const script = `
      const { native } = require(${JSON.stringify(path.join(root, 'dist', 'binding.js'))})
      const plan = ${JSON.stringify({ ...plan(), flags: undefined })}
      plan.flags = 0n
      const child = native.spawn(plan)
      native.waitid(child.pidfd, ${constants.WEXITED | constants.__WALL})
      console.log(child.method)`
    const result = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, '-e', script], { encoding: 'utf8', timeout: scaled(20_000) })
    expect(result.status, result.stderr).toBe(0)
    return Number(result.stdout)
  }

  // ENOSYS, as Docker's default profile answers. (A filter answering clone3 with EPERM
  // stops Node itself: glibc 2.34+ makes threads with clone3 and falls back only on ENOSYS.)
  it('falls back to clone() when clone3 is refused with ENOSYS', () => {
    expect(methodUnder(refusing('ENOSYS', ['clone3']))).toBe(METHODS.clone)
  })
})
