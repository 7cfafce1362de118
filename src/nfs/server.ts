import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { isIP, isIPv6, type AddressInfo } from 'node:net'
import { NfsConfigError, XdrError } from './errors.js'
import { IdlePoll } from './idle-poll.js'
import { listenNet } from './net-tcp.js'
import { RpcConnection, type ConnectionOwner, type Dispatched } from './connection.js'
import { RECORD_MARK_BYTES } from './record.js'
import {
  accept_stat, acceptedReply, authErrorReply, decodeCall, peekXid, progMismatchReply, rpcMismatchReply,
  type AuthStat, type CallHeader, type Credentials
} from './rpc.js'
import { unmapIpv4, type TcpConnection, type TcpHandlers, type TcpListener, type TcpTransport } from './tcp.js'
import { listenUv, uvAvailable } from './uv-tcp.js'
import type { XdrReader, XdrWriter } from './xdr.js'

/** Who is calling, passed to every procedure. */
export interface CallContext {
  readonly cred: Credentials
  /** Peer IP address as Node reports it (IPv4-mapped IPv6 addresses are unmapped). */
  readonly remoteAddress: string
  readonly remotePort: number
  readonly xid: number
}

/** Appends a procedure's result body to the reply. */
export type Encoder = (out: XdrWriter) => void

/**
 * One RPC procedure: decodes its arguments (an XdrError there becomes GARBAGE_ARGS), does the
 * work and returns the encoder of its result body. Throwing RpcAuthError denies the call with
 * AUTH_ERROR; any other error becomes SYSTEM_ERR (and is logged).
 */
export type Procedure = (args: XdrReader, ctx: CallContext) => Promise<Encoder> | Encoder

/** One version of one program: procedure number → procedure. */
export interface RpcProgram {
  readonly prog: number
  readonly vers: number
  readonly procs: Readonly<Record<number, Procedure>>
}

/** Thrown by a procedure to reply MSG_DENIED / AUTH_ERROR (RFC 5531 §9). */
export class RpcAuthError extends Error {
  readonly code = 'NFS_RPC_AUTH'
  constructor (readonly stat: AuthStat) { super(`RPC authentication error ${stat}`) }
}

export interface RpcServerOptions {
  /** Largest accepted record; longer ones are skipped and answered GARBAGE_ARGS. Default 1 MiB + 64 KiB. */
  maxRecordSize?: number
  /** Calls in flight per connection before the server stops reading from it. Default 64. */
  maxInFlight?: number
  /** Queued reply bytes per connection before the server stops reading from it. Default 8 MiB. */
  maxQueuedBytes?: number
  /** Concurrent connections; more are closed at once. Default 512. */
  maxConnections?: number
  /** A connection with no traffic for this long is closed (clients reconnect). Default 5 min. */
  idleTimeoutMs?: number
  /**
   * 'uv' (libuv's TCP handles, uv-tcp.ts) or 'net' (node:net). Default 'uv' where Node exposes
   * the handles and the host is an IP address, else 'net'; XENO_NFS_TCP=net forces 'net'.
   */
  transport?: TcpTransport
  /**
   * Longest time, in µs, the server stays awake after answering every call, waiting for the
   * next one (see idle-poll.ts; 0: never). Default: XENO_NFS_IDLE_POLL_US, else 200.
   */
  idlePollUs?: number
  log?: (message: string) => void
}

export const DEFAULT_MAX_RECORD_SIZE = 1_048_576 + 65_536
const DEFAULT_MAX_IN_FLIGHT = 64
const DEFAULT_MAX_QUEUED_BYTES_8MIB = 8_388_608
const DEFAULT_MAX_CONNECTIONS = 512
const DEFAULT_IDLE_TIMEOUT_MS = 300_000
const DEFAULT_IDLE_POLL_US = 200
/** Idle sweeps a connection must sit out before it is closed (see #sweepIdle). */
const IDLE_SWEEPS = 5
/** Largest UDP payload over IPv4. */
const MAX_UDP_REPLY_BYTES = 65_507

/** Counters for tests and stats. */
export interface RpcStats { calls: number, garbage: number, oversized: number, systemErrors: number, connections: number }

/**
 * ONC RPC v2 over TCP (RFC 5531): any number of listeners share one dispatch table. Each
 * connection may have many calls in flight; replies are written as they complete, in any order.
 */
export class RpcServer {
  readonly #programs = new Map<number, Map<number, RpcProgram>>()
  readonly #listeners: TcpListener[] = []
  readonly #conns = new Set<RpcConnection>()
  readonly #owner: ConnectionOwner
  #sweeper: ReturnType<typeof setInterval> | undefined
  readonly #udp: UdpSocket[] = []
  readonly #opts: Required<Omit<RpcServerOptions, 'log' | 'transport' | 'idlePollUs'>> & { log: (m: string) => void, transport?: TcpTransport }
  readonly idlePoll: IdlePoll
  readonly stats: RpcStats = { calls: 0, garbage: 0, oversized: 0, systemErrors: 0, connections: 0 }
  #closed = false

  constructor (options: RpcServerOptions = {}) {
    this.#opts = {
      maxRecordSize: options.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE,
      maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES_8MIB,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      transport: options.transport ?? (process.env.XENO_NFS_TCP === 'net' ? 'net' : undefined),
      log: options.log ?? (() => {})
    }
    const pollUs = options.idlePollUs ?? Number(process.env.XENO_NFS_IDLE_POLL_US ?? DEFAULT_IDLE_POLL_US)
    this.idlePoll = new IdlePoll(pollUs > 0 ? pollUs / 1000 : 0)
    this.#owner = {
      idlePoll: this.idlePoll,
      maxInFlight: this.#opts.maxInFlight,
      maxQueuedBytes: this.#opts.maxQueuedBytes,
      dispatch: (bytes, remoteAddress, remotePort) => this.#dispatch(bytes, remoteAddress, remotePort),
      skipped: (size, remoteAddress) => {
        this.stats.oversized++
        this.#opts.log(`rpc: skipped a record of ${size} bytes from ${remoteAddress}`)
      },
      closed: (c) => { this.#conns.delete(c) }
    }
  }

  /** Registers a program version; a later registration of the same pair replaces it. */
  add (program: RpcProgram): this {
    let versions = this.#programs.get(program.prog)
    if (versions === undefined) this.#programs.set(program.prog, versions = new Map())
    versions.set(program.vers, program)
    return this
  }

  /** Listens on host:port (port 0: ephemeral) and resolves the bound address. */
  async listen (port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.#closed) throw new NfsConfigError('server is closed')
    const options = { host, port, accept: (conn: TcpConnection) => this.#accept(conn) }
    const uv = this.#opts.transport !== 'net' && isIP(host) !== 0 && uvAvailable()
    if (this.#opts.transport === 'uv' && !uv) throw new NfsConfigError(`the uv transport is not available for ${host}`)
    const listener = uv ? listenUv(options) : await listenNet(options)
    this.#listeners.push(listener)
    return listener.address
  }

  /**
   * Also serves UDP on host:port (RFC 5531 §3: one message per datagram, no record marking),
   * for clients that query the portmapper or mountd over UDP. Replies larger than a datagram
   * can carry are answered SYSTEM_ERR. Calls in flight are bounded like one TCP connection's.
   */
  async listenUdp (port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.#closed) throw new NfsConfigError('server is closed')
    const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4')
    this.#udp.push(udp)
    let inFlight = 0
    udp.on('message', (msg, rinfo) => {
      if (inFlight >= this.#opts.maxInFlight) return // dropped: UDP clients retransmit
      inFlight++
      void Promise.resolve(this.#dispatch(msg, unmapIpv4(rinfo.address), rinfo.port)).then((reply) => {
        inFlight--
        if (reply === undefined) return
        // No record marking over UDP: the message without the room reserved for it.
        let bytes = reply.bytes().subarray(RECORD_MARK_BYTES)
        if (bytes.length > MAX_UDP_REPLY_BYTES) bytes = acceptedReply(peekXid(msg)!, accept_stat.SYSTEM_ERR).bytes().subarray(RECORD_MARK_BYTES)
        udp.send(bytes, rinfo.port, rinfo.address)
      })
    })
    udp.on('error', (err) => { this.#opts.log(`rpc: udp: ${err.message}`) })
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject)
      udp.bind(port, host, () => { udp.off('error', reject); resolve() })
    })
    return udp.address()
  }

  /** Stops listening and closes every connection. Idempotent. */
  async close (): Promise<void> {
    this.#closed = true
    for (const u of this.#udp) u.close()
    this.#udp.length = 0
    for (const c of this.#conns) c.destroy()
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper)
    await Promise.all(this.#listeners.map(async (l) => { await l.close() }))
    this.#listeners.length = 0
  }

  #accept (conn: TcpConnection): TcpHandlers {
    if (this.#conns.size >= this.#opts.maxConnections || this.#closed) { conn.destroy(); return IGNORE }
    const rpc = new RpcConnection(conn, this.#owner, this.#opts.maxRecordSize)
    this.#conns.add(rpc)
    this.#sweepIdle()
    this.stats.connections++
    return rpc
  }

  /**
   * One timer for all connections (not a socket timeout each, which a short-lived client pays
   * for at connect, at every read and write, and at close), ticking every quarter of the idle
   * timeout: a connection with no traffic and no call in flight through IDLE_SWEEPS ticks (so
   * for at least the idle timeout, and at most a quarter more) is closed; clients reconnect.
   * Traffic resets a counter instead of reading the clock twice per call.
   */
  #sweepIdle (): void {
    if (this.#sweeper !== undefined) return
    this.#sweeper = setInterval(() => {
      for (const c of this.#conns) if (c.idle && ++c.quietSweeps >= IDLE_SWEEPS) c.destroy()
    }, Math.max(10, Math.floor(this.#opts.idleTimeoutMs / (IDLE_SWEEPS - 1))))
    this.#sweeper.unref()
  }

  /**
   * Decodes and runs one call: the reply, or undefined when none is due; a promise of it when
   * the procedure has to wait. Never throws or rejects.
   */
  #dispatch (bytes: Uint8Array, remoteAddress: string, remotePort: number): Dispatched {
    let decoded
    try {
      decoded = decodeCall(bytes)
    } catch (err) {
      this.stats.garbage++
      const xid = peekXid(bytes)
      return xid === undefined ? undefined : acceptedReply(xid, accept_stat.GARBAGE_ARGS)
    }
    switch (decoded.kind) {
      case 'not-a-call': return undefined
      case 'rpc-mismatch': return rpcMismatchReply(decoded.xid)
      case 'auth-error': return authErrorReply(decoded.xid, decoded.stat)
    }
    this.stats.calls++
    return this.#run(decoded.call, remoteAddress, remotePort)
  }

  #run (call: CallHeader, remoteAddress: string, remotePort: number): XdrWriter | Promise<XdrWriter> {
    const versions = this.#programs.get(call.prog)
    if (versions === undefined) return acceptedReply(call.xid, accept_stat.PROG_UNAVAIL)
    const program = versions.get(call.vers)
    if (program === undefined) {
      const vs = [...versions.keys()]
      return progMismatchReply(call.xid, Math.min(...vs), Math.max(...vs))
    }
    const proc = program.procs[call.proc]
    if (proc === undefined) return acceptedReply(call.xid, accept_stat.PROC_UNAVAIL)
    const ctx: CallContext = { cred: call.cred, remoteAddress, remotePort, xid: call.xid }
    const reply = (encode: Encoder): XdrWriter => {
      const out = acceptedReply(call.xid, accept_stat.SUCCESS)
      encode(out)
      return out
    }
    try {
      const encode = proc(call.args, ctx)
      if (!(encode instanceof Promise)) return reply(encode)
      return encode.then(reply).catch((err: unknown) => this.#failed(call, err))
    } catch (err) {
      return this.#failed(call, err)
    }
  }

  /** The reply to a call whose procedure threw `err`. */
  #failed (call: CallHeader, err: unknown): XdrWriter {
    if (err instanceof XdrError) { this.stats.garbage++; return acceptedReply(call.xid, accept_stat.GARBAGE_ARGS) }
    if (err instanceof RpcAuthError) return authErrorReply(call.xid, err.stat)
    this.stats.systemErrors++
    this.#opts.log(`rpc: prog ${call.prog} v${call.vers} proc ${call.proc} failed: ${(err as Error)?.stack ?? String(err)}`)
    return acceptedReply(call.xid, accept_stat.SYSTEM_ERR)
  }
}

/** Handlers of a connection refused at accept. */
const IGNORE: TcpHandlers = { data: () => {}, drain: () => {}, eof: () => {}, close: () => {} }
