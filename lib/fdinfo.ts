/**
 * `/proc/self/fdinfo/<fd>` of a pidfd: the kernel's `Pid:` line (fs/pidfs.c
 * pidfd_show_fdinfo), which works on every kernel with pidfds.
 * @internal
 * @packageDocumentation
 */
import fs from 'node:fs'

/**
 * The pid of the pidfd's process in this procfs's pid namespace: a positive pid, `0`
 * when the process is not visible there, `-1` once it has been reaped.
 */
export function fdinfoPid(fd: number): number {
  const text = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1')
  const match = /^Pid:\s*(-?\d+)$/m.exec(text)
  if (match === null) throw new Error(`/proc/self/fdinfo/${fd} has no Pid: line`)
  return Number(match[1])
}

/** True if fd is a pidfd on a kernel without pidfs, where it is an anonymous inode. */
export function isAnonPidfd(fd: number): boolean {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[pidfd]'
  } catch {
    return false
  }
}
