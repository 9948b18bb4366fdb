// The pidfd command's tree, kill (util-linux forms) and wait (util-linux waitpid) on real
// processes, run as users run it: the package's bin, as a subprocess.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { Pidfd, features } from '../lib'
import { canRefuseSyscalls, killChildren, lineFrom, refusing, removePackageCopy, root, scaled, sleeper, start, until, worldReadablePackage } from './helpers'
import { canMakeTwoUserTree, forkTree, forkTreeSize, grown, marked, newMark, sweep, tree, twoUserTree } from './tree-helpers'

const bin = path.join(root, 'dist', 'cli.js')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }
const marks: string[] = []

afterEach(async () => {
  for (const mark of marks.splice(0)) sweep(mark, openOrNull)
  await killChildren()
})

afterAll(removePackageCopy)

function openOrNull(pid: number): Pidfd | null {
  try {
    return Pidfd.open(pid)
  } catch {
    return null
  }
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: scaled(30_000) })
}

/** A marked tree of forkTree(breadth, depth), grown to its full size. */
async function fullTree(breadth: number, depth: number) {
  const mark = newMark()
  marks.push(mark)
  const child = tree(forkTree(breadth, depth), mark)
  await grown(mark, forkTreeSize(breadth, depth), scaled(20_000))
  return { child, mark }
}

/** A node process that ignores SIGTERM and SIGUSR2, and says so once it does. */
async function stubborn() {
  const child = start(process.execPath, ['-e', "process.on('SIGTERM', () => {}); process.on('SIGUSR2', () => {}); setInterval(() => {}, 1000); console.log('ready')"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = once(child, 'exit')
  await lineFrom(child, /ready/)
  return { child: child as typeof child & { pid: number }, exited }
}

/** Whether a process ignores SIGTERM (bit 15 of /proc/PID/status's SigIgn). */
function ignoresTerm(pid: number): boolean {
  try {
    const mask = /^SigIgn:\s+([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1]
    return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n
  } catch {
    return false
  }
}

/** How many pidfds process `pid` has open. */
function pidfdsOf(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[pidfd]'
    } catch {
      return false
    }
  }).length
}

interface Node {
  processId: string
  pid: number
  argv: string[]
  children: Node[]
}

function flatten(node: Node): Node[] {
  return [node, ...node.children.flatMap(flatten)]
}

describe('pidfd tree', () => {
  it('draws every process below the target, each with its id and command line; --json nests them', async () => {
    const { child, mark } = await fullTree(2, 1) // sh, 2 subshells, 4 sleeps
    const text = cli(['tree', String(child.pid)])
    expect(text.status, text.stderr).toBe(0)
    const lines = text.stdout.trimEnd().split('\n')
    expect(lines).toHaveLength(7)
    const id = (pid: number) => (features().pidfs ? Pidfd.open(pid).processId : String(pid))
    expect(lines[0]).toBe(`${id(child.pid)} sh -c ${forkTree(2, 1)}`)
    for (const pid of marked(mark)) expect(text.stdout).toMatch(new RegExp(`(^|─ )${pid}${features().pidfs ? ':\\d+' : ''} `, 'm'))
    expect(lines.filter((line) => /^(├─|└─) \d+/.test(line))).toHaveLength(2) // the children
    expect(lines.filter((line) => /^(│ {2}| {3})(├─|└─) \d+(:\d+)? sleep 1000$/.test(line))).toHaveLength(4) // the grandchildren

    const json = cli(['tree', '--json', String(child.pid)])
    expect(json.status).toBe(0)
    const report = JSON.parse(json.stdout) as { schema: string; pidfs: boolean; root: Node }
    expect(report.schema).toBe('pidfd-tree/1')
    expect(report.pidfs).toBe(features().pidfs)
    const nodes = flatten(report.root)
    expect(nodes.map((n) => n.pid).sort()).toEqual(marked(mark).sort())
    expect(report.root.argv).toEqual(['sh', '-c', forkTree(2, 1)])
    expect(report.root.children).toHaveLength(2)
    for (const node of nodes) expect(node.processId).toMatch(features().pidfs ? new RegExp(`^${node.pid}:\\d+$`) : new RegExp(`^${node.pid}$`))
    expect(nodes.filter((n) => n.argv.join(' ') === 'sleep 1000')).toHaveLength(4)
  })

  it('a process with no children is a tree of one; a gone or stale target exits 1 with one line', () => {
    const target = sleeper()
    const one = cli(['tree', '--json', String(target.pid)])
    expect(JSON.parse(one.stdout).root).toMatchObject({ pid: target.pid, argv: ['sleep', '1000'], children: [] })
    const gone = cli(['tree', '2147483647'])
    expect([gone.status, gone.stdout]).toEqual([1, ''])
    expect(gone.stderr).toMatch(/^pidfd tree: ESRCH[^\n]*\n$/)
    const stale = cli(['tree', `${target.pid}:1`])
    expect(stale.status).toBe(1)
    expect(stale.stderr).toMatch(/now belongs to another process/)
  })
})

describe('pidfd tree, kernel threads and PATH', () => {
  it('shows a process without a command line (a kernel thread) as [comm]', (context) => {
    if (!/^kthreadd$/m.test(fs.readFileSync('/proc/2/comm', 'latin1'))) return context.skip()
    const result = cli(['tree', '2'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/^2(:\d+)? \[kthreadd\]\n/)
    expect(result.stdout).toMatch(/^(├─|└─) \d+(:\d+)? \[[^\]]+\]$/m)
  })

  it('tree and kill --tree need nothing on PATH', async () => {
    const { child, mark } = await fullTree(2, 1)
    const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: '/nonexistent' }, timeout: scaled(30_000) })
    const drawn = run(['tree', String(child.pid)])
    expect([drawn.status, drawn.stdout.trimEnd().split('\n').length]).toEqual([0, 7])
    expect(run(['kill', '--tree', '-9', String(child.pid)]).status).toBe(0)
    await until(() => marked(mark).length === 0, 'every member gone', scaled(10_000))
  })
})

describe('pidfd kill, util-linux forms', () => {
  it.each([[['-9']], [['-KILL']], [['-SIGKILL']], [['-kill']], [['-s', 'KILL']], [['--signal', 'KILL']], [['--signal=9']], [['-s9']]])('%j sends SIGKILL', async (args) => {
    const target = sleeper()
    const exited = once(target, 'exit')
    const result = cli(['kill', ...args, String(target.pid)])
    expect(result.status, result.stderr).toBe(0)
    expect(await exited).toEqual([null, 'SIGKILL'])
  })

  it('-l lists the names, -l N names a signal (an exit status too), -l NAME gives its number, -L a table', () => {
    const list = cli(['kill', '-l'])
    expect(list.status).toBe(0)
    expect(list.stdout).toMatch(/^HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM/)
    expect(list.stdout.split('\n').every((line) => line.length < 80)).toBe(true)
    expect(cli(['kill', '-l', '9']).stdout).toBe('KILL\n')
    expect(cli(['kill', '-l', '137']).stdout).toBe('KILL\n') // 128 + 9, as the shell's $? shows it
    expect(cli(['kill', '-l', 'KILL']).stdout).toBe('9\n')
    expect(cli(['kill', '--list=SIGTERM']).stdout).toBe('15\n')
    expect(cli(['kill', '-l', '0x5']).stdout).toBe('HUP\nQUIT\n')
    const table = cli(['kill', '-L'])
    expect(table.status).toBe(0)
    expect(table.stdout).toMatch(/^ 1 HUP +2 INT +3 QUIT/)
    expect(table.stdout).toMatch(/ 9 KILL +10 USR1/)
    expect(table.stdout).toMatch(/31 SYS\n$/)
  })

  it('--timeout MS SIGNAL follows up on a target still running, step after step', async () => {
    const { child, exited } = await stubborn()
    const result = cli(['kill', '--verbose', '--timeout', '100', 'USR2', '--timeout', '100', 'KILL', String(child.pid)])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toBe(
      `sending signal 15 to pid ${child.pid}\ntimeout, sending signal 12 to pid ${child.pid}\ntimeout, sending signal 9 to pid ${child.pid}\n`,
    )
    expect(await exited).toEqual([null, 'SIGKILL'])
  })

  it('--timeout sends nothing more to a target that exited on the first signal', async () => {
    const target = sleeper()
    const exited = once(target, 'exit')
    const result = cli(['kill', '--verbose', '--timeout', String(scaled(2000)), 'KILL', String(target.pid)])
    expect(result.status).toBe(0)
    expect(result.stdout).toBe(`sending signal 15 to pid ${target.pid}\n`)
    expect(await exited).toEqual([null, 'SIGTERM'])
  })

  it('exits 0 if every target was signalled, 1 if none was, 64 if some were (util-linux kill)', () => {
    const a = sleeper()
    const b = sleeper()
    expect(cli(['kill', '-0', String(a.pid), String(b.pid)]).status).toBe(0)
    const none = cli(['kill', '-0', '2147483647'])
    expect(none.status).toBe(1)
    expect(none.stderr).toMatch(/^pidfd kill: 2147483647: ESRCH/)
    const some = cli(['kill', '-0', String(a.pid), '2147483647'])
    expect(some.status).toBe(64)
    expect(some.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(a.exitCode).toBeNull()
  })

  it('--tree kills a whole tree of 40 processes', async () => {
    const { child, mark } = await fullTree(3, 2)
    const exited = once(child, 'exit')
    const result = cli(['kill', '--tree', '-KILL', String(child.pid)])
    expect(result.status, result.stderr).toBe(0)
    await exited
    await until(() => marked(mark).length === 0, 'every member gone', scaled(10_000))
  })

  it('--tree leaves nothing of a tree that keeps forking while it is killed', async () => {
    const mark = newMark()
    marks.push(mark)
    const child = tree('i=0; while [ $i -lt 3000 ]; do sleep 1000 & i=$((i + 1)); done; wait', mark)
    await grown(mark, 20, scaled(20_000))
    const result = cli(['kill', '--tree', '-9', String(child.pid)])
    expect(result.status, result.stderr).toBe(0)
    await until(() => marked(mark).length === 0, 'every member gone', scaled(10_000))
  })

  it('--tree --timeout MS SIGNAL escalates for members that ignore the first signal; --verbose names each member', async () => {
    const mark = newMark()
    marks.push(mark)
    // An ignored signal stays ignored across fork and exec: both sleeps ignore SIGTERM too.
    const child = tree("trap '' TERM; sleep 1000 & sleep 1000 & wait", mark)
    await until(() => marked(mark).length === 3 && marked(mark).every((pid) => ignoresTerm(pid)), 'the tree, ignoring SIGTERM', scaled(10_000))
    const result = cli(['kill', '--tree', '--verbose', '--timeout', '200', 'KILL', String(child.pid)])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.match(/^sending signal 15 to \d+/gm)).toHaveLength(3)
    expect(result.stdout.match(/^timeout, sending signal 9 to \d+/gm)).toHaveLength(3)
    await until(() => marked(mark).length === 0, 'every member gone', scaled(10_000))
  })
})

describe('pidfd wait, util-linux waitpid forms', () => {
  it('-c COUNT stops after COUNT exits; -e skips a target already gone; without -e that is exit 1', async () => {
    const a = sleeper()
    const b = sleeper()
    const waiter = spawn(process.execPath, [bin, 'wait', '-c', '1', String(a.pid), String(b.pid)], { stdio: ['ignore', 'pipe', 'pipe'] })
    const done = once(waiter, 'exit')
    let output = ''
    waiter.stdout.on('data', (chunk) => (output += chunk))
    // Kill only once the waiter holds its two pidfds: before that, a's pid would be gone.
    await until(() => waiter.exitCode !== null || pidfdsOf(waiter.pid!) >= 2, 'the waiter to open its targets', scaled(10_000))
    a.kill('SIGKILL')
    expect(await done).toEqual([0, null])
    expect(output).toMatch(new RegExp(`^${a.pid}(:\\d+)? killed by SIGKILL\\n$`))
    expect(b.exitCode).toBeNull()

    expect(cli(['wait', '-e', '-t', '0', '2147483647']).status).toBe(0)
    const verbose = cli(['wait', '-e', '-v', '2147483647'])
    expect([verbose.status, verbose.stderr]).toEqual([0, 'pidfd wait: 2147483647 has exited, skipping\n'])
    expect(cli(['wait', '2147483647']).status).toBe(1)
  })

  it('--json prints one object per line as each target ends; -t takes a decimal of seconds', async () => {
    const quick = sleeper()
    const slow = sleeper()
    const id = (pid: number) => (features().pidfs ? Pidfd.open(pid).processId : String(pid))
    const ids = [id(quick.pid), id(slow.pid)]
    const waiter = spawn(process.execPath, [bin, 'wait', '--json', '-t', '20.5', ...ids], { stdio: ['ignore', 'pipe', 'inherit'] })
    const done = once(waiter, 'exit')
    let output = ''
    waiter.stdout.on('data', (chunk) => (output += chunk))
    await until(() => waiter.exitCode !== null || pidfdsOf(waiter.pid!) >= 2, 'the waiter to open its targets', scaled(10_000))
    quick.kill('SIGKILL')
    // The first is reported as it ends, while the second still runs; then that one is killed.
    await until(() => output.includes('\n') || waiter.exitCode !== null, 'the first line', scaled(20_000))
    slow.kill('SIGKILL')
    expect(await done).toEqual([0, null])
    const lines = output.trimEnd().split('\n').map((line) => JSON.parse(line) as { process: string })
    expect(lines.map((line) => line.process)).toEqual(ids)
    expect(lines[1]).toMatchObject({ code: null, signal: 'SIGKILL' })
  })
})

describe('exit statuses that need another user or a refused syscall', () => {
  it('kill --tree exits 64 when a member belongs to another user: EPERM on one line, the rest signalled', async (context) => {
    if (!canMakeTwoUserTree()) return context.skip()
    const mark = newMark()
    marks.push(mark)
    // The CLI runs as uid 12345: it may signal the launcher and its sleep, not the 65534 one.
    const { launcher, exit, other } = await twoUserTree(mark)
    await grown(mark, 3, scaled(10_000))
    const pkg = worldReadablePackage()
    const result = spawnSync(process.execPath, [path.join(pkg, 'dist', 'cli.js'), 'kill', '--tree', String(launcher.pid)], {
      uid: 12345,
      gid: 12345,
      encoding: 'utf8',
      timeout: scaled(20_000),
    })
    expect(result.status, result.stderr).toBe(64)
    expect(result.stderr).toMatch(new RegExp(`^pidfd kill: ${other}(:\\d+)?: EPERM[^\n]*\n$`))
    await exit
    await until(() => marked(mark).length === 1, 'only the other user\'s member left', scaled(10_000))
    expect(marked(mark)).toEqual([other])
  })

  it.skipIf(!canRefuseSyscalls)('wait exits 2 (util-linux waitpid: no pidfds here) where pidfd_open is refused with ENOSYS', () => {
    const target = sleeper()
    const [launcher, ...rest] = refusing('ENOSYS', ['pidfd_open'])
    const result = spawnSync(launcher!, [...rest, process.execPath, bin, 'wait', String(target.pid)], { encoding: 'utf8', timeout: scaled(30_000) })
    expect(result.status, result.stderr).toBe(2)
    expect(result.stderr).toMatch(/^pidfd wait: \d+: [^\n]*ENOSYS[^\n]*\n$/)
  })
})

describe('help, version and usage errors', () => {
  it('-V and --version print the version; help COMMAND and COMMAND --help print the same text', () => {
    expect(cli(['-V']).stdout).toBe(`${pkg.version}\n`)
    expect(cli(['--version']).stdout).toBe(`${pkg.version}\n`)
    for (const command of ['check', 'id', 'info', 'wait', 'kill', 'tree']) {
      const help = cli(['help', command])
      expect(help.status).toBe(0)
      expect(help.stdout).toMatch(new RegExp(`^Usage: pidfd ${command}`))
      expect(cli([command, '--help']).stdout).toBe(help.stdout)
    }
    const kill = cli(['help', 'kill']).stdout
    expect(kill).toMatch(/0 if every process was signalled, 1 if none was/)
    expect(kill).toMatch(/64 if some were and some were not/)
    expect(cli(['help', 'wait']).stdout).toMatch(/3 if the timeout expired first/)
    expect(cli(['help', 'tree']).stdout).toMatch(/PID:INODE on kernels with pidfs \(Linux 6\.9\+\); before\s+that, the PID alone/)
    expect(cli(['help']).stdout).toMatch(/tree TARGET/)
  })

  it.each([
    [['-x'], /^pidfd: unknown option '-x'/],
    [['help', 'bogus'], /help: unknown command 'bogus'/],
    [['kill', '--bogus', '2147483647'], /^pidfd kill: unknown option '--bogus'/],
    [['kill', '-FOO', '2147483647'], /unknown option or signal '-FOO'/],
    [['kill', '-65', '2147483647'], /'-65'/],
    [['kill', '--timeout', '5'], /--timeout needs MS and SIGNAL/],
    [['kill', '--timeout', 'x', 'KILL', '2147483647'], /--timeout takes milliseconds from 0 to 2147483647, not 'x'/],
    [['kill', '--timeout', '5', 'FOO', '2147483647'], /--timeout: 'FOO' is not a signal/],
    [['kill', '--tree', '--timeout', '1', 'TERM', '--timeout', '1', 'KILL', '2147483647'], /with --tree, --timeout may be given once/],
    [['kill', '-l', 'FOO'], /-l\/--list: 'FOO' is not a signal name/],
    [['kill', '-L', '1'], /-L takes no argument/],
    [['kill', '-l', '-9', '2147483647'], /lists signals and takes no other option/],
    [['kill', '--tree=1', '2147483647'], /--tree takes no value/],
    [['kill', '-9', '-15', '2147483647'], /the signal is already given .*process groups are not supported/],
    [['kill', '-a', '2147483647'], /'-a' \(util-linux kill's --all\) is not supported/],
    [['kill', '-p', '2147483647'], /'-p' \(util-linux kill's --pid\) is not supported/],
    [['kill', '-q', '1', '2147483647'], /'-q' \(util-linux kill's --queue\) is not supported/],
    [['kill', '-r', '2147483647'], /'-r' .* is not supported/],
    [['kill', '-d', '2147483647'], /'-d' .* is not supported/],
    [['kill', '--', '-5'], /TARGET '-5' is not a pid .*process groups are not supported/],
    [['kill', 'firefox'], /TARGET 'firefox' is not a pid/],
    [['tree'], /exactly one TARGET/],
    [['tree', '--nope', '2147483647'], /^pidfd tree: unknown option '--nope'/],
    [['tree', '1', '2'], /exactly one TARGET/],
    [['wait', '-x', '2147483647'], /^pidfd wait: unknown option '-x'/],
    [['wait', '-c', '3', '2147483647', '2147483646'], /-c\/--count takes a number from 1 to 2/],
    [['wait', '-c', '1', '-e', '2147483647'], /exclude each other/],
    [['wait', '-t'], /-t\/--timeout needs SECONDS/],
  ])('%j: exits 2 with one line naming the option', (args, message) => {
    const result = cli(args)
    expect(result.status, result.stderr).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/^pidfd[^\n]*\n$/)
    expect(result.stderr).toMatch(message)
    expect(result.stderr).not.toMatch(/ERR_|\n\s+at |TypeError/)
  })
})
