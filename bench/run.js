#!/usr/bin/env node
// Benchmarks the pidfd API against bench/reference.c doing the same syscalls, in one run.
//
//   npm run bench              (after npm install, which builds the addon and dist/)
//   node bench/run.js --json   (machine-readable)
//
// The C program runs beside this process as a server: C and JS rounds of each operation
// alternate, ROUNDS times. ns/op is each side's best round; the ratio is the median of
// JS/C over neighbouring rounds, so that this shared machine's drifting speed (easily
// 20% over seconds) cancels out instead of favouring either side. The C program gets as
// many idle threads as this Node process has (see reference.c for why).
'use strict'
const { compileReference, median } = require('./common')
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const readline = require('node:readline')
const { Pidfd } = require('..')

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 20_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30)
const json = process.argv.includes('--json')

const pid = process.pid
const held = Pidfd.open(pid) // both sides hold a pidfd on themselves for the whole run

/** The JS side of each operation reference.c knows, with its target JS/C ratio. */
const operations = {
  sendSignal: { target: 1.25, run: () => held.sendSignal(0) },
  stat: { target: 1.4, run: () => held.stat() },
  statx: { target: 1.25, run: () => held.statx() },
  openClose: { target: 1.25, run: () => Pidfd.open(pid).close() },
  info: { target: 1.4, run: () => held.info() },
  toHandle: { target: 1.25, run: () => held.toHandle() },
  identity: {
    target: 1.3,
    run: () => {
      const a = Pidfd.open(pid)
      const b = Pidfd.open(pid)
      a.equals(b)
      a.close()
      b.close()
    },
  },
}
/**
 * The bare addon calls, without the TypeScript layer: the floor a Node process pays to
 * cross into the addon and the kernel. Reported, not judged.
 */
const { native } = require('../dist/binding')
const floors = {
  sendSignal: () => native.pidfdSendSignal(held.fd, 0, 0),
  statx: () => native.statx(held.fd, 0x1fff),
  openClose: () => native.close(native.pidfdOpen(pid, 0)),
}

/** Node's own fstat on the same fd, which `stat()` must not be slower than. */
const nodeFstat = () => fs.fstatSync(held.fd, { bigint: true })

function jsRound(run, iterations) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) run()
  return Number(process.hrtime.bigint() - start) / iterations
}

function startReference() {
  const binary = compileReference('reference')
  const threads = fs.readdirSync('/proc/self/task').length
  const child = spawn(binary, [String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    async round(name, iterations) {
      child.stdin.write(`${name} ${iterations}\n`)
      const { value, done } = await lines.next()
      if (done) throw new Error('bench/reference exited early')
      return Number(value)
    },
    stop: () => child.stdin.end(),
  }
}

/**
 * Pins this process's main thread to the last CPU, so that the C program (spawned after,
 * inheriting it) runs where the JS does. V8's helper threads, started before this script,
 * keep every CPU, as they would in a real program.
 */
function pinMainThread() {
  const cpu = os.availableParallelism() - 1
  try {
    execFileSync('taskset', ['-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' })
    return `main thread and C program pinned to CPU ${cpu}`
  } catch {
    return 'not pinned (no taskset)'
  }
}

async function main() {
  const pinning = pinMainThread()
  const reference = startReference()
  const rows = []
  for (const [name, op] of Object.entries(operations)) {
    const iterations = name === 'identity' ? ITERATIONS / 4 : ITERATIONS
    jsRound(op.run, iterations) // warm up: let V8 optimise it
    await reference.round(name, iterations / 10)
    const cs = []
    const jss = []
    for (let r = 0; r < ROUNDS; r++) {
      cs.push(await reference.round(name, iterations))
      jss.push(jsRound(op.run, iterations))
    }
    // The machine's speed drifts over seconds: the ratio of each C round to the JS round
    // right after it cancels the drift, and the median of those ratios is the figure.
    const ratio = median(jss.map((js, r) => js / cs[r]))
    rows.push({ operation: name, cNs: Math.round(Math.min(...cs)), jsNs: Math.round(Math.min(...jss)), ratio: Number(ratio.toFixed(2)), target: op.target })
  }
  for (const [name, run] of Object.entries(floors)) {
    const cs = []
    const jss = []
    jsRound(run, ITERATIONS)
    for (let r = 0; r < ROUNDS; r++) {
      cs.push(await reference.round(name, ITERATIONS))
      jss.push(jsRound(run, ITERATIONS))
    }
    const ratio = median(jss.map((js, r) => js / cs[r]))
    rows.push({ operation: `${name} (addon alone)`, cNs: Math.round(Math.min(...cs)), jsNs: Math.round(Math.min(...jss)), ratio: Number(ratio.toFixed(2)), target: null })
  }
  reference.stop()
  const nodeNs = []
  const statNs = []
  for (let r = 0; r < ROUNDS; r++) {
    nodeNs.push(jsRound(nodeFstat, ITERATIONS))
    statNs.push(jsRound(operations.stat.run, ITERATIONS))
  }
  held.close()

  const over = rows.filter((row) => row.target !== null && row.ratio > row.target).map((row) => row.operation)
  const statRatio = median(statNs.map((ns, r) => ns / nodeNs[r]))
  const statVsNode = {
    statNs: Math.round(Math.min(...statNs)),
    nodeFstatSyncBigintNs: Math.round(Math.min(...nodeNs)),
    ratio: Number(statRatio.toFixed(2)),
  }
  if (statRatio > 1) over.push('stat vs fs.fstatSync')
  if (json) {
    console.log(JSON.stringify({ kernel: os.release(), node: process.version, iterations: ITERATIONS, rounds: ROUNDS, pinning, rows, statVsNode, over }))
  } else {
    console.log(`pidfd bench: Linux ${os.release()}, Node ${process.version}; ${ROUNDS} alternating rounds of ${ITERATIONS} (identity: ${ITERATIONS / 4}), ns/op of the best round, JS/C the median of paired rounds; ${pinning}`)
    console.log('operation                  C ns/op  JS ns/op   JS/C  target')
    for (const row of rows) {
      const target = row.target === null ? '' : `  <= ${row.target}`
      console.log(`${row.operation.padEnd(24)} ${String(row.cNs).padStart(9)} ${String(row.jsNs).padStart(9)} ${row.ratio.toFixed(2).padStart(6)}${target}`)
    }
    console.log(`stat() ${statVsNode.statNs} ns vs fs.fstatSync(fd, { bigint: true }) ${statVsNode.nodeFstatSyncBigintNs} ns: ${statVsNode.ratio.toFixed(2)}x`)
    console.log(over.length === 0 ? 'all within target' : `over target: ${over.join(', ')}`)
  }
  process.exitCode = over.length === 0 ? 0 : 1
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 2
})
