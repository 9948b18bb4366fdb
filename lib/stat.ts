/**
 * `fstat(2)` and `statx(2)` results. The addon writes them into a shared buffer (layout in
 * native/stat.cc) and these readers build the objects, which is much cheaper than setting
 * properties from C++.
 * @packageDocumentation
 */
import fs from 'node:fs'
import { native } from './binding'

const slots = new BigInt64Array(native.statBuffer)
const unsignedSlots = new BigUint64Array(native.statBuffer)
const numbers = new Float64Array(native.statBuffer)

const { S_IFMT, S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK, S_IFIFO, S_IFLNK, S_IFSOCK } = fs.constants

// PidfdStats's methods and getters read `this` as plain data, as fs.Stats does: called on
// something that is not a PidfdStats (Object.create(PidfdStats.prototype), a Proxy, a copy),
// they answer false or an Invalid Date instead of throwing a TypeError without a code.

/** True if `stats.mode` has the file type `type`. */
function isType(stats: unknown, type: number): boolean {
  const mode = (stats as { mode?: unknown } | null | undefined)?.mode
  return (typeof mode === 'bigint' || typeof mode === 'number') && (Number(mode) & S_IFMT) === type
}

/** `stats[field]` (milliseconds) as a Date. */
function dateOf(stats: unknown, field: 'atimeMs' | 'mtimeMs' | 'ctimeMs'): Date {
  const ms = (stats as Partial<Record<typeof field, unknown>> | null | undefined)?.[field]
  return new Date(typeof ms === 'bigint' || typeof ms === 'number' ? Number(ms) : NaN)
}

/**
 * `fstat(2)` of a pidfd, shaped like `fs.fstatSync(fd, { bigint: true })`. On pidfs (Linux
 * 6.9+) `ino` is the process's inode, the same for every pidfd of that process, and `mode`
 * has no file-type bits, so every `is*()` method returns false. fstat has no birth time:
 * the `birthtime*` fields are 0.
 */
export class PidfdStats implements fs.BigIntStats {
  dev: bigint
  ino: bigint
  mode: bigint
  nlink: bigint
  uid: bigint
  gid: bigint
  rdev: bigint
  size: bigint
  blksize: bigint
  blocks: bigint
  atimeMs: bigint
  mtimeMs: bigint
  ctimeMs: bigint
  birthtimeMs: bigint
  atimeNs: bigint
  mtimeNs: bigint
  ctimeNs: bigint
  birthtimeNs: bigint

  /** @internal Read the slots native `fstat` just filled. */
  constructor() {
    this.dev = slots[0]!
    this.mode = slots[1]!
    this.nlink = slots[2]!
    this.uid = slots[3]!
    this.gid = slots[4]!
    this.rdev = slots[5]!
    this.blksize = slots[6]!
    this.ino = unsignedSlots[7]!
    this.size = slots[8]!
    this.blocks = slots[9]!
    this.atimeMs = slots[10]!
    this.mtimeMs = slots[11]!
    this.ctimeMs = slots[12]!
    this.birthtimeMs = 0n
    this.atimeNs = slots[13]!
    this.mtimeNs = slots[14]!
    this.ctimeNs = slots[15]!
    this.birthtimeNs = 0n
  }

  /** Last access time (built on first read). */
  get atime(): Date {
    return dateOf(this, 'atimeMs')
  }
  /** Last modification time (built on first read). */
  get mtime(): Date {
    return dateOf(this, 'mtimeMs')
  }
  /** Last status change time (built on first read). */
  get ctime(): Date {
    return dateOf(this, 'ctimeMs')
  }
  /** Birth time: the epoch, since fstat(2) does not report it. */
  get birthtime(): Date {
    return new Date(0)
  }

  /** As `fs.Stats#isFile()`. */
  isFile(): boolean {
    return isType(this, S_IFREG)
  }
  /** As `fs.Stats#isDirectory()`. */
  isDirectory(): boolean {
    return isType(this, S_IFDIR)
  }
  /** As `fs.Stats#isBlockDevice()`. */
  isBlockDevice(): boolean {
    return isType(this, S_IFBLK)
  }
  /** As `fs.Stats#isCharacterDevice()`. */
  isCharacterDevice(): boolean {
    return isType(this, S_IFCHR)
  }
  /** As `fs.Stats#isSymbolicLink()`. */
  isSymbolicLink(): boolean {
    return isType(this, S_IFLNK)
  }
  /** As `fs.Stats#isFIFO()`. */
  isFIFO(): boolean {
    return isType(this, S_IFIFO)
  }
  /** As `fs.Stats#isSocket()`. */
  isSocket(): boolean {
    return isType(this, S_IFSOCK)
  }
}

/** A device number split as the kernel reports it in `statx(2)`. */
export interface DeviceNumber {
  major: number
  minor: number
}

/**
 * `statx(2)` of a pidfd, field for field. The kernel fills only what `mask` says it
 * filled; other fields are 0. On pidfs `ino` is the process's inode and `dev` the pidfs
 * superblock's anonymous device. Timestamps are `struct statx_timestamp`'s two fields,
 * flat (`ctimeSec`, `ctimeNsec`), which keeps the result cheap to build.
 */
export interface StatxResult {
  /** `stx_mask`: which fields the kernel filled in (`constants.STATX_*`). */
  mask: number
  /** `stx_blksize`. */
  blksize: number
  /** `stx_nlink`. */
  nlink: number
  /** `stx_uid`: on pidfs, the process's effective uid when its inode was created. */
  uid: number
  /** `stx_gid`. */
  gid: number
  /** `stx_mode`; on pidfs it has no file-type bits. */
  mode: number
  /** `stx_size`. */
  size: number
  /** `stx_blocks`. */
  blocks: number
  /** `stx_attributes`: `STATX_ATTR_*` bits (all below 2^32 as of Linux 6.18). */
  attributes: number
  /** `stx_attributes_mask`: which `attributes` bits this filesystem supports. */
  attributesMask: number
  /** `stx_ino`: on pidfs, the process's inode (unique for the system's life on 64-bit). */
  ino: bigint
  /** `stx_mnt_id`: the mount the pidfd's file is on. */
  mntId: bigint
  /** `stx_dev_major`/`stx_dev_minor`: the device of the filesystem. */
  dev: DeviceNumber
  /** `stx_rdev_major`/`stx_rdev_minor`. */
  rdev: DeviceNumber
  /** `stx_atime.tv_sec` and `.tv_nsec`. */
  atimeSec: number
  atimeNsec: number
  /** `stx_btime` (0 where the filesystem does not record it: check `mask`). */
  btimeSec: number
  btimeNsec: number
  /** `stx_ctime`. */
  ctimeSec: number
  ctimeNsec: number
  /** `stx_mtime`. */
  mtimeSec: number
  mtimeNsec: number
}

/** Runs native `fstat` on fd and returns the result. */
export function fstat(fd: number): PidfdStats {
  native.fstat(fd)
  return new PidfdStats()
}

/** Runs native `fstat` on fd and returns `[st_dev, st_ino]`, without building the rest. */
export function fstatIdentity(fd: number): [dev: bigint, ino: bigint] {
  native.fstat(fd)
  return [slots[0]!, unsignedSlots[7]!]
}

/** Runs native `statx` on fd with mask and returns the result. */
export function statx(fd: number, mask: number): StatxResult {
  native.statx(fd, mask)
  // An object literal: V8 clones its shape from a boilerplate, several times faster here
  // than a class constructor storing the same fields.
  return {
    mask: numbers[0]!,
    blksize: numbers[1]!,
    nlink: numbers[2]!,
    uid: numbers[3]!,
    gid: numbers[4]!,
    mode: numbers[5]!,
    size: numbers[10]!,
    blocks: numbers[11]!,
    attributes: numbers[12]!,
    attributesMask: numbers[13]!,
    ino: unsignedSlots[22]!,
    mntId: unsignedSlots[23]!,
    dev: { major: numbers[6]!, minor: numbers[7]! },
    rdev: { major: numbers[8]!, minor: numbers[9]! },
    atimeSec: numbers[14]!,
    atimeNsec: numbers[15]!,
    btimeSec: numbers[16]!,
    btimeNsec: numbers[17]!,
    ctimeSec: numbers[18]!,
    ctimeNsec: numbers[19]!,
    mtimeSec: numbers[20]!,
    mtimeNsec: numbers[21]!,
  }
}
