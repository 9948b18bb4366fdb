// waitAny() and exits(): the first to exit, and every exit in order, on the event loop;
// cleaning up when settled or left early.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { exits, Pidfd, waitAny } from '../lib'
import { distEntry, killChildren, openFdCount, scaled, sleeper, start } from './helpers'
import { errorOf } from './tree-helpers'

afterEach(killChildren)

/** n sleepers, each with its 'exit' watched from the start and its pidfd; no pipes, so fd counts hold. */
function sleepers(n: number) {
  return Array.from({ length: n }, () => {
    const child = start('sleep', ['1000'], { stdio: 'ignore' })
    const exit = once(child, 'exit')
    return { child, exit, pidfd: Pidfd.fromChildProcess(child) }
  })
}

describe('waitAny()', () => {
  it('resolves with the first to exit, and holds nothing once settled', async () => {
    const procs = sleepers(3)
    const fds = openFdCount()
    const pending = waitAny(procs.map((p) => p.pidfd))
    expect(openFdCount()).toBe(fds + 3) // one duplicate per process while it waits
    procs[1]!.pidfd.sendSignal('SIGTERM')
    const first = await pending
    expect(first.index).toBe(1)
    expect(first.pidfd).toBe(procs[1]!.pidfd)
    expect(first.status).toMatchObject({ signal: 'SIGTERM' })
    expect(openFdCount()).toBe(fds)
    // The others are untouched and still the caller's.
    for (const p of procs) expect(p.pidfd.closed).toBe(false)
    expect(procs[0]!.pidfd.hasExited()).toBe(false)
    for (const p of procs) p.pidfd.close()
  })

  it('resolves at once with the first in list order of those already gone', async () => {
    const procs = sleepers(3)
    procs[2]!.pidfd.sendSignal('SIGKILL')
    procs[1]!.pidfd.sendSignal('SIGKILL')
    await Promise.all([procs[1]!.exit, procs[2]!.exit])
    const first = await waitAny(procs.map((p) => p.pidfd))
    expect(first.index).toBe(1)
    expect(first.status.signal).toBe('SIGKILL')
    for (const p of procs) p.pidfd.close()
  })

  it('rejects with a TimeoutError, or an AbortError, and holds nothing afterwards', async () => {
    const procs = sleepers(2)
    const fds = openFdCount()
    const list = procs.map((p) => p.pidfd)
    await expect(waitAny(list, { timeout: 50 })).rejects.toMatchObject({ name: 'TimeoutError', code: 'ETIMEDOUT' })
    expect(openFdCount()).toBe(fds)
    const controller = new AbortController()
    const pending = waitAny(list, { signal: controller.signal })
    controller.abort('stop')
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'stop' })
    expect(openFdCount()).toBe(fds)
    await expect(waitAny(list, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
    expect(openFdCount()).toBe(fds)
    for (const p of procs) p.pidfd.close()
  })

  it('rejects with ERR_PIDFD_CLOSED if the Pidfd of the first to exit was closed meanwhile', async () => {
    const procs = sleepers(2)
    const fds = openFdCount()
    const pending = waitAny(procs.map((p) => p.pidfd))
    const pid = procs[0]!.child.pid!
    procs[0]!.pidfd.close()
    process.kill(pid, 'SIGKILL')
    await expect(pending).rejects.toMatchObject({ code: 'ERR_PIDFD_CLOSED' })
    const iterator = exits(procs.map((p) => p.pidfd).slice(1))
    procs[1]!.pidfd.close()
    procs[1]!.child.kill('SIGKILL')
    await expect(iterator.next()).rejects.toMatchObject({ code: 'ERR_PIDFD_CLOSED' })
    expect(openFdCount()).toBe(fds - 2)
  })

  it('refuses bad input at the call, before anything is watched', () => {
    const [p] = sleepers(1)
    const fds = openFdCount()
    const closed = Pidfd.fromFd(p!.pidfd.fd)
    closed.close()
    expect(errorOf(() => waitAny(undefined as never))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => waitAny(p!.pidfd as never))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => waitAny([]))).toEqual(['TypeError', 'ERR_INVALID_ARG_VALUE'])
    expect(errorOf(() => waitAny([p!.pidfd, 3 as never]))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => waitAny([p!.pidfd, p!.pidfd]))).toEqual(['TypeError', 'ERR_INVALID_ARG_VALUE'])
    expect(errorOf(() => waitAny([p!.pidfd, closed]))).toEqual(['Error', 'ERR_PIDFD_CLOSED'])
    expect(errorOf(() => waitAny([p!.pidfd], null as never))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => waitAny([p!.pidfd], { timeout: -5 }))).toEqual(['RangeError', 'ERR_OUT_OF_RANGE'])
    expect(errorOf(() => waitAny([p!.pidfd], { signal: 'SIGTERM' as never }))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => exits([]))).toEqual(['TypeError', 'ERR_INVALID_ARG_VALUE'])
    expect(errorOf(() => exits([closed]))).toEqual(['Error', 'ERR_PIDFD_CLOSED'])
    expect(openFdCount()).toBe(fds)
    p!.pidfd.close()
  })
})

describe('exits()', () => {
  it('yields every exit in the order they happen, those already gone first', async () => {
    const procs = sleepers(4)
    procs[3]!.pidfd.sendSignal('SIGKILL')
    await procs[3]!.exit
    const fds = openFdCount()
    const order: number[] = []
    const statuses: (string | null)[] = []
    const kill = async (index: number, signal: NodeJS.Signals) => {
      procs[index]!.pidfd.sendSignal(signal)
      await procs[index]!.exit
    }
    let killing: Promise<void> | undefined
    for await (const { index, status, pidfd } of exits(procs.map((p) => p.pidfd))) {
      expect(pidfd).toBe(procs[index]!.pidfd)
      order.push(index)
      statuses.push(status.signal)
      // Once the one already gone is out, the others end; each kill waits for the previous
      // exit, so the order is certain.
      killing ??= (async () => {
        await kill(2, 'SIGTERM')
        await kill(0, 'SIGINT')
        await kill(1, 'SIGKILL')
      })()
    }
    await killing
    expect(order).toEqual([3, 2, 0, 1])
    expect(statuses).toEqual(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGKILL'])
    expect(openFdCount()).toBe(fds)
    for (const p of procs) p.pidfd.close()
  })

  it('cleans up when the loop is left early: no fd, no watch keeps the program alive', async () => {
    const procs = sleepers(3)
    const fds = openFdCount()
    procs[0]!.pidfd.sendSignal('SIGKILL')
    for await (const { index } of exits(procs.map((p) => p.pidfd))) {
      expect(index).toBe(0)
      break
    }
    expect(openFdCount()).toBe(fds)
    for (const p of procs) expect(p.pidfd.closed).toBe(false)
    for (const p of procs) p.pidfd.close()
    // In a program of its own, with non-children (nothing else holds its event loop): it
    // ends as soon as the loop is left, while the other processes still run.
    const others = [sleeper(), sleeper()]
    const script = `
      const { exits, Pidfd } = require(${JSON.stringify(distEntry)})
      const list = process.argv.slice(1).map((pid) => Pidfd.open(Number(pid)))
      ;(async () => {
        list[0].sendSignal('SIGKILL')
        for await (const { index } of exits(list)) { console.log('exit', index); break }
      })()`
    const started = Date.now()
    const result = spawnSync(process.execPath, ['-e', script, String(others[0]!.pid), String(others[1]!.pid)], {
      encoding: 'utf8',
      timeout: scaled(10_000),
    })
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('exit 0\n')
    expect(result.status).toBe(0)
    expect(Date.now() - started).toBeLessThan(scaled(5000))
    expect(others[1]!.exitCode).toBeNull()
  })

  it('keeps the event loop alive only while a next() is pending', async () => {
    // Nothing awaits the iterator between next() calls: a program that stops iterating
    // without leaving the loop still ends.
    const others = [sleeper(), sleeper()]
    const script = `
      const { exits, Pidfd } = require(${JSON.stringify(distEntry)})
      const list = process.argv.slice(1).map((pid) => Pidfd.open(Number(pid)))
      const iterator = exits(list)
      list[1].sendSignal('SIGKILL')
      iterator.next().then(({ value }) => console.log('exit', value.index))`
    const result = spawnSync(process.execPath, ['-e', script, String(others[0]!.pid), String(others[1]!.pid)], {
      encoding: 'utf8',
      timeout: scaled(10_000),
    })
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('exit 1\n')
    expect(result.status).toBe(0)
  })

  it('works for processes that are not children of this one', async () => {
    const parent = start('sh', ['-c', 'sleep 1000 & echo $!; sleep 1000 & echo $!; wait'])
    const lines: number[] = []
    parent.stdout!.setEncoding('utf8')
    for await (const chunk of parent.stdout!) {
      lines.push(...String(chunk).split('\n').filter(Boolean).map(Number))
      if (lines.length === 2) break
    }
    const list = lines.map((pid) => Pidfd.open(pid))
    list[1]!.sendSignal('SIGTERM')
    const first = await waitAny(list)
    expect(first.index).toBe(1)
    if (first.status.source !== 'unavailable') expect(first.status.signal).toBe('SIGTERM')
    list[0]!.sendSignal('SIGTERM')
    const seen: number[] = []
    for await (const { index } of exits(list)) seen.push(index)
    expect(seen.sort()).toEqual([0, 1])
    for (const pidfd of list) pidfd.close()
  })
})
