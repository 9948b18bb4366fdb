/**
 * `Pidfd#terminate()`: a polite signal, a wait, then a certain one; the SIGTERM, wait,
 * SIGKILL every supervisor writes by hand (util-linux `kill --timeout`), through the pidfd
 * only, on the existing exit watcher (no polling).
 * @packageDocumentation
 */
import os from 'node:os'
import { abortError, invalidArgType, outOfRange, timeoutError } from './errors'
import type { Pidfd } from './pidfd'
import { toSignalNumber } from './signals'
import type { ExitStatus } from './status'
import { INT32_MAX, validateOptions } from './validate'

/** Options of {@link Pidfd.terminate}. */
export interface TerminateOptions {
  /** The first signal. Default `'SIGTERM'`. */
  signal?: NodeJS.Signals | number
  /**
   * How long to wait for the exit after `signal`, and again after `killSignal`, in ms.
   * Default 5000.
   */
  timeout?: number
  /** The signal sent if the process outlives `timeout`. Default `'SIGKILL'`. */
  killSignal?: NodeJS.Signals | number
  /** Aborting it rejects with an `AbortError` and sends nothing more. */
  abort?: AbortSignal
}

/** What {@link Pidfd.terminate} resolves with: how the process ended, and whether `killSignal` was needed. */
export interface TerminateResult extends ExitStatus {
  /** True if the process outlived `timeout` and `killSignal` was sent. */
  escalated: boolean
}

/** Default of {@link TerminateOptions.timeout}. */
export const TERMINATE_TIMEOUT_MS = 5000

interface Parsed {
  signal: number
  timeout: number
  killSignal: number
  abort: AbortSignal | undefined
}

function parse(options: TerminateOptions | undefined): Parsed {
  const parsed: Parsed = {
    signal: os.constants.signals.SIGTERM,
    timeout: TERMINATE_TIMEOUT_MS,
    killSignal: os.constants.signals.SIGKILL,
    abort: undefined,
  }
  if (validateOptions(options) === undefined) return parsed
  // Each option read once: a getter cannot answer differently to the check and the use.
  const { signal, timeout, killSignal, abort } = options!
  if (signal !== undefined) parsed.signal = toSignalNumber(signal, 'options.signal')
  if (killSignal !== undefined) parsed.killSignal = toSignalNumber(killSignal, 'options.killSignal')
  if (timeout !== undefined) {
    if (typeof timeout !== 'number') throw invalidArgType('options.timeout', 'of type number', timeout)
    if (!(timeout >= 0 && timeout <= INT32_MAX)) throw outOfRange('options.timeout', `>= 0 && <= ${INT32_MAX}`, timeout)
    parsed.timeout = timeout
  }
  if (abort !== undefined) {
    if (!(abort instanceof AbortSignal)) throw invalidArgType('options.abort', 'an instance of AbortSignal', abort)
    parsed.abort = abort
  }
  return parsed
}

/** Sends sig; false if the process was already reaped (ESRCH), which is an answer too. */
function send(pidfd: Pidfd, sig: number): boolean {
  try {
    pidfd.sendSignal(sig)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

/**
 * Waits up to ms for the exit; null if the process still runs then. A process that has
 * exited but whose status is still coming (a zombie whose parent has not reaped it yet)
 * counts as exited: its status is waited for without the deadline.
 */
async function waitFor(pidfd: Pidfd, ms: number, abort: AbortSignal | undefined): Promise<ExitStatus | null> {
  try {
    return await pidfd.wait(abort === undefined ? { timeout: ms } : { timeout: ms, signal: abort })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw error
  }
  if (!pidfd.hasExited()) return null
  return pidfd.wait(abort === undefined ? undefined : { signal: abort })
}

/**
 * @internal `Pidfd#terminate()`: validates at once (bad input and a closed Pidfd throw
 * before anything is sent), then signals and waits.
 */
export function terminate(pidfd: Pidfd, options?: TerminateOptions): Promise<TerminateResult> {
  const parsed = parse(options)
  void pidfd.fd // ERR_PIDFD_CLOSED before anything is sent
  // As Pidfd#wait() and Node's promise APIs: an already aborted signal rejects, sending nothing.
  if (parsed.abort?.aborted) return Promise.reject(abortError(parsed.abort.reason))
  return run(pidfd, parsed)
}

async function run(pidfd: Pidfd, { signal, timeout, killSignal, abort }: Parsed): Promise<TerminateResult> {
  // Already gone: its status, and nothing sent.
  if (pidfd.hasExited()) return { ...(await pidfd.wait(abort === undefined ? undefined : { signal: abort })), escalated: false }
  send(pidfd, signal)
  const status = await waitFor(pidfd, timeout, abort)
  if (status !== null) return { ...status, escalated: false }
  send(pidfd, killSignal)
  const killed = await waitFor(pidfd, timeout, abort)
  if (killed !== null) return { ...killed, escalated: true }
  // Only a killSignal the process may survive (or a process stuck in the kernel) gets here.
  throw timeoutError(timeout)
}
