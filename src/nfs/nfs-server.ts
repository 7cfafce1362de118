import type { AddressInfo } from 'node:net'
import { NfsExport, type ExportOptions } from './exports.js'
import { HandleCodec } from './handles.js'
import { mountProgram } from './mount/index.js'
import { MOUNT_PROGRAM, MOUNT_V3, NFS_PROGRAM, NFS_V3 } from './nfs3/consts.js'
import { Nfs3State, nfs3Program } from './nfs3/index.js'
import { IPPROTO_TCP, IPPROTO_UDP, portmapProgram, type Mapping } from './portmap.js'
import { RpcServer, type RpcServerOptions, type RpcStats } from './server.js'

export interface NfsServerOptions extends RpcServerOptions {
  readonly exports: readonly ExportOptions[]
  /** Holds the handle secret; keep it to keep handles valid across restarts. */
  readonly stateDir: string
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string
  /** NFS port (0: ephemeral). MOUNT and PORTMAP are served here too. Default 0. */
  readonly port?: number
  /** A separate MOUNT port (0: ephemeral). Default: none, MOUNT is on `port`. */
  readonly mountPort?: number
  /** A separate PORTMAP v2 port (RFC 1833). Default: none. */
  readonly portmapPort?: number
  /** Bytes of encoded results kept for replay (nfs3/reply-cache.ts). Default 32 MiB. */
  readonly replyCacheBytes?: number
  /** Handles remembered with their MAC checked (per map; handles.ts). Default 65,536. */
  readonly handleCacheEntries?: number
  /** Serve UDP on the same ports too (MOUNT and PORTMAP queries of older or in-kernel clients). Default true. */
  readonly udp?: boolean
}

export interface NfsServer extends AsyncDisposable {
  readonly port: number
  readonly mountPort: number
  readonly portmapPort?: number
  readonly stats: RpcStats
  readonly exports: readonly NfsExport[]
  /** What the kept results (reply-cache.ts) hold now. */
  readonly replyCache: { readonly bytes: number, readonly entries: number }
  /** What the idle poll did (idle-poll.ts), for --stats. */
  readonly idlePoll: { readonly polls: number, readonly turns: number, readonly preempted: number }
  close (): Promise<void>
}

/**
 * Starts an NFSv3 + MOUNT v3 (+ optional PORTMAP v2) server over TCP for `exports`. Resolves
 * once every listener is bound; rejects (closing what was opened) if one cannot be.
 */
export async function createNfsServer (options: NfsServerOptions): Promise<NfsServer> {
  const host = options.host ?? '127.0.0.1'
  const exports = options.exports.map((e) => new NfsExport(e))
  const state = new Nfs3State(await HandleCodec.open(options.stateDir, options.handleCacheEntries), exports, options.replyCacheBytes)
  const rpc = new RpcServer(options)
  let ports = { nfs: 0, mount: 0 }
  const udp = options.udp ?? true
  const mappings = (): Mapping[] => [
    { prog: NFS_PROGRAM, vers: NFS_V3, prot: IPPROTO_TCP, port: ports.nfs },
    { prog: MOUNT_PROGRAM, vers: MOUNT_V3, prot: IPPROTO_TCP, port: ports.mount },
    ...(udp
      ? [{ prog: NFS_PROGRAM, vers: NFS_V3, prot: IPPROTO_UDP, port: ports.nfs }, { prog: MOUNT_PROGRAM, vers: MOUNT_V3, prot: IPPROTO_UDP, port: ports.mount }]
      : [])
  ]
  rpc.add(nfs3Program(state)).add(mountProgram(state)).add(portmapProgram(mappings))
  try {
    const nfs: AddressInfo = await rpc.listen(options.port ?? 0, host)
    const mount = options.mountPort === undefined ? nfs : await rpc.listen(options.mountPort, host)
    ports = { nfs: nfs.port, mount: mount.port }
    const portmap = options.portmapPort === undefined ? undefined : await rpc.listen(options.portmapPort, host)
    if (udp) {
      // The same port numbers over UDP (RFC 1833 mappings are per protocol; keeping them equal is simplest).
      for (const p of new Set([nfs.port, mount.port, ...(portmap === undefined ? [] : [portmap.port])])) {
        try {
          await rpc.listenUdp(p, host)
        } catch (err) {
          // TCP is what NFSv3 clients use; a UDP port taken by someone else is not fatal.
          options.log?.(`nfs: no UDP on ${host}:${p}: ${(err as Error).message}`)
        }
      }
    }
    const close = async (): Promise<void> => { await rpc.close() }
    return {
      port: nfs.port,
      mountPort: mount.port,
      portmapPort: portmap?.port,
      stats: rpc.stats,
      exports,
      replyCache: state.replies,
      idlePoll: rpc.idlePoll.stats,
      close,
      [Symbol.asyncDispose]: close
    }
  } catch (err) {
    await rpc.close()
    throw err
  }
}
