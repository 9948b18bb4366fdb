// terminate(): a polite signal, a wait, then a certain one, for children and non-children,
// with Node's abort and validation behaviour.
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { features, Pidfd, spawn } from '../lib'
import { killChildren, lineFrom, openFdCount, scaled, sleeper, start } from './helpers'
import { errorOf } from './tree-helpers'

afterEach(killChildren)

/** A node child that ignores SIGTERM, started and ready (its handler installed) when this resolves. */
async function stubborn() {
  const child = start(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); console.log('ready')"])
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const pidfd = Pidfd.fromChildProcess(child)
  await lineFrom(child, /^ready$/)
  return { child, exit, pidfd }
}

describe('terminate()', () => {
  it('sends SIGTERM and resolves with the exit status when the process obeys', async () => {
    const child = sleeper()
    const exit = once(child, 'exit')
    using pidfd = Pidfd.fromChildProcess(child)
    const result = await pidfd.terminate()
    expect(result).toMatchObject({ code: null, signal: 'SIGTERM', signalNumber: 15, escalated: false })
    expect(await exit).toEqual([null, 'SIGTERM'])
  })

  it('escalates to killSignal after timeout ms', async () => {
    const { exit, pidfd } = await stubborn()
    const started = Date.now()
    const result = await pidfd.terminate({ timeout: 200 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(result).toMatchObject({ signal: 'SIGKILL', escalated: true })
    expect(await exit).toEqual([null, 'SIGKILL'])
    pidfd.close()
  })

  it('takes the signals by name or number', async () => {
    const { exit, pidfd } = await stubborn()
    const result = await pidfd.terminate({ signal: 15, timeout: 100, killSignal: 'SIGINT' })
    expect(result).toMatchObject({ signal: 'SIGINT', escalated: true })
    expect(await exit).toEqual([null, 'SIGINT'])
    pidfd.close()
  })

  it('works for a process that is not a child of this one', async () => {
    const parent = start('sh', ['-c', 'sleep 1000 & echo $!; wait'])
    const grandchild = Number(await lineFrom(parent, /^\d+$/))
    using pidfd = Pidfd.open(grandchild)
    const result = await pidfd.terminate({ timeout: scaled(5000) })
    expect(result.escalated).toBe(false)
    // Its parent reaps it: the status comes from the kernel (6.15+) or the zombie's /proc entry.
    if (result.source !== 'unavailable') expect(result.signal).toBe('SIGTERM')
    else expect(features().infoExit).toBe(false)
  })

  it('resolves at once, sending nothing, for a process already gone', async () => {
    const child = start('sh', ['-c', 'exit 7'])
    using pidfd = Pidfd.fromChildProcess(child)
    await once(child, 'exit')
    const started = Date.now()
    expect(await pidfd.terminate()).toMatchObject({ code: 7, signal: null, escalated: false })
    expect(Date.now() - started).toBeLessThan(scaled(1000))
  })

  it('works through a spawn() child\'s pidfd', async () => {
    const child = spawn('sleep', ['1000'])
    const result = await child.pidfd!.terminate()
    expect(result).toMatchObject({ signal: 'SIGTERM', escalated: false })
    expect((await child.exited).signal).toBe('SIGTERM')
  })

  it('stops at an abort halfway: rejects with an AbortError and sends nothing more', async () => {
    const { exit, pidfd } = await stubborn()
    const controller = new AbortController()
    const pending = pidfd.terminate({ timeout: 300, abort: controller.signal })
    setTimeout(() => controller.abort('enough'), 100)
    await expect(pending).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'enough' })
    // SIGTERM was sent (and ignored); past the timeout, SIGKILL was never sent.
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(pidfd.hasExited()).toBe(false)
    pidfd.sendSignal('SIGKILL')
    expect(await exit).toEqual([null, 'SIGKILL'])
    pidfd.close()
  })

  it('rejects at once with an already aborted signal, sending nothing', async () => {
    const child = sleeper()
    using pidfd = Pidfd.fromChildProcess(child)
    const reason = new Error('no')
    await expect(pidfd.terminate({ abort: AbortSignal.abort(reason) })).rejects.toMatchObject({ name: 'AbortError', cause: reason })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(pidfd.hasExited()).toBe(false)
  })

  it('refuses bad input at the call, before anything is sent', async () => {
    const child = sleeper()
    const pidfd = Pidfd.fromChildProcess(child)
    const fds = openFdCount()
    expect(errorOf(() => pidfd.terminate(null as never))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => pidfd.terminate({ signal: 'SIGFOO' as never }))).toEqual(['TypeError', 'ERR_UNKNOWN_SIGNAL'])
    expect(errorOf(() => pidfd.terminate({ killSignal: -1 }))).toEqual(['RangeError', 'ERR_OUT_OF_RANGE'])
    expect(errorOf(() => pidfd.terminate({ timeout: -1 }))).toEqual(['RangeError', 'ERR_OUT_OF_RANGE'])
    expect(errorOf(() => pidfd.terminate({ timeout: NaN }))).toEqual(['RangeError', 'ERR_OUT_OF_RANGE'])
    expect(errorOf(() => pidfd.terminate({ timeout: '1' as never }))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    expect(errorOf(() => pidfd.terminate({ abort: {} as never }))).toEqual(['TypeError', 'ERR_INVALID_ARG_TYPE'])
    const copy = Pidfd.fromFd(pidfd.fd)
    copy.close()
    expect(errorOf(() => copy.terminate())).toEqual(['Error', 'ERR_PIDFD_CLOSED'])
    expect(errorOf(() => Pidfd.prototype.terminate.call({} as Pidfd))).toEqual(['TypeError', 'ERR_INVALID_THIS'])
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(pidfd.hasExited()).toBe(false)
    expect(openFdCount()).toBe(fds)
    pidfd.close()
  })
})
