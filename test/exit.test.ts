// Exit notification and exit status on real processes: children, non-children, zombies.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Pidfd, type ExitStatus, features } from '../lib'
import { distEntry, killChildren, lineFrom, NOBODY, openPidfds, sleeper, start, removePackageCopy, scaled, TIME_SCALE, worldReadablePackage } from './helpers'

afterEach(killChildren)
afterAll(removePackageCopy)

/** The status child_process reports for the same child, from its 'exit' event. */
function nodeExit(child: ReturnType<typeof start>): Promise<[number | null, NodeJS.Signals | null]> {
  return once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
}

describe('exited for children', () => {
  it.each([
    ['exit 0', 0],
    ['exit 3', 3],
    ['exit 255', 255],
  ])('reports %s, and child_process still reports it too', async (script, code) => {
    const child = start('sh', ['-c', script])
    const fromNode = nodeExit(child)
    const pidfd = Pidfd.fromChildProcess(child)
    const status = await pidfd.exited
    expect(status).toEqual({ code, signal: null, signalNumber: null, coreDumped: false, source: 'waitid' })
    expect(await fromNode).toEqual([code, null])
    pidfd.close()
  })

  it.each([
    ['SIGKILL', 9],
    ['SIGTERM', 15],
  ])('reports death by %s', async (signal, signalNumber) => {
    const child = sleeper()
    const fromNode = nodeExit(child)
    using pidfd = Pidfd.fromChildProcess(child)
    pidfd.sendSignal(signal as NodeJS.Signals)
    expect(await pidfd.exited).toEqual({ code: null, signal, signalNumber, coreDumped: false, source: 'waitid' })
    expect(await fromNode).toEqual([null, signal])
  })

  it('reports a core dump as the kernel reports it', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'pidfd-core-'))
    try {
      const child = start('sh', ['-c', 'ulimit -c unlimited; kill -SEGV $$'], { cwd })
      using pidfd = Pidfd.fromChildProcess(child)
      // The kernel's own word, read without reaping before Node can reap it (it reaps only
      // from the event loop, which this loop blocks): 'dumped' if a core was written.
      while (!pidfd.hasExited()) spawnSync('sleep', ['0.01'])
      const raw = pidfd.waitid({ nowait: true, nohang: true })
      const status = await pidfd.exited
      expect(status.signal).toBe('SIGSEGV')
      expect(status.coreDumped).toBe(raw?.kind === 'dumped')
      if (!status.coreDumped) console.log(`no core dump on this machine (core_pattern: ${fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8').trim()})`)
      await once(child, 'exit')
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true })
    }
  })

  it('resolves at once for a process that exited and was reaped before exited was read', async () => {
    const child = start('sh', ['-c', 'exit 42'])
    const pidfd = Pidfd.fromChildProcess(child)
    await once(child, 'exit') // Node has reaped it now
    expect(pidfd.hasExited()).toBe(true)
    const status = await pidfd.exited
    expect(status.code).toBe(42)
    // The kernel keeps it (6.15+); older kernels fall back to the ChildProcess.
    expect(status.source).toEqual(features().pidfs ? expect.stringMatching(/^(pidfd-info|child-process)$/) : 'child-process')
    pidfd.close()
  })

  it('resolves at once for a zombie that exited before exited was read', async () => {
    const child = start('sh', ['-c', 'exit 5'])
    const pidfd = Pidfd.fromChildProcess(child)
    // Block the event loop until it is a zombie, so Node cannot have reaped it yet.
    while (!pidfd.hasExited()) spawnSync('sleep', ['0.01'])
    expect(await pidfd.exited).toEqual({ code: 5, signal: null, signalNumber: null, coreDumped: false, source: 'waitid' })
    await once(child, 'exit')
    pidfd.close()
  })

  it('is memoised', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(pidfd.exited).toBe(pidfd.exited)
  })
})

describe('exited for processes that are not our children', () => {
  it('reports a grandchild reaped by its own parent shell', async () => {
    // sh starts the grandchild, which exits once told to (after it is opened); sh reaps it
    // with `wait`, then lingers.
    const shell = start('sh', ['-c', 'exec 3<&0; (read go <&3; exit 9) & echo $!; wait; exec sleep 30'])
    const grandchild = Number(await lineFrom(shell, /^\d+$/))
    using pidfd = Pidfd.open(grandchild)
    shell.stdin!.write('go\n')
    const status = await pidfd.exited
    if (status.source === 'unavailable') {
      // Only a kernel without PIDFD_INFO_EXIT (before 6.15) may say this, and must say why.
      expect(status.reason).toMatch(/6\.15/)
    } else {
      expect(status).toEqual({ code: 9, signal: null, signalNumber: null, coreDumped: false, source: expect.stringMatching(/^(pidfd-info|procfs)$/) })
    }
  })

  it('reports a zombie grandchild whose parent never reaps it, from /proc', async () => {
    // The shell execs into sleep, which never waits: the grandchild, exiting after the exec,
    // stays a zombie. (Exiting before it, the shell might reap it on its way.)
    const shell = start('sh', ['-c', '(sleep 0.3; exit 7) & echo $!; exec sleep 30'])
    const grandchild = Number(await lineFrom(shell, /^\d+$/))
    using pidfd = Pidfd.open(grandchild)
    expect(await pidfd.exited).toEqual({ code: 7, signal: null, signalNumber: null, coreDumped: false, source: 'procfs' })
    expect(fs.readFileSync(`/proc/${grandchild}/stat`, 'utf8')).toMatch(/\) Z /) // still a zombie: nobody reaped it
  })

  /** Runs `Pidfd.open(pid).exited` as an unprivileged user; returns its status and CPU time. */
  async function exitedAsNobody(pid: number): Promise<{ status: ExitStatus; cpuMs: number }> {
    const dir = worldReadablePackage()
    const script = `
      const { Pidfd } = require(${JSON.stringify(`${dir}/dist/index.js`)})
      Pidfd.open(${pid}).exited.then((status) => {
        const { user, system } = process.cpuUsage()
        console.log(JSON.stringify({ status, cpuMs: (user + system) / 1000 }))
      })`
    const child = start(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY })
    return JSON.parse(await lineFrom(child, /^\{/))
  }

  it('waits for the reap of a zombie it may not inspect, without spinning, then reports it', async () => {
    if (!features().pidfs) return console.log('skipped: needs pidfs (POLLHUP at reap, Linux 6.9)')
    // The parent (the shell, exec'd into perl) reaps its child only after a while:
    // meanwhile it is a zombie owned by root. (The exit waits out node's start-up, hence
    // scaled; the zombie must not outlast ZOMBIE_WAIT_MS, hence 1.2 s more, rounded down.)
    const shell = start('sh', ['-c', `(sleep ${scaled(0.3)}; exit 7) & echo $!; exec perl -e 'sleep ${scaled(0.3) + 1.2}; wait; sleep 30'`])
    const grandchild = Number(await lineFrom(shell, /^\d+$/))
    const started = Date.now()
    const { status, cpuMs } = await exitedAsNobody(grandchild)
    expect(Date.now() - started).toBeGreaterThan(1000) // it did wait for the reap
    if (status.source === 'unavailable') expect(status.reason).toMatch(/6\.15/)
    else expect(status).toMatchObject({ code: 7, source: 'pidfd-info' })
    expect(cpuMs).toBeLessThan(scaled(1000)) // node's own start-up included; a spinning loop would burn the whole wait
  })

  it('settles a zombie it may not inspect and nobody reaps as unavailable, saying why, instead of hanging', async () => {
    const shell = start('sh', ['-c', `(sleep ${scaled(0.5)}; exit 7) & echo $!; exec sleep 30`])
    const grandchild = Number(await lineFrom(shell, /^\d+$/))
    const { status, cpuMs } = await exitedAsNobody(grandchild)
    expect(status.source).toBe('unavailable')
    expect(status.reason).toMatch(/reap/)
    expect(cpuMs).toBeLessThan(scaled(1000))
  })
})

describe('exited out of fds (EMFILE)', () => {
  /**
   * Runs `Pidfd.open(pid).exited` in a node limited to 128 fds that uses up every fd it
   * has before the process exits, and gives back `freeAfterMs` later (never if undefined).
   */
  async function exitedWithoutFds(pid: number, freeAfterMs?: number, onReady?: () => void): Promise<ExitStatus> {
    const script = `
      const fs = require('node:fs')
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      Pidfd.open(${pid}).exited.then((status) => console.log(JSON.stringify(status)))
      const held = []
      try {
        for (;;) held.push(fs.openSync('/dev/null', 'r'))
      } catch (error) {
        if (error.code !== 'EMFILE') throw error
      }
      console.log('out of fds')
      ${freeAfterMs === undefined ? '' : `setTimeout(() => held.splice(0, 8).forEach((fd) => fs.closeSync(fd)), ${freeAfterMs})`}`
    const child = start('/bin/sh', ['-c', 'ulimit -n 128 && exec "$0" -e "$1"', process.execPath, script])
    await lineFrom(child, /^out of fds$/)
    onReady?.()
    return JSON.parse(await lineFrom(child, /^\{/))
  }

  it('reads a zombie non-child\'s status once fds free up, instead of settling as unavailable', async () => {
    const shell = start('sh', ['-c', '(sleep 0.3; exit 7) & echo $!; exec sleep 30'])
    const grandchild = Number(await lineFrom(shell, /^\d+$/))
    expect(await exitedWithoutFds(grandchild, 1000)).toEqual({ code: 7, signal: null, signalNumber: null, coreDumped: false, source: 'procfs' })
  })

  it('gets the status of a non-child reaped later without any new fd (PIDFD_INFO_EXIT)', async () => {
    if (!features().infoExit) return console.log('skipped: needs PIDFD_INFO_EXIT (Linux 6.15)')
    // The shell, exec'd into perl, reaps the grandchild once told to: after the watcher has
    // run out of fds.
    const shell = start('sh', ['-c', `(sleep 0.3; exit 7) & echo $!; exec perl -e 'my $go = <STDIN>; wait; sleep 30'`])
    const grandchild = Number(await lineFrom(shell, /^\d+$/))
    expect(await exitedWithoutFds(grandchild, undefined, () => shell.stdin!.write('go\n'))).toEqual({ code: 7, signal: null, signalNumber: null, coreDumped: false, source: 'pidfd-info' })
  })
})

describe('wait()', () => {
  it('rejects with AbortError when aborted, without disturbing other waits', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    const controller = new AbortController()
    const aborted = pidfd.wait({ signal: controller.signal })
    const other = pidfd.wait()
    controller.abort(new Error('enough'))
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: new Error('enough') })
    child.kill('SIGKILL')
    expect((await other).signal).toBe('SIGKILL')
    expect((await pidfd.exited).signal).toBe('SIGKILL')
  })

  it('rejects at once for an already aborted signal', async () => {
    using pidfd = Pidfd.open(process.pid)
    await expect(pidfd.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('rejects with a TimeoutError after timeout ms', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    const started = Date.now()
    await expect(pidfd.wait({ timeout: 100 })).rejects.toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' })
    expect(Date.now() - started).toBeGreaterThanOrEqual(90)
    child.kill('SIGKILL')
    await expect(pidfd.wait({ timeout: 10_000 })).resolves.toMatchObject({ signal: 'SIGKILL' })
  })

  it('refuses bad options', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(() => pidfd.wait({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => pidfd.wait({ timeout: '1' as unknown as number })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => pidfd.wait({ signal: {} as AbortSignal })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => pidfd.wait(null as unknown as object)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})

describe('close while waiting', () => {
  it('rejects a pending wait() with ERR_PIDFD_CLOSED and stops watching', async () => {
    const child = sleeper()
    const pidfd = Pidfd.fromChildProcess(child)
    const waiting = pidfd.wait()
    pidfd.close()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_PIDFD_CLOSED' })
    await expect(pidfd.exited).rejects.toMatchObject({ code: 'ERR_PIDFD_CLOSED' })
  })

  it('does not crash a program that never awaited exited', () => {
    const script = `
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      const p = Pidfd.open(process.pid)
      p.exited
      p.close()
      setTimeout(() => console.log('alive'), 50)`
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('alive\n')
    expect(result.status).toBe(0)
  })
})

describe('ref() and unref()', () => {
  it('an unref()d pending exited lets Node exit; a ref()d one keeps it alive', () => {
    const script = (unref: boolean) => `
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      const { spawn } = require('node:child_process')
      const child = spawn('sleep', ['30'], { stdio: 'ignore', detached: true })
      child.unref()
      console.log(child.pid)
      const p = Pidfd.open(child.pid)${unref ? '.unref()' : ''}
      p.exited.then(() => console.log('exited'))
      ${unref ? '' : "setTimeout(() => process.kill(child.pid, 'SIGKILL'), 300)"}`
    for (const unref of [true, false]) {
      const started = Date.now()
      const result = spawnSync(process.execPath, ['-e', script(unref)], { encoding: 'utf8', timeout: 20_000 })
      const pid = Number(result.stdout.split('\n')[0])
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
      expect(result.status).toBe(0)
      if (unref) {
        expect(result.stdout.trim().split('\n')).toEqual([String(pid)]) // exited before the sleeper
        expect(Date.now() - started).toBeLessThan(10_000)
      } else {
        expect(result.stdout).toMatch(/\nexited\n$/) // waited for the exit
      }
    }
  })
})

describe('hasExited()', () => {
  it('is false while running and true after exit, for a zombie too', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    expect(pidfd.hasExited()).toBe(false)
    child.kill('SIGKILL')
    await pidfd.exited
    expect(pidfd.hasExited()).toBe(true)
  })

  it('never fails with EINTR under a storm of signals (poll is retried)', async () => {
    // Even a zero-timeout poll(2) fails with EINTR when a handled signal arrives during it;
    // before the retry, about 2% of calls did here.
    const script = `
      const { spawn } = require('node:child_process')
      const { Pidfd } = require(${JSON.stringify(distEntry)})
      process.on('SIGUSR2', () => {})
      const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
      const storm = spawn(process.execPath, ['-e', \`for (;;) process.kill(\${process.pid}, 'SIGUSR2')\`], { stdio: 'ignore' })
      const pidfd = Pidfd.open(sleeper.pid)
      setTimeout(() => {
        let calls = 0
        const errors = []
        for (const end = Date.now() + 1500; Date.now() < end; calls++) {
          try {
            pidfd.hasExited()
          } catch (error) {
            errors.push(error.code)
          }
        }
        sleeper.kill('SIGKILL')
        storm.kill('SIGKILL')
        console.log(JSON.stringify({ calls, errors: errors.slice(0, 3) }))
      }, 500) // the storm is under way`
    const child = start(process.execPath, ['-e', script])
    const { calls, errors } = JSON.parse(await lineFrom(child, /^\{/))
    expect(errors).toEqual([])
    // Enough calls for a 2% failure rate to show; a slow machine (an emulated guest of the
    // kernel matrix: ~7,000 in 1.5 s) makes fewer, in proportion.
    expect(calls).toBeGreaterThan(10_000 / TIME_SCALE)
  })
})

describe('waitid()', () => {
  it('reports stop and continue, and exit without reaping (nowait)', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    expect(pidfd.waitid({ exited: true, nohang: true, nowait: true })).toBeNull()
    child.kill('SIGSTOP')
    let stopped = null
    while (stopped === null) stopped = pidfd.waitid({ stopped: true, nohang: true })
    expect(stopped).toEqual({ pid: child.pid, kind: 'stopped', status: 19, code: null, signal: 'SIGSTOP' })
    child.kill('SIGCONT')
    let continued = null
    while (continued === null) continued = pidfd.waitid({ continued: true, nohang: true })
    expect(continued).toMatchObject({ kind: 'continued', signal: 'SIGCONT' })
    child.kill('SIGKILL')
    while (!pidfd.hasExited()) spawnSync('sleep', ['0.01']) // no await: Node cannot reap meanwhile
    expect(pidfd.waitid({ nowait: true, nohang: true })).toEqual({ pid: child.pid, kind: 'killed', status: 9, code: null, signal: 'SIGKILL' })
    expect(pidfd.waitid({ nowait: true, nohang: true })).not.toBeNull() // nowait left it waitable
    await once(child, 'exit') // not reaped by us: Node still got it
  })

  it('fails with ECHILD for a process that is not our child', () => {
    using pidfd = Pidfd.open(process.ppid)
    let error: NodeJS.ErrnoException | undefined
    try {
      pidfd.waitid({ nohang: true })
    } catch (e) {
      error = e as NodeJS.ErrnoException
    }
    expect(error).toMatchObject({ code: 'ECHILD', errno: -10, syscall: 'waitid', message: 'ECHILD: no child processes, waitid' })
  })

  it('refuses options that ask for nothing', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(() => pidfd.waitid({ exited: false })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
    expect(() => pidfd.waitid({ nohang: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})

describe('Pidfd.fromChildProcess', () => {
  it('refuses a child that is already gone, and things that are not children', async () => {
    const child = start('true')
    await once(child, 'exit')
    expect(() => Pidfd.fromChildProcess(child)).toThrow(expect.objectContaining({ code: 'ESRCH' }))
    expect(() => Pidfd.fromChildProcess({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => Pidfd.fromChildProcess(null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    const failed = spawn('/nonexistent/binary')
    failed.on('error', () => {})
    expect(() => Pidfd.fromChildProcess(failed)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  })
})

describe('many children', () => {
  it('resolves 1,000 concurrent children with the right codes and leaves no fd open', async () => {
    const before = openPidfds().length
    const children = Array.from({ length: 1000 }, (_, i) => {
      const child = spawn('sh', ['-c', `exit ${i % 256}`], { stdio: 'ignore' })
      return { i, child, pidfd: Pidfd.fromChildProcess(child) }
    })
    const statuses = await Promise.all(children.map(({ pidfd }) => pidfd.exited))
    statuses.forEach((status, i) => expect(status.code, `child ${i}`).toBe(i % 256))
    await Promise.all(children.map(({ child }) => (child.exitCode === null ? once(child, 'exit') : null)))
    for (const { pidfd } of children) pidfd.close()
    expect(openPidfds().length).toBe(before)
  }, scaled(60_000))
})
