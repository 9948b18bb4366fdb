#!/usr/bin/env node
/**
 * The `pidfd` command: `pidfd check` reports what the running kernel does with pidfds, for
 * CI; `id`, `info`, `wait`, `kill` and `tree` are race-free process tools, `wait` and `kill`
 * with util-linux `waitpid`'s and `kill`'s options and exit statuses. Built on the public
 * API; no shell is ever invoked, and nothing on PATH is needed.
 *
 * A command line is first parsed into a {@link Plan} ({@link parse}: pure, no syscall, no
 * output), so every argument is validated before anything is opened, signalled or run;
 * then the plan runs.
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { abortChecks, type CheckResult, checks, runChecks } from './check'
import { type FeatureName, featureInfo, features, unsupportedReason } from './features'
import { Pidfd } from './pidfd'
import { SIGNAL_MAX, signalName } from './signals'
import type { ExitStatus } from './status'
import { INT32_MAX } from './validate'

/** Exit statuses. */
const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
/** `wait`: the kernel lacks what the command needs (util-linux waitpid's 2, shared with usage errors). */
const EXIT_UNSUPPORTED = 2
/** `wait`: the timeout expired first (util-linux waitpid). */
const EXIT_TIMEOUT = 3
/** `kill`: some targets were signalled and some were not (util-linux kill). */
const EXIT_PARTIAL = 64
const EXIT_INTERRUPTED = 130

const HELP = {
  main: `Usage: pidfd <command> [options]

Commands:
  check               check what this kernel does with pidfds and pidfs (for CI)
  id PID...           print each process's id as PID:INODE
  info TARGET         describe a process (PIDFD_GET_INFO)
  wait TARGET...      wait for processes to exit and print how they ended (like waitpid)
  kill TARGET...      signal processes, race-free (util-linux kill's options)
  tree TARGET         draw a process and its descendants
  help [COMMAND]      show help for a command

A TARGET is a PID, or a PID:INODE process id, which never names another process.

Options:
  -h, --help          show help (also: pidfd help COMMAND, pidfd COMMAND --help)
  -V, --version       show the version (also -v)
`,
  check: `Usage: pidfd check [--json | --tap] [--junit FILE] [--require NAMES]

Runs ${checks.length} checks of pidfd and pidfs behaviour on real processes. Each passes, fails
(showing what was expected and observed), is unsupported (naming what it needs, such as
the kernel that added a feature), or is an error (it could not set itself up, for example
when no process could be started, and says why).

Options:
  --json              print a JSON report (schema "pidfd-check/1", see the README)
  --tap               print TAP version 14
  --junit FILE        also write a JUnit XML report to FILE (opened before any check runs)
  --require NAMES     comma-separated feature names or check ids that must pass; exit 1
                      if one is unsupported, fails or is an error
  --no-color          no colour, even on a terminal

Exit status: 0 if every check passed or is unsupported (and every required one passed),
1 otherwise, 2 for a usage error, 130 if interrupted.
`,
  id: `Usage: pidfd id PID...

Prints each process's id, PID:INODE (pidfs, Linux 6.9+).
Exit status: 0, 1 if a process could not be opened, 2 for a usage error.
`,
  info: `Usage: pidfd info [--json] TARGET

Describes a process: pid, parent, credentials, cgroup (PIDFD_GET_INFO, Linux 6.13+).
`,
  wait: `Usage: pidfd wait [-t SECONDS] [-e | -c COUNT] [-v] [--json] TARGET...

Waits for the targets to exit (any process, not only children), as util-linux waitpid
does, and prints how each ended, as it ends.

Options:
  -t, --timeout SECONDS  give up after SECONDS, a decimal such as 10 or 0.5 (at most
                         2147483.647; 0 only looks)
  -e, --exited           a target that has already exited is skipped, not an error
  -c, --count COUNT      stop once COUNT of the targets have exited
  -v, --verbose          also say which targets --exited skipped
  --json                 print one JSON object per line instead of text

Exit status, as util-linux waitpid's: 0 when the targets exited, 1 if a target could not
be opened (then nothing is waited for), 2 for a usage error or a kernel without pidfds
(or without pidfs, for a PID:INODE target), 3 if the timeout expired first.
`,
  kill: `Usage: pidfd kill [-SIGNAL | -s SIGNAL] [--timeout MS SIGNAL]... [--tree] [--verbose] TARGET...
       pidfd kill -l [SIGNAL | 0xMASK]
       pidfd kill -L

Sends a signal (default TERM) to each target through a pidfd, as util-linux kill does. A
SIGNAL is a name (KILL, SIGKILL, kill) or a number from 0 to ${SIGNAL_MAX}; 0 sends nothing and only
checks the target. A PID:INODE target that now names another process is refused, and
nothing is sent to it. Process groups and process names are not targets.

Options:
  -SIGNAL, -s, --signal SIGNAL
                      the signal to send: -9, -KILL, -SIGKILL, -s KILL, --signal=9
  --timeout MS SIGNAL if a target is still running MS milliseconds (0 to ${INT32_MAX})
                      later, send it SIGNAL; repeat for more steps, as in
                      --timeout 1000 TERM --timeout 1000 KILL --signal QUIT
  --tree              signal each target and every process below it, including those
                      forked meanwhile (killTree: every member is stopped first); with
                      --tree, --timeout may be given once: members still alive MS later
                      get its SIGNAL
  --verbose           print each signal as it is sent
  -l, --list [SIGNAL] list the signal names; with a number (or 128+N, an exit status), print
                      its name; with a name, its number; with 0xMASK, the names in the mask
  -L, --table         list the signal numbers and names

The targets are signalled in order, and then followed up all at the same time.

Exit status, as util-linux kill's: 0 if every process was signalled, 1 if none was (or
for any other failure), 64 if some were and some were not (with --tree, each member
counts: a member of another user, EPERM, is reported and the rest are still signalled),
2 for a usage error.
`,
  tree: `Usage: pidfd tree [--json] TARGET

Draws a process and every process below it, one line each: its id and its command line
(the command name in brackets when it has none: a kernel thread). The id is
PID:INODE on kernels with pidfs (Linux 6.9+); before that, the PID alone. Every process
is opened and checked against its parent (pidfd.descendants()), so a pid reused during
the walk is never shown under the tree, and one that exits during the walk (a zombie
among them) is left out. A snapshot: what forks meanwhile may be missing.

Options:
  --json              print the tree as one JSON object: {"schema": "pidfd-tree/1",
                      "pidfs": true|false, "root": NODE}, where a NODE is
                      {"processId": "PID:INODE" (or "PID" without pidfs), "pid": PID,
                      "argv": [...], "children": [NODE...]}

Exit status: 0, 1 if the target could not be opened, 2 for a usage error.
`,
} as const

/** A command this CLI has. */
type Command = Exclude<keyof typeof HELP, 'main'>

/**
 * A command line that cannot be run as given: printed as one line, exit status 2.
 * `code` is `'ERR_PIDFD_USAGE'`.
 */
export class UsageError extends Error {
  readonly code = 'ERR_PIDFD_USAGE'
  override readonly name = 'UsageError'

  /** `detail` names the option or argument at fault; `command` is the command it belongs to, if known. */
  constructor(command: Command | undefined, detail: string) {
    const prefix = command === undefined ? 'pidfd' : `pidfd ${command}`
    super(`${prefix}: ${oneLine(detail)} (see '${prefix} --help')`)
  }
}

/** `text` with control characters (newlines among them) escaped as `\\uXXXX`. */
function escapeControls(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A message on one line of at most a few hundred characters. */
function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ')
  return escapeControls(flat.length > 300 ? `${flat.slice(0, 300)}...` : flat)
}

/** An argument as a message shows it: quoted, control characters escaped, cut short when long. */
function quote(arg: string): string {
  return `'${escapeControls(arg.length > 60 ? `${arg.slice(0, 60)}...` : arg)}'`
}

/** A process named on the command line: a pid, or a PID:INODE process id. */
export interface Target {
  /** As given, for messages. */
  text: string
  pid: number
  /** With a PID:INODE target: its inode, 1 to 2^64-1. */
  inode?: bigint
}

/** A signal as a plan holds it: a name as Node has it (`'SIGKILL'`) or a number 0 to 64. */
export type Signal = NodeJS.Signals | number

/** `kill --timeout MS SIGNAL`: send `signal` if the target is still running `ms` later. */
export interface FollowUp {
  ms: number
  signal: Signal
}

/** What a command line asks for, validated: {@link run} carries it out. */
export type Plan =
  | { command: 'help'; text: string; usage: boolean }
  | { command: 'version' }
  | { command: 'check'; format: 'table' | 'json' | 'tap'; junit?: string; required: string[]; noColor: boolean }
  | { command: 'id'; pids: number[] }
  | { command: 'info'; target: Target; json: boolean }
  | {
      command: 'wait'
      targets: Target[]
      /** In ms (`-t` takes seconds). */
      timeout?: number
      /** `-c`: stop after this many exits (1 to the number of targets). */
      count?: number
      exited: boolean
      verbose: boolean
      json: boolean
    }
  | { command: 'kill'; targets: Target[]; signal: Signal; followUps: FollowUp[]; tree: boolean; verbose: boolean }
  /**
   * `kill -l`, `kill -L` (`table`), `kill -l SIGNAL|0xMASK` (`query`: the signals it names;
   * `byName` when it was a name, whose number is then printed).
   */
  | { command: 'signals'; table: boolean; query?: { numbers: number[]; byName: boolean } }
  | { command: 'tree'; target: Target; json: boolean }

/** A decimal integer in [min, max] (digits only: no sign, no exponent, no space), else undefined. */
function decimal(text: string, max: number, min = 0): number | undefined {
  if (!/^\d+$/.test(text)) return undefined
  const value = Number(text)
  return value >= min && value <= max ? value : undefined
}

const INODE_MAX = 2n ** 64n - 1n

/** Parses a PID (1 to 2^31-1), or throws a usage error. */
function parsePid(command: Command, text: string): number {
  const pid = decimal(text, INT32_MAX, 1)
  if (pid === undefined) throw new UsageError(command, `PID ${quote(text)} is not a pid (1 to ${INT32_MAX})`)
  return pid
}

/** Parses a TARGET: a pid, or a PID:INODE process id with an inode from 1 to 2^64-1. */
function parseTarget(command: Command, text: string): Target {
  const colon = text.indexOf(':')
  const pid = decimal(colon === -1 ? text : text.slice(0, colon), INT32_MAX, 1)
  if (colon === -1) {
    if (pid === undefined) {
      const group = /^-\d+$/.test(text) ? '; process groups are not supported' : ''
      throw new UsageError(command, `TARGET ${quote(text)} is not a pid (1 to ${INT32_MAX}) or PID:INODE${group}`)
    }
    return { text, pid }
  }
  if (pid === undefined) throw new UsageError(command, `TARGET ${quote(text)}: the pid must be 1 to ${INT32_MAX}`)
  const digits = text.slice(colon + 1)
  // The length first: BigInt() of a huge string takes a while, for nothing.
  const inode = /^\d{1,20}$/.test(digits.replace(/^0+(?=\d)/, '')) ? BigInt(digits) : undefined
  if (inode === undefined || inode < 1n || inode > INODE_MAX) throw new UsageError(command, `TARGET ${quote(text)}: the inode must be 1 to 2^64-1`)
  return { text, pid, inode }
}

/** A signal name or number as the command line gives it (`KILL`, `SIGKILL`, `kill`, `9`), or undefined. */
function signalOf(text: string): Signal | undefined {
  const number = decimal(text, SIGNAL_MAX)
  if (number !== undefined) return number
  const name = /^[A-Za-z][A-Za-z0-9]*$/.test(text) ? text.toUpperCase() : ''
  const full = name.startsWith('SIG') ? name : `SIG${name}`
  return name !== '' && Object.hasOwn(os.constants.signals, full) ? (full as NodeJS.Signals) : undefined
}

/** Parses the SIGNAL of option `option`, or throws a usage error naming it. */
function parseSignal(option: string, text: string): Signal {
  const signal = signalOf(text)
  if (signal === undefined) throw new UsageError('kill', `${option}: ${quote(text)} is not a signal name or a number from 0 to ${SIGNAL_MAX}`)
  return signal
}

/** An option a command takes. */
interface OptionSpec {
  /** The long name, without its dashes. */
  long: string
  /** The one-letter name, if any. */
  short?: string
  /** What values it takes, in order, as its help names them (none for a flag). */
  values?: readonly string[]
}

/** An option as given, in command-line order. */
interface GivenOption {
  /** The spec's long name (or, from a {@link DashHandler}, its own). */
  name: string
  /** As written (`-s`, `--signal`, `--signal=KILL`, `-9`), for messages. */
  as: string
  values: string[]
}

/** Turns a dash argument that names no option into one (`kill -9`), or returns undefined. */
type DashHandler = (arg: string) => GivenOption | undefined

/** How messages name an option: `-s/--signal`, or `--json`. */
function label(spec: OptionSpec): string {
  return spec.short === undefined ? `--${spec.long}` : `-${spec.short}/--${spec.long}`
}

/**
 * Splits argv into options (in order) and operands, getopt-style: options anywhere before
 * `--`; `--name=value` and `-xVALUE` for an option with one value; a value may start with
 * a dash. Errors are one line naming the option (never util.parseArgs's sentences).
 */
function scanOptions(command: Command, argv: readonly string[], specs: readonly OptionSpec[], dash?: DashHandler) {
  const options: GivenOption[] = []
  const operands: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') {
      operands.push(...argv.slice(i + 1))
      break
    }
    if (arg === '-' || !arg.startsWith('-')) {
      operands.push(arg)
      continue
    }
    let spec: OptionSpec | undefined
    let inline: string | undefined
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=')
      spec = specs.find((s) => s.long === (eq === -1 ? arg.slice(2) : arg.slice(2, eq)))
      if (spec !== undefined && eq !== -1) inline = arg.slice(eq + 1)
    } else {
      spec = specs.find((s) => s.short !== undefined && arg === `-${s.short}`)
    }
    if (spec === undefined) {
      const given = dash?.(arg)
      if (given !== undefined) {
        options.push(given)
        continue
      }
      // -xVALUE, for an option with one value
      spec = specs.find((s) => s.short !== undefined && s.values?.length === 1 && arg.startsWith(`-${s.short}`) && !arg.startsWith('--'))
      if (spec === undefined) {
        throw new UsageError(
          command,
          dash === undefined || arg.startsWith('--') ? `unknown option ${quote(arg)}` : `unknown option or signal ${quote(arg)} (a SIGNAL is a name like KILL or a number from 0 to ${SIGNAL_MAX})`,
        )
      }
      inline = arg.slice(2)
    }
    const wanted = spec.values ?? []
    if (wanted.length === 0) {
      if (inline !== undefined) {
        const given = dash?.(arg) // kill --list=SIGNAL
        if (given === undefined) throw new UsageError(command, `${label(spec)} takes no value (${quote(arg)})`)
        options.push(given)
        continue
      }
      options.push({ name: spec.long, as: arg, values: [] })
      continue
    }
    const values = inline === undefined ? [] : [inline]
    while (values.length < wanted.length && i + 1 < argv.length) values.push(argv[++i]!)
    if (values.length < wanted.length) throw new UsageError(command, `${label(spec)} needs ${wanted.join(' and ')}`)
    options.push({ name: spec.long, as: arg, values })
  }
  return { options, operands }
}

/** The given options as flags and last values (for commands whose options do not repeat). */
function lastValues(options: readonly GivenOption[]): Map<string, string | true> {
  return new Map(options.map((o) => [o.name, o.values[0] ?? true] as const))
}

/** The names `--require` takes: feature names and check ids. */
const requirable = new Set<string>([...Object.keys(featureInfo), ...checks.map((c) => c.id)])

/** util-linux kill options that pidfd kill does not have (sigqueue, names, /proc reads), by spelling. */
const killUnsupported: Readonly<Record<string, string>> = {
  '-a': '--all',
  '--all': '--all',
  '-p': '--pid',
  '--pid': '--pid',
  '-q': '--queue',
  '--queue': '--queue',
  '-r': '--require-handler',
  '--require-handler': '--require-handler',
  '-d': '--show-process-state',
  '--show-process-state': '--show-process-state',
}

/** `kill`'s `-SIGNAL` (`-9`, `-KILL`, `-SIGKILL`), `-l=SIGNAL`, and util-linux options it refuses by name. */
function killDash(arg: string): GivenOption | undefined {
  const option = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg
  if (Object.hasOwn(killUnsupported, option)) {
    throw new UsageError('kill', `${quote(option)} (util-linux kill's ${killUnsupported[option]}) is not supported`)
  }
  if (arg.startsWith('-l=')) return { name: 'list', as: arg, values: [arg.slice(3)] }
  if (arg.startsWith('--list=')) return { name: 'list', as: arg, values: [arg.slice(7)] }
  if (arg.startsWith('--')) return undefined
  const signal = signalOf(arg.slice(1))
  return signal === undefined ? undefined : { name: '-SIGNAL', as: arg, values: [arg.slice(1)] }
}

const killOptions: readonly OptionSpec[] = [
  { long: 'signal', short: 's', values: ['SIGNAL'] },
  { long: 'timeout', values: ['MS', 'SIGNAL'] },
  { long: 'tree' },
  { long: 'verbose' },
  { long: 'list', short: 'l' },
  { long: 'table', short: 'L' },
]

/** Parses `kill -l`'s argument: a name, a number (128+N, an exit status, means N), or 0xMASK. */
function parseSignalQuery(option: string, text: string): { numbers: number[]; byName: boolean } {
  if (/^0x[0-9a-fA-F]{1,16}$/.test(text)) {
    const mask = BigInt(text)
    const numbers: number[] = []
    for (let bit = 0; bit < 64; bit++) if ((mask >> BigInt(bit)) & 1n) numbers.push(bit + 1)
    return { numbers, byName: false }
  }
  const status = decimal(text, 128 + SIGNAL_MAX, 128) // `pidfd kill -l $?`
  const signal = status === undefined ? signalOf(text) : status - 128
  if (signal === undefined) {
    throw new UsageError('kill', `${option}: ${quote(text)} is not a signal name, a number from 0 to ${SIGNAL_MAX} (or 128 more, an exit status) or a 0xMASK`)
  }
  return typeof signal === 'number' ? { numbers: [signal], byName: false } : { numbers: [os.constants.signals[signal]], byName: true }
}

const parsers: { [C in Command]: (argv: readonly string[]) => Plan } = {
  check(argv) {
    const { options, operands } = scanOptions('check', argv, [
      { long: 'json' },
      { long: 'tap' },
      { long: 'junit', values: ['FILE'] },
      { long: 'require', values: ['NAMES'] },
      { long: 'no-color' },
    ])
    const values = lastValues(options)
    if (operands.length > 0) throw new UsageError('check', `unexpected argument ${quote(operands[0]!)}`)
    if (values.has('json') && values.has('tap')) throw new UsageError('check', '--json and --tap exclude each other')
    const junit = values.get('junit') as string | undefined
    if (junit === '') throw new UsageError('check', '--junit needs a file name')
    const require = values.get('require') as string | undefined
    const required = require === undefined ? [] : require.split(',').map((name) => name.trim()).filter(Boolean)
    const unknown = required.filter((name) => !requirable.has(name))
    if (unknown.length > 0) {
      const names = unknown.map(quote).join(', ')
      throw new UsageError('check', `unknown feature or check in --require: ${names} (known features: ${Object.keys(featureInfo).join(', ')})`)
    }
    const format = values.has('json') ? 'json' : values.has('tap') ? 'tap' : 'table'
    return { command: 'check', format, junit, required, noColor: values.has('no-color') }
  },
  id(argv) {
    const { operands } = scanOptions('id', argv, [])
    if (operands.length === 0) throw new UsageError('id', 'no PID given')
    return { command: 'id', pids: operands.map((text) => parsePid('id', text)) }
  },
  info(argv) {
    const { options, operands } = scanOptions('info', argv, [{ long: 'json' }])
    if (operands.length !== 1) throw new UsageError('info', 'give exactly one TARGET (a pid or PID:INODE)')
    return { command: 'info', target: parseTarget('info', operands[0]!), json: options.length > 0 }
  },
  wait(argv) {
    const { options, operands } = scanOptions('wait', argv, [
      { long: 'timeout', short: 't', values: ['SECONDS'] },
      { long: 'exited', short: 'e' },
      { long: 'count', short: 'c', values: ['COUNT'] },
      { long: 'verbose', short: 'v' },
      { long: 'json' },
    ])
    const values = lastValues(options)
    let timeout: number | undefined
    const seconds = values.get('timeout') as string | undefined
    if (seconds !== undefined) {
      timeout = parseSeconds(seconds)
      if (timeout === undefined) throw new UsageError('wait', `-t/--timeout takes seconds from 0 to ${INT32_MAX / 1000} (such as 10 or 0.5), not ${quote(seconds)}`)
    }
    if (operands.length === 0) throw new UsageError('wait', 'no TARGET given')
    const targets = operands.map((text) => parseTarget('wait', text))
    let count: number | undefined
    const countText = values.get('count') as string | undefined
    if (countText !== undefined) {
      count = decimal(countText, targets.length, 1)
      if (count === undefined) throw new UsageError('wait', `-c/--count takes a number from 1 to ${targets.length} (the number of TARGETs), not ${quote(countText)}`)
      if (values.has('exited')) throw new UsageError('wait', '-c/--count and -e/--exited exclude each other')
    }
    return { command: 'wait', targets, timeout, count, exited: values.has('exited'), verbose: values.has('verbose'), json: values.has('json') }
  },
  kill(argv) {
    const { options, operands } = scanOptions('kill', argv, killOptions, killDash)
    const list = options.find((o) => o.name === 'list' || o.name === 'table')
    if (list !== undefined) {
      const other = options.find((o) => o !== list)
      if (other !== undefined) throw new UsageError('kill', `${list.as} lists signals and takes no other option (${quote(other.as)})`)
      if (list.name === 'table') {
        if (operands.length > 0) throw new UsageError('kill', `${list.as} takes no argument (${quote(operands[0]!)})`)
        return { command: 'signals', table: true }
      }
      const queries = [...list.values, ...operands]
      if (queries.length > 1) throw new UsageError('kill', `-l/--list takes at most one SIGNAL or 0xMASK, not ${queries.length}`)
      return queries.length === 0 ? { command: 'signals', table: false } : { command: 'signals', table: false, query: parseSignalQuery('-l/--list', queries[0]!) }
    }
    let signal: Signal = 'SIGTERM'
    let dashSignal: string | undefined
    const followUps: FollowUp[] = []
    for (const option of options) {
      if (option.name === 'signal') {
        signal = parseSignal('-s/--signal', option.values[0]!)
      } else if (option.name === '-SIGNAL') {
        // In util-linux, a -N after a signal is process group N: refused, never guessed.
        if (dashSignal !== undefined) {
          throw new UsageError('kill', `${quote(option.as)}: the signal is already given (${quote(dashSignal)}); process groups are not supported`)
        }
        dashSignal = option.as
        signal = parseSignal(option.as, option.values[0]!)
      } else if (option.name === 'timeout') {
        const ms = decimal(option.values[0]!, INT32_MAX)
        if (ms === undefined) throw new UsageError('kill', `--timeout takes milliseconds from 0 to ${INT32_MAX}, not ${quote(option.values[0]!)}`)
        followUps.push({ ms, signal: parseSignal('--timeout', option.values[1]!) })
      }
    }
    if (operands.length === 0) throw new UsageError('kill', 'no TARGET given')
    const flags = new Set(options.map((o) => o.name))
    if (flags.has('tree') && followUps.length > 1) throw new UsageError('kill', `with --tree, --timeout may be given once, not ${followUps.length} times`)
    return { command: 'kill', targets: operands.map((text) => parseTarget('kill', text)), signal, followUps, tree: flags.has('tree'), verbose: flags.has('verbose') }
  },
  tree(argv) {
    const { options, operands } = scanOptions('tree', argv, [{ long: 'json' }])
    if (operands.length !== 1) throw new UsageError('tree', 'give exactly one TARGET (a pid or PID:INODE)')
    return { command: 'tree', target: parseTarget('tree', operands[0]!), json: options.length > 0 }
  },
}

/** SECONDS as `wait -t` takes it (`10`, `0.5`), in whole ms rounded up, at most 2^31-1 ms; else undefined. */
function parseSeconds(text: string): number | undefined {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text)
  if (match === null) return undefined
  const fraction = match[2] ?? ''
  // Rounded up: never gives up before the time asked for.
  const ms = Number(match[1]) * 1000 + Number(fraction.slice(0, 3).padEnd(3, '0')) + (/[1-9]/.test(fraction.slice(3)) ? 1 : 0)
  return ms <= INT32_MAX ? ms : undefined
}

/** Whether `argv` asks for help: `-h` or `--help` anywhere before `--`. */
function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '-h' || arg === '--help')
}

/**
 * Parses and validates a command line (without `node` and the script) into a {@link Plan}.
 * Pure: no syscall, no output, whatever `argv` holds.
 * @throws UsageError for anything that cannot run as given.
 */
export function parse(argv: readonly string[]): Plan {
  const [command, ...rest] = argv
  if (command === undefined) return { command: 'help', text: HELP.main, usage: true }
  if (command === '-h' || command === '--help' || command === 'help') {
    if (rest.length > 1) throw new UsageError(undefined, `help takes at most one COMMAND, not ${rest.length}`)
    const topic = rest[0]
    if (topic === undefined || topic === 'help') return { command: 'help', text: HELP.main, usage: false }
    if (!Object.hasOwn(parsers, topic)) throw new UsageError(undefined, `help: unknown command ${quote(topic)}`)
    return { command: 'help', text: HELP[topic as Command], usage: false }
  }
  if (command === '-V' || command === '-v' || command === '--version') {
    if (rest.length > 0) throw new UsageError(undefined, `${command} takes no argument (${quote(rest[0]!)})`)
    return { command: 'version' }
  }
  if (command.startsWith('-')) throw new UsageError(undefined, `unknown option ${quote(command)}`)
  if (!Object.hasOwn(parsers, command)) throw new UsageError(undefined, `unknown command ${quote(command)}`)
  if (asksForHelp(rest)) return { command: 'help', text: HELP[command as Command], usage: false }
  return parsers[command as Command](rest)
}

// ---- running a plan ----------------------------------------------------------------------

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
}

const out = (text: string) => process.stdout.write(text)
const err = (text: string) => process.stderr.write(text)

function describeError(error: unknown): string {
  return (error as Error).message
}

/** Opens a target; a PID:INODE one is refused (ESRCH) if its pid now names another process. */
function openTarget(target: Target): Pidfd {
  return target.inode === undefined ? Pidfd.open(target.pid) : Pidfd.openProcessId(`${target.pid}:${target.inode}`)
}

// ---- check ---------------------------------------------------------------------------

function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Why a check is unsupported or an error, in a few words. */
function why(r: CheckResult): string {
  return r.feature === undefined ? (r.reason ?? '') : `${r.feature}: ${r.reason ?? `needs Linux ${r.since}`}`
}

function count(results: CheckResult[], status: CheckResult['status']): number {
  return results.filter((r) => r.status === status).length
}

function junit(results: CheckResult[], seconds: number): string {
  const cases = results.map((r) => {
    const open = `    <testcase classname="pidfd.${xmlEscape(r.id.split('.')[0]!)}" name="${xmlEscape(r.id)}" time="${(r.durationMs / 1000).toFixed(3)}"`
    const body = {
      pass: undefined,
      fail: `<failure message="${xmlEscape(`expected ${r.expected}, observed ${r.observed}`)}">${xmlEscape(r.title)}</failure>`,
      error: `<error message="${xmlEscape(r.reason ?? '')}">${xmlEscape(r.title)}</error>`,
      unsupported: `<skipped message="${xmlEscape(`unsupported: ${why(r)}`)}"/>`,
    }[r.status]
    return body === undefined ? `${open}/>` : `${open}>\n      ${body}\n    </testcase>`
  })
  const counts = `tests="${results.length}" failures="${count(results, 'fail')}" errors="${count(results, 'error')}" skipped="${count(results, 'unsupported')}"`
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n` +
    `  <testsuite name="pidfd check (Linux ${xmlEscape(os.release())})" ${counts} time="${seconds.toFixed(3)}">\n` +
    `${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`
  )
}

function tap(results: CheckResult[]): string {
  const lines = ['TAP version 14', `1..${results.length}`]
  results.forEach((r, i) => {
    const name = `${i + 1} - ${r.id}: ${r.title}`
    if (r.status === 'pass') lines.push(`ok ${name}`)
    else if (r.status === 'unsupported') lines.push(`ok ${name} # SKIP ${why(r)}`)
    else if (r.status === 'error') lines.push(`not ok ${name}`, '  ---', `  error: ${JSON.stringify(r.reason)}`, '  ...')
    else lines.push(`not ok ${name}`, '  ---', `  expected: ${JSON.stringify(r.expected)}`, `  observed: ${JSON.stringify(r.observed)}`, '  ...')
  })
  return `${lines.join('\n')}\n`
}

function table(results: CheckResult[], color: boolean): string {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text)
  const label = { pass: paint(32, 'pass       '), fail: paint(31, 'FAIL       '), error: paint(31, 'ERROR      '), unsupported: paint(33, 'unsupported') }
  const lines = [`pidfd ${version()} check on Linux ${os.release()} (${process.arch}), Node ${process.version}`, '']
  const indent = ' '.repeat(12)
  for (const r of results) {
    let detail = r.title
    if (r.status === 'fail') detail += `\n${indent}expected ${r.expected}\n${indent}observed ${r.observed}`
    if (r.status === 'error') detail += `\n${indent}could not run: ${r.reason}`
    if (r.status === 'unsupported') detail += ` (${why(r)})`
    lines.push(`${label[r.status]} ${r.id.padEnd(28)} ${detail}`)
  }
  const found = features()
  const missing = (Object.keys(featureInfo) as FeatureName[]).filter((name) => !found[name])
  const errors = count(results, 'error')
  lines.push(
    '',
    `${count(results, 'pass')} passed, ${count(results, 'fail')} failed, ${count(results, 'unsupported')} unsupported${errors > 0 ? `, ${errors} could not run` : ''}`,
    missing.length === 0 ? 'features: all supported' : `features missing: ${missing.map((name) => `${name} (${unsupportedReason(name)})`).join(', ')}`,
  )
  return `${lines.join('\n')}\n`
}

async function check(plan: Extract<Plan, { command: 'check' }>): Promise<number> {
  // Opened before any check runs: a report that cannot be written is a usage error, found
  // at once rather than after the run.
  let junitFd: number | undefined
  if (plan.junit !== undefined) {
    try {
      junitFd = fs.openSync(plan.junit, 'w')
    } catch (error) {
      // "ENOENT: no such file or directory", without the ", open 'FILE'" that follows
      throw new UsageError('check', `--junit: cannot write ${quote(plan.junit)}: ${describeError(error).split(', ')[0]}`)
    }
  }
  let interrupted = false
  process.on('SIGINT', () => {
    if (interrupted) return // a second ^C while cleaning up: the cleanup is already under way
    interrupted = true
    void abortChecks().finally(() => process.exit(EXIT_INTERRUPTED))
  })
  const started = process.hrtime.bigint()
  const results = await runChecks()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9

  const found = features()
  const requiredFailed = plan.required.filter((name) => {
    if (name in featureInfo) return !found[name as FeatureName]
    return results.find((r) => r.id === name)!.status !== 'pass'
  })
  const failed = results.some((r) => r.status === 'fail' || r.status === 'error')
  if (junitFd !== undefined) {
    fs.writeFileSync(junitFd, junit(results, seconds))
    fs.closeSync(junitFd)
  }
  if (plan.format === 'json') {
    const report = {
      schema: 'pidfd-check/1',
      kernel: os.release(),
      arch: process.arch,
      node: process.version,
      pidfd: version(),
      durationMs: Math.round(seconds * 1000),
      features: Object.fromEntries(
        (Object.keys(featureInfo) as FeatureName[]).map((name) => [name, { supported: found[name], ...featureInfo[name], reason: unsupportedReason(name) }]),
      ),
      summary: {
        total: results.length,
        pass: count(results, 'pass'),
        fail: count(results, 'fail'),
        unsupported: count(results, 'unsupported'),
        error: count(results, 'error'),
      },
      checks: results,
      required: plan.required,
      requiredFailed,
    }
    out(`${JSON.stringify(report, null, 2)}\n`)
  } else if (plan.format === 'tap') {
    out(tap(results))
  } else {
    out(table(results, process.stdout.isTTY === true && !plan.noColor && !process.env.NO_COLOR))
  }
  if (requiredFailed.length > 0 && plan.format !== 'json') err(`pidfd check: required but not passing: ${requiredFailed.join(', ')}\n`)
  return failed || requiredFailed.length > 0 ? EXIT_FAILED : EXIT_OK
}

// ---- id, info, wait, kill --------------------------------------------------------------

function id(plan: Extract<Plan, { command: 'id' }>): number {
  let status = EXIT_OK
  for (const pid of plan.pids) {
    try {
      using pidfd = Pidfd.open(pid)
      out(`${pidfd.processId}\n`)
    } catch (error) {
      err(`pidfd id: ${pid}: ${describeError(error)}\n`)
      status = EXIT_FAILED
    }
  }
  return status
}

function info(plan: Extract<Plan, { command: 'info' }>): number {
  using pidfd = openTarget(plan.target)
  const fields: Record<string, unknown> = { processId: features().pidfs ? pidfd.processId : null, ...pidfd.info() }
  if (plan.json) {
    out(`${JSON.stringify(fields, (_, v) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`)
  } else {
    for (const [key, value] of Object.entries(fields)) {
      out(`${key.padEnd(10)} ${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}\n`)
    }
  }
  return EXIT_OK
}

function describeExit(status: ExitStatus): string {
  if (status.code !== null) return `exited with code ${status.code}`
  if (status.signal !== null || status.signalNumber !== null) {
    return `killed by ${status.signal ?? `signal ${status.signalNumber}`}${status.coreDumped ? ' (core dumped)' : ''}`
  }
  return `exited (status unavailable: ${status.reason})`
}

/** Whether an error says the kernel lacks what was asked (no pidfds, no pidfs), not that the call failed. */
function isUnsupported(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOSYS' || code === 'ERR_PIDFD_UNSUPPORTED' || code === 'ERR_PIDFS_UNSUPPORTED'
}

async function wait(plan: Extract<Plan, { command: 'wait' }>): Promise<number> {
  const opened: { pidfd: Pidfd; name: string; done: boolean }[] = []
  try {
    // As util-linux waitpid: every target is opened before any wait; one that cannot be is
    // a failure at once, unless --exited and it has exited (ESRCH).
    let failed: number | undefined
    for (const target of plan.targets) {
      try {
        const pidfd = openTarget(target)
        opened.push({ pidfd, name: features().pidfs ? pidfd.processId : target.text, done: false })
      } catch (error) {
        if (plan.exited && (error as NodeJS.ErrnoException).code === 'ESRCH') {
          if (plan.verbose) err(`pidfd wait: ${target.text} has exited, skipping\n`)
          continue
        }
        err(`pidfd wait: ${target.text}: ${describeError(error)}\n`)
        failed = isUnsupported(error) || failed === EXIT_UNSUPPORTED ? EXIT_UNSUPPORTED : EXIT_FAILED
      }
    }
    if (failed !== undefined) return failed

    const wanted = plan.count ?? opened.length
    let exits = 0
    let timedOut = false
    const stop = new AbortController()
    if (wanted === 0) return EXIT_OK
    const timer =
      plan.timeout === undefined
        ? undefined
        : setTimeout(() => {
            // A target that has exited but whose status is still on its way counts as exited.
            const exiting = opened.filter((o) => !o.done && o.pidfd.hasExited()).length
            if (exits + exiting >= wanted) return
            timedOut = true
            stop.abort()
          }, plan.timeout)
    await Promise.all(
      opened.map(async (o) => {
        let exit: ExitStatus
        try {
          exit = await o.pidfd.wait({ signal: stop.signal })
        } catch (error) {
          if ((error as Error).name === 'AbortError') return
          throw error
        }
        if (exits === wanted) return // one more in the same tick as the last wanted
        o.done = true
        exits++
        out(plan.json ? `${JSON.stringify({ process: o.name, ...exit })}\n` : `${o.name} ${describeExit(exit)}\n`)
        if (exits === wanted) stop.abort()
      }),
    )
    clearTimeout(timer)
    if (!timedOut) return EXIT_OK
    for (const o of opened) if (!o.done) err(`pidfd wait: ${o.name}: still running after ${plan.timeout! / 1000} s\n`)
    return EXIT_TIMEOUT
  } finally {
    for (const { pidfd } of opened) pidfd.close()
  }
}

/** A signal's number. */
function signalNumber(signal: Signal): number {
  return typeof signal === 'number' ? signal : os.constants.signals[signal]
}

/**
 * Signals one target, then sends its follow-ups (`--timeout MS SIGNAL`) while it runs.
 * Returns whether the target was signalled; says why not on stderr.
 */
async function killOne(plan: Extract<Plan, { command: 'kill' }>, target: Target): Promise<boolean> {
  let pidfd: Pidfd
  try {
    pidfd = openTarget(target)
  } catch (error) {
    err(`pidfd kill: ${target.text}: ${describeError(error)}\n`)
    return false
  }
  try {
    if (plan.verbose) out(`sending signal ${signalNumber(plan.signal)} to pid ${target.text}\n`)
    pidfd.sendSignal(plan.signal)
  } catch (error) {
    pidfd.close()
    err(`pidfd kill: ${target.text}: ${describeError(error)}\n`)
    return false
  }
  try {
    for (const followUp of plan.followUps) {
      try {
        await pidfd.wait({ timeout: followUp.ms })
        return true // it exited: nothing more to send
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw error
      }
      // Exited meanwhile, its status not yet known (a zombie): nothing more to send either.
      if (pidfd.hasExited()) return true
      if (plan.verbose) out(`timeout, sending signal ${signalNumber(followUp.signal)} to pid ${target.text}\n`)
      pidfd.sendSignal(followUp.signal)
    }
    return true
  } catch (error) {
    // Reaped between the check and the signal: it is gone, which is what was asked.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true
    err(`pidfd kill: ${target.text}: ${describeError(error)}\n`)
    return false
  } finally {
    pidfd.close()
  }
}

/**
 * `kill --tree`: signals one target and its whole tree (killTree). Returns how many
 * processes were signalled and how many could not be; says why on stderr, per member.
 */
async function killTreeOf(plan: Extract<Plan, { command: 'kill' }>, target: Target): Promise<{ ok: number; failed: number }> {
  let pidfd: Pidfd
  try {
    pidfd = openTarget(target)
  } catch (error) {
    err(`pidfd kill: ${target.text}: ${describeError(error)}\n`)
    return { ok: 0, failed: 1 }
  }
  try {
    const followUp = plan.followUps[0]
    const killed = await pidfd.killTree(plan.signal, followUp === undefined ? undefined : { timeout: followUp.ms, killSignal: followUp.signal })
    if (killed.length === 0) {
      err(`pidfd kill: ${target.text}: the process has already exited\n`)
      return { ok: 0, failed: 1 }
    }
    let ok = 0
    let failed = 0
    for (const member of killed) {
      if (member.error !== undefined) {
        failed++
        err(`pidfd kill: ${member.processId}: ${describeError(member.error)}\n`)
        continue
      }
      ok++
      if (plan.verbose) {
        out(`sending signal ${signalNumber(plan.signal)} to ${member.processId}\n`)
        if (member.escalated) out(`timeout, sending signal ${signalNumber(followUp!.signal)} to ${member.processId}\n`)
      }
    }
    return { ok, failed }
  } catch (error) {
    err(`pidfd kill: ${target.text}: ${describeError(error)}\n`)
    return { ok: 0, failed: 1 }
  } finally {
    pidfd.close()
  }
}

async function kill(plan: Extract<Plan, { command: 'kill' }>): Promise<number> {
  let ok = 0
  let failed = 0
  if (plan.tree) {
    // One tree after the other: each is stopped whole while it is walked.
    for (const target of plan.targets) {
      const result = await killTreeOf(plan, target)
      ok += result.ok
      failed += result.failed
    }
  } else {
    // Each target is opened and signalled in command-line order, before any follow-up waits.
    const signalled = await Promise.all(plan.targets.map((target) => killOne(plan, target)))
    ok = signalled.filter(Boolean).length
    failed = signalled.length - ok
  }
  if (failed === 0) return EXIT_OK
  return ok === 0 ? EXIT_FAILED : EXIT_PARTIAL
}

// ---- signals (kill -l, kill -L) ----------------------------------------------------------

/** Signals 1 to 31 by their names without `SIG`, one name per number (ABRT, not IOT; IO, not POLL), as Node names them. */
function signalTable(): { number: number; name: string }[] {
  const table: { number: number; name: string }[] = []
  for (let number = 1; number <= SIGNAL_MAX; number++) {
    const name = signalName(number)
    if (name !== null) table.push({ number, name: name.slice(3) })
  }
  return table
}

/** A signal's name without `SIG` (`KILL`), or its number for one without a name (real-time signals). */
function shortName(number: number): string {
  return signalName(number)?.slice(3) ?? String(number)
}

/** Fields on lines of at most `width` characters, as util-linux's kill -l and -L fill them. */
function fill(fields: string[], width: number, separator: string): string {
  const lines: string[] = []
  let line = ''
  for (const field of fields) {
    if (line !== '' && line.length + separator.length + field.length > width) {
      lines.push(line.trimEnd())
      line = ''
    }
    line += line === '' ? field : `${separator}${field}`
  }
  lines.push(line.trimEnd())
  return `${lines.join('\n')}\n`
}

function listSignals(plan: Extract<Plan, { command: 'signals' }>): number {
  if (plan.query !== undefined) {
    // As util-linux: a name gives its number, a number (or an exit status) its name.
    out(plan.query.byName ? `${plan.query.numbers[0]}\n` : plan.query.numbers.map((n) => `${shortName(n)}\n`).join(''))
    return EXIT_OK
  }
  const signals = signalTable()
  const width = process.stdout.isTTY === true ? Math.max(40, (process.stdout.columns ?? 80) - 1) : 79
  out(plan.table ? fill(signals.map((s) => `${String(s.number).padStart(2)} ${s.name.padEnd(7)}`), width, ' ') : fill(signals.map((s) => s.name), width, ' '))
  return EXIT_OK
}

// ---- tree --------------------------------------------------------------------------------

/** One process of `pidfd tree --json`. */
interface TreeEntry {
  processId: string
  pid: number
  argv: string[]
  children: TreeEntry[]
}

/**
 * A process's command line from /proc/PID/cmdline, or `[comm]` when it has none (a kernel
 * thread). Read through the pid, so trusted only if the pidfd shows the process still
 * running after the read: otherwise `null` (it exited during the walk, or is a zombie).
 */
function argvOf(pidfd: Pidfd, pid: number): string[] | null {
  let argv: string[]
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    argv = raw === '' ? [`[${fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd()}]`] : raw.replace(/\0$/, '').split('\0')
  } catch {
    return null
  }
  return pidfd.hasExited() ? null : argv
}

function treeCommand(plan: Extract<Plan, { command: 'tree' }>): number {
  const pidfs = features().pidfs
  using root = openTarget(plan.target)
  using nodes = root.descendants()
  const idOf = (pidfd: Pidfd, pid: number) => (pidfs ? pidfd.processId : String(pid))
  const entries = new Map<Pidfd, TreeEntry>()
  const rootEntry: TreeEntry = { processId: idOf(root, plan.target.pid), pid: plan.target.pid, argv: argvOf(root, plan.target.pid) ?? ['[exited]'], children: [] }
  entries.set(root, rootEntry)
  // Breadth first: every parent is in `entries` before its children.
  for (const node of nodes) {
    const parent = entries.get(node.parent)
    const argv = argvOf(node.pidfd, node.pid)
    if (parent === undefined || argv === null) continue // exited meanwhile: no longer in the tree
    const entry: TreeEntry = { processId: idOf(node.pidfd, node.pid), pid: node.pid, argv, children: [] }
    entries.set(node.pidfd, entry)
    parent.children.push(entry)
  }
  if (plan.json) {
    out(`${JSON.stringify({ schema: 'pidfd-tree/1', pidfs, root: rootEntry }, null, 2)}\n`)
    return EXIT_OK
  }
  const lines: string[] = []
  const draw = (entry: TreeEntry, prefix: string, branch: string) => {
    lines.push(`${prefix}${branch}${entry.processId} ${escapeControls(entry.argv.join(' '))}`)
    const below = prefix + (branch === '' ? '' : branch === '├─ ' ? '│  ' : '   ')
    entry.children.forEach((child, i) => draw(child, below, i === entry.children.length - 1 ? '└─ ' : '├─ '))
  }
  draw(rootEntry, '', '')
  out(`${lines.join('\n')}\n`)
  return EXIT_OK
}

// ---- main ------------------------------------------------------------------------------

/** Carries out a {@link Plan} and returns the exit status. */
async function run(plan: Plan): Promise<number> {
  switch (plan.command) {
    case 'help':
      if (plan.usage) {
        err(plan.text)
        return EXIT_USAGE
      }
      out(plan.text)
      return EXIT_OK
    case 'version':
      out(`${version()}\n`)
      return EXIT_OK
    case 'check':
      return check(plan)
    case 'id':
      return id(plan)
    case 'info':
      return info(plan)
    case 'wait':
      return wait(plan)
    case 'kill':
      return kill(plan)
    case 'signals':
      return listSignals(plan)
    case 'tree':
      return treeCommand(plan)
  }
}

/** Runs the command line `argv` (without `node` and the script) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  let plan: Plan | undefined
  try {
    plan = parse(argv)
    return await run(plan)
  } catch (error) {
    if (error instanceof UsageError) {
      err(`${error.message}\n`)
      return EXIT_USAGE
    }
    err(`${plan?.command === undefined ? 'pidfd' : `pidfd ${plan.command}`}: ${describeError(error)}\n`)
    return EXIT_FAILED
  }
}

if (require.main === module) {
  // A reader that stops early (`pidfd check | head`) is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(process.exitCode ?? EXIT_OK)
  })
  main(process.argv.slice(2)).then(
    (status) => (process.exitCode = status),
    (error: unknown) => {
      err(`pidfd: ${describeError(error)}\n`)
      process.exitCode = EXIT_FAILED
    },
  )
}
