import { isIPv6, type AddressInfo } from 'node:net'
import { getSystemErrorMap, getSystemErrorName } from 'node:util'
import { unmapIpv4, type TcpConnection, type TcpHandlers, type TcpListener, type TcpListenOptions } from './tcp.js'

/**
 * TCP straight on libuv's handles, the way node:net drives them underneath (lib/net.js,
 * lib/internal/stream_base_commons.js), without a net.Socket and its two stream states per
 * connection: reads arrive as one callback with the bytes, writes are one writev each, and a
 * peer's reset is one negative count, not an Error with a formatted stack. The handles come
 * from `process.binding('tcp_wrap')` and `('stream_wrap')`, which Node still exposes (DEP0111
 * is documentation-only); if they are missing or change shape, `uvAvailable()` is false and
 * the server uses node:net instead.
 */

/** A connected libuv TCP stream (TCPWrap of type SOCKET). Errors are negative libuv codes. */
interface UvStream {
  /** Called with `this` = the stream after each read (count or error in streamBaseState). */
  onread: (this: UvStream) => void
  /** The connection reading from this stream (ours: the C++ side ignores it). */
  owner?: UvConnection
  readStart (): number
  readStop (): number
  /** Reads go into `buffer` (the whole of it each time) instead of a fresh allocation per read. */
  useUserBuffer (buffer: Uint8Array): void
  writeBuffer (req: UvWriteReq, data: Uint8Array): number
  writev (req: UvWriteReq, chunks: readonly Uint8Array[], allBuffers: true): number
  readonly writeQueueSize: number
  setNoDelay (on: boolean): number
  getpeername (out: Partial<AddressInfo>): number
  close (callback?: () => void): void
}

/** A listening libuv TCP handle (TCPWrap of type SERVER). */
interface UvServer {
  onconnection: (status: number, stream: UvStream | undefined) => void
  bind (address: string, port: number): number
  bind6 (address: string, port: number, flags: number): number
  listen (backlog: number): number
  getsockname (out: Partial<AddressInfo>): number
  close (callback?: () => void): void
}

/** A write request (WriteWrap); the C++ side calls `oncomplete` on it when a queued write ends. */
interface UvWriteReq {
  handle: UvStream
  oncomplete: (this: UvWriteReq, status: number) => void
  async: boolean
  /** Keeps the written arrays alive until the kernel has them. */
  buffer: readonly Uint8Array[] | null
  owner: UvConnection
}

interface UvBindings {
  readonly TCP: new (type: number) => UvServer
  readonly SERVER: number
  readonly WriteWrap: new () => UvWriteReq
  /** streamBaseState: where the C++ side leaves a read's count (or error) and a write's mode. */
  readonly state: Int32Array
  readonly kReadBytesOrError: number
  readonly kLastWriteWasAsync: number
}

/** UV_EOF: libuv's end-of-stream code, the same on every platform (uv/errno.h). */
const UV_EOF = -4095
/**
 * Every connection reads into this one buffer (node:net's read size), and each read is copied
 * out at once into a buffer of its own (from Node's pool when small). That is cheaper than
 * Node's own read path, which allocates 64 KiB, then a second buffer of the read's size to copy
 * into and an ArrayBuffer around it for every read. Safe to share: reads are delivered one at
 * a time on this thread and consumed before the next.
 */
const READ_BUFFER = Buffer.allocUnsafe(65_536)
/** node:net's default listen backlog. */
const BACKLOG = 511

let bindings: UvBindings | null | undefined
/** A write request no write holds (see UvConnection.write). */
let spareRequest: UvWriteReq | undefined

function load (): UvBindings | null {
  const binding = (process as { binding?: (name: string) => unknown }).binding
  if (typeof binding !== 'function') return null
  try {
    const tcp = binding.call(process, 'tcp_wrap') as { TCP?: { prototype: object }, constants?: { SERVER?: number } }
    const stream = binding.call(process, 'stream_wrap') as Record<string, unknown>
    const proto = tcp.TCP?.prototype as Record<string, unknown> | undefined
    const methods = ['readStart', 'readStop', 'useUserBuffer', 'writeBuffer', 'writev', 'setNoDelay', 'getpeername', 'getsockname', 'bind', 'bind6', 'listen', 'close']
    if (proto === undefined || !methods.every((m) => typeof proto[m] === 'function')) return null
    if (typeof tcp.constants?.SERVER !== 'number' || typeof stream.WriteWrap !== 'function') return null
    if (!(stream.streamBaseState instanceof Int32Array)) return null
    const keys = ['kReadBytesOrError', 'kLastWriteWasAsync'] as const
    if (!keys.every((k) => typeof stream[k] === 'number')) return null
    return {
      TCP: tcp.TCP as unknown as UvBindings['TCP'],
      SERVER: tcp.constants.SERVER,
      WriteWrap: stream.WriteWrap as UvBindings['WriteWrap'],
      state: stream.streamBaseState,
      kReadBytesOrError: stream.kReadBytesOrError as number,
      kLastWriteWasAsync: stream.kLastWriteWasAsync as number
    }
  } catch {
    return null
  }
}

/** True when this Node exposes libuv's TCP handles in the shape this module expects. */
export function uvAvailable (): boolean {
  if (bindings === undefined) bindings = load()
  return bindings !== null
}

function uvError (errno: number, syscall: string, host: string, port: number): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno)
  const text = getSystemErrorMap().get(errno)?.[1] ?? code
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code}: ${text} ${host}:${port}`)
  err.code = code
  err.errno = errno
  err.syscall = syscall
  return err
}

/** Listens on an IP literal host (see listenTcp). Throws the system error. Requires uvAvailable(). */
export function listenUv (options: TcpListenOptions): TcpListener {
  if (!uvAvailable()) throw new Error('libuv TCP handles are not available')
  const uv = bindings!
  const server = new uv.TCP(uv.SERVER)
  let syscall = 'bind'
  let err = isIPv6(options.host) ? server.bind6(options.host, options.port, 0) : server.bind(options.host, options.port)
  if (err === 0) { syscall = 'listen'; err = server.listen(BACKLOG) }
  if (err !== 0) {
    server.close()
    throw uvError(err, syscall, options.host, options.port)
  }
  server.onconnection = (status, stream) => {
    // A failed accept (EMFILE, …) leaves nothing to clean up; libuv tries again on the next event.
    if (status !== 0 || stream === undefined) return
    const conn = new UvConnection(uv, stream)
    conn.start(options.accept(conn))
  }
  const address: Partial<AddressInfo> = {}
  server.getsockname(address)
  let closing: Promise<void> | undefined
  return {
    address: address as AddressInfo,
    close: async () => await (closing ??= new Promise<void>((resolve) => { server.close(() => { resolve() }) }))
  }
}

function onRead (this: UvStream): void {
  this.owner!.afterRead()
}

function onWriteComplete (this: UvWriteReq, status: number): void {
  this.buffer = null
  this.owner.afterWrite(status)
}

/** One accepted connection on a libuv stream. */
class UvConnection implements TcpConnection {
  readonly remoteAddress: string
  readonly remotePort: number
  readonly #uv: UvBindings
  readonly #stream: UvStream
  #handlers: TcpHandlers | undefined
  #closed = false
  #reading = false
  #eof = false
  #ending = false
  #pendingWrites = 0

  constructor (uv: UvBindings, stream: UvStream) {
    this.#uv = uv
    this.#stream = stream
    stream.setNoDelay(true)
    // Shaped as the C++ side fills it (address, family, port): it sets properties that exist
    // instead of adding three to an empty object (a map transition each) on every accept.
    const peer: Partial<AddressInfo> = { address: '', family: '', port: 0 }
    stream.getpeername(peer)
    this.remoteAddress = unmapIpv4(peer.address ?? '')
    this.remotePort = peer.port ?? 0
  }

  // Asked twice per call: skip the trip into C++ when no write is waiting.
  get queuedBytes (): number { return this.#pendingWrites === 0 ? 0 : this.#stream.writeQueueSize }
  get closed (): boolean { return this.#closed }

  /** Starts reading into `handlers` (unless the owner closed the connection while accepting it). */
  start (handlers: TcpHandlers): void {
    this.#handlers = handlers
    if (this.#closed) return
    this.#stream.useUserBuffer(READ_BUFFER)
    this.#stream.owner = this
    this.#stream.onread = onRead
    this.resume()
  }

  /** Called by the stream after each read. */
  afterRead (): void {
    const uv = this.#uv
    const n = uv.state[uv.kReadBytesOrError]!
    if (n > 0) {
      const chunk = Buffer.allocUnsafe(n)
      chunk.set(READ_BUFFER.subarray(0, n))
      this.#handlers!.data(chunk)
      return
    }
    if (n === 0) return
    if (n !== UV_EOF) { this.destroy(); return } // ECONNRESET and the like
    this.#eof = true
    this.#reading = false
    this.#handlers!.eof()
  }

  write (pieces: readonly Uint8Array[]): void {
    if (this.#closed || this.#ending) return
    const uv = this.#uv
    // The C++ side takes a request object over only when the write cannot finish at once
    // (StreamBase::Write tries the write first), so the one of a finished write serves again.
    const req = spareRequest ?? new uv.WriteWrap()
    spareRequest = undefined
    req.handle = this.#stream
    req.oncomplete = onWriteComplete
    req.async = false
    req.owner = this
    const err = pieces.length === 1 ? this.#stream.writeBuffer(req, pieces[0]!) : this.#stream.writev(req, pieces, true)
    if (err !== 0) { this.destroy(); return }
    if (uv.state[uv.kLastWriteWasAsync] !== 0) {
      // The kernel took part of it; libuv writes the rest when the socket is writable again.
      req.async = true
      req.buffer = pieces
      this.#pendingWrites++
      return
    }
    spareRequest = req
  }

  /** Called by a queued write request when it ends (cancelled ones included, with a negative status). */
  afterWrite (status: number): void {
    this.#pendingWrites--
    if (status < 0) { this.destroy(); return }
    if (this.#pendingWrites > 0 || this.#closed) return
    if (this.#ending) this.#close()
    else this.#handlers?.drain()
  }

  pause (): void {
    if (!this.#reading || this.#closed) return
    this.#reading = false
    this.#stream.readStop()
  }

  resume (): void {
    if (this.#reading || this.#closed || this.#eof) return
    this.#reading = true
    const err = this.#stream.readStart()
    if (err !== 0) this.destroy()
  }

  end (): void {
    if (this.#closed || this.#ending) return
    this.#ending = true
    if (this.#pendingWrites === 0) this.#close()
  }

  destroy (): void { this.#close() }

  #close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#reading = false
    // No callback for libuv's close: the owner is told now (nothing is read or written after
    // this), which spares a trip into JavaScript per connection, at the moment a one-shot
    // client exits and the next one starts.
    this.#stream.close()
    this.#handlers?.close()
  }
}
