// The safety net: a Pidfd dropped without close() has its fd closed on garbage collection.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { distEntry } from './helpers'

/** Runs `body` in a fresh `node --expose-gc` with the package loaded; returns its JSON output. */
function runGc(body: string): unknown {
  const script = `
    const { Pidfd } = require(${JSON.stringify(distEntry)})
    const fs = require('node:fs')
    const isPidfd = (fd) => { try { return fs.readlinkSync('/proc/self/fd/' + fd) === 'anon_inode:[pidfd]' } catch { return false } }
    const warnings = []
    process.on('warning', (w) => warnings.push(w.code))
    const collect = async () => { for (let i = 0; i < 10; i++) { gc(); await new Promise((r) => setImmediate(r)) } }
    ;(async () => { ${body} })()`
  const result = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })
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
})
