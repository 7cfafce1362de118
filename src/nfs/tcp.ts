import type { AddressInfo } from 'node:net'

/**
 * The TCP transport of the RPC server: accepted connections as a few plain callbacks. Two
 * implementations, picked per listener by server.ts: `uv` drives libuv's TCP handles directly
 * (uv-tcp.ts), `net` uses node:net sockets (net-tcp.ts). They behave the same; `uv` costs a
 * seventh of `net` per connection and a third less per call (callgrind, loopback, minimal
 * echo servers: accept + one call + close 28 k vs 210 k instructions, a call 13 k vs 19 k),
 * and connections are most of what a one-shot client such as nfs-cat (two connections, ten
 * calls) costs the server.
 */
export type TcpTransport = 'uv' | 'net'

/** One accepted connection. */
export interface TcpConnection {
  /** Peer IP address as the kernel reports it ('' if unknown); IPv4-mapped IPv6 is unmapped. */
  readonly remoteAddress: string
  readonly remotePort: number
  /** Bytes written but not yet taken by the kernel. */
  readonly queuedBytes: number
  readonly closed: boolean
  /**
   * Sends `pieces` in order, in one gather write when the kernel takes them at once; never
   * blocks. The arrays must not change until they are sent (`queuedBytes` tells).
   */
  write (pieces: readonly Uint8Array[]): void
  /** Stops reading (backpressure); `resume` starts again. */
  pause (): void
  resume (): void
  /** Closes once every queued byte is sent. Idempotent. */
  end (): void
  /** Closes at once, dropping queued bytes. Idempotent. */
  destroy (): void
}

/** What the owner of a connection is told. */
export interface TcpHandlers {
  /** Received bytes, in order; they belong to the handler. */
  data (chunk: Uint8Array): void
  /** Every queued byte was taken by the kernel. */
  drain (): void
  /** The peer finished sending (EOF). The connection stays open until `end` or `destroy`. */
  eof (): void
  /** The connection is closed (by either side, or an error). Called once. */
  close (): void
}

/** A bound listener. */
export interface TcpListener {
  readonly address: AddressInfo
  /** Stops accepting (open connections are the owner's). Idempotent. */
  close (): Promise<void>
}

export interface TcpListenOptions {
  readonly host: string
  readonly port: number
  /** Called for each accepted connection; reading starts when it returns. */
  readonly accept: (conn: TcpConnection) => TcpHandlers
}

/** '::ffff:127.0.0.1' → '127.0.0.1'; other addresses unchanged. */
export function unmapIpv4 (address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
