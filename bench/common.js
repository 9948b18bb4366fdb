// Shared by the benchmarks that compare with a C reference (bench/run.js, bench/spawn.js).
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

/** The median of values (the mean of the middle two for an even count). */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** Compiles bench/NAME.c (threads allowed) into bench/.out and returns the binary's path. */
function compileReference(name) {
  const out = path.join(__dirname, '.out')
  fs.mkdirSync(out, { recursive: true })
  const binary = path.join(out, name)
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-pthread', '-o', binary, path.join(__dirname, `${name}.c`)])
  return binary
}

module.exports = { median, compileReference }
