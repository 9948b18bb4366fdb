#!/usr/bin/env node
/**
 * The `pidfd` command: `pidfd check` reports what the running kernel does with pidfds, for
 * CI; `id`, `info`, `wait` and `kill` are race-free process tools. Built on the public API;
 * no shell is ever invoked.
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { abortChecks, type CheckResult, checks, runChecks } from './check'
import { type FeatureName, featureInfo, features } from './features'
import { Pidfd } from './pidfd'
import type { ExitStatus } from './status'

/** Exit statuses. */
const EXIT_OK = 0
const EXIT_FAILED = 1
const EXIT_USAGE = 2
const EXIT_TIMEOUT = 124
const EXIT_INTERRUPTED = 130

const HELP: Record<string, string> = {
  main: `Usage: pidfd <command> [options]

Commands:
  check               check what this kernel does with pidfds and pidfs (for CI)
  id PID...           print each process's id as PID:INODE
  info PID            describe a process (PIDFD_GET_INFO)
  wait TARGET...      wait for processes to exit and print how they ended
  kill TARGET...      signal processes, race-free

A TARGET is a PID, or a PID:INODE process id, which never names another process.

Options:
  -h, --help          show help (also: pidfd <command> --help)
  -v, --version       show the version
`,
  check: `Usage: pidfd check [--json | --tap] [--junit FILE] [--require NAMES]

Runs ${checks.length} checks of pidfd and pidfs behaviour on real processes. Each passes, fails
(showing what was expected and observed), or is unsupported (naming the kernel that added
the feature it needs).

Options:
  --json              print a JSON report (schema "pidfd-check/1", see the README)
  --tap               print TAP version 14
  --junit FILE        also write a JUnit XML report to FILE
  --require NAMES     comma-separated feature names or check ids that must pass; exit 1
                      if one is unsupported or fails
  --no-color          no colour, even on a terminal

Exit status: 0 if every check passed or is unsupported (and every required one passed),
1 otherwise, 2 for a usage error, 130 if interrupted.
`,
  id: `Usage: pidfd id PID...

Prints each process's id, PID:INODE (pidfs, Linux 6.9+).
Exit status: 0, or 1 if a process could not be opened.
`,
  info: `Usage: pidfd info [--json] PID

Describes a process: pid, parent, credentials, cgroup (PIDFD_GET_INFO, Linux 6.13+).
`,
  wait: `Usage: pidfd wait [--timeout MS] [--json] TARGET...

Waits for every target to exit (any process, not only children) and prints how each ended.
Exit status: 0 when all exited, 1 if a target could not be opened, 124 on timeout.
`,
  kill: `Usage: pidfd kill [-s SIGNAL] TARGET...

Sends SIGNAL (default SIGTERM; a name like KILL or SIGKILL, or a number) to each target
through a pidfd. A PID:INODE target that now names another process is refused and nothing
is sent to it. Exit status: 0, or 1 if a target could not be signalled.
`,
}

class UsageError extends Error {}

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
}

const out = (text: string) => process.stdout.write(text)
const err = (text: string) => process.stderr.write(text)

/** Opens a TARGET: a pid, or a PID:INODE process id (refused if the pid was reused). */
function openTarget(target: string): Pidfd {
  if (/^\d+:\d+$/.test(target)) return Pidfd.openProcessId(target)
  if (!/^\d+$/.test(target)) throw new UsageError(`not a pid or PID:INODE: '${target}'`)
  return Pidfd.open(Number(target))
}

function describeError(error: unknown): string {
  return (error as Error).message
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
    missing.length === 0 ? 'features: all supported' : `features missing: ${missing.map((name) => `${name} (Linux ${featureInfo[name].since})`).join(', ')}`,
  )
  return `${lines.join('\n')}\n`
}

async function check(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, tap: { type: 'boolean' }, junit: { type: 'string' }, require: { type: 'string' }, 'no-color': { type: 'boolean' } },
  })
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`)
  if (values.json && values.tap) throw new UsageError('--json and --tap exclude each other')
  const required = values.require === undefined ? [] : values.require.split(',').map((name) => name.trim()).filter(Boolean)
  const known = new Set<string>([...Object.keys(featureInfo), ...checks.map((c) => c.id)])
  const unknown = required.filter((name) => !known.has(name))
  if (unknown.length > 0) throw new UsageError(`unknown feature or check in --require: ${unknown.join(', ')} (known features: ${Object.keys(featureInfo).join(', ')})`)

  process.once('SIGINT', () => {
    void abortChecks().finally(() => process.exit(EXIT_INTERRUPTED))
  })
  const started = process.hrtime.bigint()
  const results = await runChecks()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9

  const found = features()
  const requiredFailed = required.filter((name) => {
    if (name in featureInfo) return !found[name as FeatureName]
    return results.find((r) => r.id === name)!.status !== 'pass'
  })
  const failed = results.some((r) => r.status === 'fail' || r.status === 'error')
  if (values.junit !== undefined) fs.writeFileSync(values.junit, junit(results, seconds))
  if (values.json) {
    const report = {
      schema: 'pidfd-check/1',
      kernel: os.release(),
      arch: process.arch,
      node: process.version,
      pidfd: version(),
      durationMs: Math.round(seconds * 1000),
      features: Object.fromEntries(
        (Object.keys(featureInfo) as FeatureName[]).map((name) => [name, { supported: found[name], ...featureInfo[name] }]),
      ),
      summary: {
        total: results.length,
        pass: count(results, 'pass'),
        fail: count(results, 'fail'),
        unsupported: count(results, 'unsupported'),
        error: count(results, 'error'),
      },
      checks: results,
      required,
      requiredFailed,
    }
    out(`${JSON.stringify(report, null, 2)}\n`)
  } else if (values.tap) {
    out(tap(results))
  } else {
    out(table(results, process.stdout.isTTY === true && !values['no-color'] && !process.env.NO_COLOR))
  }
  if (requiredFailed.length > 0 && !values.json) err(`pidfd check: required but not passing: ${requiredFailed.join(', ')}\n`)
  return failed || requiredFailed.length > 0 ? EXIT_FAILED : EXIT_OK
}

// ---- id, info, wait, kill --------------------------------------------------------------

function id(argv: string[]): number {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} })
  if (positionals.length === 0) throw new UsageError('no PID given')
  let status = EXIT_OK
  for (const target of positionals) {
    if (!/^\d+$/.test(target)) throw new UsageError(`not a pid: '${target}'`)
    try {
      using pidfd = Pidfd.open(Number(target))
      out(`${pidfd.processId}\n`)
    } catch (error) {
      err(`pidfd id: ${target}: ${describeError(error)}\n`)
      status = EXIT_FAILED
    }
  }
  return status
}

function info(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } })
  if (positionals.length !== 1) throw new UsageError('give exactly one PID or PID:INODE')
  using pidfd = openTarget(positionals[0]!)
  const fields: Record<string, unknown> = { processId: features().pidfs ? pidfd.processId : null, ...pidfd.info() }
  if (values.json) {
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

async function wait(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { timeout: { type: 'string' }, json: { type: 'boolean' } } })
  if (positionals.length === 0) throw new UsageError('no TARGET given')
  let timeout: number | undefined
  if (values.timeout !== undefined) {
    if (!/^\d+$/.test(values.timeout)) throw new UsageError(`--timeout takes milliseconds, not '${values.timeout}'`)
    timeout = Number(values.timeout)
  }
  let status = EXIT_OK
  const opened: { target: string; pidfd: Pidfd; name: string }[] = []
  for (const target of positionals) {
    try {
      const pidfd = openTarget(target)
      opened.push({ target, pidfd, name: features().pidfs ? pidfd.processId : target })
    } catch (error) {
      if (error instanceof UsageError) throw error
      err(`pidfd wait: ${target}: ${describeError(error)}\n`)
      status = EXIT_FAILED
    }
  }
  await Promise.all(
    opened.map(async ({ pidfd, name }) => {
      try {
        const exit = await pidfd.wait({ timeout })
        out(values.json ? `${JSON.stringify({ process: name, ...exit })}\n` : `${name} ${describeExit(exit)}\n`)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ETIMEDOUT') throw error
        err(`pidfd wait: ${name}: still running after ${timeout} ms\n`)
        status = EXIT_TIMEOUT
      } finally {
        pidfd.close()
      }
    }),
  )
  return status
}

function kill(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { signal: { type: 'string', short: 's' } } })
  if (positionals.length === 0) throw new UsageError('no TARGET given')
  let signal: NodeJS.Signals | number = 'SIGTERM'
  if (values.signal !== undefined) {
    const name = values.signal.toUpperCase()
    if (/^\d+$/.test(name)) signal = Number(name)
    else signal = (name.startsWith('SIG') ? name : `SIG${name}`) as NodeJS.Signals
    if (typeof signal === 'string' && !(signal in os.constants.signals)) throw new UsageError(`unknown signal '${values.signal}'`)
    if (typeof signal === 'number' && signal > 64) throw new UsageError(`signal out of range: ${signal}`)
  }
  for (const target of positionals) if (!/^\d+(:\d+)?$/.test(target)) throw new UsageError(`not a pid or PID:INODE: '${target}'`)
  let status = EXIT_OK
  for (const target of positionals) {
    try {
      using pidfd = openTarget(target)
      pidfd.sendSignal(signal)
    } catch (error) {
      err(`pidfd kill: ${target}: ${describeError(error)}\n`)
      status = EXIT_FAILED
    }
  }
  return status
}

// ---- main ------------------------------------------------------------------------------

const commands: Record<string, (argv: string[]) => number | Promise<number>> = { check, id, info, wait, kill }

/** Runs the command line `argv` (without `node` and the script) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined) {
    err(HELP.main!)
    return EXIT_USAGE
  }
  if (command === '-h' || command === '--help' || command === 'help') {
    out(HELP[rest[0] ?? 'main'] ?? HELP.main!)
    return EXIT_OK
  }
  if (command === '-v' || command === '--version') {
    out(`${version()}\n`)
    return EXIT_OK
  }
  const run = commands[command]
  if (run === undefined) {
    err(`pidfd: unknown command '${command}'\nTry 'pidfd --help'.\n`)
    return EXIT_USAGE
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    out(HELP[command]!)
    return EXIT_OK
  }
  try {
    return await run(rest)
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`pidfd ${command}: ${(error as Error).message}\nTry 'pidfd ${command} --help'.\n`)
      return EXIT_USAGE
    }
    err(`pidfd ${command}: ${describeError(error)}\n`)
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
