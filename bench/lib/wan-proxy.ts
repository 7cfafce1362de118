import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

export interface WanLinkOptions {
  /** Round-trip time added by the link, in milliseconds (half each way). The paper: 85. */
  readonly rttMs: number
  /** Bottleneck rate per direction in bytes per second (the paper: 108 KB/s = 108_000). */
  readonly bytesPerSecond: number
  /** Bytes queued per direction before the sender is paused (default 256 KiB). */
  readonly queueLimitBytes?: number
}

export interface WanProxy {
  /** host:port to connect to instead of the target. */
  readonly host: string
  readonly port: number
  /** Bytes carried client→target and target→client since start. */
  counts (): { up: number, down: number, connections: number }
  close (): Promise<void>
}

const SEGMENT_BYTES = 16_384

/** The serialisation clock of one direction of the link (shared by all its connections). */
interface Bottleneck { lastDepart: number }

/**
 * One direction of an emulated link: each piece leaves after the previous one has been
 * serialised at `bytesPerSecond` (one bottleneck per direction, shared by all connections) and
 * arrives a one-way delay later. The source is paused while the queue is full.
 *
 * One FIFO and one timer per direction: separate timers per piece can fire out of order
 * (Node schedules them from a cached loop time), which would reorder the byte stream.
 */
function pipeThroughLink (from: Socket, to: Socket, opts: WanLinkOptions, link: Bottleneck, onBytes: (n: number) => void): void {
  const oneWayMs = opts.rttMs / 2
  const limit = opts.queueLimitBytes ?? 262_144
  const queue: { piece: Buffer | null, due: number }[] = [] // null: the FIN
  let head = 0
  let queued = 0
  let timer: NodeJS.Timeout | undefined

  const flush = (): void => {
    timer = undefined
    const now = performance.now()
    while (head < queue.length && queue[head].due <= now + 0.5) {
      const { piece } = queue[head]
      queue[head++] = { piece: null, due: 0 } // drop the reference
      if (piece === null) { if (!to.destroyed) to.end(); continue }
      queued -= piece.length
      if (!to.destroyed) to.write(piece)
    }
    if (head > 1024 && head * 2 > queue.length) { queue.splice(0, head); head = 0 }
    if (queued <= limit && from.isPaused()) from.resume()
    schedule()
  }
  const schedule = (): void => {
    if (timer !== undefined || head >= queue.length) return
    timer = setTimeout(flush, Math.max(0, queue[head].due - performance.now()))
  }
  const enqueue = (piece: Buffer | null): void => {
    const now = performance.now()
    const depart = Math.max(now, link.lastDepart) + ((piece?.length ?? 0) / opts.bytesPerSecond) * 1000
    link.lastDepart = depart
    queue.push({ piece, due: depart + oneWayMs })
    if (piece !== null) {
      queued += piece.length
      if (queued > limit) from.pause()
    }
    schedule()
  }
  from.on('data', (data: Buffer) => {
    onBytes(data.length)
    // Segments of at most 16 KiB, so the first bytes of a big read arrive when a real link
    // would deliver them, not after the whole read has been serialised.
    for (let i = 0; i < data.length; i += SEGMENT_BYTES) enqueue(data.subarray(i, i + SEGMENT_BYTES))
  })
  // A FIN travels the link too: it is delivered after the data queued before it.
  from.on('end', () => enqueue(null))
  from.on('error', () => to.destroy())
}

/**
 * A userspace TCP proxy on 127.0.0.1 that emulates a wide-area link to `target` (this kernel has
 * no netem): added round-trip delay and a rate limit in each direction. Connect the client to
 * `host:port` instead of the target. The connection set-up itself pays one RTT (the proxy
 * delays its accept by rttMs), like a TCP handshake over the real link. Without `opts` it only
 * counts: a transparent proxy that measures any client's TCP payload bytes in each direction.
 */
export async function startWanProxy (target: { host: string, port: number }, opts?: WanLinkOptions): Promise<WanProxy> {
  let up = 0
  let down = 0
  let connections = 0
  const sockets = new Set<Socket>()
  // One bottleneck per direction, shared by every connection: a client that opens several
  // connections (ostree does) shares the link's rate, as on a real access link.
  const upLink: Bottleneck = { lastDepart: 0 }
  const downLink: Bottleneck = { lastDepart: 0 }
  const pipe = (from: Socket, to: Socket, direction: Bottleneck, onBytes: (n: number) => void): void => {
    if (opts !== undefined) return pipeThroughLink(from, to, opts, direction, onBytes)
    from.on('data', (b: Buffer) => onBytes(b.length))
    from.on('error', () => to.destroy())
    from.pipe(to)
  }
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    connections++
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    setTimeout(() => {
      const upstream = connect(target.port, target.host, () => {
        pipe(client, upstream, upLink, (n) => { up += n })
        pipe(upstream, client, downLink, (n) => { down += n })
        client.resume()
      })
      sockets.add(upstream)
      // A close is forwarded as a FIN after the queued data (pipeThroughLink's 'end'), so
      // only errors tear the other side down at once.
      upstream.on('close', () => sockets.delete(upstream))
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
    }, opts?.rttMs ?? 0)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: '127.0.0.1',
    port,
    counts: () => ({ up, down, connections }),
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
