import { connect, type Socket } from 'node:net'
import { RecordDecoder, recordMark } from '../../src/nfs/record.js'
import { XdrReader, XdrWriter } from '../../src/nfs/xdr.js'

/** A minimal ONC RPC client over TCP for tests: many calls in flight, replies matched by xid. */

export type Reply =
  | { kind: 'accepted', xid: number, stat: number, body: XdrReader }
  | { kind: 'denied', xid: number, rejectStat: number, body: XdrReader }

export interface Cred { uid: number, gid: number, gids?: number[] }

export class RpcClient {
  readonly #socket: Socket
  readonly #pending = new Map<number, (r: Reply) => void>()
  #xid = 1000
  #closed = false
  #error: Error | undefined

  private constructor (socket: Socket) {
    this.#socket = socket
    const decoder = new RecordDecoder({
      record: (bytes) => {
        const r = new XdrReader(bytes)
        const xid = r.uint32()
        r.uint32() // REPLY
        const replyStat = r.uint32()
        let reply: Reply
        if (replyStat === 0) {
          r.uint32(); r.opaque(400)
          reply = { kind: 'accepted', xid, stat: r.uint32(), body: r }
        } else {
          reply = { kind: 'denied', xid, rejectStat: r.uint32(), body: r }
        }
        const done = this.#pending.get(xid)
        this.#pending.delete(xid)
        done?.(reply)
      },
      oversized: () => { socket.destroy(new Error('oversized reply')) }
    }, 64 * 1024 * 1024)
    socket.on('data', (c: Buffer) => { decoder.push(c) })
    socket.on('error', (err) => { this.#error = err })
    socket.on('close', () => {
      this.#closed = true
      for (const [, done] of this.#pending) done({ kind: 'denied', xid: -1, rejectStat: -1, body: new XdrReader(new Uint8Array(0)) })
      this.#pending.clear()
    })
  }

  static async connect (port: number, host = '127.0.0.1', localAddress?: string): Promise<RpcClient> {
    const socket = connect({ port, host, localAddress, noDelay: true })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    return new RpcClient(socket)
  }

  get closed (): boolean { return this.#closed }
  get error (): Error | undefined { return this.#error }

  /** Sends one call; `args` appends the procedure arguments. AUTH_SYS when `cred` is given. */
  async call (prog: number, vers: number, proc: number, args: (w: XdrWriter) => void = () => {}, cred: Cred | null = { uid: 0, gid: 0 }): Promise<Reply> {
    const xid = this.#xid++
    const w = new XdrWriter()
    w.uint32(xid).uint32(0).uint32(2).uint32(prog).uint32(vers).uint32(proc)
    if (cred === null) w.uint32(0).uint32(0)
    else {
      const body = new XdrWriter().uint32(0).string('test').uint32(cred.uid).uint32(cred.gid).uint32((cred.gids ?? []).length)
      for (const g of cred.gids ?? []) body.uint32(g)
      w.uint32(1).opaque(body.bytes())
    }
    w.uint32(0).uint32(0)
    args(w)
    return await this.send(xid, w.bytes())
  }

  /** Sends a raw message (framed as one record) and waits for the reply to `xid`. */
  async send (xid: number, message: Uint8Array): Promise<Reply> {
    const p = new Promise<Reply>((resolve) => { this.#pending.set(xid, resolve) })
    this.writeRaw(Buffer.concat([recordMark(message.length), message]))
    return await p
  }

  /** Writes bytes as they are (no framing). */
  writeRaw (bytes: Uint8Array): void { this.#socket.write(bytes) }

  /** Waits for a reply to `xid` that was sent with writeRaw. */
  async expect (xid: number): Promise<Reply> {
    return await new Promise<Reply>((resolve) => { this.#pending.set(xid, resolve) })
  }

  /** Closes the sending side (FIN) and keeps reading replies. */
  endWrites (): void { this.#socket.end() }

  /** Closes at once with a TCP reset (as libnfs does: SO_LINGER 0). */
  reset (): void { this.#socket.resetAndDestroy() }

  /** Stops or restarts reading replies (the server's writes then queue up). */
  pauseReading (): void { this.#socket.pause() }
  resumeReading (): void { this.#socket.resume() }

  async close (): Promise<void> {
    if (this.#closed) return
    await new Promise<void>((resolve) => { this.#socket.end(() => { resolve() }); this.#socket.once('close', () => { resolve() }) })
    this.#socket.destroy()
  }
}
