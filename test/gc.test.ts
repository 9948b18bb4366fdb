// The safety net: a Pidfd dropped without close() has its fd closed on garbage collection.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { distEntry, root, scaled } from './helpers'

/**
 * Runs `body` in a fresh `node --expose-gc` (plus `flags`) with the package loaded; returns
 * its JSON output. A program that hangs is killed after `scaled(15 s)` and fails the test.
 */
function runGc(body: string, flags: string[] = []): unknown {
  const script = `
    const { Pidfd } = require(${JSON.stringify(distEntry)})
    const { native } = require(${JSON.stringify(path.join(root, 'dist', 'binding.js'))})
    const { spawn } = require('node:child_process')
    const net = require('node:net')
    // A child that exits with code after ms, started from process.execPath (no PATH tools).
    const exitAfter = (ms, code) => spawn(process.execPath, ['-e', \`setTimeout(() => process.exit(\${code}), \${ms})\`], { stdio: 'ignore' })
    const fs = require('node:fs')
    const isPidfd = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[pidfd]' } catch { return false } }
    const warnings = []
    process.on('warning', (w) => warnings.push(w.code))
    const collect = async () => { for (let i = 0; i < 10; i++) { gc(); await new Promise((r) => setImmediate(r)) } }
    ;(async () => { ${body} })()`
  const result = spawnSync(process.execPath, ['--expose-gc', ...flags, '-e', script], { encoding: 'utf8', timeout: scaled(15_000) })
  expect(result.signal, `hung: ${result.stdout}${result.stderr}`).toBe(null)
  expect(result.stderr).not.toMatch(/Error/)
  return JSON.parse(result.stdout)
}

describe('garbage collection', () => {
  it('closes a leaked pidfd and warns once', () => {
    const result = runGc(`
      const leak = () => [Pidfd.open(process.pid).fd, Pidfd.open(process.pid).fd]
      const fds = leak()
      await new Promise((r) => setImmediate(r)) // past the task that opened them
      await collect()
      console.log(JSON.stringify({ open: fds.filter(isPidfd).length, warnings }))`)
    expect(result).toEqual({ open: 0, warnings: ['PIDFD_CLOSED_ON_GC'] })
  })

  it('never closes an fd that close() already closed, even if its number is reused', () => {
    const result = runGc(`
      let pidfd = Pidfd.open(process.pid)
      await new Promise((r) => setImmediate(r))
      const fd = pidfd.fd
      pidfd.close()
      pidfd = null
      const reused = fs.openSync('/dev/null', 'r') // likely gets the same number
      await collect()
      console.log(JSON.stringify({ sameNumber: reused === fd, stillOpen: fs.fstatSync(reused).isCharacterDevice(), warnings }))`) as {
      sameNumber: boolean
      stillOpen: boolean
      warnings: string[]
    }
    expect(result.stillOpen).toBe(true)
    expect(result.warnings).toEqual([])
  })

  it('keeps a Pidfd that is still referenced open', () => {
    const result = runGc(`
      globalThis.kept = Pidfd.open(process.pid)
      await new Promise((r) => setImmediate(r))
      await collect()
      console.log(JSON.stringify({ open: isPidfd(kept.fd), warnings }))`)
    expect(result).toEqual({ open: true, warnings: [] })
  })

  // The GC safety net must never run under a live poll: a pending exited owns its Pidfd.
  it.each([[['--max-old-space-size=64']], [[]]])('settles `await Pidfd.open(pid).exited` with collections running meanwhile (%j)', (flags) => {
    const result = runGc(
      `
      const child = exitAfter(300, 7)
      const collecting = setInterval(gc, 5)
      const status = await Pidfd.open(child.pid).exited
      clearInterval(collecting)
      console.log(JSON.stringify({ code: status.code, warnings }))`,
      flags,
    )
    expect(result).toEqual({ code: 7, warnings: [] })
  })

  it('keeps dropped, unref()d pending Pidfds open until they settle: fd numbers are never reused under a poll', () => {
    // Before: the collector closed such fds under their polls; a socket, a pipe or a new
    // Pidfd that got the number then saw nothing, EEXIST, or another process's exit code.
    const result = runGc(`
      const children = [exitAfter(600, 11), exitAfter(600, 12), exitAfter(600, 13)]
      const pending = children.map((child) => Pidfd.open(child.pid).unref().exited) // Pidfds dropped
      await collect()
      // New fds now: a TCP server and its clients, a child's stdout pipe, a new Pidfd.
      const server = net.createServer((socket) => socket.end('hello'))
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
      const replies = await Promise.all([1, 2, 3].map(() => new Promise((resolve, reject) => {
        const client = net.connect(server.address().port, '127.0.0.1')
        let text = ''
        client.on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject)
      })))
      server.close()
      const talker = spawn(process.execPath, ['-e', 'console.log("piped")'], { stdio: ['ignore', 'pipe', 'ignore'] })
      let piped = ''
      talker.stdout.on('data', (d) => (piped += d))
      const zero = await Pidfd.open(talker.pid).exited
      const codes = (await Promise.all(pending)).map((status) => status.code)
      console.log(JSON.stringify({ replies, piped: piped.trim(), zero: zero.code, codes, warnings }))`)
    expect(result).toEqual({ replies: ['hello', 'hello', 'hello'], piped: 'piped', zero: 0, codes: [11, 12, 13], warnings: [] })
  })

  it('closing an fd stops the poll on it first, whoever closes it', () => {
    // The native close is what the GC safety net and close() both call: a watch left on the
    // number would make the next watch of a new fd with that number fail with EEXIST.
    const result = runGc(`
      const fd = native.pidfdOpen(process.pid, 0)
      native.watch(fd, native.UV_READABLE, () => {})
      native.close(fd)
      const again = native.pidfdOpen(process.pid, 0)
      let error = null
      try {
        native.unwatch(native.watch(again, native.UV_READABLE, () => {}))
      } catch (e) {
        error = e.code
      }
      native.close(again)
      console.log(JSON.stringify({ sameNumber: again === fd, error }))`)
    expect(result).toEqual({ sameNumber: true, error: null })
  })
})
