#!/usr/bin/env node
/**
 * The `pidfd` command. `pidfd check` reports what the running kernel does with pidfds.
 * @packageDocumentation
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { featureInfo, features, type FeatureName } from './features'

const USAGE = `Usage: pidfd <command> [options]

Commands:
  check [--json]   report the running kernel's pidfd and pidfs features

Options:
  -h, --help       show this help
  -v, --version    show the package version
`

/** Exit status for a usage error, as in most Unix tools. */
const EXIT_USAGE = 2

function version(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version
}

function check(json: boolean): number {
  const found = features()
  const rows = (Object.keys(featureInfo) as FeatureName[]).map((name) => ({
    name,
    supported: found[name],
    since: featureInfo[name].since,
    description: featureInfo[name].description,
  }))
  if (json) {
    const report = {
      kernel: os.release(),
      arch: process.arch,
      node: process.version,
      pidfd: version(),
      features: Object.fromEntries(rows.map(({ name, ...rest }) => [name, rest])),
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    return 0
  }
  const lines = [`pidfd ${version()} on Linux ${os.release()} (${process.arch}), Node ${process.version}`, '']
  lines.push(`${'feature'.padEnd(14)}${'status'.padEnd(14)}${'since'.padEnd(8)}what`)
  for (const row of rows) {
    lines.push(`${row.name.padEnd(14)}${(row.supported ? 'supported' : 'unsupported').padEnd(14)}${row.since.padEnd(8)}${row.description}`)
  }
  process.stdout.write(`${lines.join('\n')}\n`)
  return 0
}

/** Runs the command line `argv` (without `node` and the script) and returns the exit status. */
export function main(argv: string[]): number {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    })
  } catch (error) {
    process.stderr.write(`pidfd: ${(error as Error).message}\n\n${USAGE}`)
    return EXIT_USAGE
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`)
    return 0
  }
  const [command, ...rest] = positionals
  if (command === 'check' && rest.length === 0) return check(values.json === true)
  process.stderr.write(command === undefined ? USAGE : `pidfd: unknown command '${positionals.join(' ')}'\n\n${USAGE}`)
  return EXIT_USAGE
}

if (require.main === module) process.exitCode = main(process.argv.slice(2))
