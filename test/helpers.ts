// Shared helpers for tests that use real processes.
import { type ChildProcess, spawn, type SpawnOptions, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import readline from 'node:readline'

export const root = path.join(__dirname, '..')
/** The built package entry, for code that runs outside vitest (Workers, subprocesses). */
export const distEntry = path.join(root, 'dist', 'index.js')

/** Every child a test started, killed after each test so none outlives it. */
const children = new Set<ChildProcess>()

/** Spawns a child that is killed (if still running) by {@link killChildren}. */
export function start(command: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], ...options })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** A child that sleeps until killed. */
export function sleeper(): ChildProcess & { pid: number } {
  return start('sleep', ['1000']) as ChildProcess & { pid: number }
}

/** Kills every child still running; use in afterEach. */
export async function killChildren(): Promise<void> {
  // A child that never got a pid (spawning failed) is never signalled: Node would send the
  // signal to pid 0, this test's own process group.
  const running = [...children].filter((child) => typeof child.pid === 'number' && child.exitCode === null && child.signalCode === null)
  for (const child of running) child.kill('SIGKILL')
  await Promise.all(running.map((child) => once(child, 'exit')))
}

/** Resolves when the child has exited and Node has reaped it. */
export async function reaped(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
}

interface LineQueue {
  lines: string[]
  closed: boolean
  wake: (() => void) | undefined
}
const lineQueues = new WeakMap<ChildProcess, LineQueue>()

function linesOf(child: ChildProcess): LineQueue {
  let queue = lineQueues.get(child)
  if (queue === undefined) {
    const created: LineQueue = { lines: [], closed: false, wake: undefined }
    const reader = readline.createInterface({ input: child.stdout! })
    reader.on('line', (line) => {
      created.lines.push(line)
      created.wake?.()
    })
    reader.on('close', () => {
      created.closed = true
      created.wake?.()
    })
    lineQueues.set(child, created)
    queue = created
  }
  return queue
}

/** Resolves with the child's next stdout line that matches, skipping the others. */
export async function lineFrom(child: ChildProcess, pattern: RegExp): Promise<string> {
  const queue = linesOf(child)
  for (;;) {
    const line = queue.lines.shift()
    if (line !== undefined) {
      if (pattern.test(line)) return line
      continue
    }
    if (queue.closed) throw new Error(`child closed stdout before printing ${pattern}`)
    await new Promise<void>((resolve) => (queue.wake = resolve))
  }
}

/** Number of open fds of this process. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length
}

/** The fds of this process that are pidfds. */
export function openPidfds(): number[] {
  return fs.readdirSync('/proc/self/fd').map(Number).filter(isPidfd)
}

/** True if fd is an open pidfd of this process (checked through /proc, not the library). */
export function isPidfd(fd: number): boolean {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[pidfd]'
  } catch {
    return false
  }
}

/** Polls until check() is true, failing after timeoutMs. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The uid/gid tests drop to for permission errors. */
export const NOBODY = 65534

/**
 * A copy of the built package in a world-readable temporary folder, so that a child running
 * as {@link NOBODY} can load it whatever the permissions of the checkout's parents.
 */
let packageCopy: string | undefined

export function worldReadablePackage(): string {
  if (packageCopy !== undefined) return packageCopy
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidfd-test-'))
  packageCopy = dir
  fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true })
  fs.cpSync(path.join(root, 'build', 'Release', 'pidfd.node'), path.join(dir, 'build', 'Release', 'pidfd.node'))
  fs.cpSync(path.join(root, 'node_modules', 'node-gyp-build'), path.join(dir, 'node_modules', 'node-gyp-build'), { recursive: true })
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'))
  chmodTree(dir)
  return dir
}

/** Removes the copy {@link worldReadablePackage} made, if any; use in afterAll. */
export function removePackageCopy(): void {
  if (packageCopy !== undefined) fs.rmSync(packageCopy, { recursive: true, force: true })
  packageCopy = undefined
}

function chmodTree(dir: string): void {
  fs.chmodSync(dir, 0o755)
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) chmodTree(full)
    else fs.chmodSync(full, 0o644)
  }
}

/**
 * How much slower than usual this run may be: `PIDFD_TIME_SCALE` (set by the ASan run and
 * other slow set-ups), default 1. Time budgets in tests go through {@link scaled}.
 */
export const TIME_SCALE = Math.max(1, Number(process.env.PIDFD_TIME_SCALE ?? 1) || 1)

/** A time budget in ms, stretched by {@link TIME_SCALE}. */
export function scaled(ms: number): number {
  return ms * TIME_SCALE
}

/** Syscall numbers a seccomp filter may refuse (asm/unistd_64.h; arm64 uses the generic table). */
const syscallNumbers: Partial<Record<NodeJS.Architecture, Record<string, number>>> = {
  x64: { clone: 56, name_to_handle_at: 303, open_by_handle_at: 304, pidfd_open: 434, clone3: 435, pidfd_getfd: 438 },
  arm64: { clone: 220, name_to_handle_at: 264, open_by_handle_at: 265, pidfd_open: 434, clone3: 435, pidfd_getfd: 438 },
}

/** True where {@link refusing} knows this architecture's syscall numbers. */
export const canRefuseSyscalls = syscallNumbers[process.arch] !== undefined

let seccompLauncher: string | undefined

/**
 * The argv prefix that runs a program under a seccomp filter answering the named syscalls
 * with `errno` (test/fixtures/seccomp.c, compiled with cc on first use into a temporary
 * folder removed at exit), as container runtimes refuse some syscalls.
 */
export function refusing(errno: string, names: string[]): string[] {
  if (seccompLauncher === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pidfd-seccomp-'))
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
    const binary = path.join(dir, 'seccomp')
    const cc = spawnSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, path.join(__dirname, 'fixtures', 'seccomp.c')], { encoding: 'utf8' })
    if (cc.status !== 0) throw new Error(`cc test/fixtures/seccomp.c failed: ${cc.error?.message ?? cc.stderr}`)
    seccompLauncher = binary
  }
  const numbers = syscallNumbers[process.arch]!
  const errnoNumber = (os.constants.errno as Record<string, number>)[errno]!
  return [seccompLauncher, String(errnoNumber), names.map((name) => numbers[name]!).join(',')]
}
