import { RECORD_MARK_BYTES, RecordDecoder, setRecordMark, type RecordSink } from './record.js'
import { accept_stat, acceptedReply, peekXid } from './rpc.js'
import type { TcpConnection, TcpHandlers } from './tcp.js'
import type { IdlePoll } from './idle-poll.js'
import type { XdrWriter } from './xdr.js'

/** A reply, none (undefined), or a promise of either: what the server's dispatch returns. */
export type Dispatched = XdrWriter | undefined | Promise<XdrWriter | undefined>

/** What a connection needs from its server. */
export interface ConnectionOwner {
  readonly maxInFlight: number
  readonly maxQueuedBytes: number
  /** Told when a call starts and when it is answered (see idle-poll.ts). */
  readonly idlePoll: IdlePoll
  /** Decodes and runs one call; never throws or rejects. */
  dispatch (bytes: Uint8Array, remoteAddress: string, remotePort: number): Dispatched
  /** A record longer than the bound was skipped (for stats and the log). */
  skipped (size: number, remoteAddress: string): void
  /** The connection closed. */
  closed (conn: RpcConnection): void
}

/**
 * One client connection of the RPC server: reassembles records, runs each call, writes replies
 * as they complete (in any order), stops reading while too many calls are in flight or too
 * many reply bytes are queued, and after the client's EOF closes once every call is answered.
 * One object per connection, with methods rather than closures: a one-shot client (nfs-cat
 * opens two connections for ten calls) pays for what a connection allocates.
 */
export class RpcConnection implements TcpHandlers, RecordSink {
  readonly #conn: TcpConnection
  readonly #owner: ConnectionOwner
  readonly #decoder: RecordDecoder
  readonly #done = (reply: XdrWriter | undefined): void => { this.#finished(reply) }
  #inFlight = 0
  #paused = false
  #eof = false
  /** Idle sweeps passed since the last traffic (see RpcServer). */
  quietSweeps = 0

  constructor (conn: TcpConnection, owner: ConnectionOwner, maxRecordSize: number) {
    this.#conn = conn
    this.#owner = owner
    this.#decoder = new RecordDecoder(this, maxRecordSize)
  }

  /** True when no call is waiting for its reply. */
  get idle (): boolean { return this.#inFlight === 0 }

  /** Closes at once (server close, idle sweep). */
  destroy (): void { this.#conn.destroy() }

  data (chunk: Uint8Array): void {
    this.quietSweeps = 0
    this.#decoder.push(chunk)
  }

  drain (): void { this.#throttle() }

  eof (): void {
    this.#eof = true
    if (this.#inFlight === 0) this.#conn.end()
  }

  close (): void { this.#owner.closed(this) }

  record (bytes: Uint8Array): void {
    this.#inFlight++
    this.#owner.idlePoll.begin()
    this.#throttle()
    // A call answered without waiting (a cached result) is replied to at once, without a
    // promise in between; the others when their reply is ready.
    const reply = this.#owner.dispatch(bytes, this.#conn.remoteAddress, this.#conn.remotePort)
    if (reply instanceof Promise) void reply.then(this.#done); else this.#finished(reply)
  }

  oversized (head: Uint8Array, size: number): void {
    this.#owner.skipped(size, this.#conn.remoteAddress)
    const xid = peekXid(head)
    if (xid !== undefined) this.#send(acceptedReply(xid, accept_stat.GARBAGE_ARGS))
  }

  #finished (reply: XdrWriter | undefined): void {
    this.#inFlight--
    this.quietSweeps = 0
    if (reply !== undefined) this.#send(reply)
    this.#owner.idlePoll.end()
    // The peer sent its last call (EOF): close once every call it made is answered.
    if (this.#eof && this.#inFlight === 0) { this.#conn.end(); return }
    this.#throttle()
  }

  #send (reply: XdrWriter): void {
    if (this.#conn.closed) return
    const pieces = reply.pieces()
    // Every reply writer starts with room for the record mark (rpc.ts replyWriter).
    setRecordMark(pieces[0]!, reply.length - RECORD_MARK_BYTES)
    this.#conn.write(pieces)
  }

  #throttle (): void {
    const busy = this.#inFlight >= this.#owner.maxInFlight || this.#conn.queuedBytes >= this.#owner.maxQueuedBytes
    if (busy && !this.#paused) { this.#paused = true; this.#conn.pause() } else if (!busy && this.#paused) { this.#paused = false; this.#conn.resume() }
  }
}
