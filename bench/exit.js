#!/usr/bin/env node
// Exit-notification latency: from a child's exit (stamped by the child itself, on the
// CLOCK_MONOTONIC clock process.hrtime reads) to the moment Node learns of it, with
// L = 0, 100 and 1,000 other live children, for:
//   - pidfd:        `await Pidfd.fromChildProcess(child).exited`
//   - child_process: the ChildProcess 'exit' event (libuv's SIGCHLD loop waitpid()s every
//                   live child on each SIGCHLD, so it slows down as L grows)
//   - C:            a pidfd + epoll loop (bench/exit_reference.c), the floor
// and the memory a pending watcher costs.
//
//   npm run bench:exit     (node --expose-gc bench/exit.js [--json])
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const { once } = require('node:events')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Pidfd } = require('..')

const LIVE = (process.env.BENCH_LIVE ?? '0,100,1000').split(',').map(Number)
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40)
const DELAY_MS = 20
const json = process.argv.includes('--json')

const out = path.join(__dirname, '.out')
fs.mkdirSync(out, { recursive: true })
const compile = (name) => {
  const binary = path.join(out, name)
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', binary, path.join(__dirname, `${name}.c`)])
  return binary
}
const stamp = compile('stamp')
const reference = compile('exit_reference')
const stampFile = path.join(out, `stamp-${process.pid}`)

const readStamp = () => BigInt(fs.readFileSync(stampFile, 'utf8').trim())
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[sorted.length >> 1]
}

async function pidfdSample() {
  const child = spawn(stamp, [stampFile, String(DELAY_MS)], { stdio: 'ignore' })
  const exitEvent = once(child, 'exit')
  const pidfd = Pidfd.fromChildProcess(child)
  await pidfd.exited
  const seen = process.hrtime.bigint()
  pidfd.close()
  await exitEvent // let Node reap it before the next sample
  return Number(seen - readStamp())
}

async function childProcessSample() {
  const child = spawn(stamp, [stampFile, String(DELAY_MS)], { stdio: 'ignore' })
  await once(child, 'exit')
  return Number(process.hrtime.bigint() - readStamp())
}

async function measure(live) {
  const others = Array.from({ length: live }, () => spawn('sleep', ['1000'], { stdio: 'ignore' }))
  await new Promise((resolve) => setTimeout(resolve, 200)) // let them all start
  const c = execFileSync(reference, [stamp, stampFile, String(live), String(SAMPLES), String(DELAY_MS)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number)
  const pidfd = []
  const childProcess = []
  for (let i = 0; i < SAMPLES; i++) {
    pidfd.push(await pidfdSample())
    childProcess.push(await childProcessSample())
  }
  for (const other of others) other.kill('SIGKILL')
  await Promise.all(others.map((other) => (other.exitCode === null && other.signalCode === null ? once(other, 'exit') : null)))
  const row = { live, cUs: median(c) / 1000, pidfdUs: median(pidfd) / 1000, childProcessUs: median(childProcess) / 1000 }
  return { ...row, pidfdVsC: row.pidfdUs / row.cUs, pidfdVsChildProcess: row.pidfdUs / row.childProcessUs }
}

/** Memory one pending watcher costs: Pidfd, exit tracker and promise (JS), watch and uv_poll_t (native). */
function watcherMemory(count = 5000) {
  const settle = () => {
    if (global.gc) for (let i = 0; i < 3; i++) global.gc()
    return process.memoryUsage()
  }
  const before = settle()
  const pidfds = Array.from({ length: count }, () => Pidfd.open(process.pid))
  const opened = settle()
  for (const pidfd of pidfds) void pidfd.exited
  const watching = settle()
  for (const pidfd of pidfds) pidfd.close()
  const perWatcher = (key) => Math.round((watching[key] - opened[key]) / count)
  return { count, rssBytes: perWatcher('rss'), jsHeapBytes: perWatcher('heapUsed'), pidfdRssBytes: Math.round((opened.rss - before.rss) / count) }
}

async function main() {
  const rows = []
  for (const live of LIVE) rows.push(await measure(live))
  const memory = watcherMemory()
  fs.rmSync(stampFile, { force: true })
  if (json) {
    console.log(JSON.stringify({ kernel: os.release(), node: process.version, samples: SAMPLES, rows, memory }))
    return
  }
  console.log(`pidfd exit latency: Linux ${os.release()}, Node ${process.version}; median of ${SAMPLES} exits, microseconds from the child's exit`)
  console.log('live children   C epoll   pidfd exited   child_process exit   pidfd/C   pidfd/child_process')
  for (const r of rows) {
    console.log(
      `${String(r.live).padStart(13)} ${r.cUs.toFixed(0).padStart(9)} ${r.pidfdUs.toFixed(0).padStart(14)} ${r.childProcessUs.toFixed(0).padStart(20)} ` +
        `${r.pidfdVsC.toFixed(2).padStart(9)} ${r.pidfdVsChildProcess.toFixed(2).padStart(21)}`,
    )
  }
  console.log(
    `pending watcher: ${memory.rssBytes} bytes RSS each (${memory.jsHeapBytes} of them JS heap), over ${memory.count} watchers` +
      `${global.gc ? '' : ' (run with --expose-gc for steadier figures)'}`,
  )
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 2
})
