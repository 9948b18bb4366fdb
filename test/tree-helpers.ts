// Helpers for the process-tree tests: trees marked in their environment, found through /proc.
import { type ChildProcess, spawnSync } from 'node:child_process'
import crypto from 'node:crypto'
import { once } from 'node:events'
import fs from 'node:fs'
import { lineFrom, start, until } from './helpers'

/** The environment variable every process of a test tree inherits. */
export const MARK = 'PIDFD_TREE_TEST'

/** A fresh marker value for one tree. */
export function newMark(): string {
  return crypto.randomBytes(6).toString('hex')
}

/** The state letter of /proc/PID/stat, or null if the process is gone. */
export function stateOf(pid: number): string | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
    return text[text.lastIndexOf(')') + 2]!
  } catch {
    return null
  }
}

/** Pids of the live (not zombie) processes whose environment carries the mark. */
export function marked(mark: string): number[] {
  const needle = `\0${MARK}=${mark}\0`
  const pids: number[] = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let environ: string
    try {
      environ = `\0${fs.readFileSync(`/proc/${name}/environ`, 'latin1')}`
    } catch {
      continue
    }
    if (!environ.includes(needle)) continue
    const state = stateOf(Number(name))
    if (state !== null && state !== 'Z' && state !== 'X') pids.push(Number(name))
  }
  return pids
}

/**
 * Starts `sh -c script` with the mark in its environment (and so in its whole tree). Its
 * stdout is a pipe only when asked for: a pipe closes when the child exits, which moves fd
 * counts.
 */
export function tree(script: string, mark: string, stdout: 'pipe' | 'ignore' = 'ignore'): ChildProcess & { pid: number } {
  return start('sh', ['-c', script], { env: { ...process.env, [MARK]: mark }, stdio: ['ignore', stdout, 'inherit'] }) as ChildProcess & { pid: number }
}

/** Waits until at least n marked processes are alive. */
export async function grown(mark: string, n: number, timeoutMs: number): Promise<void> {
  await until(() => marked(mark).length >= n, `${n} processes in the tree`, timeoutMs)
}

/** SIGKILLs every marked process left (through pidfds, after checking the mark once open). */
export function sweep(mark: string, open: (pid: number) => { sendSignal(signal: 'SIGKILL'): void; close(): void } | null): void {
  for (let round = 0; round < 20; round++) {
    const left = marked(mark)
    if (left.length === 0) return
    for (const pid of left) {
      const pidfd = open(pid)
      if (pidfd === null) continue
      try {
        if (marked(mark).includes(pid)) pidfd.sendSignal('SIGKILL')
      } catch {
        // gone meanwhile
      } finally {
        pidfd.close()
      }
    }
  }
}

/** The Node-shaped error a call throws, as [name, code], or 'no error'. */
export function errorOf(fn: () => unknown): [string, string | undefined] | 'no error' {
  try {
    fn()
  } catch (error) {
    return [(error as Error).name, (error as NodeJS.ErrnoException).code]
  }
  return 'no error'
}

/**
 * A shell script that builds a tree `depth` levels of subshells deep, each forking `breadth`
 * children in a loop, the last level `sleep 1000`s: 1 + b + b^2 + ... + b^(depth+1)
 * processes. Nothing in it exits on its own, so every process stays in the tree.
 */
export function forkTree(breadth: number, depth: number): string {
  return `f() { i=0; while [ $i -lt ${breadth} ]; do if [ $1 -gt 0 ]; then f $(($1 - 1)) & else sleep 1000 & fi; i=$((i + 1)); done; wait; }; f ${depth}`
}

/** The number of processes {@link forkTree} makes. */
export function forkTreeSize(breadth: number, depth: number): number {
  let total = 1
  for (let level = 1, width = 1; level <= depth + 1; level++) total += width *= breadth
  return total
}

/**
 * The number of marked processes that run `sleep` (have exec'd it). A forked child of a
 * shell with a trap runs the trap, not `sleep`, if a signal reaches it before its exec: a
 * test that needs the signal to reach `sleep` waits for this first.
 */
export function sleeping(mark: string): number {
  return marked(mark).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'latin1') === 'sleep\n'
    } catch {
      return false
    }
  }).length
}

/** Whether this process can start {@link twoUserTree}: root, and util-linux's setpriv. */
export function canMakeTwoUserTree(): boolean {
  return spawnSync('setpriv', ['--version']).error === undefined && process.getuid?.() === 0
}

/**
 * A tree of two users, marked with `mark`: a launcher whose real uid is 12345 (so a
 * uid-12345 killer may signal it) and effective uid 0 (so it may start a child as 65534),
 * with a `sleep 1000` of uid 12345, one of uid 65534 (`other`), and the children that the
 * JavaScript expressions in `more` spawn. Resolves once the launcher has started them.
 */
export async function twoUserTree(mark: string, more: string[] = []): Promise<{ launcher: ChildProcess & { pid: number }; exit: Promise<unknown[]>; other: number }> {
  const launcher = start(
    'setpriv',
    [
      '--ruid=12345',
      '--euid=0',
      process.execPath,
      '-e',
      `const { spawn } = require('node:child_process')
       const kids = [spawn('sleep', ['1000']), spawn('sleep', ['1000'], { uid: 65534, gid: 65534 }), ${more.join(', ')}]
       setTimeout(() => console.log('ready ' + kids[1].pid), 100)
       setInterval(() => {}, 1000)`,
    ],
    { env: { ...process.env, [MARK]: mark }, stdio: ['ignore', 'pipe', 'inherit'] },
  ) as ChildProcess & { pid: number }
  const exit = once(launcher, 'exit')
  const other = Number((await lineFrom(launcher, /^ready \d+$/)).split(' ')[1])
  return { launcher, exit, other }
}
