// Pid reuse, forced: in a pid namespace of its own, root can choose the next pid through
// /proc/sys/kernel/ns_last_pid and hand a dead child's pid to an unrelated process.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { distEntry, root, scaled } from './helpers'

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status === 0
if (!canUnshare) console.log('skipping forced pid reuse: needs root and unshare(CLONE_NEWPID)')

describe('Pidfd.fromChildProcess with the pid reused', () => {
  it.skipIf(!canUnshare)("never returns another process when the child was reaped before its 'exit' event", () => {
    // /bin/sh as the namespace's init (not exec'd away: `; exit`) reaps the orphans.
    const script = path.join(root, 'test', 'fixtures', 'pid-reuse.js')
    const result = spawnSync(
      'unshare',
      ['--pid', '--fork', '--mount-proc', '/bin/sh', '-c', `"${process.execPath}" "${script}" "${distEntry}" 20; exit $?`],
      { encoding: 'utf8', timeout: scaled(60_000) },
    )
    expect(result.status, result.stderr).toBe(0)
    const tally = JSON.parse(result.stdout)
    expect(tally.errors).toEqual([])
    expect(tally.wrong).toBe(0)
    // The race really happened, with the pid really reused, and was refused each time.
    expect(tally.reused).toBeGreaterThanOrEqual(5)
    expect(tally.refused).toBe(tally.raced)
  })
})
