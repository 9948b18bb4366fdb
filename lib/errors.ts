/**
 * Errors in Node's own shapes. Argument errors are `TypeError`/`RangeError` with an
 * `ERR_*` code, as Node's internal errors are; kernel errors are ErrnoExceptions (built
 * natively, see native/errno.cc) with `code`, negative `errno` and `syscall`.
 * Branch on `err.code`, never on the message.
 * @packageDocumentation
 */
import os from 'node:os'
import util from 'node:util'

/** An error with a stable `code`, as Node's internal errors have. */
export interface NodeError extends Error {
  code: string
}

/** The error thrown when the running kernel lacks a feature (`ERR_PIDFD_UNSUPPORTED`, `ERR_PIDFS_UNSUPPORTED`). */
export interface UnsupportedError extends NodeError {
  /** The feature name, as {@link features} reports it. */
  feature: string
  /** The first Linux release that has it, e.g. `'6.9'`. */
  since: string
  /**
   * Why it is unavailable, in a few words: `'needs Linux 6.9'` when the kernel lacks it, or,
   * whatever the kernel, `'blocked (EPERM from pidfd_getfd)'` when a seccomp filter or
   * sandbox refused the call (see `unsupportedReason()`).
   */
  reason: string
}

/**
 * Builds an error whose stack and `toString()` read `TypeError [ERR_X]: message`, like
 * Node's, while `name` stays `TypeError`.
 */
export function nodeError<E extends Error>(Base: new (message: string) => E, code: string, message: string): E & NodeError {
  const error = new Base(message) as E & NodeError
  const name = error.name
  // V8 formats the stack lazily, from the name at the time of the first read.
  Object.defineProperty(error, 'name', { value: `${name} [${code}]`, configurable: true, writable: true })
  void error.stack
  delete (error as { name?: string }).name
  error.code = code
  return error
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return `function ${value.name}`
  if (typeof value === 'object') {
    const ctor = (value as object).constructor
    return ctor?.name ? `an instance of ${ctor.name}` : util.inspect(value, { depth: -1 })
  }
  let shown = util.inspect(value, { colors: false })
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`
  return `type ${typeof value} (${shown})`
}

/** `TypeError [ERR_INVALID_ARG_TYPE]: The "pid" argument must be of type number. Received ...` */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & NodeError {
  const what = name.includes('.') ? 'property' : 'argument'
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" ${what} must be ${expected}. Received ${describe(actual)}`)
}

/** `TypeError [ERR_INVALID_ARG_VALUE]: The argument 'fd' is not a pidfd. Received 3` */
export function invalidArgValue(name: string, value: unknown, reason: string): TypeError & NodeError {
  const what = name.includes('.') ? 'property' : 'argument'
  return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${what} '${name}' ${reason}. Received ${util.inspect(value)}`)
}

/** `RangeError [ERR_OUT_OF_RANGE]: The value of "pid" is out of range. It must be ... Received ...` */
export function outOfRange(name: string, range: string, value: unknown): RangeError & NodeError {
  return nodeError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`)
}

/** `TypeError [ERR_UNKNOWN_SIGNAL]: Unknown signal: SIGFOO`, as `process.kill` throws. */
export function unknownSignal(signal: string): TypeError & NodeError {
  return nodeError(TypeError, 'ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal}`)
}

/** `Error [ERR_PIDFD_CLOSED]`: the Pidfd was used after `close()`. No syscall was made. */
export function pidfdClosed(): Error & NodeError {
  return nodeError(Error, 'ERR_PIDFD_CLOSED', 'The pidfd is closed')
}

/**
 * `Error [ERR_PIDFD_UNSUPPORTED]`: `feature` cannot be used here. Without `reason` the kernel
 * lacks it (it was added in Linux `since`); with one (`'blocked (EPERM from pidfd_getfd)'`),
 * its probe was refused or failed, and the kernel may well have it.
 */
export function unsupported(feature: string, description: string, since: string, reason?: string): Error & UnsupportedError {
  const message =
    reason === undefined
      ? `${description} is not supported by this kernel (Linux ${os.release()}); it needs Linux ${since} or later`
      : `${description} is unavailable here: ${reason}${blockedHint(reason)}`
  return withFeature(nodeError(Error, 'ERR_PIDFD_UNSUPPORTED', message), feature, since, reason)
}

/**
 * `Error [ERR_PIDFS_UNSUPPORTED]`: process identity needs pidfs (Linux 6.9+). Without it
 * every pidfd shares one anonymous inode, so comparing inodes would always say "same".
 * With `reason`, the probe for pidfs was refused or failed instead.
 */
export function pidfsUnsupported(reason?: string): Error & UnsupportedError {
  const message =
    reason === undefined
      ? `Process identity needs pidfs (Linux 6.9 or later); on this kernel (Linux ${os.release()}) ` +
        'every pidfd shares one inode, so inodes cannot tell processes apart'
      : `Process identity needs pidfs, which is unavailable here: ${reason}${blockedHint(reason)}`
  return withFeature(nodeError(Error, 'ERR_PIDFS_UNSUPPORTED', message), 'pidfs', '6.9', reason)
}

/** What a message adds to a reason that names a refused call: not the kernel's doing. */
function blockedHint(reason: string): string {
  if (reason.startsWith('blocked (')) return ` by a seccomp filter or security policy; the kernel (Linux ${os.release()}) may well have it`
  return reason.includes('blocked (') ? ' by a seccomp filter or security policy' : ''
}

function withFeature(error: Error & NodeError, feature: string, since: string, reason: string | undefined): Error & UnsupportedError {
  const unsupportedError = error as Error & UnsupportedError
  unsupportedError.feature = feature
  unsupportedError.since = since
  unsupportedError.reason = reason ?? `needs Linux ${since}`
  return unsupportedError
}

/** Node's `AbortError` class: `name` 'AbortError', `code` 'ABORT_ERR', the reason as `cause`. */
export class AbortError extends Error {
  code: string
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, options)
    this.code = 'ABORT_ERR'
    this.name = 'AbortError'
  }
}

/** An {@link AbortError} with the signal's reason as `cause`. */
export function abortError(reason: unknown): AbortError {
  return new AbortError(undefined, { cause: reason })
}

/** A `TimeoutError` with `code: 'ETIMEDOUT'`: a wait outlasted its `timeout`. */
export function timeoutError(ms: number): Error & NodeError {
  const error = new Error(`Timed out after ${ms} ms waiting for the process to exit`) as Error & NodeError
  error.name = 'TimeoutError'
  error.code = 'ETIMEDOUT'
  return error
}

/**
 * An ErrnoException built in TypeScript, for conditions found without a failing syscall
 * (a process id whose pid now names another process): same shape as the native ones.
 */
export function errnoException(code: string, syscall: string, detail?: string): NodeJS.ErrnoException {
  const errno = (os.constants.errno as Record<string, number>)[code]!
  const [, text] = util.getSystemErrorMap().get(-errno) ?? [code, 'unknown error']
  const error: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall}${detail ? ` (${detail})` : ''}`)
  error.errno = -errno
  error.code = code
  error.syscall = syscall
  return error
}

/** `TypeError [ERR_ILLEGAL_CONSTRUCTOR]: Illegal constructor`, as Node's own classes throw. */
export function illegalConstructor(use: string): TypeError & NodeError {
  return nodeError(TypeError, 'ERR_ILLEGAL_CONSTRUCTOR', `Illegal constructor: use ${use}`)
}

/** `TypeError [ERR_INVALID_THIS]: Value of "this" must be of type Pidfd`, for a method called on a fake. */
export function invalidThis(type: string): TypeError & NodeError {
  return nodeError(TypeError, 'ERR_INVALID_THIS', `Value of "this" must be of type ${type}`)
}
