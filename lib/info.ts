/**
 * Readers for the result slots of `PIDFD_GET_INFO` and `name_to_handle_at` (layouts in
 * native/info.cc and native/handle.cc), and the shapes they become.
 * @packageDocumentation
 */
import { native } from './binding'
import { constants } from './constants'
import { invalidArgValue } from './errors'
import { type ExitStatus, fromWaitStatus } from './status'

const numbers = new Float64Array(native.statBuffer)
const unsignedSlots = new BigUint64Array(native.statBuffer)
const bytes = new Uint8Array(native.statBuffer)

/** How a process dumped core, from `PIDFD_INFO_COREDUMP` (Linux 6.16). */
export interface CoredumpInfo {
  /** `PIDFD_COREDUMPED`: a core dump was written. */
  dumped: boolean
  /** `PIDFD_COREDUMP_SKIP`: the dump was skipped (not dumpable, or a limit). */
  skipped: boolean
  /** `PIDFD_COREDUMP_USER`: it would be dumped as its own user. */
  user: boolean
  /** `PIDFD_COREDUMP_ROOT`: it would be dumped as root (suid_dumpable 2). */
  root: boolean
}

/**
 * What `PIDFD_GET_INFO` (Linux 6.13) tells of a process. A field is present only when the
 * kernel set its mask bit: `pid`..`ppid` while it is alive or a zombie, the credentials
 * likewise, `exit` once it has been reaped (6.15), `coredump` from 6.16.
 */
export interface PidfdInfo {
  /** The `PIDFD_INFO_*` bits the kernel filled in. */
  mask: number
  /** Its pid, as this process's pid namespace sees it. */
  pid?: number
  /** Its thread-group id (the pid, unless the pidfd names a thread). */
  tgid?: number
  /** Its parent's pid, as this pid namespace sees it (0 if not visible). */
  ppid?: number
  ruid?: number
  rgid?: number
  euid?: number
  egid?: number
  suid?: number
  sgid?: number
  fsuid?: number
  fsgid?: number
  /** The id of its cgroup (v2), as `name_to_handle_at` on cgroupfs gives it. */
  cgroupId?: bigint
  /** How it ended; only once it has been reaped. */
  exit?: ExitStatus
  /** Whether it dumped core. */
  coredump?: CoredumpInfo
}

/** Every `PIDFD_INFO_*` bit this package knows how to read. */
export const INFO_MASK =
  constants.PIDFD_INFO_PID |
  constants.PIDFD_INFO_CREDS |
  constants.PIDFD_INFO_CGROUPID |
  constants.PIDFD_INFO_EXIT |
  constants.PIDFD_INFO_COREDUMP

/** Runs `PIDFD_GET_INFO` with mask and returns the fields whose bits came back. */
export function getInfo(fd: number, mask: number): PidfdInfo {
  native.pidfdGetInfo(fd, mask)
  const returned = numbers[0]!
  let info: PidfdInfo
  if ((returned & LIVE) === LIVE) {
    // The usual answer for a live process, as one literal (V8 builds it from a template).
    info = {
      mask: returned,
      pid: numbers[2]!,
      tgid: numbers[3]!,
      ppid: numbers[4]!,
      ruid: numbers[5]!,
      rgid: numbers[6]!,
      euid: numbers[7]!,
      egid: numbers[8]!,
      suid: numbers[9]!,
      sgid: numbers[10]!,
      fsuid: numbers[11]!,
      fsgid: numbers[12]!,
      cgroupId: unsignedSlots[1]!,
    }
  } else {
    info = { mask: returned }
    readPartial(info, returned)
  }
  if (returned & constants.PIDFD_INFO_EXIT) info.exit = fromWaitStatus(numbers[13]!, 'pidfd-info')
  if (returned & constants.PIDFD_INFO_COREDUMP) {
    const coredump = numbers[14]!
    info.coredump = {
      dumped: (coredump & constants.PIDFD_COREDUMPED) !== 0,
      skipped: (coredump & constants.PIDFD_COREDUMP_SKIP) !== 0,
      user: (coredump & constants.PIDFD_COREDUMP_USER) !== 0,
      root: (coredump & constants.PIDFD_COREDUMP_ROOT) !== 0,
    }
  }
  return info
}

const LIVE = constants.PIDFD_INFO_PID | constants.PIDFD_INFO_CREDS | constants.PIDFD_INFO_CGROUPID

/** The pid, credential and cgroup fields whose bits came back, for answers that lack some. */
function readPartial(info: PidfdInfo, returned: number): void {
  if (returned & constants.PIDFD_INFO_PID) {
    info.pid = numbers[2]!
    info.tgid = numbers[3]!
    info.ppid = numbers[4]!
  }
  if (returned & constants.PIDFD_INFO_CREDS) {
    info.ruid = numbers[5]!
    info.rgid = numbers[6]!
    info.euid = numbers[7]!
    info.egid = numbers[8]!
    info.suid = numbers[9]!
    info.sgid = numbers[10]!
    info.fsuid = numbers[11]!
    info.fsgid = numbers[12]!
  }
  if (returned & constants.PIDFD_INFO_CGROUPID) info.cgroupId = unsignedSlots[1]!
}

/** Length of a pidfs handle as {@link nameToHandle} encodes it: a 4-byte type, 8 bytes of inode. */
export const HANDLE_LENGTH = 12

/**
 * `name_to_handle_at` of fd, encoded as one Buffer: the handle type (uint32, little
 * endian) followed by the handle's bytes, which on pidfs are the 64-bit inode. (Filled
 * byte by byte: a subarray view to copy from costs more than the copy here.)
 */
export function nameToHandle(fd: number): Buffer {
  native.nameToHandleAt(fd)
  const type = numbers[0]!
  const length = numbers[1]!
  const handle = Buffer.allocUnsafe(4 + length)
  handle[0] = type & 0xff
  handle[1] = (type >>> 8) & 0xff
  handle[2] = (type >>> 16) & 0xff
  handle[3] = type >>> 24
  for (let i = 0; i < length; i++) handle[4 + i] = bytes[16 + i]!
  return handle
}

/** `%TypedArray%.prototype.byteLength`'s getter, which reads the internal slot. */
const byteLengthOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')!.get!

/**
 * `open_by_handle_at` of a handle from {@link nameToHandle}: a new owned pidfd.
 *
 * The bytes are copied through the typed array's internal slots (`set`, the intrinsic
 * `byteLength`), never through its own `byteLength`, `buffer`, `byteOffset` or `subarray`: a
 * subclass or an instance that redefines those cannot pass a handle of another length, or
 * reach the addon's untyped errors.
 */
export function openHandle(mountFd: number, handle: Uint8Array): number {
  const copy = copyHandle(handle)
  return native.openByHandleAt(mountFd, handleType(copy), copy.subarray(4), 0)
}

/** A private copy of a handle of the right length, else ERR_INVALID_ARG_VALUE (see {@link openHandle}). */
export function copyHandle(handle: Uint8Array): Uint8Array {
  if (Reflect.apply(byteLengthOf, handle, []) !== HANDLE_LENGTH) {
    throw invalidArgValue('handle', handle, `must be ${HANDLE_LENGTH} bytes long, as Pidfd#toHandle() makes it`)
  }
  const copy = new Uint8Array(HANDLE_LENGTH)
  copy.set(handle)
  return copy
}

/** The handle type of a copy made by {@link copyHandle} (a little-endian uint32). */
export function handleType(copy: Uint8Array): number {
  return new DataView(copy.buffer).getUint32(0, true)
}
