// Bad input: Node-style TypeError/RangeError with ERR_* codes, thrown before any syscall.
import type { ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { inspect } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { Pidfd, sameProcess } from '../lib'
import { killChildren, lineFrom, start } from './helpers'

afterEach(killChildren)

const typeError = (code = 'ERR_INVALID_ARG_TYPE') => expect.objectContaining({ name: 'TypeError', code })
const rangeError = expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })

describe('Pidfd.open arguments', () => {
  it.each([['1'], [null], [undefined], [{}], [1n], [[1]]])('refuses pid %o with ERR_INVALID_ARG_TYPE', (pid) => {
    expect(() => Pidfd.open(pid as unknown as number)).toThrow(typeError())
  })

  it.each([[0], [-1], [1.5], [NaN], [Infinity], [2 ** 31], [Number.MAX_SAFE_INTEGER]])('refuses pid %o with ERR_OUT_OF_RANGE', (pid) => {
    expect(() => Pidfd.open(pid)).toThrow(rangeError)
  })

  it('refuses bad options', () => {
    expect(() => Pidfd.open(process.pid, null as unknown as object)).toThrow(typeError())
    expect(() => Pidfd.open(process.pid, 'thread' as unknown as object)).toThrow(typeError())
    expect(() => Pidfd.open(process.pid, { thread: 1 as unknown as boolean })).toThrow(typeError())
    expect(() => Pidfd.open(process.pid, { nonblock: 'yes' as unknown as boolean })).toThrow(typeError())
  })

  it('cannot be constructed directly', () => {
    const Ctor = Pidfd as unknown as new (...args: unknown[]) => Pidfd
    expect(() => new Ctor(Symbol('x'), 0, 1)).toThrow(typeError('ERR_ILLEGAL_CONSTRUCTOR'))
    expect(() => new Ctor()).toThrow(typeError('ERR_ILLEGAL_CONSTRUCTOR'))
  })
})

describe('fakes and Proxies of a Pidfd', () => {
  const fakes = () => {
    const real = Pidfd.open(process.pid)
    return { real, fakes: [new Proxy(real, {}), Object.create(Pidfd.prototype) as Pidfd, { fd: real.fd } as unknown as Pidfd] }
  }

  it('every method and getter called on one throws ERR_INVALID_THIS, never reaching the kernel', () => {
    const { real, fakes: list } = fakes()
    const members = [...Object.getOwnPropertyNames(Pidfd.prototype).filter((name) => name !== 'constructor'), Symbol.dispose]
    for (const fake of list.slice(0, 2)) {
      for (const name of members) {
        const member = Object.getOwnPropertyDescriptor(Pidfd.prototype, name)!
        // Valid arguments: arguments are validated first, as Node does, then the receiver.
        const args = ({ sendSignal: [0], namespace: ['net'], getfd: [0], waitid: [{ nohang: true }], equals: [real] } as Record<string, unknown[]>)[String(name)] ?? []
        const call = () => (member.get ? member.get.call(fake) : member.value.call(fake, ...args))
        expect(call, String(name)).toThrow(typeError('ERR_INVALID_THIS'))
      }
    }
    expect(real.closed).toBe(false) // the Proxy's close() did not close the real one
    real.close()
  })

  it('as arguments, they are refused with ERR_INVALID_ARG_TYPE', () => {
    const { real, fakes: list } = fakes()
    for (const fake of list) {
      expect(() => real.equals(fake)).toThrow(typeError())
      expect(() => sameProcess(real, fake)).toThrow(typeError())
      expect(() => sameProcess(fake, process.pid)).toThrow(typeError())
    }
    real.close()
  })

  it('refuses a Proxy of a typed array as a handle, and an EventEmitter as a ChildProcess', () => {
    expect(() => Pidfd.fromHandle(new Proxy(new Uint8Array(12), {}))).toThrow(typeError())
    expect(() => Pidfd.fromChildProcess(new EventEmitter() as unknown as ChildProcess)).toThrow(typeError())
  })

  it('refuses the reserved statx bit before the kernel sees it', () => {
    using pidfd = Pidfd.open(process.pid)
    expect(() => pidfd.statx(0x80000000)).toThrow(rangeError)
  })
})

describe('fromFd / adoptFd arguments', () => {
  it.each([['3'], [null], [undefined]])('refuses fd %o with ERR_INVALID_ARG_TYPE', (fd) => {
    expect(() => Pidfd.fromFd(fd as unknown as number)).toThrow(typeError())
    expect(() => Pidfd.adoptFd(fd as unknown as number)).toThrow(typeError())
  })

  it.each([[-1], [0.5], [2 ** 31]])('refuses fd %o with ERR_OUT_OF_RANGE', (fd) => {
    expect(() => Pidfd.fromFd(fd)).toThrow(rangeError)
    expect(() => Pidfd.adoptFd(fd)).toThrow(rangeError)
  })
})

describe('sendSignal arguments: nothing is ever sent on bad input', () => {
  it('refuses bad signals and scopes, and the target sees no signal at all', async () => {
    // The child reports every catchable signal; SIGTERM would also end it.
    const child = start(process.execPath, [
      '-e',
      `for (const s of ['SIGUSR1','SIGUSR2','SIGTERM','SIGINT','SIGHUP']) process.on(s, () => console.log('got ' + s));
       console.log('ready'); setInterval(() => {}, 1000)`,
    ]) as ReturnType<typeof start> & { pid: number }
    await lineFrom(child, /ready/)
    using pidfd = Pidfd.open(child.pid)
    expect(() => pidfd.sendSignal('SIGFOO' as NodeJS.Signals)).toThrow(typeError('ERR_UNKNOWN_SIGNAL'))
    expect(() => pidfd.sendSignal('sigterm' as NodeJS.Signals)).toThrow(typeError('ERR_UNKNOWN_SIGNAL'))
    expect(() => pidfd.sendSignal('toString' as NodeJS.Signals)).toThrow(typeError('ERR_UNKNOWN_SIGNAL'))
    expect(() => pidfd.sendSignal(999)).toThrow(rangeError)
    expect(() => pidfd.sendSignal(-1)).toThrow(rangeError)
    expect(() => pidfd.sendSignal(65)).toThrow(rangeError)
    expect(() => pidfd.sendSignal(1.5)).toThrow(rangeError)
    expect(() => pidfd.sendSignal(NaN)).toThrow(rangeError)
    expect(() => pidfd.sendSignal(null as unknown as number)).toThrow(typeError())
    expect(() => pidfd.sendSignal(10n as unknown as number)).toThrow(typeError())
    expect(() => pidfd.sendSignal('SIGUSR1', { scope: 'everyone' as 'thread' })).toThrow(typeError('ERR_INVALID_ARG_VALUE'))
    expect(() => pidfd.sendSignal('SIGUSR1', null as unknown as object)).toThrow(typeError())
    expect(() => pidfd.sendSignal('SIGUSR1', 'thread' as unknown as object)).toThrow(typeError())
    // Now a real one: it must be the first signal the child ever saw.
    pidfd.sendSignal('SIGUSR2')
    expect(await lineFrom(child, /^got/)).toBe('got SIGUSR2')
  })
})

describe('error shapes', () => {
  it("reads like Node's own errors", () => {
    let error: (RangeError & { code: string }) | undefined
    try {
      Pidfd.open(-1)
    } catch (e) {
      error = e as typeof error
    }
    expect(error).toBeInstanceOf(RangeError)
    expect(error!.name).toBe('RangeError')
    expect(error!.message).toBe('The value of "pid" is out of range. It must be >= 1 && <= 2147483647. Received -1')
    expect(error!.stack!.split('\n')[0]).toBe(`RangeError [ERR_OUT_OF_RANGE]: ${error!.message}`)
    expect(Object.keys(error!)).toContain('code')
  })

  it('quotes the received value as Node does', () => {
    expect(() => Pidfd.open('12' as unknown as number)).toThrow(`The "pid" argument must be of type number. Received type string ('12')`)
    expect(() => Pidfd.open(null as unknown as number)).toThrow('Received null')
    expect(() => Pidfd.open(process.pid, { thread: 1 as unknown as boolean })).toThrow(
      'The "options.thread" property must be of type boolean. Received type number (1)',
    )
  })

  it('shows open and closed Pidfds in inspect', () => {
    const pidfd = Pidfd.open(process.pid)
    expect(inspect(pidfd)).toBe(`Pidfd { fd: ${pidfd.fd}, pid: ${process.pid} }`)
    pidfd.close()
    expect(inspect(pidfd)).toBe('Pidfd { closed }')
  })
})
