/**
 * Exit statuses: the shape `exited` resolves with, and decoders for the kernel's encodings.
 * @packageDocumentation
 */
import { constants } from './constants'
import { signalName } from './signals'

/** How an {@link ExitStatus} was learnt. */
export type ExitStatusSource = 'waitid' | 'pidfd-info' | 'procfs' | 'child-process' | 'unavailable'

/**
 * How a process ended, shaped like `child_process`'s `'exit'` event: `code` is set when it
 * exited, `signal` when a signal killed it, and both are null only when the status could
 * not be had (`source: 'unavailable'`, with `reason` saying why).
 */
export interface ExitStatus {
  /** The exit code (0-255), or null if a signal killed it or the status is unavailable. */
  code: number | null
  /** The name of the signal that killed it, as Node names it, or null. */
  signal: NodeJS.Signals | null
  /** The number of that signal (also for real-time signals, which have no name), or null. */
  signalNumber: number | null
  /** True if it dumped core (always false when learnt from a `ChildProcess`). */
  coreDumped: boolean
  /** Where the status came from, or `'unavailable'`. */
  source: ExitStatusSource
  /** With `source: 'unavailable'`: why the kernel could not tell the status. */
  reason?: string
}

/** Decodes a wait(2) status word (as PIDFD_INFO_EXIT and /proc/PID/stat report it). */
export function fromWaitStatus(status: number, source: ExitStatusSource): ExitStatus {
  const termSignal = status & 0x7f
  if (termSignal === 0) return { code: (status >> 8) & 0xff, signal: null, signalNumber: null, coreDumped: false, source }
  return { code: null, signal: signalName(termSignal), signalNumber: termSignal, coreDumped: (status & 0x80) !== 0, source }
}

/** Decodes waitid(2)'s si_code and si_status for a process that ended. */
export function fromSiginfo(code: number, status: number): ExitStatus {
  if (code === constants.CLD_EXITED) return { code: status, signal: null, signalNumber: null, coreDumped: false, source: 'waitid' }
  return { code: null, signal: signalName(status), signalNumber: status, coreDumped: code === constants.CLD_DUMPED, source: 'waitid' }
}

/** A status the kernel could not tell, with why. */
export function unavailable(reason: string): ExitStatus {
  return { code: null, signal: null, signalNumber: null, coreDumped: false, source: 'unavailable', reason }
}

