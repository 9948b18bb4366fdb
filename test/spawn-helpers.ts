// Helpers for the spawn tests: run a scenario with child_process.spawn and with ours, and
// compare what a program can observe (events in order, their arguments, error shapes).
import * as childProcess from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import { Worker } from 'node:worker_threads'
import { spawn as ours, type Subprocess } from '../lib'
import { distEntry, scaled } from './helpers'

/** Either implementation: the tests feed both the same arguments. */
export type AnySpawn = (file: string, args?: unknown, options?: unknown) => childProcess.ChildProcess | Subprocess
export const node: AnySpawn = childProcess.spawn as AnySpawn
export const pidfd: AnySpawn = ours as AnySpawn

/** Every child a test started, killed (if it has a pid and still runs) by {@link killAll}. */
const started = new Set<childProcess.ChildProcess | Subprocess>()

/** Spawns with `spawn`, remembering the child for {@link killAll}. */
export function track<T extends childProcess.ChildProcess | Subprocess>(child: T): T {
  started.add(child)
  return child
}

/** Kills what is still running; use in afterEach. Never a child without a pid (pid 0 is our group). */
export async function killAll(): Promise<void> {
  const running = [...started].filter((child) => typeof child.pid === 'number' && child.exitCode === null && child.signalCode === null)
  started.clear()
  for (const child of running) child.kill('SIGKILL')
  await Promise.all(running.map((child) => once(child as childProcess.ChildProcess, 'exit')))
}

/** What a program sees of an error: its class, name, message and own properties. */
export function errorShape(error: unknown): Record<string, unknown> {
  const e = error as NodeJS.ErrnoException & { spawnargs?: string[] }
  return {
    constructor: e.constructor.name,
    name: e.name,
    message: e.message,
    code: e.code,
    errno: e.errno,
    syscall: e.syscall,
    path: e.path,
    spawnargs: e.spawnargs,
    keys: Object.keys(e),
  }
}

/** The error `f` throws, as {@link errorShape}; fails if it throws nothing. */
export function thrown(f: () => unknown): Record<string, unknown> {
  try {
    const child = f()
    if (child instanceof childProcess.ChildProcess || (child !== null && typeof child === 'object' && 'spawnargs' in child)) {
      track(child as childProcess.ChildProcess)
    }
  } catch (error) {
    return errorShape(error)
  }
  throw new Error('expected a throw')
}

/** One observed event: its name and arguments (errors as their shape). */
export type Event = [name: string, ...args: unknown[]]

/** Records 'spawn', 'exit', 'close' and 'error' until 'close'; resolves with them in order. */
export function events(child: childProcess.ChildProcess | Subprocess): Promise<Event[]> {
  const seen: Event[] = []
  const emitter = child as childProcess.ChildProcess
  return new Promise((resolve) => {
    for (const name of ['spawn', 'exit', 'error', 'close']) {
      emitter.on(name, (...args: unknown[]) => {
        seen.push([name, ...args.map((arg) => (arg instanceof Error ? errorShape(arg) : arg))])
        if (name === 'close') resolve(seen)
      })
    }
  })
}

/** Everything the child writes to stdout, once it closes. */
export async function output(child: childProcess.ChildProcess | Subprocess): Promise<string> {
  const stream = child.stdout!
  stream.setEncoding('utf8')
  let text = ''
  stream.on('data', (chunk: string) => (text += chunk))
  await once(stream, 'close')
  return text
}

/** The pids of this process's children that are zombies (exited, unreaped), from /proc. */
export function zombieChildren(parent = process.pid): number[] {
  const zombies: number[] = []
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1')
    } catch {
      continue // gone meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if (fields[0] === 'Z' && Number(fields[1]) === parent) zombies.push(Number(entry))
  }
  return zombies
}

/** The state letter of a process (R, S, Z, ...), or null if it is gone. */
export function processState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!
  } catch {
    return null
  }
}

/**
 * Resolves once `pid` sleeps (state S): for a `sleep` child, once its loader is done and its
 * fds are its own (the dynamic loader briefly opens /etc/ld.so.cache after exec).
 */
export async function asleep(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (processState(pid) !== 'S') {
    if (Date.now() > deadline) throw new Error(`process ${pid} never slept`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** A field of /proc/PID/stat after "(comm)", 0-based from the state (ppid is 1, pgrp 2, session 3). */
export function statField(pid: number, index: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[index])
}

/** Runs a Node script (CommonJS; `lib` is the built package) and resolves with its output and status. */
export function runScript(script: string, options: { nodeArgs?: string[]; timeout?: number } = {}) {
  const argv = [process.execPath, ...(options.nodeArgs ?? []), '-e', `const lib = require(${JSON.stringify(distEntry)});\n${script}`]
  return childProcess.spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: options.timeout ?? scaled(20_000) })
}

/** Runs `body` (CommonJS, with `lib` and `parentPort`) in a Worker; resolves with its messages once it has exited. */
export async function inWorker(body: string, end: (worker: Worker, messages: unknown[]) => void = () => {}): Promise<unknown[]> {
  const worker = new Worker(`const lib = require(${JSON.stringify(distEntry)}); const { parentPort } = require('worker_threads');\n${body}`, { eval: true })
  const messages: unknown[] = []
  worker.on('message', (message) => {
    messages.push(message)
    end(worker, messages)
  })
  worker.on('error', (error) => messages.push(String(error)))
  await once(worker, 'exit')
  return messages
}

/** Pids of this process's children (zombies included). */
export function childrenOfThisProcess(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return Number(fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[1]) === process.pid
      } catch {
        return false
      }
    })
    .map(Number)
}
