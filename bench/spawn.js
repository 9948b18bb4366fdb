#!/usr/bin/env node
// Spawning: spawn + exit of /bin/true, one at a time and 64 in flight, stdio 'ignore' and
// 'pipe', with this process at its ~50 MB and then holding 1 GiB of Buffers, for:
//   - pidfd:         spawn() from this package, until its 'close' event
//   - child_process: child_process.spawn, until its 'close' event
//   - C:             clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) + waitid(P_PIDFD)
//                    (bench/spawn_reference.c), holding as much memory and running as many
//                    threads as this process, so that the kernel does comparable work
// 'close' is what a user waits for: the child has been reaped and, with 'pipe', its stdout
// and stderr have ended (the C side waits for the same: pidfd readable and reaped, EOF on
// both sockets). Also measured: the event-loop block time of one spawn() call (it returns
// once the child has exec'd; the C side's is its clone() call), this process's CPU time per
// spawn, and the addon's spawn alone (no TypeScript around it), as a floor.
//
// A round runs every cell once, and in each cell the three implementations one after the
// other (their order rotates each round), so the machine's drifting speed hits all three
// alike: a figure is the median over rounds of a round's time per spawn, a ratio the median
// of the per-round ratios. Per cell and round: 5 spawns one at a time (the round's figure is
// its median spawn), or 64 started back to back with each 'close' starting the next until
// 64 have run (the batch's time / 64); child_process with 1 GiB held
// runs in the first 10 rounds only, 16 at a time (its fork() blocks the loop for longer
// than a child lives, so it never has more in flight than it starts back to back).
//
//   npm run bench:spawn     (node bench/spawn.js [--json]; needs the addon and dist/ built)
//   BENCH_ROUNDS, BENCH_SLOW_ROUNDS, BENCH_SERIAL, BENCH_BATCH, BENCH_SLOW_BATCH and
//   BENCH_HOLD_MIB override those numbers.
'use strict'
const { compileReference, median } = require('./common')
const childProcess = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
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
const IMPLS = ['c', 'pidfd', 'childProcess', 'addon']
const now = () => process.hrtime.bigint()

/** The C reference as a server on its stdin/stdout (see bench/spawn_reference.c). */
function startReference() {
  const binary = compileReference('spawn_reference')
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

/** This process's CPU time (user + system, all threads), in ns. */
function cpuNs() {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

/** Resolves on 'close' (code 0 checked), rejects on 'error'. */
function closed(child) {
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${FILE} exited with ${code}`))))
  })
}

/**
 * The addon's spawn alone, without the TypeScript around it (no option parsing, no
 * Subprocess, no Pidfd): native.spawn of a ready plan, a native watch on the pidfd, waitid.
 * Reported, not judged: the floor a Node addon pays for this spawn ('ignore' only).
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

/** The Node implementations: start() is the synchronous call, wait() what follows. */
const implementations = {
  pidfd: { start: (stdio) => pidfd.spawn(FILE, [], { stdio }), wait: closed },
  childProcess: { start: (stdio) => childProcess.spawn(FILE, [], { stdio }), wait: closed },
  addon: {
    start: () => native.spawn(plan).pidfd,
    wait: (fd) =>
      new Promise((resolve) => native.watch(fd, native.UV_READABLE, resolve)).then(() => {
        native.waitid(fd, WEXITED | WNOHANG | __WALL)
        native.close(fd)
      }),
  },
}

/**
 * One at a time: the median spawn's time (from before the call to 'close'), the median
 * block time (wall and CPU) of the start() calls, and this process's CPU time per spawn.
 * Medians rather than means, so that a spawn that a busy machine kept waiting does not
 * weigh on its round.
 */
async function serialRound({ start, wait }, stdio, count) {
  const spawns = []
  const blocks = []
  const blockCpus = []
  const cpu0 = cpuNs()
  for (let i = 0; i < count; i++) {
    const c0 = cpuNs()
    const t0 = now()
    const child = start(stdio)
    const t1 = now()
    blockCpus.push(cpuNs() - c0)
    blocks.push(Number(t1 - t0))
    await wait(child)
    spawns.push(Number(now() - t0))
  }
  return { ns: median(spawns), block: median(blocks), blockCpu: median(blockCpus), cpu: (cpuNs() - cpu0) / count }
}

/** `count` spawns, IN_FLIGHT at a time: each 'close' starts the next; ns per spawn. */
function parallelRound({ start, wait }, stdio, count) {
  return new Promise((resolve, reject) => {
    let started = 0
    let done = 0
    const begin = now()
    const launch = () => {
      started++
      wait(start(stdio)).then(() => {
        if (++done === count) resolve({ ns: Number(now() - begin) / count })
        else if (started < count) launch()
      }, reject)
    }
    for (let i = 0; i < Math.min(IN_FLIGHT, count); i++) launch()
  })
}

/** The C reference's round, in the same shape. */
async function referenceRound(reference, mode, stdio, count) {
  const [ns, block, blockCpu, cpu] = (await reference.request(`${mode} ${stdio} ${count}`)).map(Number)
  return mode === 'serial' ? { ns, block, blockCpu, cpu } : { ns }
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
  for (const mode of MODES) for (const stdio of STDIOS) cells.push({ heap, mode, stdio, data: {} })
  const runs = (impl, cell, round) =>
    impl === 'addon' ? cell.mode === 'serial' && cell.stdio === 'ignore' : !(impl === 'childProcess' && slow && round >= SLOW_ROUNDS)
  // Warm up: V8 optimises the JS paths, the kernel caches /bin/true.
  for (const cell of cells) {
    for (const impl of IMPLS) {
      if (impl === 'c') await reference.request(`serial ${cell.stdio} 3`)
      else if (runs(impl, cell, 0)) await serialRound(implementations[impl], cell.stdio, 3)
    }
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = IMPLS.map((_, i) => IMPLS[(i + round) % IMPLS.length])
    for (const cell of cells) {
      for (const impl of order) {
        if (!runs(impl, cell, round)) continue
        const count = cell.mode === 'serial' ? SERIAL : impl === 'childProcess' && slow ? SLOW_BATCH : BATCH
        let result
        if (impl === 'c') result = await referenceRound(reference, cell.mode, cell.stdio, count)
        else if (cell.mode === 'serial') result = await serialRound(implementations[impl], cell.stdio, count)
        else result = await parallelRound(implementations[impl], cell.stdio, count)
        cell.data[impl] ??= { ns: [], block: [], blockCpu: [], cpu: [] }
        for (const key in result) cell.data[impl][key].push(result[key])
      }
    }
  }
  return { heap, rssMiB: rss, rssEndMiB: rssMiB(), cRssMiB: Math.round(Number(cRssKb) / 1024), threads: Number(threads), cells }
}

/** The median of a/b over the rounds where both ran (child_process at 1 GiB: the first ones). */
function paired(a, b) {
  const n = Math.min(a.length, b.length)
  return Number(median(a.slice(0, n).map((x, i) => x / b[i])).toFixed(3))
}
const us = (ns) => Number((median(ns) / 1000).toFixed(1))

/** Medians and paired ratios of one cell. */
function summarise(cell) {
  const { c, pidfd: js, childProcess: cp, addon } = cell.data
  const row = {
    heap: cell.heap,
    mode: cell.mode,
    stdio: cell.stdio,
    rounds: { c: c.ns.length, pidfd: js.ns.length, childProcess: cp.ns.length },
    cUs: us(c.ns),
    pidfdUs: us(js.ns),
    childProcessUs: us(cp.ns),
    pidfdVsC: paired(js.ns, c.ns),
    childProcessVsC: paired(cp.ns, c.ns),
  }
  if (cell.mode !== 'serial') return { row }
  const call = {
    heap: cell.heap,
    stdio: cell.stdio,
    blockUs: { c: us(c.block), pidfd: us(js.block), childProcess: us(cp.block) },
    blockCpuUs: { c: us(c.blockCpu), pidfd: us(js.blockCpu), childProcess: us(cp.blockCpu) },
    pidfdVsChildProcess: paired(js.block, cp.block),
    cpuPerSpawnUs: { c: us(c.cpu), pidfd: us(js.cpu), childProcess: us(cp.cpu) },
  }
  if (addon === undefined) return { row, call }
  const floor = {
    heap: cell.heap,
    us: us(addon.ns),
    vsC: paired(addon.ns, c.ns),
    pidfdVsAddon: paired(js.ns, addon.ns),
    blockUs: us(addon.block),
    blockCpuUs: us(addon.blockCpu),
    cpuPerSpawnUs: us(addon.cpu),
  }
  return { row, call, floor }
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
  const calls = []
  const floors = []
  for (const p of phases) {
    for (const cell of p.cells) {
      const { row, call, floor } = summarise(cell)
      rows.push(row)
      if (call) calls.push(call)
      if (floor) floors.push(floor)
    }
  }
  const over = rows.filter((r) => r.pidfdVsC > TARGET_VS_C).map((r) => `${r.heap} ${r.mode} ${r.stdio}: pidfd/C ${r.pidfdVsC.toFixed(2)}`)
  for (const b of calls) {
    if (b.heap !== '50 MB' && b.pidfdVsChildProcess >= TARGET_BLOCK) over.push(`${b.heap} ${b.stdio}: block pidfd/child_process ${b.pidfdVsChildProcess}`)
  }
  const setup = {
    kernel: os.release(),
    node: process.version,
    cpus: os.availableParallelism(),
    load: os.loadavg().map((l) => Number(l.toFixed(2))),
    rounds: ROUNDS,
    slowRounds: SLOW_ROUNDS,
    serial: SERIAL,
    batch: BATCH,
    slowBatch: SLOW_BATCH,
    inFlight: IN_FLIGHT,
    phases: phases.map((p) => ({ heap: p.heap, rssMiB: p.rssMiB, rssEndMiB: p.rssEndMiB, cRssMiB: p.cRssMiB, threads: p.threads })),
  }
  if (json) {
    console.log(JSON.stringify({ ...setup, rows, calls, floors, over }))
  } else {
    report(setup, rows, calls, floors)
    console.log(over.length === 0 ? 'all within target' : `over target: ${over.join('; ')}`)
  }
  process.exitCode = over.length === 0 ? 0 : 1
}

function report(setup, rows, calls, floors) {
  const pad = (value, width) => String(value).padStart(width)
  const t = (value) => (value >= 1000 ? `${(value / 1000).toFixed(2)} ms` : `${value.toFixed(0)} µs`)
  const x = (ratio) => ratio.toFixed(2)
  console.log(
    `pidfd spawn bench: Linux ${setup.kernel}, Node ${setup.node}, ${setup.cpus} CPUs, load ${setup.load.join(' ')} at the end; ` +
      `${FILE} until 'close'; ${ROUNDS} interleaved rounds of ${SERIAL} one at a time / ${BATCH} with up to ${IN_FLIGHT} in flight ` +
      `(child_process at 1 GiB: ${SLOW_ROUNDS} rounds, ${SLOW_BATCH} at a time); one at a time: the median spawn of each round, 64 in flight: time / 64; medians of rounds; ratios the median of paired rounds`,
  )
  for (const p of setup.phases) console.log(`  ${p.heap}: this process ${p.rssMiB} MiB RSS (${p.rssEndMiB} at the end), C reference ${p.cRssMiB} MiB; ${p.threads} threads each`)
  console.log('spawn + exit, per spawn:')
  console.log('heap    mode           stdio          C       pidfd  child_process  pidfd/C   cp/C')
  for (const r of rows) {
    console.log(
      `${r.heap.padEnd(7)} ${(r.mode === 'serial' ? 'one at a time' : `${IN_FLIGHT} in flight`).padEnd(14)} ${r.stdio.padEnd(6)} ` +
        `${pad(t(r.cUs), 10)} ${pad(t(r.pidfdUs), 11)} ${pad(t(r.childProcessUs), 14)} ${pad(x(r.pidfdVsC), 8)} ${pad(x(r.childProcessVsC), 6)}`,
    )
  }
  console.log(`one spawn() call (returns once the child has exec'd; C: socketpairs + clone()): event-loop block, wall and CPU; and this process's CPU per spawn + exit:`)
  console.log('heap    stdio    block: C   pidfd  child_process  pidfd/cp    CPU: C   pidfd  child_process    per spawn: C   pidfd  child_process')
  for (const b of calls) {
    const three = (v, w) => `${pad(t(v.c), w)} ${pad(t(v.pidfd), 7)} ${pad(t(v.childProcess), 14)}`
    console.log(
      `${b.heap.padEnd(7)} ${b.stdio.padEnd(6)} ${three(b.blockUs, 10)} ${pad(b.pidfdVsChildProcess.toFixed(3), 9)} ${three(b.blockCpuUs, 9)} ${three(b.cpuPerSpawnUs, 15)}`,
    )
  }
  for (const f of floors) {
    console.log(
      `addon alone ('ignore', one at a time), ${f.heap}: ${t(f.us)} per spawn, ${x(f.vsC)}x C, pidfd ${x(f.pidfdVsAddon)}x it; ` +
        `block ${t(f.blockUs)} (CPU ${t(f.blockCpuUs)}), CPU per spawn ${t(f.cpuPerSpawnUs)}`,
    )
  }
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 2
})
