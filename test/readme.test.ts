// The README's JavaScript examples are real: each one runs here, as a user would run it.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { features } from '../lib'
import { root } from './helpers'

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const examples = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]!)

/** Runs an example from the package root, where require('pidfd') resolves to this package. */
function run(code: string): string {
  const result = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8', timeout: 20_000 })
  expect(result.stderr).toBe('')
  expect(result.status).toBe(0)
  return result.stdout
}

describe('README examples', () => {
  it('has examples to run', () => {
    expect(examples.length).toBeGreaterThanOrEqual(5)
  })

  it.each(examples.map((code, i) => [i + 1, code]))('example %i runs', (_, code) => {
    const output = run(code as string)
    if ((code as string).includes("spawn('sleep', ['10'])") && (code as string).includes('exited by')) {
      expect(output).toBe('exited by SIGTERM\nESRCH pidfd_send_signal\n')
    }
    if ((code as string).includes('sameProcess(a, process.pid)') && features().pidfs) {
      expect(output).toMatch(/^true true\n\d+:\d+\nfalse\ntrue\n$/)
    }
    if ((code as string).includes('Pidfd.fromFd(mine.fd)')) expect(output).toBe('true true\n')
    if ((code as string).includes("'exit 3'")) expect(output.split('\n').sort()).toEqual(['', '3 null waitid', 'child_process saw 3'])
    if ((code as string).includes("require('pidfd')") && (code as string).includes('echo hello')) {
      expect(output.split('\n').sort()).toEqual(['', '3 waitid', 'close 3 null', 'hello'])
    }
    if ((code as string).includes('openProcessId(id)')) expect(output).not.toMatch(/false/)
    if ((code as string).includes('timeout: 100')) expect(output).toBe('TimeoutError ETIMEDOUT\nfalse\nSIGKILL\n')
    if ((code as string).includes('server.pidfd.terminate')) expect(output).toBe('SIGKILL true\n')
    if ((code as string).includes('dev.pidfd.killTree')) expect(output).toBe('stopped 3 processes\ntrue\n')
    if ((code as string).includes('waitAny(pidfds')) expect(output).toBe('first: 1 2\n1 2\n0 SIGTERM\n')
  })
})
