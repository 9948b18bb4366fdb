/**
 * Signal names and numbers, with `process.kill`'s rules: names as in
 * `os.constants.signals` (`'SIGTERM'`), numbers as the kernel takes them, 0 to probe.
 * @internal
 * @packageDocumentation
 */
import os from 'node:os'
import { constants } from './constants'
import { invalidArgType, invalidArgValue, unknownSignal } from './errors'
import { validateInteger } from './validate'

/** The highest signal number Linux has (`_NSIG - 1`, SIGRTMAX on x86-64 and arm64). */
export const SIGNAL_MAX = 64

const signalNumbers: Readonly<Record<string, number>> = os.constants.signals

/** Signal numbers to names, first name wins (SIGABRT over SIGIOT, SIGIO over SIGPOLL), as Node names them. */
const signalNames = new Map<number, NodeJS.Signals>()
for (const [name, number] of Object.entries(signalNumbers)) {
  if (!signalNames.has(number)) signalNames.set(number, name as NodeJS.Signals)
}

/** The name of a signal number, or null for one Node has no name for (real-time signals). */
export function signalName(signal: number): NodeJS.Signals | null {
  return signalNames.get(signal) ?? null
}

/** How far a signal reaches, as `pidfd_send_signal(2)` scopes it (Linux 6.9). */
export type SignalScope = 'thread' | 'thread-group' | 'process-group'

const scopeFlags: Readonly<Record<SignalScope, number>> = {
  thread: constants.PIDFD_SIGNAL_THREAD,
  'thread-group': constants.PIDFD_SIGNAL_THREAD_GROUP,
  'process-group': constants.PIDFD_SIGNAL_PROCESS_GROUP,
}

/** A signal name or number, validated and turned into the number the kernel takes. */
export function toSignalNumber(signal: unknown, name = 'signal'): number {
  if (typeof signal === 'number') return validateInteger(signal, name, 0, SIGNAL_MAX)
  if (typeof signal === 'string') {
    if (!Object.hasOwn(signalNumbers, signal)) throw unknownSignal(signal)
    return signalNumbers[signal]!
  }
  throw invalidArgType(name, 'of type string or number', signal)
}

/** A signal scope, turned into its `PIDFD_SIGNAL_*` flag. */
export function toScopeFlag(scope: unknown, name = 'options.scope'): number {
  if (typeof scope === 'string' && Object.hasOwn(scopeFlags, scope)) return scopeFlags[scope as SignalScope]
  throw invalidArgValue(name, scope, `must be one of: ${Object.keys(scopeFlags).map((s) => `'${s}'`).join(', ')}`)
}
