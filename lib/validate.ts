/**
 * Argument validators with Node's semantics and error codes. Every public entry point
 * validates before it reaches native code, so bad input never makes a syscall.
 * @internal
 * @packageDocumentation
 */
import { invalidArgType, outOfRange } from './errors'

/** Largest value of a C `int`: pids and fds are ints in the kernel ABI. */
export const INT32_MAX = 2 ** 31 - 1

/** An integer in [min, max], else ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE. */
export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value)
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value)
  return value
}

/** An options object or undefined (null and arrays are refused, as Node does). */
export function validateOptions<T extends object>(value: T | undefined, name = 'options'): T | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value)
  }
  return value
}

/** A boolean or undefined (undefined reads as false). */
export function validateBoolean(value: unknown, name: string): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value)
  return value
}
