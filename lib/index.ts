/**
 * pidfd: Linux pidfds for Node.js. Race-free process handles, signals that cannot hit a
 * recycled pid, and process identity by pidfs inode.
 *
 * @example
 * ```ts
 * import { Pidfd, sameProcess, features } from 'pidfd'
 *
 * using self = Pidfd.open(process.pid)
 * console.log(self.processId)               // "1234:5678"
 * console.log(sameProcess(self, process.pid)) // true
 * ```
 * @packageDocumentation
 */
export {
  Pidfd,
  sameProcess,
  type OpenOptions,
  type SendSignalOptions,
  type WaitOptions,
  type WaitidOptions,
  type WaitidResult,
  type NamespaceType,
} from './pidfd'
export type { PidfdInfo, CoredumpInfo } from './info'
export { spawn, type SpawnOptions, type StdioOptions } from './spawn'
export { Subprocess, type SubprocessEvents } from './subprocess'
export { ZOMBIE_WAIT_MS } from './exit'
export { TERMINATE_TIMEOUT_MS, type TerminateOptions, type TerminateResult } from './terminate'
export type { KilledProcess, KillTreeOptions, PidfdList, TreeNode } from './tree'
export { waitAny, exits, type ProcessExit, type WaitAnyOptions } from './wait-any'
export { killCgroup, cgroupOf, type CgroupKillResult } from './cgroup'
export type { ExitStatus, ExitStatusSource } from './status'
export { features, featureInfo, unsupportedReason, type Features, type FeatureName } from './features'
export { constants } from './constants'
export { PidfdStats, type StatxResult, type DeviceNumber } from './stat'
export type { SignalScope } from './signals'
export type { NodeError, UnsupportedError } from './errors'
