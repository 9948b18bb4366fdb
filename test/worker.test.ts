// The addon is context-aware: it loads in Workers, several at once, and a Worker's pidfds
// are closed when it ends, however it ends.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd } from '../lib'
import { distEntry, isPidfd, killChildren, openPidfds, sleeper, until } from './helpers'

afterEach(killChildren)

/**
 * Starts a Worker running `body` with `Pidfd`, `sameProcess` and `parentPort` in scope.
 * `exited` is listened for from the start, so a quick Worker's exit is not missed.
 */
function worker(body: string, workerData?: unknown): Worker & { exited: Promise<unknown[]> } {
  const code = `
    const { Pidfd, sameProcess, features } = require(${JSON.stringify(distEntry)})
    const { parentPort, workerData } = require('node:worker_threads')
    ${body}`
  const w = new Worker(code, { eval: true, workerData })
  return Object.assign(w, { exited: once(w, 'exit') })
}

describe('Workers', () => {
  it('open, signal, stat and compare inside a Worker', async () => {
    const w = worker(`
      const self = Pidfd.open(process.pid)
      self.sendSignal(0)
      parentPort.postMessage({ processId: self.processId, same: sameProcess(self, process.pid), ino: self.stat().ino })
      self.close()`)
    const [message] = await once(w, 'message')
    using here = Pidfd.open(process.pid)
    expect(message).toEqual({ processId: here.processId, same: true, ino: here.id })
    await w.exited
  })

  it('works in several Workers at once', async () => {
    const workers = Array.from({ length: 4 }, (_, i) =>
      worker(
        `
        let equal = 0
        for (let i = 0; i < 500; i++) {
          const a = Pidfd.open(process.pid)
          const b = Pidfd.fromFd(a.fd)
          if (a.equals(b)) equal++
          a.close()
          b.close()
        }
        parentPort.postMessage({ index: workerData, equal })`,
        i,
      ),
    )
    const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0]))
    expect(results.sort((a, b) => a.index - b.index)).toEqual([0, 1, 2, 3].map((index) => ({ index, equal: 500 })))
    await Promise.all(workers.map((w) => w.exited))
  })

  it('closes the pidfds of a terminated Worker (environment cleanup)', async () => {
    const before = openPidfds().length
    const w = worker(`
      const held = Array.from({ length: 10 }, () => Pidfd.open(process.pid))
      parentPort.postMessage(held.map((p) => p.fd))
      setInterval(() => {}, 1000)`)
    const [fds] = (await once(w, 'message')) as [number[]]
    expect(fds.every(isPidfd)).toBe(true)
    expect(openPidfds().length).toBe(before + 10)
    await w.terminate()
    expect(openPidfds().length).toBe(before)
  })

  it('closes the pidfds of a Worker that exits on its own or calls process.exit()', async () => {
    const before = openPidfds().length
    const quiet = worker(`globalThis.kept = [Pidfd.open(process.pid), Pidfd.open(process.pid)]`)
    const exiting = worker(`globalThis.kept = [Pidfd.open(process.pid)]; process.exit(3)`)
    const [[quietCode], [exitCode]] = await Promise.all([quiet.exited, exiting.exited])
    expect(quietCode).toBe(0)
    expect(exitCode).toBe(3)
    await until(() => openPidfds().length === before, 'Worker pidfds to close')
  })

  it("does not close the main thread's pidfds when a Worker ends", async () => {
    using mine = Pidfd.open(process.pid)
    const w = worker(`
      const theirs = Pidfd.open(process.pid)
      parentPort.postMessage(theirs.fd)`)
    await once(w, 'message')
    await w.terminate()
    expect(isPidfd(mine.fd)).toBe(true)
    mine.sendSignal(0)
  })

  it('reports exits inside a Worker', async () => {
    const child = sleeper()
    const w = worker(`
      const p = Pidfd.open(workerData)
      p.exited.then((status) => { parentPort.postMessage(status); p.close() })
      parentPort.postMessage('watching')`, child.pid)
    const messages: unknown[] = []
    w.on('message', (m) => messages.push(m))
    await until(() => messages.length === 1, 'the Worker to watch')
    child.kill('SIGKILL')
    await until(() => messages.length === 2, 'the exit status')
    expect(messages[1]).toMatchObject({ signal: 'SIGKILL', code: null })
    await w.exited
  })

  it('survives terminating Workers with pending exit watchers, leaking nothing', async () => {
    const before = openPidfds().length
    const children = Array.from({ length: 5 }, () => sleeper())
    const workers = Array.from({ length: 3 }, () =>
      worker(
        `
        for (const pid of workerData) Pidfd.open(pid).exited.then(() => {})
        parentPort.postMessage('watching')`,
        children.map((c) => c.pid),
      ),
    )
    await Promise.all(workers.map((w) => once(w, 'message')))
    expect(openPidfds().length).toBe(before + 15)
    await Promise.all(workers.map((w) => w.terminate()))
    expect(openPidfds().length).toBe(before)
    // The processes the Workers watched are untouched and can still be watched here.
    using pidfd = Pidfd.open(children[0]!.pid)
    children[0]!.kill('SIGKILL')
    expect((await pidfd.exited).signal).toBe('SIGKILL')
  })

  it('survives a Worker that calls process.exit() just as a watched process exits', async () => {
    const before = openPidfds().length
    for (let round = 0; round < 20; round++) {
      const child = sleeper()
      const w = worker(
        `
        const p = Pidfd.open(workerData.pid)
        p.exited.then(() => parentPort.postMessage('seen'))
        parentPort.postMessage('watching')
        setTimeout(() => process.exit(0), workerData.delay)`,
        { pid: child.pid, delay: round % 4 },
      )
      await once(w, 'message')
      child.kill('SIGKILL')
      const [code] = await w.exited
      expect(code).toBe(0)
    }
    await until(() => openPidfds().length === before, 'Worker pidfds to close')
  })
})
