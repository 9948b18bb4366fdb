/**
 * Waiting for whichever of many processes ends first (`waitAny`), or for each in the order
 * they end (`exits`), on the event loop: one `uv_poll` per process, as `exited` uses, and no
 * polling loop and no promise chain per process to write.
 *
 * Each process is watched through a duplicate of its pidfd (`F_DUPFD_CLOEXEC`) that belongs
 * to the wait, not through the Pidfd's own `exited` watch: a loop may only poll an fd once,
 * the caller's Pidfd may already be watched, and when the wait ends (settled, timed out,
 * aborted, or a `for await` left early) its watches and duplicates are closed at once, so
 * nothing of it keeps the event loop alive or holds an fd. Only once a process has exited is
 * its status read through its own Pidfd's `exited`, which then settles without watching.
 * @packageDocumentation
 */
import { native } from './binding'
import { abortError, invalidArgType, invalidArgValue, pidfdClosed, timeoutError } from './errors'
import { checkPidfd, Pidfd } from './pidfd'
import type { ExitStatus } from './status'
import { validateTimeout } from './tree'
import { validateOptions } from './validate'

/** One process that exited: which one, where it was in the list, and how it ended. */
export interface ProcessExit {
  /** The Pidfd, as given (still the caller's to close). */
  pidfd: Pidfd
  /** Its index in the list given. */
  index: number
  /** How it ended (see {@link ExitStatus}). */
  status: ExitStatus
}

/** Options of {@link waitAny}. */
export interface WaitAnyOptions {
  /** Rejects with Node's `AbortError` (the reason as `cause`) when aborted. */
  signal?: AbortSignal
  /** Rejects with a `TimeoutError` (`code: 'ETIMEDOUT'`) after this many ms. */
  timeout?: number
}

/**
 * The status of a process seen to exit: its Pidfd's `exited`. Never throws (it runs from a
 * watch callback): a Pidfd the caller closed meanwhile gives a rejection
 * (`ERR_PIDFD_CLOSED`) instead.
 */
function statusOf(pidfd: Pidfd): Promise<ExitStatus> {
  try {
    return pidfd.exited
  } catch (error) {
    return Promise.reject(error as Error)
  }
}

/** The list, validated: an iterable of distinct open Pidfds, not empty. */
function validateList(pidfds: unknown): Pidfd[] {
  if (pidfds === null || typeof pidfds !== 'object' || typeof (pidfds as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw invalidArgType('pidfds', 'an array of Pidfd', pidfds)
  }
  const list = [...(pidfds as Iterable<unknown>)]
  if (list.length === 0) throw invalidArgValue('pidfds', pidfds, 'must not be empty')
  const seen = new Set<Pidfd>()
  list.forEach((value, i) => {
    const pidfd = checkPidfd(value, `pidfds[${i}]`)
    if (pidfd.closed) throw pidfdClosed()
    if (seen.has(pidfd)) throw invalidArgValue(`pidfds[${i}]`, pidfd, 'appears twice in the list')
    seen.add(pidfd)
  })
  return list as Pidfd[]
}

/**
 * Watches a list of Pidfds for exits, in the order they happen: {@link ExitWatches.onExit}
 * is called once per process, with its index, the moment its pidfd becomes readable.
 */
class ExitWatches {
  readonly #copies: (Pidfd | null)[] = []
  readonly #ids: number[] = []

  /** Starts one watch per Pidfd not already exited; returns the indexes of those that had. */
  constructor(list: Pidfd[], onExit: (index: number) => void) {
    try {
      list.forEach((pidfd, index) => {
        this.#copies.push(null)
        this.#ids.push(0)
        if (pidfd.hasExited()) return queueMicrotask(() => onExit(index))
        const copy = Pidfd.fromFd(pidfd.fd)
        this.#copies[index] = copy
        this.#ids[index] = native.watch(copy.fd, native.UV_READABLE, () => {
          this.#ids[index] = 0
          this.#release(index)
          onExit(index)
        })
      })
    } catch (error) {
      this.close() // out of fds: nothing half set up stays behind
      throw error
    }
  }

  /** Whether the watches keep the event loop alive. */
  ref(ref: boolean): void {
    for (const id of this.#ids) if (id !== 0) native.refWatch(id, ref)
  }

  #release(index: number): void {
    if (this.#ids[index] !== 0) native.unwatch(this.#ids[index]!)
    this.#ids[index] = 0
    this.#copies[index]?.close()
    this.#copies[index] = null
  }

  /** Stops every watch and closes every duplicate. Idempotent. */
  close(): void {
    for (let index = 0; index < this.#copies.length; index++) this.#release(index)
  }
}

/**
 * Resolves with the first of `pidfds` to exit, its index in the list and its status. Exits
 * that happened before the call count: a process already gone wins at once (the first in
 * list order among several). Works for children and non-children alike.
 *
 * It holds one duplicate fd and one watch per process while it waits, and closes them all
 * when it settles: the other processes are not watched any more (the Pidfds stay the
 * caller's, untouched). The status of the winner is its Pidfd's `exited`.
 *
 * @throws `ERR_INVALID_ARG_TYPE` if `pidfds` is not an iterable of Pidfds, or for bad
 *   options; `ERR_INVALID_ARG_VALUE` if it is empty or lists one Pidfd twice;
 *   `ERR_OUT_OF_RANGE` for a bad timeout; `ERR_PIDFD_CLOSED` if one is closed (all before
 *   anything is watched). Rejects with an `AbortError` (at once if `signal` was already
 *   aborted), a `TimeoutError` (`code: 'ETIMEDOUT'`), or `ERR_PIDFD_CLOSED` if the winner's
 *   Pidfd is closed before its status is read.
 *
 * @example
 * ```ts
 * const { index, status } = await waitAny([web.pidfd, worker.pidfd], { timeout: 60_000 })
 * ```
 */
export function waitAny(pidfds: Iterable<Pidfd>, options?: WaitAnyOptions): Promise<ProcessExit> {
  const list = validateList(pidfds)
  let signal: AbortSignal | undefined
  let timeout: number | undefined
  if (validateOptions(options) !== undefined) {
    // Each option read once: a getter cannot answer differently to the check and the use.
    const { signal: abort, timeout: ms } = options!
    if (abort !== undefined && !(abort instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', abort)
    signal = abort
    timeout = validateTimeout(ms, 'options.timeout')
  }
  if (signal?.aborted) return Promise.reject(abortError(signal.reason))
  return new Promise<ProcessExit>((resolve, reject) => {
    let settled = false
    let timer: NodeJS.Timeout | undefined
    const finish = (then: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      watches.close()
      then()
    }
    const onAbort = () => finish(() => reject(abortError(signal!.reason)))
    // Its callback runs from the event loop or a microtask, never within the constructor.
    const watches: ExitWatches = new ExitWatches(list, (index) => {
      if (settled) return
      const pidfd = list[index]!
      // The first exit decides; no other watch matters any more.
      watches.close()
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      statusOf(pidfd).then(
        (status) => resolve({ pidfd, index, status }),
        (error: Error) => reject(error),
      )
    })
    signal?.addEventListener('abort', onAbort, { once: true })
    if (timeout !== undefined) timer = setTimeout(() => finish(() => reject(timeoutError(timeout!))), timeout)
  })
}

/**
 * An async iterator over the exits of `pidfds`, in the order they happen (those that had
 * already exited first, in list order), each `{ pidfd, index, status }` once, until all have
 * exited. Works for children and non-children alike.
 *
 * It holds one duplicate fd and one watch per process not yet yielded, which keep the event
 * loop alive only while a `next()` is pending. Breaking out of the loop (or `return()`, or
 * an error) closes them all at once: nothing of it stays behind. The Pidfds stay the
 * caller's.
 *
 * @throws As {@link waitAny}, at the call; the loop throws `ERR_PIDFD_CLOSED` if a Pidfd is
 *   closed before its status is read.
 *
 * @example
 * ```ts
 * for await (const { pidfd, status } of exits(workers.map((w) => w.pidfd))) {
 *   console.log(pidfd.processId, status.code)
 * }
 * ```
 */
export function exits(pidfds: Iterable<Pidfd>): AsyncIterableIterator<ProcessExit> {
  const list = validateList(pidfds)
  // Statuses in the order the exits were seen: each read as soon as it is seen.
  const ready: Promise<ProcessExit>[] = []
  let wake: (() => void) | undefined
  let done = false
  let yielded = 0
  const watches = new ExitWatches(list, (index) => {
    if (done) return
    const pidfd = list[index]!
    const exit = statusOf(pidfd).then((status) => ({ pidfd, index, status }))
    exit.catch(() => {}) // handled: it rejects only if the loop is still there to throw it
    ready.push(exit)
    wake?.()
  })
  watches.ref(false)
  const stop = () => {
    done = true
    ready.length = 0
    watches.close()
    wake?.()
  }
  const iterator: AsyncIterableIterator<ProcessExit> = {
    async next(): Promise<IteratorResult<ProcessExit>> {
      while (!done && yielded < list.length) {
        const exit = ready.shift()
        if (exit !== undefined) {
          try {
            const value = await exit
            if (++yielded === list.length) stop()
            return { value, done: false }
          } catch (error) {
            stop()
            throw error
          }
        }
        watches.ref(true)
        try {
          await new Promise<void>((resolve) => (wake = resolve))
        } finally {
          wake = undefined
          watches.ref(false)
        }
      }
      stop()
      return { value: undefined, done: true }
    },
    async return(): Promise<IteratorResult<ProcessExit>> {
      stop()
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
