// Property-based fuzzing (fast-check) of every public entry point. Whatever goes in, a call
// returns, or throws an error Node could have thrown: a TypeError/RangeError with an ERR_*
// code that names the argument, ERR_PIDFD_CLOSED/ERR_PIDFD_UNSUPPORTED/ERR_PIDFS_UNSUPPORTED,
// AbortError, wait()'s TimeoutError, or an ErrnoException (string code, negative errno,
// string syscall). Also let through, because Node's own APIs let them through: a hostile
// getter's or Proxy trap's own error (SENTINEL, or V8's "proxy that has been revoked"), and
// ERR_INVALID_THIS from inspecting a fake to quote it in a message (Node does the same for a
// fake AbortSignal: `readFileSync(p, { flag: Object.create(AbortSignal.prototype) })`).
// Never a crash, a hang, a leaked fd, or a signal to a process this test does not own.
//
// Argument errors come before any native call (a spy on the addon sees every call), except
// where the check needs one: "fd is not a pidfd" is an fstatfs. On a closed Pidfd, arguments
// are checked first and the closed state second, as an open Pidfd and Node's streams do, so a
// programmer's error does not depend on timing (fs.Dir and FileHandle do the opposite:
// `dir.read(123)` on a closed Dir is ERR_DIR_CLOSED); either way no native call. wait() may
// throw its argument errors or reject with them (exit.test.ts pins the throw; Node's promise
// APIs reject).
//
// Hangs: waitid() is fuzzed only where it cannot block (a nonblock pidfd of a live child, or
// processes that are not children); every promise must settle within scaled(2000) ms, a
// pending wait() once its Pidfd is closed.
//
// Signals: real ones only go to a sleeper this test spawned; every other receiver gets signal
// 0 or an argument the library must refuse. The spy enforces it: before the syscall, it
// refuses any other signal to any process but those sleepers.
//
// The seed is fixed (PIDFD_FUZZ_SEED overrides it); fast-check prints seed and path on failure.
import { ChildProcess, execFileSync } from 'node:child_process'
import { EventEmitter, once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import util from 'node:util'
import vm from 'node:vm'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as api from '../lib'
import { constants, featureInfo, features, Pidfd, PidfdStats, sameProcess, unsupportedReason, ZOMBIE_WAIT_MS } from '../lib'
import { native } from '../lib/binding'
import { killChildren, openFdCount, scaled, start } from './helpers'

fc.configureGlobal({ seed: Number(process.env.PIDFD_FUZZ_SEED ?? 0x5eed) })

// ---------------------------------------------------------------------------------------
// The spy: every native call is logged, and stray signals are refused before the syscall.

const nativeCalls: string[] = []
/** Signals the spy refused since the last check (check() reports them), and all of them. */
const signalViolations: string[] = []
const allSignalViolations: string[] = []
/** pidfs inodes of the processes that may get real signals: sleepers this test spawned. */
const signalTargets = new Set<bigint>()
const originals = new Map<string, (...args: unknown[]) => unknown>()

class SignalGuardError extends Error {}

function pidfsInode(fd: number): bigint | undefined {
  try {
    return fs.fstatSync(fd, { bigint: true }).ino // through fs, not the addon: not logged
  } catch {
    return undefined
  }
}

function guardSignal(fd: unknown, sig: unknown): void {
  if (sig === 0) return
  const ino = typeof fd === 'number' && fd >= 0 ? pidfsInode(fd) : undefined
  if (ino !== undefined && signalTargets.has(ino)) return
  const what = `signal ${String(sig)} through fd ${String(fd)} (inode ${String(ino)}), not to a sleeper of this test`
  signalViolations.push(what)
  allSignalViolations.push(what)
  throw new SignalGuardError(what)
}

function installSpy(): void {
  for (const [name, value] of Object.entries(native)) {
    if (typeof value !== 'function') continue
    const original = value as (...args: unknown[]) => unknown
    originals.set(name, original)
    ;(native as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      nativeCalls.push(name)
      if (name === 'pidfdSendSignal') guardSignal(args[0], args[1])
      return Reflect.apply(original, native, args)
    }
  }
}

function removeSpy(): void {
  for (const [name, original] of originals) (native as unknown as Record<string, unknown>)[name] = original
}

// ---------------------------------------------------------------------------------------
// Outcomes and what makes them acceptable.

/** Thrown by hostile getters and Proxy traps; Node lets such an error through, so do we. */
const SENTINEL = new Error('sentinel from a hostile getter or trap')
const REVOKED = /on a proxy that has been revoked/

type Outcome = { threw: false; value: unknown; calls: string[] } | { threw: true; error: unknown; calls: string[] }

function attempt(call: () => unknown): Outcome {
  nativeCalls.length = 0
  try {
    const value = call()
    return { threw: false, value, calls: [...nativeCalls] }
  } catch (error) {
    return { threw: true, error, calls: [...nativeCalls] }
  }
}

const ARG_CODES = new Set([
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
  'ERR_INVALID_THIS',
  'ERR_MISSING_ARGS',
  'ERR_UNKNOWN_SIGNAL',
  'ERR_ILLEGAL_CONSTRUCTOR',
])
const STATE_CODES = new Set(['ERR_PIDFD_CLOSED', 'ERR_PIDFD_UNSUPPORTED', 'ERR_PIDFS_UNSUPPORTED', 'ERR_CGROUP2_UNAVAILABLE'])

const show = (value: unknown): string => {
  try {
    return util.inspect(value, { depth: 1, breakLength: Infinity }).slice(0, 300)
  } catch (error) {
    return `<uninspectable: ${String((error as Error).message)}>`
  }
}

/** A hostile getter's or trap's own error, which Node's APIs let through too. */
function passesThrough(error: unknown): boolean {
  return error === SENTINEL || (error instanceof TypeError && REVOKED.test(error.message) && !('code' in error))
}

/** Why `error` is not one Node could throw, or undefined if it is. */
function unlikeNode(error: unknown): string | undefined {
  if (passesThrough(error)) return undefined
  if (error instanceof SignalGuardError) return 'a signal went to a process this test does not own'
  if (!(error instanceof Error)) return 'not an Error'
  const { code, errno, syscall } = error as NodeJS.ErrnoException
  if (typeof code !== 'string') return `${error.name} without a code`
  if (error instanceof TypeError || error instanceof RangeError) return code.startsWith('ERR_') ? undefined : `${error.name} with code ${code}`
  if (STATE_CODES.has(code)) return error.name === 'Error' ? undefined : `${code} as a ${error.name}`
  if (code === 'ABORT_ERR') return error.name === 'AbortError' ? undefined : `ABORT_ERR as a ${error.name}`
  if (code === 'ETIMEDOUT' && error.name === 'TimeoutError' && errno === undefined) return undefined // wait({ timeout })
  if (!/^E[A-Z0-9]+$/.test(code)) return `unknown code ${code}`
  if (!Number.isInteger(errno) || errno! >= 0) return `errno ${String(errno)} is not a negative integer`
  if (typeof syscall !== 'string') return 'no syscall'
  if (!error.message.startsWith(`${code}: `)) return 'message does not start with the code, as Node writes it'
  return undefined
}

/** True if message names `name` the way Node's messages quote it ("pid", 'options.scope', "pidfds[0]"). */
function names(message: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`["']${escaped}(?:[.[][^"']*)?["']`).test(message)
}

interface Expectation {
  /** The argument being fuzzed: an argument error must name it. */
  arg?: string
  /** What a model of the argument says: the ERR_* codes it must get, or 'valid'. */
  model?: readonly string[] | 'valid'
  /** "Not a pidfd" and "already owned" need a look at the fd first. */
  valueCheckNeedsSyscall?: boolean
}

function fail(what: string, why: string, detail: unknown): never {
  throw new Error(`${what}: ${why}\n  got: ${show(detail)}`)
}

/** Checks one outcome against the properties every entry point has. */
function check(outcome: Outcome, what: string, { arg, model, valueCheckNeedsSyscall }: Expectation = {}): void {
  if (signalViolations.length > 0) fail(what, 'signal guard tripped', signalViolations.splice(0))
  if (!outcome.threw) {
    if (model !== undefined && model !== 'valid') fail(what, `expected ${model.join(' or ')}, but it returned`, outcome.value)
    return
  }
  const { error, calls } = outcome
  const why = unlikeNode(error)
  if (why !== undefined) fail(what, `not a Node-shaped error (${why})`, error)
  const { code, message } = error as { code?: unknown; message: string }
  if (typeof code === 'string' && ARG_CODES.has(code)) {
    // ERR_INVALID_THIS names "this": the fake's own method refused (see inspectRefused below).
    const unnamed = code === 'ERR_UNKNOWN_SIGNAL' || code === 'ERR_ILLEGAL_CONSTRUCTOR' || (code === 'ERR_INVALID_THIS' && arg !== 'this')
    const named = unnamed || arg === undefined || names(message, arg)
    if (!named) fail(what, `${code} does not name "${arg}"`, message)
    if (calls.length > 0 && !(code === 'ERR_INVALID_ARG_VALUE' && valueCheckNeedsSyscall)) {
      fail(what, `${code} after native calls (${calls.join(', ')}): validation must come first`, message)
    }
  }
  const valueRefused = code === 'ERR_INVALID_ARG_VALUE' && valueCheckNeedsSyscall
  if (model === 'valid' && typeof code === 'string' && ARG_CODES.has(code) && !valueRefused && arg !== undefined && names(message, arg)) {
    fail(what, `a valid ${arg} was refused`, error)
  }
  // Building an argument error inspects the value, and a fake of a class with brand checks
  // refuses that with ERR_INVALID_THIS: Node does so too (readFileSync(p, { flag: fakeSignal })).
  const inspectRefused = code === 'ERR_INVALID_THIS' && arg !== 'this'
  if (Array.isArray(model) && !passesThrough(error) && !inspectRefused && !model.includes(code as string)) {
    fail(what, `expected ${model.join(' or ')}`, error)
  }
}

/** The outcome a promise settles with; call it at once, so that no rejection goes unhandled. */
function outcomeOf(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    (value): Outcome => ({ threw: false, value, calls: [] }),
    (error: unknown): Outcome => ({ threw: true, error, calls: [] }),
  )
}

/** Settles a promise within ms, else fails: a pending result is a hang. */
function settle(promise: Promise<unknown>, ms: number, what: string): Promise<Outcome> {
  return within(outcomeOf(promise), ms, what)
}

async function within(outcome: Promise<Outcome>, ms: number, what: string): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: hang, not settled within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([outcome, hang])
  } finally {
    clearTimeout(timer)
  }
}

/** Closes whatever a successful call handed over: a Pidfd, or a new fd (getfd, namespace). */
function release(value: unknown, kind: 'pidfd' | 'fd' | 'none'): void {
  if (kind === 'pidfd' && value instanceof Pidfd) value.close()
  if (kind === 'fd' && typeof value === 'number') fs.closeSync(value)
}

/** Runs a property body and fails if it changed the number of open fds. */
function noLeak<T>(what: string, body: () => T): T {
  const before = openFdCount()
  const result = body()
  const after = openFdCount()
  if (after !== before) throw new Error(`${what}: ${after - before} fd(s) leaked`)
  return result
}

async function noLeakAsync<T>(what: string, body: () => Promise<T>): Promise<T> {
  const before = openFdCount()
  const result = await body()
  const after = openFdCount()
  if (after !== before) throw new Error(`${what}: ${after - before} fd(s) leaked`)
  return result
}

// ---------------------------------------------------------------------------------------
// Models: what Node's validators say about a value.

const INT32_MAX = 2 ** 31 - 1

function integerModel(value: unknown, min: number, max: number): readonly string[] | 'valid' {
  if (typeof value !== 'number') return ['ERR_INVALID_ARG_TYPE']
  if (!Number.isInteger(value) || value < min || value > max) return ['ERR_OUT_OF_RANGE']
  return 'valid'
}

function booleanModel(value: unknown): readonly string[] | 'valid' {
  return value === undefined || typeof value === 'boolean' ? 'valid' : ['ERR_INVALID_ARG_TYPE']
}

function signalModel(value: unknown): readonly string[] | 'valid' {
  if (value === undefined) return 'valid' // SIGTERM
  if (typeof value === 'number') return integerModel(value, 0, 64)
  if (typeof value === 'string') return Object.hasOwn(os.constants.signals, value) ? 'valid' : ['ERR_UNKNOWN_SIGNAL']
  return ['ERR_INVALID_ARG_TYPE']
}

/** True for a signal that would really be sent (not 0): only a sleeper of ours may get one. */
function wouldSignal(value: unknown): boolean {
  return signalModel(value) === 'valid' && value !== 0
}

/** value, if it is a plain object of data properties (a model may read it), else undefined. */
function plainRecord(value: unknown): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || util.types.isProxy(value) || Object.getPrototypeOf(value) !== Object.prototype) return undefined
  const accessors = Object.values(Object.getOwnPropertyDescriptors(value)).some((descriptor) => descriptor.get || descriptor.set)
  return accessors ? undefined : (value as Record<string, unknown>)
}

/** An options object's shape, as validateOptions sees it; undefined for exotic objects. */
function optionsModel(value: unknown): readonly string[] | 'valid' | undefined {
  if (value === undefined) return 'valid'
  if (util.types.isProxy(value)) return undefined // Array.isArray runs into a revoked one
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ['ERR_INVALID_ARG_TYPE']
  return undefined
}

// ---------------------------------------------------------------------------------------
// Arbitraries.

/**
 * A value fast-check must not hold: it probes every value (`cloneMethod in value`) and reads
 * it to print a counterexample, and a hostile object answers both by throwing. fast-check
 * sees the box and its name; the property makes the value with {@link unbox}, fresh each run.
 */
class Hostile {
  constructor(
    readonly name: string,
    readonly make: () => unknown,
  ) {}
  [fc.toStringMethod](): string {
    return this.name
  }
}

function unbox(value: unknown): unknown {
  return value instanceof Hostile ? value.make() : value
}

const boxed = (name: string, make: () => unknown) => new Hostile(name, make)

/** A record of fields that may be boxed, itself boxed: made with every field unboxed. */
function recordOf(fields: Record<string, fc.Arbitrary<unknown>>, build: (fields: Record<string, unknown>) => unknown = (f) => f): fc.Arbitrary<unknown> {
  return fc.record(fields, { requiredKeys: [] }).map((generated) => {
    const name = `{ ${Object.entries(generated)
      .map(([key, value]) => `${key}: ${value instanceof Hostile ? value.name : fc.stringify(value)}`)
      .join(', ')} }`
    return boxed(name, () => build(Object.fromEntries(Object.entries(generated).map(([key, value]) => [key, unbox(value)]))))
  })
}

const edgeNumbers = fc.constantFrom(
  0, -0, NaN, Infinity, -Infinity, -1, 1, 0.5, -0.5, 1.5, 64, 65, 2 ** 31 - 1, 2 ** 31, -(2 ** 31),
  2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), 0x80000000, Number.MAX_VALUE,
  Number.MIN_VALUE, Number.EPSILON,
)
const numbers = fc.oneof(edgeNumbers, fc.integer(), fc.double(), fc.integer({ min: -3, max: 70 }))
const bigints = fc.oneof(fc.bigInt(), fc.constantFrom(0n, 1n, -1n, 2n ** 64n, BigInt(process.pid)))
const symbols = fc.constantFrom(Symbol('fuzz'), Symbol.iterator, Symbol.for('pidfd'), Symbol.dispose)
const functions = fc.constantFrom<unknown>(() => 1, function named() {}, class Klass {}, async () => {}, Math.max, Object, Pidfd, PidfdStats, ChildProcess)
const plainValues = fc.anything({
  maxDepth: 2,
  ...{ withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true },
  ...{ withNullPrototype: true, withObjectString: true, withSparseArray: true, withTypedArray: true },
})

const TRAPS = [
  'get', 'set', 'has', 'deleteProperty', 'ownKeys', 'getOwnPropertyDescriptor', 'defineProperty',
  'getPrototypeOf', 'setPrototypeOf', 'isExtensible', 'preventExtensions', 'apply', 'construct',
] as const

/** A Proxy of target whose every trap throws SENTINEL. */
function throwingProxy<T extends object>(target: T): T {
  const throws = () => {
    throw SENTINEL
  }
  return new Proxy(target, Object.fromEntries(TRAPS.map((trap) => [trap, throws])))
}

function revokedProxy<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {})
  revoke()
  return proxy
}

/** Every key the library might read, as a getter that throws SENTINEL. */
const READ_KEYS = [
  'nonblock', 'thread', 'scope', 'signal', 'timeout', 'exited', 'stopped', 'continued', 'nohang',
  'nowait', 'pid', 'exitCode', 'signalCode', 'once', 'byteLength', 'byteOffset', 'buffer', 'length',
  'subarray', 'mode', 'atimeMs', 'constructor', 'valueOf', 'toString', 'then', Symbol.toPrimitive,
  Symbol.iterator,
] as const

function throwingGetters<T extends object>(target: T): T {
  const get = () => {
    throw SENTINEL
  }
  for (const key of READ_KEYS) Object.defineProperty(target, key, { get, configurable: true })
  return target
}

/**
 * An object whose getters answer `values` in turn, one per read: a library that reads an
 * option twice validates one value and uses another.
 */
function flaky(values: unknown[]): object {
  let read = 0
  const next = () => values[read++ % values.length]
  const object: Record<PropertyKey, unknown> = {}
  for (const key of READ_KEYS) {
    if (typeof key === 'string' && !['constructor', 'valueOf', 'toString', 'then'].includes(key)) {
      Object.defineProperty(object, key, { get: next, enumerable: true, configurable: true })
    }
  }
  Object.defineProperty(object, util.inspect.custom, { value: () => `flaky(${show(values)})` })
  return object
}

const typedArrayKinds = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const

/** Typed arrays of every kind and length, DataViews, Buffers, ArrayBuffers, detached ones. */
const typedArrays: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.constantFrom(...typedArrayKinds), fc.nat({ max: 16 })).map(([Kind, length]) => new Kind(length)),
  fc.nat({ max: 24 }).map((length) => new DataView(new ArrayBuffer(length))),
  fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes)),
  fc.nat({ max: 24 }).map((length) => new ArrayBuffer(length)),
  fc.nat({ max: 24 }).map((length) => new Uint8Array(new SharedArrayBuffer(length))),
  fc.constant(
    boxed('detached Uint8Array', () => {
      const view = new Uint8Array(12)
      structuredClone(view.buffer, { transfer: [view.buffer] }) // detaches it
      return view
    }),
  ),
)

interface World {
  self: Pidfd
  thread: Pidfd
  init: Pidfd
  parent: Pidfd
  /** A sleeper that never gets a signal before afterAll (nonblock: waitid never blocks). */
  quiet: Pidfd
  quietChild: ChildProcess
  /** A child that exited and was reaped by Node. */
  reaped: Pidfd
  reapedChild: ChildProcess
  closed: Pidfd
  /** Only ever reached through Proxies: if one got through and closed it, nothing else breaks. */
  proxied: Pidfd
  /** fds this test opened that are not pidfds: /dev/null, a file, a directory, a FIFO, an nsfs file. */
  opened: number[]
  /** fds that are not pidfds: /dev/null, a file, a directory, a FIFO, a socket, an nsfs file. */
  foreign: number[]
  /** libuv's own fds (epoll, eventfd...): looked at, never closed. */
  loopFds: number[]
  server: net.Server
  tmp: string
  handle: Buffer
}

let world: World

/** The Pidfds the library made; anything else that looks like one is a fake. */
const realPidfds = (): Set<unknown> => new Set([world.self, world.thread, world.init, world.parent, world.quiet, world.reaped, world.closed, world.proxied])

/** Pidfds, fakes of the library's classes and the classes it takes. */
function fakes(): fc.Arbitrary<unknown> {
  return fc.constantFrom<unknown>(
    Object.create(Pidfd.prototype),
    Object.setPrototypeOf({ fd: world.self.fd }, Pidfd.prototype),
    Pidfd.prototype,
    new Proxy(world.proxied, {}),
    boxed('throwingProxy(pidfd)', () => throwingProxy(world.proxied)),
    Object.create(PidfdStats.prototype),
    Object.create(Uint8Array.prototype),
    Object.create(ChildProcess.prototype),
    Object.create(AbortSignal.prototype),
    new EventEmitter(),
    new ChildProcess(),
    world.closed,
  )
}

/** Proxies whose traps throw, revoked Proxies, throwing getters and conversions, flaky getters. */
function hostile(): fc.Arbitrary<unknown> {
  return fc.oneof(
    fc.constantFrom<unknown>(
      boxed('throwingProxy({})', () => throwingProxy({})),
      boxed('throwingProxy(function)', () => throwingProxy(function target() {})),
      boxed('throwingProxy([])', () => throwingProxy([])),
      boxed('revokedProxy({})', () => revokedProxy({})),
      boxed('revokedProxy(function)', () => revokedProxy(() => {})),
      boxed('throwingGetters({})', () => throwingGetters({})),
      boxed('throwingGetters(Uint8Array)', () => throwingGetters(new Uint8Array(12))),
      boxed('throwingGetters(ChildProcess)', () => throwingGetters(new ChildProcess())),
      boxed('{ [Symbol.toPrimitive]: throws }', () => ({
        [Symbol.toPrimitive]() {
          throw SENTINEL
        },
      })),
      new Proxy([1, 2], {}),
      Object.create(null),
    ),
    fc.array(fc.oneof(plainValues, numbers, symbols), { minLength: 1, maxLength: 6 }).map((values) => boxed(`flaky(${fc.stringify(values)})`, () => flaky(values))),
  )
}

/** Anything at all: plain values, edge numbers, bigints, symbols, functions, hostile objects, fakes. */
function anyValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: plainValues },
    { weight: 3, arbitrary: numbers },
    { weight: 1, arbitrary: bigints },
    { weight: 1, arbitrary: symbols },
    { weight: 1, arbitrary: functions },
    { weight: 2, arbitrary: hostile() },
    { weight: 2, arbitrary: fakes() },
    { weight: 1, arbitrary: typedArrays },
  )
}

/** Live Pidfds of other processes and of this one, and a closed one: receivers for methods. */
function receivers(): fc.Arbitrary<[string, Pidfd]> {
  const { self, thread, init, parent, quiet, reaped, closed } = world
  return fc.constantFrom<[string, Pidfd]>(
    ['self', self],
    ['thread', thread],
    ['init', init],
    ['parent', parent],
    ['quiet', quiet],
    ['reaped', reaped],
    ['closed', closed],
  )
}

// ---------------------------------------------------------------------------------------

function spawnSleeper(): ChildProcess & { pid: number } {
  const child = start('sleep', ['60'], { stdio: 'ignore' })
  if (child.pid === undefined) throw new Error('could not spawn sleep')
  return child as ChildProcess & { pid: number }
}

beforeAll(async () => {
  features() // probe once, outside the spy's view
  installSpy()
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pidfd-fuzz-'))
  const fifo = path.join(tmp, 'fifo')
  execFileSync('mkfifo', [fifo])
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const socketFd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const loopFds = fs
    .readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      try {
        return /^anon_inode:\[(eventpoll|eventfd|signalfd|timerfd)\]$/.test(fs.readlinkSync(`/proc/self/fd/${fd}`))
      } catch {
        return false
      }
    })
  const quietChild = spawnSleeper()
  const reapedChild = start('true', [], { stdio: 'ignore' })
  const reaped = Pidfd.open(reapedChild.pid!) // before Node can reap it
  await once(reapedChild, 'exit')
  const self = Pidfd.open(process.pid)
  const closed = Pidfd.open(process.pid)
  closed.close()
  const opened = [
    fs.openSync('/dev/null', 'r'),
    fs.openSync(__filename, 'r'),
    fs.openSync(tmp, 'r'),
    fs.openSync(fifo, 'r+'), // O_RDWR: a FIFO that opens without a writer
    fs.openSync('/proc/self/ns/net', 'r'),
  ]
  world = {
    self,
    thread: Pidfd.open(process.pid, { thread: true }),
    init: Pidfd.open(1),
    parent: Pidfd.open(process.ppid),
    quiet: Pidfd.open(quietChild.pid, { nonblock: true }),
    quietChild,
    reaped,
    reapedChild,
    closed,
    proxied: Pidfd.open(process.pid),
    opened,
    foreign: [...opened, socketFd],
    loopFds,
    server,
    tmp,
    handle: features().fileHandles ? self.toHandle() : Buffer.from([0xfe, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
  }
})

afterAll(async () => {
  if (world !== undefined) {
    for (const pidfd of realPidfds()) (pidfd as Pidfd).close()
    for (const fd of world.opened) fs.closeSync(fd)
    world.server.close()
    fs.rmSync(world.tmp, { recursive: true, force: true })
  }
  removeSpy()
  await killChildren()
  expect(allSignalViolations).toEqual([])
})

// ---------------------------------------------------------------------------------------

describe('the module', () => {
  it('exports only what this file fuzzes', () => {
    // A new export needs a property here.
    expect(Object.keys(api).sort()).toEqual([
      'Pidfd',
      'PidfdStats',
      'Subprocess',
      'TERMINATE_TIMEOUT_MS',
      'ZOMBIE_WAIT_MS',
      'cgroupOf',
      'constants',
      'exits',
      'featureInfo',
      'features',
      'killCgroup',
      'sameProcess',
      'spawn',
      'unsupportedReason',
      'waitAny',
    ])
  })

  it('spawn(file, args, options): a Subprocess or a Node-shaped error, never a crash, a hang or a leak', async () => {
    // The program is always this node printing its version: fuzzing which program runs, or
    // a shell given as a string, could start anything on this machine.
    const args = fc.oneof(anyValue(), fc.array(fc.constantFrom('--version', '-v'), { maxLength: 2 }))
    const optionKeys = ['cwd', 'env', 'argv0', 'stdio', 'detached', 'uid', 'gid', 'serialization', 'shell', 'windowsHide', 'windowsVerbatimArguments', 'processGroup', 'newSession', 'killOnParentDeath', 'cgroup']
    const options = fc.oneof(
      anyValue(),
      fc.dictionary(fc.constantFrom(...optionKeys), anyValue(), { maxKeys: 4 }).map((record) => (typeof record.shell === 'string' ? { ...record, shell: true } : record)),
    )
    await fc.assert(
      fc.asyncProperty(args, options, async (boxedArgs, boxedOptions) => {
        const before = openFdCount()
        const outcome = attempt(() => api.spawn(process.execPath, unbox(boxedArgs) as string[], unbox(boxedOptions) as object))
        if (outcome.threw) {
          const why = unlikeNode(outcome.error)
          if (why !== undefined && !passesThrough(outcome.error)) fail('spawn', why, outcome.error)
        } else {
          const child = outcome.value as api.Subprocess
          child.on('error', () => {}) // a failed spawn reports here, as child_process does
          const closed = once(child, 'close')
          // With no args (an options object in their place) node reads a script from stdin.
          child.stdin?.end()
          if (child.pidfd !== undefined) signalTargets.add(child.pidfd.id) // a timeout option may kill it
          const killer = setTimeout(() => child.kill('SIGKILL'), scaled(2000)) // node waiting on an inherited stdin
          await within(outcomeOf(closed), scaled(5000), 'spawn: close')
          clearTimeout(killer)
        }
        expect(openFdCount(), 'fds after spawn').toBe(before)
      }),
      { numRuns: 60 },
    )
  })

  it('unsupportedReason(name): a reason or undefined for a feature, an argument error for anything else', () => {
    const names = fc.oneof(anyValue(), fc.constantFrom(...Object.keys(featureInfo), 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'PIDFS', ''), fc.string())
    fc.assert(
      fc.property(names, (boxedName) =>
        noLeak('unsupportedReason', () => {
          const name = unbox(boxedName)
          const outcome = attempt(() => unsupportedReason(name as 'pidfs'))
          // Undefined means "supported": a name that is no feature must not get that answer.
          const known = typeof name === 'string' && Object.hasOwn(featureInfo, name)
          check(outcome, `unsupportedReason(${show(name)})`, { arg: 'name', model: known ? 'valid' : ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE'] })
          if (!outcome.threw) expect(outcome.value === undefined || typeof outcome.value === 'string').toBe(true)
        }),
      ),
      { numRuns: 200 },
    )
  })

  it('constants, featureInfo and features() are frozen and typed, whatever they are called with', () => {
    fc.assert(
      fc.property(fc.array(anyValue(), { maxLength: 3 }), anyValue(), (boxedArgs, boxedKey) =>
        noLeak('features', () => {
          const args = boxedArgs.map(unbox)
          const key = unbox(boxedKey)
          const answer = attempt(() => Reflect.apply(features, args[0], args))
          check(answer, 'features()')
          expect(answer.threw).toBe(false)
          const found = (answer as { value: Record<string, unknown> }).value
          expect(found).toBe(features())
          expect(Object.isFrozen(found)).toBe(true)
          for (const name of Object.keys(featureInfo)) expect(typeof found[name]).toBe('boolean')
          for (const object of [constants, featureInfo, found]) {
            const write = attempt(() => {
              ;(object as Record<PropertyKey, unknown>)[key as PropertyKey] = 1
            })
            // Frozen: strict-mode assignment throws V8's TypeError; a key that cannot be one throws its own.
            if (write.threw && write.error !== SENTINEL && !(write.error instanceof TypeError)) fail('write to a frozen export', 'odd error', write.error)
          }
        }),
      ),
      { numRuns: 100 },
    )
    for (const value of Object.values(constants)) expect(Number.isInteger(value)).toBe(true)
    expect(Number.isInteger(ZOMBIE_WAIT_MS)).toBe(true)
    expect(Number.isInteger(api.TERMINATE_TIMEOUT_MS)).toBe(true)
  })
})

describe('constructors', () => {
  it('new Pidfd(...anything) is an ERR_ILLEGAL_CONSTRUCTOR-style TypeError, also for subclasses', () => {
    class Sub extends Pidfd {}
    fc.assert(
      fc.property(fc.array(anyValue(), { maxLength: 3 }), fc.constantFrom<unknown>(Pidfd, Sub), (boxedArgs, Class) =>
        noLeak('new Pidfd', () => {
          const args = boxedArgs.map(unbox)
          const outcome = attempt(() => Reflect.construct(Class as typeof Pidfd, args))
          check(outcome, `new ${(Class as typeof Pidfd).name}(${show(args)})`)
          if (!outcome.threw) fail('new Pidfd', 'constructed a Pidfd from outside the module', outcome.value)
          expect(outcome.error === SENTINEL || (outcome.error instanceof TypeError && 'code' in outcome.error)).toBe(true)
        }),
      ),
      { numRuns: 100 },
    )
  })

  it('Pidfd.open(pid) for any pid', () => {
    const pids = fc.oneof(anyValue(), fc.integer({ min: 1, max: 40_000 }), fc.constantFrom(process.pid, process.ppid, 1))
    fc.assert(
      fc.property(pids, (boxedPid) =>
        noLeak('open', () => {
          const pid = unbox(boxedPid)
          const outcome = attempt(() => Pidfd.open(pid as number))
          check(outcome, `Pidfd.open(${show(pid)})`, { arg: 'pid', model: integerModel(pid, 1, INT32_MAX) })
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 400 },
    )
  })

  it('Pidfd.open(pid, options) for any options', () => {
    const field = fc.oneof(fc.boolean(), fc.constant(undefined), anyValue())
    const records = recordOf({ nonblock: field, thread: field })
    fc.assert(
      fc.property(fc.oneof(anyValue(), records), (boxedOptions) =>
        noLeak('open options', () => {
          const options = unbox(boxedOptions)
          const outcome = attempt(() => Pidfd.open(process.pid, options as object))
          let model = optionsModel(options)
          const record = plainRecord(options)
          if (model === undefined && record !== undefined) {
            const fields = [booleanModel(record.nonblock), booleanModel(record.thread)]
            model = fields.find((verdict) => verdict !== 'valid') ?? 'valid'
          }
          check(outcome, `Pidfd.open(pid, ${show(options)})`, { arg: 'options', model })
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('fromFd(fd) for any fd: pidfds, foreign fds, fds of the event loop, closed and absent ones', () => {
    const fds = fc.oneof(
      anyValue(),
      fc.integer({ min: 0, max: 1100 }),
      fc.constantFrom(...world.foreign, ...world.loopFds, world.self.fd, world.quiet.fd, world.reaped.fd, 0, 1, 2),
    )
    fc.assert(
      fc.property(fds, (boxedFd) =>
        noLeak('fromFd', () => {
          const fd = unbox(boxedFd)
          const outcome = attempt(() => Pidfd.fromFd(fd as number))
          check(outcome, `Pidfd.fromFd(${show(fd)})`, { arg: 'fd', model: integerModel(fd, 0, INT32_MAX), valueCheckNeedsSyscall: true })
          if (!outcome.threw) {
            expect(world.foreign).not.toContain(fd)
            release(outcome.value, 'pidfd')
          }
        }),
      ),
      { numRuns: 400 },
    )
  })

  it('adoptFd(fd) never takes an fd that is not a pidfd, nor one a Pidfd owns', () => {
    const FRESH = Symbol('a new pidfd nobody owns')
    // Small integers are left out: adopting an unowned pidfd of someone else's would close it.
    const safe = anyValue().filter((value) => !(typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 20)) // boxes make no numbers
    const fds = fc.oneof(
      safe,
      fc.integer({ min: 2 ** 20, max: INT32_MAX }),
      fc.constantFrom<unknown>(...world.foreign, ...world.loopFds, world.self.fd, world.quiet.fd, world.thread.fd, 0, 1, 2, FRESH),
    )
    fc.assert(
      fc.property(fds, (boxedCandidate) =>
        noLeak('adoptFd', () => {
          const candidate = unbox(boxedCandidate)
          const fd = candidate === FRESH ? world.self.getfd(world.self.fd) : candidate
          const outcome = attempt(() => Pidfd.adoptFd(fd as number))
          check(outcome, `Pidfd.adoptFd(${show(candidate)})`, { arg: 'fd', model: integerModel(fd, 0, INT32_MAX), valueCheckNeedsSyscall: true })
          if (candidate === FRESH) {
            if (outcome.threw) fs.closeSync(fd as number)
            else expect((outcome.value as Pidfd).fd).toBe(fd)
          } else if (!outcome.threw) {
            fail('adoptFd', 'took an fd it must not own', fd)
          }
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('fromChildProcess(child) for anything, EventEmitters, and ChildProcesses with any fields', () => {
    const madeUp = recordOf(
      { pid: fc.oneof(anyValue(), fc.integer({ min: 1, max: 40_000 })), exitCode: fc.oneof(fc.constant(null), anyValue()), signalCode: fc.oneof(fc.constant(null), anyValue()) },
      (fields) => Object.assign(new ChildProcess(), fields),
    )
    const children = fc.oneof(anyValue(), madeUp, fc.constantFrom<unknown>(world.quietChild, world.reapedChild, new EventEmitter()))
    fc.assert(
      fc.property(children, (boxedChild) =>
        noLeak('fromChildProcess', () => {
          const child = unbox(boxedChild)
          const outcome = attempt(() => Pidfd.fromChildProcess(child as ChildProcess))
          // Proxies first: instanceof runs their getPrototypeOf trap.
          const model = util.types.isProxy(child) || child instanceof ChildProcess ? undefined : ['ERR_INVALID_ARG_TYPE']
          check(outcome, `Pidfd.fromChildProcess(${show(child)})`, { arg: 'child', model })
          if (!outcome.threw && child !== world.quietChild) fail('fromChildProcess', 'opened a process that is not a child of this one', child)
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('fromHandle(handle) for typed arrays of every kind, forged, mutated and lying handles', () => {
    const valid = world.handle
    const withType = (bytes: Uint8Array) => {
      const copy = Uint8Array.from(bytes)
      copy.set([0xfe, 0, 0, 0])
      return copy
    }
    const handles = fc.oneof(
      anyValue(),
      typedArrays,
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }).map(withType),
      // Our own inode, nudged: other live processes, or none.
      fc.integer({ min: -64, max: 64 }).map((delta) => {
        const copy = Buffer.from(valid)
        copy.writeBigUInt64LE(copy.readBigUInt64LE(4) + BigInt(delta), 4)
        return copy
      }),
      fc.constantFrom<unknown>(
        valid,
        Buffer.from(valid), // from the pool: byteOffset is not 0
        new Uint8Array(valid),
        vm.runInNewContext('new Uint8Array(12)'),
        new Uint8ClampedArray(valid),
        new DataView(valid.buffer, valid.byteOffset, 12),
        boxed('new Proxy(handle, {})', () => new Proxy(new Uint8Array(valid), {})),
        boxed('throwingProxy(handle)', () => throwingProxy(new Uint8Array(valid))),
        boxed('throwingGetters(handle)', () => throwingGetters(new Uint8Array(valid))),
        lying(valid, { byteLength: 12 }, 200),
        lying(valid, { byteLength: 12 }, 20),
        lying(valid, { subarray: () => new Uint8Array(1000) }),
        lying(valid, { subarray: () => 'bytes' }),
      ),
    )
    fc.assert(
      fc.property(handles, (boxedHandle) =>
        noLeak('fromHandle', () => {
          const handle = unbox(boxedHandle)
          const outcome = attempt(() => Pidfd.fromHandle(handle as Uint8Array))
          const model = util.types.isUint8Array(handle) ? undefined : ['ERR_INVALID_ARG_TYPE']
          check(outcome, `Pidfd.fromHandle(${show(handle)})`, { arg: 'handle', model })
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('openProcessId(id) for any string and anything else', () => {
    const digits = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String), fc.constantFrom('0', '00', '1', String(process.pid), '18446744073709551615', '18446744073709551616'))
    const ids = fc.oneof(
      anyValue(),
      fc.string(),
      fc.tuple(digits, digits).map(([pid, ino]) => `${pid}:${ino}`),
      fc.tuple(fc.constantFrom(' ', '+', '-', '٣', '\n', ':', '0x'), digits).map(([junk, n]) => `${junk}${n}:${n}`),
      fc.constantFrom(world.self.processId, `${world.self.processId}\n`, `${process.pid}:1`, `${process.ppid}:${world.self.id}`),
    )
    fc.assert(
      fc.property(ids, (boxedId) =>
        noLeak('openProcessId', () => {
          const id = unbox(boxedId)
          const outcome = attempt(() => Pidfd.openProcessId(id as string))
          let model: readonly string[] | 'valid' | undefined
          if (typeof id !== 'string') model = ['ERR_INVALID_ARG_TYPE']
          else if (!/^\d+:\d+$/.test(id)) model = ['ERR_INVALID_ARG_VALUE']
          check(outcome, `Pidfd.openProcessId(${show(id)})`, { arg: 'processId', model })
          if (!outcome.threw) {
            const [pid, ino] = (id as string).split(':') as [string, string]
            expect((outcome.value as Pidfd).processId).toBe(`${Number(pid)}:${BigInt(ino)}`)
          }
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('static methods ignore `this`', () => {
    const statics = [
      ['open', [process.pid]],
      ['fromFd', [0]],
      ['fromChildProcess', [{}]],
      ['openProcessId', ['x']],
      ['fromHandle', [new Uint8Array(1)]],
    ] as const
    fc.assert(
      fc.property(anyValue(), fc.constantFrom(...statics), (boxedThis, [name, args]) =>
        noLeak('statics', () => {
          const self = unbox(boxedThis)
          const outcome = attempt(() => Reflect.apply(Pidfd[name] as (...a: unknown[]) => unknown, self, [...args]))
          check(outcome, `Pidfd.${name}.call(${show(self)})`, { valueCheckNeedsSyscall: true })
          release(outcome.threw ? undefined : outcome.value, 'pidfd')
        }),
      ),
      { numRuns: 100 },
    )
  })
})

/** A Uint8Array holding handle's bytes (padded to length) whose own properties lie. */
function lying(handle: Uint8Array, overrides: Record<string, unknown>, length = handle.length): Uint8Array {
  const array = new Uint8Array(length)
  array.set(handle.subarray(0, Math.min(length, handle.length)))
  for (const [key, value] of Object.entries(overrides)) {
    Object.defineProperty(array, key, typeof value === 'function' ? { value } : { get: () => value })
  }
  Object.defineProperty(array, util.inspect.custom, { value: () => `lying Uint8Array(${length}) ${Object.keys(overrides).join(',')}` })
  return array
}

describe('sameProcess', () => {
  // One side fuzzed, the other a valid pid: an argument error must name the fuzzed side.
  it.each(['a', 'b'])('sameProcess(a, b) for any %s: pids, Pidfds, fakes and anything', (side) => {
    const sides = fc.oneof(
      anyValue(),
      fc.integer({ min: 1, max: 40_000 }),
      fc.constantFrom<unknown>(process.pid, 1, world.self, world.init, world.quiet, world.reaped, world.thread, world.closed),
    )
    const sideModel = (value: unknown) => {
      if (typeof value === 'number') return integerModel(value, 1, INT32_MAX)
      return realPidfds().has(value) ? undefined : ['ERR_INVALID_ARG_TYPE']
    }
    fc.assert(
      fc.property(sides, (boxedValue) =>
        noLeak('sameProcess', () => {
          const value = unbox(boxedValue)
          const first = side === 'a'
          const outcome = attempt(() => (first ? sameProcess(value as number, process.pid) : sameProcess(process.pid, value as number)))
          check(outcome, `sameProcess(${first ? `${show(value)}, pid` : `pid, ${show(value)}`})`, { arg: side, model: sideModel(value) })
          if (!outcome.threw) expect(typeof outcome.value).toBe('boolean')
        }),
      ),
      { numRuns: 400 },
    )
  })
})

describe('methods with arguments', () => {
  it('sendSignal(signal) with any signal, on a sleeper this test owns', async () => {
    const child = spawnSleeper()
    const target = Pidfd.open(child.pid)
    signalTargets.add(target.id)
    const signals = fc.oneof(anyValue(), fc.integer({ min: -2, max: 66 }), fc.constantFrom(...Object.keys(os.constants.signals), 'sigterm', 'SIGFOO', 'toString', '__proto__', ''))
    try {
      fc.assert(
        fc.property(signals, (boxedSignal) =>
          noLeak('sendSignal', () => {
            const signal = unbox(boxedSignal)
            const outcome = attempt(() => target.sendSignal(signal as number))
            check(outcome, `sendSignal(${show(signal)})`, { arg: 'signal', model: signalModel(signal) })
          }),
        ),
        { numRuns: 300 },
      )
    } finally {
      target.close()
    }
  })

  it('sendSignal(signal) on processes it does not own: only signal 0 and refused arguments', () => {
    // Boxes hold objects only: refused signals.
    const signals = fc.oneof(anyValue(), fc.integer({ min: -2, max: 66 }), fc.constantFrom(0, 'SIGFOO', 'sigkill')).filter((signal) => !wouldSignal(signal))
    fc.assert(
      fc.property(receivers(), signals, ([name, pidfd], boxedSignal) =>
        noLeak('sendSignal', () => {
          const signal = unbox(boxedSignal)
          const outcome = attempt(() => pidfd.sendSignal(signal as number))
          check(outcome, `${name}.sendSignal(${show(signal)})`, { arg: 'signal', model: signalModel(signal) })
          if (name === 'closed' && signalModel(signal) === 'valid') expect(outcome).toMatchObject({ error: { code: 'ERR_PIDFD_CLOSED' }, calls: [] })
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('sendSignal(0, options) with any options, on every receiver', () => {
    const scopes = fc.oneof(fc.constantFrom('thread', 'thread-group', 'process-group', undefined, 'everyone', 'Thread'), anyValue())
    const options = fc.oneof(anyValue(), recordOf({ scope: scopes }))
    fc.assert(
      fc.property(receivers(), options, ([name, pidfd], boxedOptions) =>
        noLeak('sendSignal options', () => {
          const opts = unbox(boxedOptions)
          const outcome = attempt(() => pidfd.sendSignal(0, opts as object))
          let model = optionsModel(opts)
          const record = plainRecord(opts)
          if (model === undefined && record !== undefined) {
            const { scope } = record
            model = scope === undefined || (typeof scope === 'string' && ['thread', 'thread-group', 'process-group'].includes(scope)) ? 'valid' : ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']
          }
          check(outcome, `${name}.sendSignal(0, ${show(opts)})`, { arg: 'options', model })
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('getfd(targetFd) for any target fd (copies are closed again)', () => {
    // Only this process and a sleeper of ours: copying fds out of others is not this test's business.
    const owners = fc.constantFrom<[string, () => Pidfd]>(['self', () => world.self], ['quiet', () => world.quiet], ['closed', () => world.closed], ['reaped', () => world.reaped])
    const targets = fc.oneof(anyValue(), fc.integer({ min: 0, max: 64 }), fc.constantFrom(...world.foreign))
    fc.assert(
      fc.property(owners, targets, ([name, pidfd], boxedTarget) =>
        noLeak('getfd', () => {
          const targetFd = unbox(boxedTarget)
          const outcome = attempt(() => pidfd().getfd(targetFd as number))
          check(outcome, `${name}.getfd(${show(targetFd)})`, { arg: 'targetFd', model: integerModel(targetFd, 0, INT32_MAX) })
          release(outcome.threw ? undefined : outcome.value, 'fd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('namespace(type) for any type (namespace fds are closed again)', () => {
    const TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'pid_for_children', 'time', 'time_for_children', 'user', 'uts']
    const types = fc.oneof(anyValue(), fc.constantFrom(...TYPES, 'NET', 'net ', 'mount', 'toString', '__proto__', 'constructor', ''))
    fc.assert(
      fc.property(receivers(), types, ([name, pidfd], boxedType) =>
        noLeak('namespace', () => {
          const type = unbox(boxedType)
          const outcome = attempt(() => pidfd.namespace(type as 'net'))
          const model = TYPES.includes(type as string) ? 'valid' : typeof type === 'string' ? ['ERR_INVALID_ARG_VALUE'] : ['ERR_INVALID_ARG_VALUE', 'ERR_INVALID_ARG_TYPE']
          check(outcome, `${name}.namespace(${show(type)})`, { arg: 'type', model })
          release(outcome.threw ? undefined : outcome.value, 'fd')
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('statx(mask) for any mask, the reserved bit 31 included', () => {
    const masks = fc.oneof(anyValue(), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 0xfff }), fc.constantFrom(undefined, 0x80000000, 0x80000fff, 0xffffffff, 0x7fffffff))
    fc.assert(
      fc.property(receivers(), masks, ([name, pidfd], boxedMask) =>
        noLeak('statx', () => {
          const mask = unbox(boxedMask)
          const outcome = attempt(() => pidfd.statx(mask as number))
          const model = mask === undefined ? 'valid' : integerModel(mask, 0, 0x7fffffff)
          check(outcome, `${name}.statx(${show(mask)})`, { arg: 'mask', model })
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('equals(other) for any other: Pidfds, Proxies of them, fakes, anything', () => {
    const others = fc.oneof(anyValue(), fc.constantFrom<unknown>(world.self, world.init, world.quiet, world.thread, world.reaped, world.closed))
    fc.assert(
      fc.property(receivers(), others, ([name, pidfd], boxedOther) =>
        noLeak('equals', () => {
          const other = unbox(boxedOther)
          const outcome = attempt(() => pidfd.equals(other as Pidfd))
          check(outcome, `${name}.equals(${show(other)})`, { arg: 'other', model: realPidfds().has(other) ? undefined : ['ERR_INVALID_ARG_TYPE'] })
        }),
      ),
      { numRuns: 400 },
    )
  })

  it('waitid(options) for any options: never blocks, never reaps a child_process child', () => {
    const field = fc.oneof(fc.boolean(), fc.constant(undefined), anyValue())
    const records = recordOf({ exited: field, stopped: field, continued: field, nohang: field, nowait: field })
    // quiet is nonblock and alive: EAGAIN or null, never a reap. reaped was reaped by Node: ECHILD.
    fc.assert(
      fc.property(receivers(), fc.oneof(anyValue(), records), ([name, pidfd], boxedOptions) =>
        noLeak('waitid', () => {
          const options = unbox(boxedOptions)
          const outcome = attempt(() => pidfd.waitid(options as object))
          let model = optionsModel(options)
          const fields = plainRecord(options)
          if (model === undefined && fields !== undefined) {
            const verdicts = ['exited', 'stopped', 'continued', 'nohang', 'nowait'].map((key) => booleanModel(fields[key]))
            model = verdicts.find((verdict) => verdict !== 'valid') ?? 'valid'
            if (model === 'valid' && fields.exited === false && !fields.stopped && !fields.continued) model = ['ERR_INVALID_ARG_VALUE']
          }
          check(outcome, `${name}.waitid(${show(options)})`, { arg: 'options', model })
        }),
      ),
      { numRuns: 300 },
    )
    expect(world.quietChild.exitCode).toBe(null)
  })

  it('wait(options) for any options settles, or settles once the Pidfd is closed', async () => {
    const field = fc.oneof(fc.constant(undefined), anyValue())
    const signals = fc.oneof(field, fc.constantFrom<unknown>(new AbortController().signal, AbortSignal.abort('fuzz'), Object.create(AbortSignal.prototype)))
    const timeouts = fc.oneof(field, fc.constantFrom(0, 1, 0.5, 10, NaN, -1, 2 ** 31, Infinity))
    const records = recordOf({ signal: signals, timeout: timeouts })
    const sources = fc.constantFrom<[string, () => Pidfd]>(
      ['quiet', () => world.quiet],
      ['self', () => world.self],
      ['init', () => world.init],
      ['reaped', () => world.reaped],
      ['thread', () => world.thread],
    )
    await fc.assert(
      fc.asyncProperty(sources, fc.oneof(anyValue(), records), async ([name, source], boxedOptions) =>
        noLeakAsync('wait', async () => {
          const options = unbox(boxedOptions)
          const pidfd = Pidfd.fromFd(source().fd) // a fresh one, to close
          try {
            const call = attempt(() => pidfd.wait(options as object))
            if (call.threw) return check(call, `${name}.wait(${show(options)})`, { arg: 'options' })
            const promise = outcomeOf(call.value as Promise<unknown>)
            // A process that has ended settles by itself; a live one once its Pidfd is closed.
            if (name === 'reaped') {
              const outcome = await within(promise, scaled(2000), `${name}.wait(${show(options)})`)
              return check(outcome, `${name}.wait(${show(options)})`, { arg: 'options' })
            }
            await new Promise((resolve) => setImmediate(resolve))
            pidfd.close()
            const outcome = await within(promise, scaled(2000), `${name}.wait(${show(options)}) after close`)
            check(outcome, `${name}.wait(${show(options)})`, { arg: 'options' })
            if (!outcome.threw) fail(`${name}.wait`, 'a live process was reported as exited', outcome.value)
          } finally {
            pidfd.close()
          }
        }),
      ),
      { numRuns: 150 },
    )
  })
})

describe('members without arguments, on every receiver', () => {
  const proto = Pidfd.prototype as unknown as Record<PropertyKey, unknown>
  const members = Reflect.ownKeys(Pidfd.prototype).filter((key) => key !== 'constructor')
  /** Arguments that would be harmless if a fake `this` ever got through. */
  const harmless: Record<string, () => unknown[]> = {
    sendSignal: () => [0],
    wait: () => [{ timeout: 0 }],
    waitid: () => [{ nohang: true }],
    getfd: () => [0],
    namespace: () => ['net'],
    equals: () => [world.self],
    terminate: () => [{ signal: 0, killSignal: 0, timeout: 0 }],
    killTree: () => [0],
  }
  // close and dispose are for the closed-Pidfd property below; equals and the ones that take
  // arguments have their own properties above.
  // terminate and killTree send real signals: they have their own property, on sleepers of this test.
  const withArgs = ['close', 'sendSignal', 'wait', 'waitid', 'getfd', 'namespace', 'equals', 'terminate', 'killTree']
  const zeroArg = members.filter((key) => typeof key === 'symbol' || !withArgs.includes(key))
  const invoke = (key: PropertyKey, self: unknown, args: unknown[]): unknown => {
    const descriptor = Object.getOwnPropertyDescriptor(Pidfd.prototype, key)!
    if (descriptor.get) return Reflect.apply(descriptor.get, self, [])
    return Reflect.apply(proto[key] as (...a: unknown[]) => unknown, self, args)
  }
  const kindOf = (key: PropertyKey): 'fd' | 'none' => (key === 'getfd' || key === 'namespace' ? 'fd' : 'none')

  it('covers every member of Pidfd.prototype', () => {
    // A new member needs a property in this file: its arguments, or the zero-argument list.
    const covered = [...zeroArg, ...withArgs]
    expect(new Set(covered)).toEqual(new Set(members))
  })

  it('getters and zero-argument methods, with extra arguments, on live, exited and closed Pidfds', async () => {
    await fc.assert(
      fc.asyncProperty(receivers(), fc.constantFrom(...zeroArg), fc.array(anyValue(), { maxLength: 2 }), async ([name, pidfd], key, boxedExtra) =>
        noLeakAsync('members', async () => {
          const extra = boxedExtra.map(unbox)
          const what = `${name}.${String(key)}(${show(extra)})`
          // Symbol.dispose closes: only on a copy.
          const self = key === Symbol.dispose && name !== 'closed' ? Pidfd.fromFd(pidfd.fd) : pidfd
          const outcome = attempt(() => invoke(key, self, extra))
          check(outcome, what)
          if (name === 'closed' && outcome.calls.length > 0) fail(what, `a closed Pidfd reached native code (${outcome.calls.join(', ')})`, outcome)
          if (!outcome.threw && outcome.value instanceof Promise) outcome.value.catch(() => {}) // exited: settles at close
          // children() and descendants(): the Pidfds are the caller's.
          if (!outcome.threw && Array.isArray(outcome.value)) (outcome.value as unknown as Disposable)[Symbol.dispose]()
          if (self !== pidfd) self.close()
        }),
      ),
      { numRuns: 300 },
    )
  })

  it('every member with a `this` that is not a Pidfd: fakes, Proxies, primitives, the prototype', async () => {
    const thisValues = fc.oneof(
      fakes().filter((value) => value !== world.closed),
      hostile(),
      fc.constantFrom<unknown>(null, undefined, 0, 'pidfd', Symbol('this'), 1n, Pidfd, {}, new PidfdStats()),
    )
    await fc.assert(
      fc.asyncProperty(thisValues, fc.constantFrom(...members), async (boxedThis, key) =>
        noLeakAsync('this', async () => {
          const self = unbox(boxedThis)
          const args = typeof key === 'string' && key in harmless ? harmless[key]!() : []
          const what = `Pidfd.prototype.${String(key)} on ${show(self)}`
          const outcome = attempt(() => invoke(key, self, args))
          if (!outcome.threw && outcome.value instanceof Promise) {
            return check(await settle(outcome.value, scaled(2000), what), what, { arg: 'this' })
          }
          check(outcome, what, { arg: 'this' })
          release(outcome.threw ? undefined : outcome.value, kindOf(key))
          // util.inspect is how a fake gets printed: as Node's own classes do, it may refuse
          // (ERR_INVALID_THIS) but never with a bare TypeError.
          if (key === util.inspect.custom) return
          const printed = attempt(() => util.inspect(self))
          check(printed, `util.inspect(${String(typeof self)})`, { arg: 'this' })
        }),
      ),
      { numRuns: 400 },
    )
  })

  it('on a closed Pidfd: refused arguments first, then ERR_PIDFD_CLOSED; never a native call', async () => {
    type Model = readonly string[] | 'valid' | undefined
    /** Per method: the argument's name, arbitrary values for it, and its model. */
    const withArgument: Record<string, [string, fc.Arbitrary<unknown>, (value: unknown) => Model]> = {
      sendSignal: ['signal', fc.constantFrom(0, 9, 'SIGKILL', undefined), signalModel],
      getfd: ['targetFd', fc.nat(64), (v) => integerModel(v, 0, INT32_MAX)],
      statx: ['mask', fc.oneof(fc.nat(), fc.constant(0x80000000)), (v) => integerModel(v, 0, 0x7fffffff)],
      namespace: ['type', fc.constantFrom('net', 'pid'), (v) => (v === 'net' || v === 'pid' ? 'valid' : undefined)],
      equals: ['other', fc.constantFrom<unknown>(world.self, world.init), (v) => (v === world.self || v === world.init ? 'valid' : undefined)],
      waitid: ['options', fc.constantFrom({}, { nohang: true }), optionsModel],
      wait: ['options', fc.constantFrom({}, { timeout: 1 }), optionsModel],
      terminate: ['options', fc.constantFrom({}, { timeout: 1 }), optionsModel],
      killTree: ['signal', fc.constantFrom(0, 9, 'SIGKILL', undefined), signalModel],
    }
    const cases = fc.oneof(
      ...Object.entries(withArgument).map(([method, [, values]]) => fc.tuple(fc.constant<PropertyKey>(method), fc.oneof(anyValue(), values).map((v) => [v]))),
      fc.tuple(fc.constantFrom<PropertyKey>(...zeroArg, 'close'), fc.constant([] as unknown[])),
    )
    await fc.assert(
      fc.asyncProperty(cases, async ([method, boxedArgs]) =>
        noLeakAsync('closed', async () => {
          const args = boxedArgs.map(unbox)
          const [arg, , modelOf] = typeof method === 'string' ? (withArgument[method] ?? []) : []
          const model: Model = modelOf === undefined || args.length === 0 ? 'valid' : modelOf(args[0])
          const pidfd = Pidfd.open(process.pid)
          pidfd.close()
          const what = `closed.${String(method)}(${show(args)})`
          const call = attempt(() => invoke(method, pidfd, [...args]))
          let outcome = call
          if (!call.threw && call.value instanceof Promise) outcome = { ...(await settle(call.value, scaled(2000), what)), calls: call.calls }
          if (outcome.calls.length > 0) fail(what, `a closed Pidfd reached native code (${outcome.calls.join(', ')})`, outcome)
          check(outcome, what, { arg, model: model === 'valid' || model === undefined ? undefined : model })
          const stateless: PropertyKey[] = ['closed', 'close', 'ref', 'unref', Symbol.dispose, util.inspect.custom]
          if (model === 'valid' && !stateless.includes(method)) {
            expect(outcome).toMatchObject({ threw: true, error: { code: 'ERR_PIDFD_CLOSED' } })
          }
        }),
      ),
      { numRuns: 300 },
    )
  })
})

describe('process trees', () => {
  it('terminate(options) and killTree(signal, options): an outcome or a Node-shaped error, only ever on a sleeper of this test', async () => {
    const signals = fc.oneof(anyValue(), fc.constantFrom<unknown>(0, 9, 'SIGKILL', 'SIGTERM', 'SIGFOO', undefined))
    const options = fc.oneof(
      anyValue(),
      fc.record(
        { signal: signals, killSignal: signals, timeout: fc.oneof(anyValue(), fc.constantFrom(0, 10)), abort: fc.oneof(anyValue(), fc.constant(AbortSignal.abort())) },
        { requiredKeys: [] },
      ),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('terminate', 'killTree'), signals, options, async (method, boxedSignal, boxedOptions) => {
        // A valid call sends real signals: each run gets a sleeper of its own to send them to.
        const child = spawnSleeper()
        const exit = once(child, 'exit')
        const pidfd = Pidfd.fromChildProcess(child)
        signalTargets.add(pidfd.id)
        await noLeakAsync(method, async () => {
          const signal = unbox(boxedSignal)
          const opts = unbox(boxedOptions)
          const what = method === 'terminate' ? `terminate(${show(opts)})` : `killTree(${show(signal)}, ${show(opts)})`
          const call = attempt(() => (method === 'terminate' ? pidfd.terminate(opts as object) : pidfd.killTree(signal as 0, opts as object)))
          let outcome = call
          if (!call.threw && call.value instanceof Promise) {
            // Signal 0 and a long timeout would wait for a sleeper that never ends: end it.
            const killer = setTimeout(() => child.kill('SIGKILL'), 200)
            outcome = { ...(await settle(call.value, scaled(3000), what)), calls: call.calls }
            clearTimeout(killer)
          }
          check(outcome, what)
        })
        child.kill('SIGKILL')
        await exit
        pidfd.close()
      }),
      { numRuns: 50 },
    )
  })

  it('waitAny(pidfds, options) and exits(pidfds): an exit or a Node-shaped error, never a leak or a hang', async () => {
    const { reaped, quiet, closed } = world
    // Every valid list holds a process already gone: the wait ends at once.
    const lists = fc.oneof(
      anyValue(),
      fc.constantFrom<unknown>([reaped], [reaped, quiet], [quiet, reaped], [closed, reaped], [reaped, reaped], [], new Set([reaped]), [reaped, 5], 'pidfds'),
    )
    const options = fc.oneof(
      anyValue(),
      fc.record({ timeout: fc.oneof(anyValue(), fc.constantFrom(0, 1, 2000)), signal: fc.oneof(anyValue(), fc.constant(AbortSignal.abort())) }, { requiredKeys: [] }),
    )
    await fc.assert(
      fc.asyncProperty(lists, options, fc.boolean(), async (boxedList, boxedOptions, iterate) =>
        noLeakAsync('waitAny', async () => {
          const list = unbox(boxedList)
          const opts = unbox(boxedOptions)
          const what = iterate ? `exits(${show(list)})` : `waitAny(${show(list)}, ${show(opts)})`
          const call = attempt(() => (iterate ? api.exits(list as Pidfd[]) : api.waitAny(list as Pidfd[], opts as object)))
          if (call.threw) return check(call, what)
          if (!iterate) {
            const outcome = await settle(call.value as Promise<unknown>, scaled(2000), what)
            check(outcome, what)
            if (!outcome.threw) expect((outcome.value as api.ProcessExit).pidfd).toBe(reaped)
            return
          }
          const iterator = call.value as AsyncIterableIterator<api.ProcessExit>
          const first = await settle(iterator.next(), scaled(2000), what)
          check(first, what)
          if (!first.threw) expect((first.value as IteratorResult<api.ProcessExit>).value?.pidfd).toBe(reaped)
          await iterator.return!()
        }),
      ),
      { numRuns: 150 },
    )
  })

  it('cgroupOf(pidfd): a path or a Node-shaped error', () => {
    fc.assert(
      fc.property(fc.oneof(anyValue(), receivers().map(([, pidfd]) => pidfd)), (boxedPidfd) =>
        noLeak('cgroupOf', () => {
          const pidfd = unbox(boxedPidfd)
          const outcome = attempt(() => api.cgroupOf(pidfd as Pidfd))
          check(outcome, `cgroupOf(${show(pidfd)})`, { arg: 'pidfd' })
          if (!outcome.threw) expect(typeof outcome.value).toBe('string')
        }),
      ),
      { numRuns: 150 },
    )
  })

  it('killCgroup(path, signal): refuses anything that is not a cgroup of its own at the call, writing nothing', () => {
    // Never a real cgroup: fuzzing which cgroup gets killed could kill anything on this machine.
    const paths = fc.oneof(anyValue(), fc.constantFrom<unknown>('', '/tmp', '/', '.', '..', 'pidfd-no-such-cgroup', '/proc/self', 'a\u0000b', '/sys/fs/cgroup/../../tmp'))
    const signals = fc.oneof(anyValue(), fc.constantFrom<unknown>(0, 9, 'SIGKILL', 'SIGTERM', 'SIGFOO', undefined))
    fc.assert(
      fc.property(paths, signals, (boxedPath, boxedSignal) =>
        noLeak('killCgroup', () => {
          const path = unbox(boxedPath)
          const signal = unbox(boxedSignal)
          const what = `killCgroup(${show(path)}, ${show(signal)})`
          const outcome = attempt(() => api.killCgroup(path as string, signal as 0))
          if (!outcome.threw) {
            ;(outcome.value as Promise<unknown>).catch(() => {})
            fail(what, 'accepted a path that is no cgroup of its own', path)
          }
          // Whether a directory is a cgroup (and not the root one) needs a look at it: fstatfs.
          check(outcome, what, { valueCheckNeedsSyscall: true })
        }),
      ),
      { numRuns: 200 },
    )
  })
})

describe('PidfdStats', () => {
  const proto = PidfdStats.prototype as unknown as Record<PropertyKey, unknown>
  const members = Reflect.ownKeys(PidfdStats.prototype).filter((key) => key !== 'constructor')

  it('new PidfdStats(...anything) builds, and every member answers on real, fake and made-up stats', () => {
    const fields = { mode: anyValue(), atimeMs: anyValue(), mtimeMs: anyValue(), ctimeMs: anyValue() }
    // Objects only: on null or a primitive, a method fails as fs.Stats's do (a language TypeError).
    const subjects = fc.oneof(
      fakes(),
      hostile(),
      recordOf(fields),
      recordOf(fields, (f) => Object.assign(Object.create(PidfdStats.prototype), f)),
      fc.constant(null).map(() => world.self.stat()),
      fc.constant(null).map(() => new Proxy(world.self.stat(), {})),
    )
    fc.assert(
      fc.property(fc.array(anyValue(), { maxLength: 2 }), subjects, fc.constantFrom(...members), (boxedArgs, boxedSubject, key) =>
        noLeak('PidfdStats', () => {
          const args = boxedArgs.map(unbox)
          const subject = unbox(boxedSubject)
          const built = attempt(() => Reflect.construct(PidfdStats, args))
          check(built, `new PidfdStats(${show(args)})`)
          expect(built.threw).toBe(false)
          const descriptor = Object.getOwnPropertyDescriptor(PidfdStats.prototype, key)!
          const outcome = attempt(() => (descriptor.get ? Reflect.apply(descriptor.get, subject, []) : Reflect.apply(proto[key] as () => unknown, subject, [])))
          check(outcome, `PidfdStats.prototype.${String(key)} on ${show(subject)}`)
          if (!outcome.threw) expect(typeof outcome.value === 'boolean' || outcome.value instanceof Date).toBe(true)
        }),
      ),
      { numRuns: 300 },
    )
  })
})

// Known inputs, one test each, so that every defect shows at once (a property stops at its first).
describe('known hostile inputs', () => {
  /** options whose timeout reads 5 four times (every check wait() makes), then something else. */
  const lateTimeout = (late: unknown) => {
    let reads = 0
    return {
      get timeout() {
        return (reads++ < 4 ? 5 : late) as number
      },
    }
  }
  // code: what the call must throw (or reject with); null: it may also succeed.
  const cases: [string, () => unknown, { arg?: string; code: string | RegExp | null }][] = [
    ['new Pidfd()', () => Reflect.construct(Pidfd, []), { code: /^ERR_/ }],
    ['equals(Object.create(Pidfd.prototype))', () => world.self.equals(Object.create(Pidfd.prototype)), { arg: 'other', code: 'ERR_INVALID_ARG_TYPE' }],
    ['equals(new Proxy(pidfd, {}))', () => world.self.equals(new Proxy(world.self, {})), { arg: 'other', code: 'ERR_INVALID_ARG_TYPE' }],
    ['sameProcess(fake, pid)', () => sameProcess(Object.create(Pidfd.prototype), process.pid), { arg: 'a', code: 'ERR_INVALID_ARG_TYPE' }],
    ['sameProcess(pid, Proxy of a Pidfd)', () => sameProcess(process.pid, new Proxy(world.self, {})), { arg: 'b', code: 'ERR_INVALID_ARG_TYPE' }],
    ['sameProcess(0, pid) names a', () => sameProcess(0, process.pid), { arg: 'a', code: 'ERR_OUT_OF_RANGE' }],
    ['sameProcess(pid, "x") opens nothing first', () => sameProcess(process.pid, 'x' as unknown as number), { arg: 'b', code: 'ERR_INVALID_ARG_TYPE' }],
    ['namespace on a fake this', () => Pidfd.prototype.namespace.call(Object.create(Pidfd.prototype), 'net'), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['stat() on a Proxy this', () => Pidfd.prototype.stat.call(new Proxy(world.self, {})), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['fd getter on a fake', () => Reflect.get(Pidfd.prototype, 'fd', Object.create(Pidfd.prototype)), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['close() on a fake', () => Pidfd.prototype.close.call(Object.create(Pidfd.prototype)), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['ref() on a fake', () => Pidfd.prototype.ref.call(Object.create(Pidfd.prototype)), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['[Symbol.dispose]() on a plain object', () => Pidfd.prototype[Symbol.dispose].call({} as Pidfd), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['closed getter on undefined', () => Reflect.apply(Object.getOwnPropertyDescriptor(Pidfd.prototype, 'closed')!.get!, undefined, []), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['hasExited() on a primitive', () => Pidfd.prototype.hasExited.call(42 as unknown as Pidfd), { arg: 'this', code: 'ERR_INVALID_THIS' }],
    ['fromHandle(Proxy of a Uint8Array)', () => Pidfd.fromHandle(new Proxy(new Uint8Array(world.handle), {})), { arg: 'handle', code: 'ERR_INVALID_ARG_TYPE' }],
    ['fromHandle(fake Uint8Array)', () => Pidfd.fromHandle(Object.create(Uint8Array.prototype)), { arg: 'handle', code: 'ERR_INVALID_ARG_TYPE' }],
    // Reading the bytes through the internal slots, as Node's C++ does, may well open the process.
    ['fromHandle(Uint8Array whose buffer getter lies)', () => Pidfd.fromHandle(lying(world.handle, { buffer: 42 })), { arg: 'handle', code: null }],
    ['fromHandle(Uint8Array whose byteOffset getter lies)', () => Pidfd.fromHandle(lying(world.handle, { byteOffset: 2 ** 40 })), { arg: 'handle', code: null }],
    ['fromHandle(Uint8Array whose byteLength getter lies)', () => Pidfd.fromHandle(lying(world.handle, { byteLength: 12 }, 200)), { arg: 'handle', code: 'ERR_INVALID_ARG_VALUE' }],
    ['fromChildProcess(new EventEmitter())', () => Pidfd.fromChildProcess(new EventEmitter() as ChildProcess), { arg: 'child', code: 'ERR_INVALID_ARG_TYPE' }],
    ['fromChildProcess(exited ChildProcess whose pid is a Symbol)', () => Pidfd.fromChildProcess(Object.assign(new ChildProcess(), { pid: Symbol('pid'), exitCode: 0 })), { arg: 'child', code: /^(ESRCH|ERR_INVALID_ARG_VALUE)$/ }],
    ['fromChildProcess(ChildProcess with pid -5) names child', () => Pidfd.fromChildProcess(Object.assign(new ChildProcess(), { pid: -5 })), { arg: 'child', code: /^ERR_/ }],
    ['util.inspect(fake Pidfd)', () => util.inspect(Object.create(Pidfd.prototype)), { arg: 'this', code: null }],
    ['namespace(fake Pidfd): the error names type, whatever inspecting the fake does', () => world.self.namespace(Object.create(Pidfd.prototype)), { arg: 'type', code: /^ERR_INVALID_(ARG_VALUE|ARG_TYPE|THIS)$/ }],
    ['wait({ signal: fake AbortSignal }) refuses it before it starts watching', () => world.quiet.wait({ signal: Object.create(AbortSignal.prototype) }), { arg: 'options', code: /^ERR_INVALID_(ARG_TYPE|THIS)$/ }],
    ['unsupportedReason("bogus") is not "supported"', () => unsupportedReason('bogus' as 'pidfs'), { arg: 'name', code: 'ERR_INVALID_ARG_VALUE' }],
    ['unsupportedReason("toString")', () => unsupportedReason('toString' as 'pidfs'), { arg: 'name', code: 'ERR_INVALID_ARG_VALUE' }],
    ['statx(0x80000000): reserved bit', () => world.self.statx(0x80000000), { arg: 'mask', code: /^ERR_(OUT_OF_RANGE|INVALID_ARG_VALUE)$/ }],
    ['openProcessId("0:1") names processId', () => Pidfd.openProcessId('0:1'), { arg: 'processId', code: /^ERR_/ }],
    ['openProcessId("1:0") names processId', () => Pidfd.openProcessId('1:0'), { arg: 'processId', code: /^ERR_/ }],
    // Read once, as Node reads an option, a timeout cannot change between check and use.
    ['wait() with a timeout that turns into a Symbol after the checks', () => world.quiet.wait(lateTimeout(Symbol('late'))), { arg: 'options', code: null }],
    ['wait() with a timeout that turns into a BigInt after the checks', () => world.quiet.wait(lateTimeout(5n)), { arg: 'options', code: null }],
  ]

  it.each(cases)('%s', async (what, call, { arg, code }) => {
    let outcome = attempt(call)
    if (!outcome.threw && outcome.value instanceof Promise) outcome = await settle(outcome.value, scaled(2000), what)
    release(outcome.threw ? undefined : outcome.value, 'pidfd')
    check(outcome, what, { arg })
    if (code === null) return
    expect(outcome.threw).toBe(true)
    const actual = (outcome as { error: { code?: unknown } }).error.code
    if (typeof code === 'string') expect(actual).toBe(code)
    else expect(actual).toMatch(code)
  })

  it('fromHandle takes a valid handle from another realm, as Node takes its Uint8Arrays', () => {
    const foreign = vm.runInNewContext('new Uint8Array(12)') as Uint8Array
    foreign.set(world.handle)
    using pidfd = Pidfd.fromHandle(foreign)
    expect(pidfd.equals(world.self)).toBe(true)
  })
})
