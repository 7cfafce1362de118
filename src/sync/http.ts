import http, { type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { BadRefError, PeerRejectedError, PeerUnreachableError } from './errors.js'
import { MEDIA } from './protocol.js'

/** Traffic with one peer: requests made and bytes that crossed its TCP connections (headers included). */
export interface TrafficStats { requests: number, bytesSent: number, bytesReceived: number }

export interface PeerOptions {
  /** Bearer token (tenant servers). */
  token?: string
  /** A connection silent for this long fails with PeerUnreachableError (default: XENO_SYNC_IDLE_MS or 120 s). */
  idleTimeoutMs?: number
}

export interface RequestOptions {
  body?: Uint8Array | AsyncIterable<Uint8Array>
  contentType?: string
  headers?: Record<string, string>
  signal?: AbortSignal
  /** The server answers this request at once (health, has): its time to headers measures the round trip. */
  measuresLatency?: boolean
}

/**
 * An HTTP connection pool to one XenoStore, counting requests and the bytes read and written
 * on its sockets (exact TCP payload, headers included). Non-2xx answers reject with
 * PeerRejectedError (carrying the server's error code); network failures with
 * PeerUnreachableError. Call close() when done.
 */
export class Peer {
  readonly url: URL
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  readonly #sockets = new Set<Socket>()
  readonly #token?: string
  readonly #idleMs: number
  #requests = 0
  #rttMs = Infinity

  constructor (url: string, options: PeerOptions = {}) {
    try { this.url = new URL(url) } catch (err) { throw new BadRefError(`"${url}" is not a store URL`, { cause: err }) }
    if (this.url.protocol !== 'http:') throw new BadRefError(`unsupported store URL "${url}" (http:// only)`)
    this.#token = options.token
    this.#idleMs = options.idleTimeoutMs ?? (Number(process.env.XENO_SYNC_IDLE_MS ?? 0) || 120_000)
  }

  get stats (): TrafficStats {
    let sent = 0
    let received = 0
    for (const s of this.#sockets) { sent += s.bytesWritten; received += s.bytesRead }
    return { requests: this.#requests, bytesSent: sent, bytesReceived: received }
  }

  /** The shortest time from sending a cheap request (`measuresLatency`) to its response headers: about one round trip (Infinity before any). */
  get latencyMs (): number { return this.#rttMs }

  /** Sends one request; resolves the response once its status is 2xx (the body is still to be read). */
  async request (method: string, path: string, options: RequestOptions = {}): Promise<IncomingMessage> {
    const headers: Record<string, string> = { ...options.headers }
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
    if (options.contentType !== undefined) headers['content-type'] = options.contentType
    if (options.body instanceof Uint8Array) headers['content-length'] = String(options.body.length)
    const base = this.url.pathname.replace(/\/$/, '')
    const req = http.request(new URL(base + path, this.url), { method, headers, agent: this.#agent, signal: options.signal })
    this.#requests++
    req.on('socket', (s) => this.#sockets.add(s))
    req.setTimeout(this.#idleMs, () => req.destroy(new PeerUnreachableError(`${this.url.origin} sent nothing for ${this.#idleMs / 1000} s`)))
    const responded = once(req, 'response') as Promise<[IncomingMessage]>
    let writeError: unknown
    const writing = writeBody(req, options.body).catch((err) => { writeError = err; req.destroy(err) })
    let res: IncomingMessage
    const started = performance.now()
    try {
      [res] = await responded
      if (options.measuresLatency === true) this.#rttMs = Math.min(this.#rttMs, performance.now() - started)
    } catch (err) {
      await writing
      if (options.signal?.aborted === true) throw options.signal.reason
      throw new PeerUnreachableError(`${method} ${this.url.origin}${path} failed: ${(writeError as Error)?.message ?? (err as Error).message}`, { cause: writeError ?? err })
    }
    void writing
    if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) return res
    throw await rejection(res, method, path)
  }

  /** request() and read the whole (small) answer. */
  async fetchBytes (method: string, path: string, options: RequestOptions = {}): Promise<Uint8Array> {
    const res = await this.request(method, path, options)
    return await readAll(res)
  }

  /** request() with a JSON body (if any) and a JSON answer. */
  async fetchJson (method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const bytes = await this.fetchBytes(method, path, body === undefined ? { signal } : { body: Buffer.from(JSON.stringify(body)), contentType: MEDIA.json, signal })
    return JSON.parse(Buffer.from(bytes).toString('utf8'))
  }

  /**
   * Measures the round trip with a health request unless a cheap request already did; a
   * second one when the first took over `slowMs`, since a busy server (or client) on a
   * loaded machine can make one loopback request look like a wide-area round trip.
   */
  async probeLatency (signal?: AbortSignal, slowMs = 20): Promise<number> {
    for (let i = 0; i < 2 && !(this.#rttMs <= slowMs); i++) {
      await this.fetchBytes('GET', '/v1/health', { signal, measuresLatency: true })
    }
    return this.#rttMs
  }

  close (): void { this.#agent.destroy() }
}

async function writeBody (req: http.ClientRequest, body: RequestOptions['body']): Promise<void> {
  if (body === undefined) { req.end(); return }
  if (body instanceof Uint8Array) { req.end(body); return }
  for await (const chunk of body) {
    if (req.destroyed) return
    if (!req.write(chunk)) await drained(req)
  }
  req.end()
}

/** Resolves on 'drain' or 'close', whichever comes first, leaving no listener behind. */
async function drained (req: http.ClientRequest): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => { req.off('drain', done); req.off('close', done); resolve() }
    req.on('drain', done)
    req.on('close', done)
  })
}

/** Reads a whole response body. Throws PeerUnreachableError when the connection breaks. */
export async function readAll (res: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  try { for await (const c of res) parts.push(c) } catch (err) { throw new PeerUnreachableError('connection broke while reading the answer', { cause: err }) }
  return Buffer.concat(parts)
}

async function rejection (res: IncomingMessage, method: string, path: string): Promise<Error> {
  const status = res.statusCode ?? 0
  let code = 'HTTP_' + String(status)
  let message = `${method} ${path}: HTTP ${status}`
  try {
    const parsed = JSON.parse(Buffer.from(await readAll(res)).toString('utf8')) as { error?: { code?: string, message?: string } }
    if (typeof parsed.error?.code === 'string') code = parsed.error.code
    if (typeof parsed.error?.message === 'string') message = parsed.error.message
  } catch {}
  return new PeerRejectedError(status, code, `store refused: ${message} (${code})`)
}
