#!/usr/bin/env node
// Spawning: spawn + exit of /bin/true, one at a time and 64 in flight, stdio 'ignore' and
// 'pipe', with this process at its ~50 MB and then holding 1 GiB of Buffers, for:
//   - pidfd:         spawn() from this package, until its 'close' event
//   - child_process: child_process.spawn, until its 'close' event
//   - C:             clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) + waitid(P_PIDFD)
//                    (bench/spawn_reference.c), holding as much memory and running as many
//                    threads as this process, so that the kernel does comparable work
// and the event-loop block time of one spawn() call (it returns once the child has exec'd)
// for both implementations at both sizes. 'close' is what a user waits for: the child has
// been reaped and, with 'pipe', its stdout and stderr have ended (the C side waits for the
// same: pidfd readable and reaped, EOF on both sockets).
//
// Rounds interleave the three implementations (their order rotates each round) cell by
// cell, so the machine's drifting speed hits all three alike: a figure is the median over
// rounds of each round's time per spawn, a ratio the median of the per-round ratios.
//
//   npm run bench:spawn     (node bench/spawn.js [--json]; needs the addon and dist/ built)
'use strict'
const childProcess = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const pidfd = require('..')
const { native } = require('../dist/binding')

const env = (name, fallback) => Number(process.env[name] ?? fallback)
const ROUNDS = env('BENCH_ROUNDS', 30)
/** Rounds of child_process with 1 GiB held (each fork copies 1 GiB of page tables). */
const SLOW_ROUNDS = Math.min(ROUNDS, env('BENCH_SLOW_ROUNDS', 10))
/** Spawns per round, one at a time. */
const SERIAL = env('BENCH_SERIAL', 5)
/** Spawns per round with up to 64 in flight: 64 started back to back, until the last 'close'. */
const BATCH = env('BENCH_BATCH', 64)
/**
 * child_process with 1 GiB held: its fork() blocks the loop for longer than a child lives,
 * so however many it is allowed, it never has more than the ones it started back to back.
 */
const SLOW_BATCH = Math.min(BATCH, env('BENCH_SLOW_BATCH', 16))
const IN_FLIGHT = 64
const HOLD_MIB = env('BENCH_HOLD_MIB', 1024)
const TARGET_VS_C = 1.3
const TARGET_BLOCK = 0.1
const json = process.argv.includes('--json')

const FILE = '/bin/true'
const STDIOS = ['ignore', 'pipe']
const MODES = ['serial', 'parallel']
const IMPLS = ['c', 'pidfd', 'childProcess']
const now = () => process.hrtime.bigint()

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The C reference as a server on its stdin/stdout (see bench/spawn_reference.c). */
function startReference() {
  const out = path.join(__dirname, '.out')
  fs.mkdirSync(out, { recursive: true })
  const binary = path.join(out, 'spawn_reference')
  childProcess.execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', binary, path.join(__dirname, 'spawn_reference.c')])
  const child = childProcess.spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    async request(line) {
      child.stdin.write(`${line}\n`)
      const { value, done } = await lines.next()
      if (done) throw new Error(`bench/spawn_reference exited at "${line}"`)
      return value.split(' ')
    },
    stop: () => child.stdin.end(),
  }
}

/** The two JS implementations: make a child, and the event that says it is done. */
const spawners = {
  pidfd: (stdio) => pidfd.spawn(FILE, [], { stdio }),
  childProcess: (stdio) => childProcess.spawn(FILE, [], { stdio }),
}

/** Resolves on 'close' (code 0 checked), rejects on 'error'. */
function closed(child) {
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${FILE} exited with ${code}`))))
  })
}

/** This process's CPU time (user + system, all threads), in ns. */
const cpuNs = () => {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

/**
 * One at a time: ns per spawn; pushes each spawn() call's duration to `blocks`, and this
 * process's CPU time per spawn to `cpu`.
 */
async function serialRound(spawner, stdio, count, blocks, cpu) {
  const cpu0 = cpuNs()
  const start = now()
  for (let i = 0; i < count; i++) {
    const before = now()
    const child = spawner(stdio)
    blocks.push(Number(now() - before))
    await closed(child)
  }
  const ns = Number(now() - start) / count
  cpu.push((cpuNs() - cpu0) / count)
  return ns
}

/** `count` spawns, IN_FLIGHT at a time: each 'close' starts the next; ns per spawn. */
function parallelRound(spawner, stdio, count) {
  return new Promise((resolve, reject) => {
    let started = 0
    let done = 0
    const start = now()
    const launch = () => {
      started++
      closed(spawner(stdio)).then(() => {
        if (++done === count) resolve(Number(now() - start) / count)
        else if (started < count) launch()
      }, reject)
    }
    for (let i = 0; i < Math.min(IN_FLIGHT, count); i++) launch()
  })
}

/**
 * The addon's spawn alone, without the TypeScript around it (no option parsing, no
 * Subprocess, no Pidfd): native.spawn of a ready plan, a native watch on the pidfd, waitid.
 * Reported, not judged: the floor a Node addon pays for this spawn.
 */
const plan = {
  paths: [FILE],
  argv: [FILE],
  env: Object.entries(process.env).map(([key, value]) => `${key}=${value}`),
  cwd: null,
  stdio: [-1, -1, -1],
  uid: -1,
  gid: -1,
  setsid: false,
  pgid: -1,
  pdeathSignal: 0,
  cgroupFd: -1,
  flags: 0n,
  method: 0,
}
const { WEXITED, WNOHANG, __WALL } = pidfd.constants
async function nativeRound(count, blocks, cpu) {
  const cpu0 = cpuNs()
  const start = now()
  for (let i = 0; i < count; i++) {
    const before = now()
    const { pidfd: fd } = native.spawn(plan)
    blocks.push(Number(now() - before))
    await new Promise((resolve) => native.watch(fd, native.UV_READABLE, resolve))
    native.waitid(fd, WEXITED | WNOHANG | __WALL)
    native.close(fd)
  }
  const ns = Number(now() - start) / count
  cpu.push((cpuNs() - cpu0) / count)
  return ns
}

const threadCount = () => fs.readdirSync('/proc/self/task').length
const rssMiB = () => Math.round(process.memoryUsage().rss / 2 ** 20)

/** All the cells at one heap size. */
async function phase(reference, heap) {
  const slow = heap !== '50 MB'
  // The C side matches this process: its threads, and its RSS in touched memory.
  const [, threads] = await reference.request(`threads ${threadCount()}`)
  const rss = rssMiB()
  const [, cRssKb] = await reference.request(`hold ${rss}`)
  const cells = []
  for (const mode of MODES) for (const stdio of STDIOS) cells.push({ heap, mode, stdio, c: [], pidfd: [], childProcess: [], blocks: { c: [], pidfd: [], childProcess: [] }, cpu: { c: [], pidfd: [], childProcess: [] } })
  const nativeCell = { heap, ns: [], blocks: [], cpu: [] }
  // Warm up: V8 optimises the JS paths, the kernel caches /bin/true.
  for (const cell of cells) {
    for (const impl of ['pidfd', 'childProcess']) await serialRound(spawners[impl], cell.stdio, 3, [], [])
    await reference.request(`serial ${cell.stdio} 3`)
  }
  await nativeRound(3, [], [])
  for (let round = 0; round < ROUNDS; round++) {
    const order = IMPLS.map((_, i) => IMPLS[(i + round) % IMPLS.length])
    for (const cell of cells) {
      const batch = cell.mode === 'serial' ? SERIAL : BATCH
      for (const impl of order) {
        if (impl === 'c') {
          const [ns, cloneNs, cpu] = await reference.request(`${cell.mode} ${cell.stdio} ${batch}`)
          cell.c.push(Number(ns))
          if (cell.mode === 'serial') {
            cell.blocks.c.push(Number(cloneNs))
            cell.cpu.c.push(Number(cpu))
          }
        } else if (impl === 'childProcess' && slow && round >= SLOW_ROUNDS) {
          continue
        } else if (cell.mode === 'serial') {
          const blocks = []
          cell[impl].push(await serialRound(spawners[impl], cell.stdio, batch, blocks, cell.cpu[impl]))
          cell.blocks[impl].push(median(blocks))
        } else {
          cell[impl].push(await parallelRound(spawners[impl], cell.stdio, impl === 'childProcess' && slow ? SLOW_BATCH : batch))
        }
      }
    }
    const blocks = []
    nativeCell.ns.push(await nativeRound(SERIAL, blocks, nativeCell.cpu))
    nativeCell.blocks.push(median(blocks))
  }
  return { heap, rssMiB: rss, rssEndMiB: rssMiB(), cRssMiB: Math.round(Number(cRssKb) / 1024), threads: Number(threads), cells, nativeCell }
}

/** Medians and paired ratios of one cell (rounds where both sides ran). */
function summarise(cell) {
  const paired = (a, b) => median(a.slice(0, Math.min(a.length, b.length)).map((x, i) => x / b[i]))
  const us = (ns) => Number((median(ns) / 1000).toFixed(1))
  const row = {
    heap: cell.heap,
    mode: cell.mode,
    stdio: cell.stdio,
    rounds: { c: cell.c.length, pidfd: cell.pidfd.length, childProcess: cell.childProcess.length },
    cUs: us(cell.c),
    pidfdUs: us(cell.pidfd),
    childProcessUs: us(cell.childProcess),
    pidfdVsC: Number(paired(cell.pidfd, cell.c).toFixed(2)),
    childProcessVsC: Number(paired(cell.childProcess, cell.c).toFixed(2)),
  }
  if (cell.mode !== 'serial') return { row }
  const block = {
    heap: cell.heap,
    stdio: cell.stdio,
    cCloneUs: us(cell.blocks.c),
    pidfdUs: us(cell.blocks.pidfd),
    childProcessUs: us(cell.blocks.childProcess),
    pidfdVsChildProcess: Number(paired(cell.blocks.pidfd, cell.blocks.childProcess).toFixed(3)),
    cpu: { cUs: us(cell.cpu.c), pidfdUs: us(cell.cpu.pidfd), childProcessUs: us(cell.cpu.childProcess) },
  }
  return { row, block }
}

async function main() {
  const reference = startReference()
  const phases = [await phase(reference, '50 MB')]
  const ballast = []
  for (let i = 0; i < HOLD_MIB; i++) ballast.push(Buffer.alloc(2 ** 20, 1))
  phases.push(await phase(reference, HOLD_MIB === 1024 ? '1 GiB' : `${HOLD_MIB} MiB`))
  reference.stop()
  ballast.length = 0

  const rows = []
  const blocks = []
  const nativeRows = []
  for (const p of phases) {
    for (const cell of p.cells) {
      const { row, block } = summarise(cell)
      rows.push(row)
      if (block) blocks.push(block)
    }
    nativeRows.push({ heap: p.heap, spawnExitUs: Number((median(p.nativeCell.ns) / 1000).toFixed(1)), blockUs: Number((median(p.nativeCell.blocks) / 1000).toFixed(1)), cpuUs: Number((median(p.nativeCell.cpu) / 1000).toFixed(1)) })
  }
  const over = rows.filter((r) => r.pidfdVsC > TARGET_VS_C).map((r) => `${r.heap} ${r.mode} ${r.stdio}: pidfd/C ${r.pidfdVsC}`)
  for (const b of blocks) {
    if (b.heap !== '50 MB' && b.pidfdVsChildProcess >= TARGET_BLOCK) over.push(`${b.heap} ${b.stdio}: block pidfd/child_process ${b.pidfdVsChildProcess}`)
  }
  const setup = {
    kernel: os.release(),
    node: process.version,
    cpus: os.availableParallelism(),
    rounds: ROUNDS,
    slowRounds: SLOW_ROUNDS,
    serial: SERIAL,
    batch: BATCH,
    slowBatch: SLOW_BATCH,
    inFlight: IN_FLIGHT,
    phases: phases.map((p) => ({ heap: p.heap, rssMiB: p.rssMiB, rssEndMiB: p.rssEndMiB, cRssMiB: p.cRssMiB, threads: p.threads })),
  }
  if (json) {
    console.log(JSON.stringify({ ...setup, rows, blocks, native: nativeRows, over }))
  } else {
    const pad = (value, width) => String(value).padStart(width)
    const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`)
    console.log(
      `pidfd spawn bench: Linux ${setup.kernel}, Node ${setup.node}, ${setup.cpus} CPUs; ${FILE} until 'close'; ` +
        `${ROUNDS} interleaved rounds of ${SERIAL} one at a time / ${BATCH} with ${IN_FLIGHT} in flight ` +
        `(child_process at 1 GiB: ${SLOW_ROUNDS} rounds, ${SLOW_BATCH} in flight); per spawn, median of rounds; ratios the median of paired rounds`,
    )
    for (const p of setup.phases) console.log(`  ${p.heap}: this process ${p.rssMiB} MiB RSS (${p.rssEndMiB} at the end), C reference ${p.cRssMiB} MiB; ${p.threads} threads each`)
    console.log('heap    mode        stdio          C       pidfd  child_process  pidfd/C  cp/C')
    for (const r of rows) {
      console.log(
        `${r.heap.padEnd(7)} ${(r.mode === 'serial' ? 'one at a time' : `${IN_FLIGHT} in flight`).padEnd(13)} ${r.stdio.padEnd(6)} ` +
          `${pad(fmt(r.cUs), 10)} ${pad(fmt(r.pidfdUs), 11)} ${pad(fmt(r.childProcessUs), 14)} ${pad(r.pidfdVsC.toFixed(2), 8)} ${pad(r.childProcessVsC.toFixed(2), 5)}`,
      )
    }
    console.log(`event-loop block of one spawn() call (until the child has exec'd), and this process's CPU time per spawn (one at a time), medians:`)
    console.log('heap    stdio   block: C clone()   pidfd  child_process  pidfd/cp   CPU: C   pidfd  child_process')
    for (const b of blocks) {
      console.log(
        `${b.heap.padEnd(7)} ${b.stdio.padEnd(6)} ${pad(fmt(b.cCloneUs), 17)} ${pad(fmt(b.pidfdUs), 7)} ${pad(fmt(b.childProcessUs), 14)} ${pad(b.pidfdVsChildProcess.toFixed(3), 9)} ` +
          `${pad(fmt(b.cpu.cUs), 8)} ${pad(fmt(b.cpu.pidfdUs), 7)} ${pad(fmt(b.cpu.childProcessUs), 14)}`,
      )
    }
    for (const n of nativeRows) {
      console.log(`addon alone (native.spawn + native watch + waitid, 'ignore'), ${n.heap}: ${fmt(n.spawnExitUs)} per spawn, ${fmt(n.blockUs)} block, ${fmt(n.cpuUs)} CPU`)
    }
    console.log(over.length === 0 ? 'all within target' : `over target: ${over.join('; ')}`)
  }
  process.exitCode = over.length === 0 ? 0 : 1
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 2
})
