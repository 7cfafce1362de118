import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join, normalize, sep } from 'node:path'

/** What a static server handed out since start (or the last `reset()`). */
export interface TrafficCount {
  /** HTTP requests received (any method, any status). */
  readonly requests: number
  /** Requests answered 404 (a peer probing for optional files, e.g. ostree static deltas). */
  readonly notFound: number
  /** Response body bytes sent. */
  readonly bodyBytes: number
  /** Bytes on the wire in both directions (TCP payload: headers and bodies), over closed and open connections. */
  readonly wireBytes: number
  /** TCP connections accepted. */
  readonly connections: number
}

export interface StaticServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string
  counts (): TrafficCount
  reset (): void
  close (): Promise<void>
}

/**
 * A plain HTTP/1.1 file server over `root` on 127.0.0.1 (ephemeral port) that counts requests
 * and bytes, so peer tools that fetch over HTTP (casync-http, ostree pull) can be measured on
 * the same terms as xeno. GET and HEAD only; no ranges, no compression; keep-alive on.
 */
export async function startStaticServer (root: string): Promise<StaticServer> {
  let requests = 0
  let notFound = 0
  let bodyBytes = 0
  let connections = 0
  let closedWire = 0
  const open = new Set<Socket>()
  const wireOf = (s: Socket): number => s.bytesRead + s.bytesWritten
  const base = new Map<Socket, number>()

  const server: Server = createServer((req, res) => {
    requests++
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    const file = normalize(join(root, path))
    const deny = (status: number): void => {
      if (status === 404) notFound++
      res.writeHead(status, { 'content-length': 0 }).end()
    }
    if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return deny(403)
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(405)
    stat(file).then((st) => {
      if (!st.isFile()) return deny(404)
      res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' })
      if (req.method === 'HEAD') return res.end()
      bodyBytes += st.size
      createReadStream(file).on('error', () => res.destroy()).pipe(res)
    }, () => deny(404))
  })
  server.keepAliveTimeout = 30_000
  server.on('connection', (socket: Socket) => {
    connections++
    open.add(socket)
    base.set(socket, 0)
    socket.on('close', () => {
      closedWire += wireOf(socket) - (base.get(socket) ?? 0)
      open.delete(socket)
      base.delete(socket)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    counts () {
      let wire = closedWire
      for (const s of open) wire += wireOf(s) - (base.get(s) ?? 0)
      return { requests, notFound, bodyBytes, wireBytes: wire, connections }
    },
    reset () {
      requests = 0; notFound = 0; bodyBytes = 0; connections = 0; closedWire = 0
      for (const s of open) base.set(s, wireOf(s))
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
