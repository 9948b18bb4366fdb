// The pidfd command, run as users run it: a real subprocess through the package's bin.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { featureInfo, features } from '../lib'
import { root } from './helpers'

const bin = path.join(root, 'dist', 'cli.js')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> }

function pidfd(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' })
}

describe('pidfd CLI', () => {
  it('is the package bin', () => {
    expect(path.join(root, pkg.bin.pidfd!)).toBe(bin)
  })

  it('check prints every feature with its status and kernel', () => {
    const result = pidfd('check')
    expect(result.status).toBe(0)
    for (const [name, { since }] of Object.entries(featureInfo)) {
      const status = features()[name as keyof typeof featureInfo] ? 'supported' : 'unsupported'
      expect(result.stdout).toMatch(new RegExp(`^${name}\\s+${status}\\s+${since.replace('.', '\\.')}\\s`, 'm'))
    }
  })

  it('check --json reports the same as features()', () => {
    const result = pidfd('check', '--json')
    expect(result.status).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.pidfd).toBe(pkg.version)
    expect(Object.fromEntries(Object.entries(report.features).map(([name, f]) => [name, (f as { supported: boolean }).supported]))).toEqual({
      ...features(),
    })
  })

  it('prints --help and --version', () => {
    expect(pidfd('--help').stdout).toMatch(/^Usage: pidfd/)
    expect(pidfd('--version').stdout).toBe(`${pkg.version}\n`)
  })

  it.each([['bogus'], ['check', 'extra'], ['check', '--nope'], []])('exits 2 with usage for %o', (...args) => {
    const result = pidfd(...args)
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/Usage: pidfd/)
    expect(result.stdout).toBe('')
  })
})
