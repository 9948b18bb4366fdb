// features(): probed against the running kernel, cached, and consistent with what works.
import fs from 'node:fs'
import os from 'node:os'
import { describe, expect, it } from 'vitest'
import { Pidfd, constants, featureInfo, features } from '../lib'

/** The running kernel's version as [major, minor]. */
const [major, minor] = os.release().split('.').map(Number) as [number, number]
const atLeast = (version: string) => {
  const [wantMajor, wantMinor] = version.split('.').map(Number) as [number, number]
  return major > wantMajor || (major === wantMajor && minor >= wantMinor)
}

describe('features()', () => {
  it('is probed once and cached', () => {
    expect(features()).toBe(features())
    expect(Object.isFrozen(features())).toBe(true)
  })

  it('names every feature with the kernel that added it', () => {
    expect(Object.keys(featureInfo).sort()).toEqual(Object.keys(features()).sort())
    for (const { since } of Object.values(featureInfo)) expect(since).toMatch(/^\d+\.\d+$/)
  })

  it('matches the running kernel version (a stock kernel: features are not backported)', () => {
    for (const [name, { since }] of Object.entries(featureInfo)) {
      expect(features()[name as keyof typeof featureInfo], `${name} (Linux ${since}) on ${os.release()}`).toBe(atLeast(since))
    }
  })

  it('reports pidfs exactly when pidfds of different processes have different inodes', () => {
    using self = Pidfd.open(process.pid)
    using parent = Pidfd.open(process.ppid)
    // Measured without the library: Node's own fstat of both fds.
    const distinct = fs.fstatSync(self.fd).ino !== fs.fstatSync(parent.fd).ino
    expect(features().pidfs).toBe(distinct)
    expect(self.isPidfs).toBe(distinct)
    expect(constants.PIDFD_THREAD).toBe(fs.constants.O_EXCL)
    expect(constants.PIDFD_NONBLOCK).toBe(fs.constants.O_NONBLOCK)
  })
})
