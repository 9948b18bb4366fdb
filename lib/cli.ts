#!/usr/bin/env node
/**
 * The `pidfd` command: `pidfd check` reports what the running kernel does with pidfds, for
 * CI; `id`, `info`, `wait` and `kill` are race-free process tools. Built on the public API;
 * no shell is ever invoked.
 *
 * A command line is first parsed into a {@link Plan} ({@link parse}: pure, no syscall, no
 * output), so every argument is validated before anything is opened, signalled or run;
 * then the plan runs.
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { abortChecks, type CheckResult, checks, runChecks } from './check'
import { type FeatureName, featureInfo, features, unsupportedReason } from './features'
import { Pidfd } from './pidfd'
import { SIGNAL_MAX } from './signals'
import type { ExitStatus } from './status'
import { INT32_MAX } from './validate'

/** Exit statuses. */
const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_TIMEOUT = 124
const EXIT_INTERRUPTED = 130

const HELP = {
  main: `Usage: pidfd <command> [options]

Commands:
  check               check what this kernel does with pidfds and pidfs (for CI)
  id PID...           print each process's id as PID:INODE
  info TARGET         describe a process (PIDFD_GET_INFO)
  wait TARGET...      wait for processes to exit and print how they ended
  kill TARGET...      signal processes, race-free

A TARGET is a PID, or a PID:INODE process id, which never names another process.

Options:
  -h, --help          show help (also: pidfd <command> --help)
  -v, --version       show the version
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
  wait: `Usage: pidfd wait [--timeout MS] [--json] TARGET...

Waits for every target to exit (any process, not only children) and prints how each ended.
MS is 0 to 2147483647.
Exit status: 0 when all exited, 1 if a target could not be opened, 124 on timeout.
`,
  kill: `Usage: pidfd kill [-s SIGNAL] TARGET...

Sends SIGNAL (default SIGTERM; a name like KILL or SIGKILL, or a number from 0 to ${SIGNAL_MAX}) to
each target through a pidfd. A PID:INODE target that now names another process is refused
and nothing is sent to it. Exit status: 0, or 1 if a target could not be signalled.
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

/** A message on one line of at most a few hundred characters (util.parseArgs writes several sentences on several lines). */
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

/** What a command line asks for, validated: {@link run} carries it out. */
export type Plan =
  | { command: 'help'; text: string; usage: boolean }
  | { command: 'version' }
  | { command: 'check'; format: 'table' | 'json' | 'tap'; junit?: string; required: string[]; noColor: boolean }
  | { command: 'id'; pids: number[] }
  | { command: 'info'; target: Target; json: boolean }
  | { command: 'wait'; targets: Target[]; timeout?: number; json: boolean }
  | { command: 'kill'; targets: Target[]; signal: NodeJS.Signals | number }

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
    if (pid === undefined) throw new UsageError(command, `TARGET ${quote(text)} is not a pid (1 to ${INT32_MAX}) or PID:INODE`)
    return { text, pid }
  }
  if (pid === undefined) throw new UsageError(command, `TARGET ${quote(text)}: the pid must be 1 to ${INT32_MAX}`)
  const digits = text.slice(colon + 1)
  // The length first: BigInt() of a huge string takes a while, for nothing.
  const inode = /^\d{1,20}$/.test(digits.replace(/^0+(?=\d)/, '')) ? BigInt(digits) : undefined
  if (inode === undefined || inode < 1n || inode > INODE_MAX) throw new UsageError(command, `TARGET ${quote(text)}: the inode must be 1 to 2^64-1`)
  return { text, pid, inode }
}

/** Parses a SIGNAL: a name (KILL, SIGKILL, kill) or a number 0 to {@link SIGNAL_MAX}. */
function parseSignal(text: string): NodeJS.Signals | number {
  const number = decimal(text, SIGNAL_MAX)
  if (number !== undefined) return number
  const name = /^[A-Za-z][A-Za-z0-9]*$/.test(text) ? text.toUpperCase() : ''
  const full = name.startsWith('SIG') ? name : `SIG${name}`
  if (name !== '' && Object.hasOwn(os.constants.signals, full)) return full as NodeJS.Signals
  throw new UsageError('kill', `-s/--signal: ${quote(text)} is not a signal name or a number from 0 to ${SIGNAL_MAX}`)
}

/** util.parseArgs, its errors turned into usage errors. */
function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(command: Command, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options })
  } catch (error) {
    if (String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) throw new UsageError(command, (error as Error).message)
    throw error
  }
}

/** The names `--require` takes: feature names and check ids. */
const requirable = new Set<string>([...Object.keys(featureInfo), ...checks.map((c) => c.id)])

const parsers: { [C in Command]: (argv: string[]) => Plan } = {
  check(argv) {
    const { values, positionals } = parseOptions('check', argv, {
      json: { type: 'boolean' },
      tap: { type: 'boolean' },
      junit: { type: 'string' },
      require: { type: 'string' },
      'no-color': { type: 'boolean' },
    })
    if (positionals.length > 0) throw new UsageError('check', `unexpected argument ${quote(positionals[0]!)}`)
    if (values.json && values.tap) throw new UsageError('check', '--json and --tap exclude each other')
    if (values.junit === '') throw new UsageError('check', '--junit needs a file name')
    const required = values.require === undefined ? [] : values.require.split(',').map((name) => name.trim()).filter(Boolean)
    const unknown = required.filter((name) => !requirable.has(name))
    if (unknown.length > 0) {
      const names = unknown.map(quote).join(', ')
      throw new UsageError('check', `unknown feature or check in --require: ${names} (known features: ${Object.keys(featureInfo).join(', ')})`)
    }
    const format = values.json ? 'json' : values.tap ? 'tap' : 'table'
    return { command: 'check', format, junit: values.junit, required, noColor: values['no-color'] === true }
  },
  id(argv) {
    const { positionals } = parseOptions('id', argv, {})
    if (positionals.length === 0) throw new UsageError('id', 'no PID given')
    return { command: 'id', pids: positionals.map((text) => parsePid('id', text)) }
  },
  info(argv) {
    const { values, positionals } = parseOptions('info', argv, { json: { type: 'boolean' } })
    if (positionals.length !== 1) throw new UsageError('info', 'give exactly one TARGET (a pid or PID:INODE)')
    return { command: 'info', target: parseTarget('info', positionals[0]!), json: values.json === true }
  },
  wait(argv) {
    const { values, positionals } = parseOptions('wait', argv, { timeout: { type: 'string' }, json: { type: 'boolean' } })
    let timeout: number | undefined
    if (values.timeout !== undefined) {
      timeout = decimal(values.timeout, INT32_MAX)
      if (timeout === undefined) throw new UsageError('wait', `--timeout takes milliseconds from 0 to ${INT32_MAX}, not ${quote(values.timeout)}`)
    }
    if (positionals.length === 0) throw new UsageError('wait', 'no TARGET given')
    return { command: 'wait', targets: positionals.map((text) => parseTarget('wait', text)), timeout, json: values.json === true }
  },
  kill(argv) {
    const { values, positionals } = parseOptions('kill', argv, { signal: { type: 'string', short: 's' } })
    const signal = values.signal === undefined ? 'SIGTERM' : parseSignal(values.signal)
    if (positionals.length === 0) throw new UsageError('kill', 'no TARGET given')
    return { command: 'kill', targets: positionals.map((text) => parseTarget('kill', text)), signal }
  },
}

/** Whether `argv` asks for help: `-h` or `--help` anywhere before `--`. */
function asksForHelp(argv: string[]): boolean {
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
    const topic = rest[0]
    return { command: 'help', text: topic !== undefined && Object.hasOwn(HELP, topic) ? HELP[topic as Command] : HELP.main, usage: false }
  }
  if (command === '-v' || command === '--version') return { command: 'version' }
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

async function wait(plan: Extract<Plan, { command: 'wait' }>): Promise<number> {
  let status = EXIT_OK
  const opened: { pidfd: Pidfd; name: string }[] = []
  try {
    for (const target of plan.targets) {
      try {
        const pidfd = openTarget(target)
        opened.push({ pidfd, name: features().pidfs ? pidfd.processId : target.text })
      } catch (error) {
        err(`pidfd wait: ${target.text}: ${describeError(error)}\n`)
        status = EXIT_FAILED
      }
    }
    await Promise.all(
      opened.map(async ({ pidfd, name }) => {
        try {
          const exit = await pidfd.wait({ timeout: plan.timeout })
          out(plan.json ? `${JSON.stringify({ process: name, ...exit })}\n` : `${name} ${describeExit(exit)}\n`)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw error
          err(`pidfd wait: ${name}: still running after ${plan.timeout} ms\n`)
          status = EXIT_TIMEOUT
        }
      }),
    )
  } finally {
    for (const { pidfd } of opened) pidfd.close()
  }
  return status
}

function kill(plan: Extract<Plan, { command: 'kill' }>): number {
  let status = EXIT_OK
  for (const target of plan.targets) {
    try {
      using pidfd = openTarget(target)
      pidfd.sendSignal(plan.signal)
    } catch (error) {
      err(`pidfd kill: ${target.text}: ${describeError(error)}\n`)
      status = EXIT_FAILED
    }
  }
  return status
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
