#!/usr/bin/env node
// Killing a process tree, side by side in one run:
//   - killTree:       pidfd.killTree('SIGKILL') from this package (stops every member through
//                     its pidfd while it walks, so a forking tree cannot escape)
//   - tree-kill:      the npm package (runs `ps --ppid` once per process, then kill(pid))
//   - pidtree+kill:   the npm package pidtree (one `ps` for the whole table) and
//                     process.kill(pid, 'SIGKILL') on every pid it lists
//
// 1. A static tree: `sh` -> 5 subshells -> 5 subshells each -> 7 `sleep 1000` each, 206
//    processes in all. Figure: wall time from the call until every member (the pids seen
//    once the tree was complete) has exited (a zombie counts as exited), and survivors: the
//    members still running 5 s after the call returned. Every round runs the three, in an
//    order that rotates, each on a tree of its own; a figure is the median over rounds.
// 2. A forking tree: `sh` -> 3 subshells, each forking `sleep 1000 &` in a loop of 400 (a
//    bounded fork loop), killed while it forks (once 60 processes exist). Survivors: the
//    processes of the tree (found by a marker in their environment) still running 300 ms
//    after the call returned, when every fork that could still happen has happened.
//    killTree runs BENCH_FORK_RUNS times (default 100) and must leave 0 every time; the
//    others BENCH_OTHER_FORK_RUNS times (default 3: tree-kill takes a minute or more per run,
//    one `ps` per process of a tree that has grown to 1,200).
// Whatever survives is swept with SIGKILL (through pidfds, the marker checked once open)
// before the next run.
//
//   npm run bench:tree      (node bench/tree.js [--json]; needs the addon and dist/ built)
//   BENCH_ROUNDS (default 5), BENCH_FORK_RUNS, BENCH_OTHER_FORK_RUNS override those numbers.
'use strict'
const { median } = require('./common')
const childProcess = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const treeKill = require('tree-kill')
const { Pidfd } = require('..')

const env = (name, fallback) => Number(process.env[name] ?? fallback)
const ROUNDS = env('BENCH_ROUNDS', 5)
const FORK_RUNS = env('BENCH_FORK_RUNS', 100)
const OTHER_FORK_RUNS = Math.min(FORK_RUNS, env('BENCH_OTHER_FORK_RUNS', 3))
const TARGET_SPEEDUP = 10
const json = process.argv.includes('--json')
const MARK = 'PIDFD_BENCH_TREE'

/** `sh` -> 5 -> 25 subshells -> 7 sleeps each: 1 + 5 + 25 + 175 = 206 processes. */
const STATIC_SCRIPT = 'l2() { i=0; while [ $i -lt 7 ]; do sleep 1000 & i=$((i + 1)); done; wait; }; l1() { i=0; while [ $i -lt 5 ]; do l2 & i=$((i + 1)); done; wait; }; i=0; while [ $i -lt 5 ]; do l1 & i=$((i + 1)); done; wait'
const STATIC_SIZE = 206
/** `sh` -> 3 subshells, each forking 400 sleeps in a loop. */
const FORK_SCRIPT = 'loop() { i=0; while [ $i -lt 400 ]; do sleep 1000 & i=$((i + 1)); done; wait; }; loop & loop & loop & wait'
const FORK_START = 60

const IMPLS = {
  killTree: async (pid) => {
    const root = Pidfd.open(pid)
    try {
      await root.killTree('SIGKILL')
    } finally {
      root.close()
    }
  },
  'tree-kill': (pid) => new Promise((resolve) => treeKill(pid, 'SIGKILL', () => resolve())),
  'pidtree+kill': async (pid) => {
    // pidtree 1.x is an ES module.
    const { default: pidtree } = await import('pidtree')
    let pids
    try {
      pids = await pidtree(pid, { root: true })
    } catch (error) {
      if (!running(pid)) return // the root has gone
      throw error
    }
    for (const member of pids) {
      try {
        process.kill(member, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
  },
}
const NAMES = Object.keys(IMPLS)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether a pid is running (not a zombie, not gone). */
function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1')
    const state = stat[stat.lastIndexOf(')') + 2]
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

/** Pids of the running processes whose environment carries this marker. */
function marked(mark) {
  const needle = `\0${MARK}=${mark}\0`
  const pids = []
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (`\0${fs.readFileSync(`/proc/${name}/environ`, 'latin1')}`.includes(needle) && running(Number(name))) pids.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

/** SIGKILLs everything left of a marked tree, through pidfds, checking the mark once open. */
async function sweep(mark) {
  for (let round = 0; round < 200; round++) {
    const left = marked(mark)
    if (left.length === 0) return
    for (const pid of left) {
      let pidfd
      try {
        pidfd = Pidfd.open(pid)
      } catch {
        continue
      }
      try {
        if (fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`${MARK}=${mark}`)) pidfd.sendSignal('SIGKILL')
      } catch {
        // gone meanwhile
      } finally {
        pidfd.close()
      }
    }
    await sleep(20)
  }
  throw new Error(`could not sweep the tree marked ${mark}`)
}

/** Starts `sh -c script` marked, and waits until `size` of its processes run. */
async function build(script, size) {
  const mark = crypto.randomBytes(6).toString('hex')
  const child = childProcess.spawn('sh', ['-c', script], { env: { ...process.env, [MARK]: mark }, stdio: 'ignore' })
  child.on('error', () => {})
  const deadline = Date.now() + 60_000
  let pids = marked(mark)
  while (pids.length < size) {
    if (Date.now() > deadline) throw new Error(`the tree did not grow to ${size} processes`)
    await sleep(5)
    pids = marked(mark)
  }
  return { child, mark, pids }
}

/** Kills a static tree with impl: ms until every member has exited, and survivors. */
async function killStatic(name) {
  const { child, mark, pids } = await build(STATIC_SCRIPT, STATIC_SIZE)
  const started = process.hrtime.bigint()
  await IMPLS[name](child.pid)
  const returned = Date.now()
  let left = pids.filter(running)
  while (left.length > 0 && Date.now() - returned < 5000) {
    await sleep(2)
    left = left.filter(running)
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  await sweep(mark)
  return { ms, survivors: left.length, members: pids.length }
}

/** Kills a forking tree with impl mid-fork: survivors, and how many processes were there. */
async function killForking(name) {
  const { child, mark } = await build(FORK_SCRIPT, FORK_START)
  const started = process.hrtime.bigint()
  await IMPLS[name](child.pid)
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  await sleep(300)
  const survivors = marked(mark).length
  await sweep(mark)
  return { ms, survivors }
}

async function main() {
  const load = os.loadavg().map((n) => n.toFixed(2)).join(' ')
  const machine = `Linux ${os.release()}, Node ${process.version}, ${os.cpus().length} CPUs, load average ${load} at the start`
  if (!json) console.log(`${machine}\n`)

  const statics = Object.fromEntries(NAMES.map((name) => [name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < NAMES.length; k++) {
      const name = NAMES[(round + k) % NAMES.length]
      statics[name].push(await killStatic(name))
    }
    if (!json) process.stderr.write(`static round ${round + 1}/${ROUNDS}\r`)
  }

  const forking = Object.fromEntries(NAMES.map((name) => [name, []]))
  for (let run = 0; run < FORK_RUNS; run++) {
    for (let k = 0; k < NAMES.length; k++) {
      const name = NAMES[(run + k) % NAMES.length]
      if (name !== 'killTree' && run >= OTHER_FORK_RUNS) continue
      forking[name].push(await killForking(name))
    }
    if (!json) process.stderr.write(`forking run ${run + 1}/${FORK_RUNS}   \r`)
  }

  const ourStatic = median(statics.killTree.map((r) => r.ms))
  const report = {
    machine,
    loadAtEnd: os.loadavg(),
    static: Object.fromEntries(
      NAMES.map((name) => {
        const runs = statics[name]
        const ms = median(runs.map((r) => r.ms))
        return [name, { rounds: runs.length, members: STATIC_SIZE, medianMs: ms, vsKillTree: ms / ourStatic, survivors: runs.map((r) => r.survivors) }]
      }),
    ),
    forking: Object.fromEntries(
      NAMES.map((name) => {
        const runs = forking[name]
        const survivors = runs.map((r) => r.survivors)
        return [
          name,
          {
            runs: runs.length,
            runsWithSurvivors: survivors.filter((n) => n > 0).length,
            survivorsTotal: survivors.reduce((a, b) => a + b, 0),
            survivorsMedian: runs.length === 0 ? null : median(survivors),
            survivorsMax: runs.length === 0 ? null : Math.max(...survivors),
            medianMs: runs.length === 0 ? null : median(runs.map((r) => r.ms)),
          },
        ]
      }),
    ),
  }
  const ok = report.forking.killTree.survivorsTotal === 0 && report.static['tree-kill'].vsKillTree >= TARGET_SPEEDUP
  if (json) {
    console.log(JSON.stringify({ ...report, ok }, null, 2))
  } else {
    process.stderr.write(`\r${' '.repeat(30)}\r`)
    console.log(`static tree: ${STATIC_SIZE} processes, 3 levels below the root; median of ${ROUNDS} rounds`)
    console.log('impl           wall ms (until all gone)   x killTree   survivors per round')
    for (const name of NAMES) {
      const s = report.static[name]
      console.log(`${name.padEnd(14)} ${s.medianMs.toFixed(1).padStart(24)}   ${s.vsKillTree.toFixed(1).padStart(10)}   ${s.survivors.join(' ')}`)
    }
    console.log(`\nforking tree: 3 loops of 400 forks, killed once ${FORK_START} processes ran`)
    console.log('impl           runs   runs with survivors   survivors: total  median  max   median ms of the call')
    for (const name of NAMES) {
      const f = report.forking[name]
      console.log(
        `${name.padEnd(14)} ${String(f.runs).padStart(4)}   ${String(f.runsWithSurvivors).padStart(19)}   ${String(f.survivorsTotal).padStart(16)}  ${String(f.survivorsMedian ?? '-').padStart(6)}  ${String(f.survivorsMax ?? '-').padStart(3)}   ${(f.medianMs?.toFixed(1) ?? '-').padStart(20)}`,
      )
    }
    console.log(`\nload average at the end: ${report.loadAtEnd.map((n) => n.toFixed(2)).join(' ')}`)
    console.log(`targets: killTree leaves 0 survivors of a forking tree (${report.forking.killTree.survivorsTotal === 0 ? 'met' : 'MISSED'}); killTree at least ${TARGET_SPEEDUP}x faster than tree-kill (${report.static['tree-kill'].vsKillTree.toFixed(1)}x: ${report.static['tree-kill'].vsKillTree >= TARGET_SPEEDUP ? 'met' : 'MISSED'})`)
  }
  process.exitCode = ok ? 0 : 1
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
