import type { XdrReader, XdrWriter } from '../../src/nfs/xdr.js'
import { MOUNT_PROGRAM, NFS_PROGRAM, NFSPROC3 } from '../../src/nfs/nfs3/consts.js'
import { RpcClient, type Cred } from './client.js'

/** NFSv3 and MOUNT calls over RpcClient, decoding just enough of each reply for tests. */

export interface Fattr { type: number, mode: number, nlink: number, uid: number, gid: number, size: bigint, fileid: bigint, mtime: [number, number], ctime: [number, number], rdev: [number, number] }

export function readFattr (r: XdrReader): Fattr {
  const type = r.uint32(); const mode = r.uint32(); const nlink = r.uint32(); const uid = r.uint32(); const gid = r.uint32()
  const size = r.uint64(); r.uint64()
  const rdev: [number, number] = [r.uint32(), r.uint32()]
  r.uint64()
  const fileid = r.uint64()
  r.uint32(); r.uint32()
  const mtime: [number, number] = [r.uint32(), r.uint32()]
  const ctime: [number, number] = [r.uint32(), r.uint32()]
  return { type, mode, nlink, uid, gid, size, fileid, mtime, ctime, rdev }
}
export function postOp (r: XdrReader): Fattr | undefined { return r.bool() ? readFattr(r) : undefined }
export function wcc (r: XdrReader): Fattr | undefined {
  if (r.bool()) { r.uint64(); r.uint32(); r.uint32(); r.uint32(); r.uint32() }
  return postOp(r)
}
export function sattr (w: XdrWriter, s: { mode?: number, uid?: number, gid?: number, size?: bigint, mtime?: [number, number] } = {}): void {
  w.bool(s.mode !== undefined); if (s.mode !== undefined) w.uint32(s.mode)
  w.bool(s.uid !== undefined); if (s.uid !== undefined) w.uint32(s.uid)
  w.bool(s.gid !== undefined); if (s.gid !== undefined) w.uint32(s.gid)
  w.bool(s.size !== undefined); if (s.size !== undefined) w.uint64(s.size)
  w.uint32(0)
  if (s.mtime !== undefined) w.uint32(2).uint32(s.mtime[0]).uint32(s.mtime[1]); else w.uint32(0)
}

export class NfsClient {
  constructor (readonly rpc: RpcClient, public cred: Cred | null = { uid: 0, gid: 0 }) {}

  static async connect (port: number, localAddress?: string): Promise<NfsClient> {
    return new NfsClient(await RpcClient.connect(port, '127.0.0.1', localAddress))
  }

  /** An NFS call: resolves the nfsstat3 and the reader positioned after it. Throws on RPC-level failure. */
  async call (proc: number, args: (w: XdrWriter) => void): Promise<{ status: number, r: XdrReader }> {
    const reply = await this.rpc.call(NFS_PROGRAM, 3, proc, args, this.cred)
    if (reply.kind !== 'accepted' || reply.stat !== 0) throw new Error(`RPC failure ${JSON.stringify({ kind: reply.kind, stat: (reply as { stat?: number }).stat })}`)
    return { status: reply.body.uint32(), r: reply.body }
  }

  async mount (path: string): Promise<{ status: number, fh?: Uint8Array }> {
    const reply = await this.rpc.call(MOUNT_PROGRAM, 3, 1, (w) => { w.string(path) }, this.cred)
    if (reply.kind !== 'accepted' || reply.stat !== 0) throw new Error('mount RPC failure')
    const status = reply.body.uint32()
    return status === 0 ? { status, fh: Uint8Array.from(reply.body.opaque(64)) } : { status }
  }

  async getattr (fh: Uint8Array): Promise<{ status: number, attrs?: Fattr }> {
    const { status, r } = await this.call(NFSPROC3.GETATTR, (w) => { w.opaque(fh) })
    return status === 0 ? { status, attrs: readFattr(r) } : { status }
  }

  async lookup (dir: Uint8Array, name: string): Promise<{ status: number, fh?: Uint8Array, attrs?: Fattr }> {
    const { status, r } = await this.call(NFSPROC3.LOOKUP, (w) => { w.opaque(dir).string(name) })
    if (status !== 0) return { status }
    const fh = Uint8Array.from(r.opaque(64))
    return { status, fh, attrs: postOp(r) }
  }

  /** CREATE/MKDIR/SYMLINK/MKNOD resok: handle and attributes. */
  static created (res: { status: number, r: XdrReader }): { status: number, fh?: Uint8Array, attrs?: Fattr } {
    if (res.status !== 0) return { status: res.status }
    const fh = res.r.bool() ? Uint8Array.from(res.r.opaque(64)) : undefined
    return { status: res.status, fh, attrs: postOp(res.r) }
  }

  async create (dir: Uint8Array, name: string, mode = 0, attrs: Parameters<typeof sattr>[1] = { mode: 0o644 }): Promise<{ status: number, fh?: Uint8Array, attrs?: Fattr }> {
    return NfsClient.created(await this.call(NFSPROC3.CREATE, (w) => {
      w.opaque(dir).string(name).uint32(mode)
      if (mode === 2) w.opaqueFixed(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)); else sattr(w, attrs)
    }))
  }

  async write (fh: Uint8Array, offset: bigint, data: Uint8Array, stable = 2): Promise<{ status: number, count?: number, committed?: number, verf?: Uint8Array }> {
    const { status, r } = await this.call(NFSPROC3.WRITE, (w) => { w.opaque(fh).uint64(offset).uint32(data.length).uint32(stable).opaque(data) })
    wcc(r)
    if (status !== 0) return { status }
    return { status, count: r.uint32(), committed: r.uint32(), verf: Uint8Array.from(r.opaqueFixed(8)) }
  }

  async read (fh: Uint8Array, offset: bigint, count: number): Promise<{ status: number, data?: Uint8Array, eof?: boolean }> {
    const { status, r } = await this.call(NFSPROC3.READ, (w) => { w.opaque(fh).uint64(offset).uint32(count) })
    postOp(r)
    if (status !== 0) return { status }
    r.uint32()
    const eof = r.bool()
    return { status, eof, data: Uint8Array.from(r.opaque()) }
  }

  /**
   * All names of a directory through READDIR pages of `count` bytes: `names` without '.' and
   * '..', `entries` every entry as listed (name, fileid, handle of READDIRPLUS).
   */
  async readdirAll (dir: Uint8Array, count = 4096, plus = false, from = 0n): Promise<{ status: number, names: string[], entries: Array<{ name: string, id: bigint, cookie: bigint, fh?: Uint8Array }>, pages: number }> {
    let cookie = from
    let verf = new Uint8Array(8)
    const names: string[] = []
    const entries: Array<{ name: string, id: bigint, cookie: bigint, fh?: Uint8Array }> = []
    for (let pages = 1; ; pages++) {
      const res = await this.call(plus ? NFSPROC3.READDIRPLUS : NFSPROC3.READDIR, (w) => {
        w.opaque(dir).uint64(cookie).opaqueFixed(verf).uint32(count)
        if (plus) w.uint32(count * 4)
      })
      if (res.status !== 0) return { status: res.status, names, entries, pages }
      const r = res.r
      postOp(r)
      verf = Uint8Array.from(r.opaqueFixed(8))
      while (r.bool()) {
        const id = r.uint64()
        const name = r.string()
        cookie = r.uint64()
        let fh: Uint8Array | undefined
        if (plus) { postOp(r); if (r.bool()) fh = Uint8Array.from(r.opaque(64)) }
        entries.push({ name, id, cookie, fh })
        if (name !== '.' && name !== '..') names.push(name)
      }
      if (r.bool()) return { status: 0, names, entries, pages }
    }
  }

  async close (): Promise<void> { await this.rpc.close() }
}
