import { randomBytes } from 'node:crypto'
import type { Attrs, Caller, NodeId } from '../backend.js'
import { NfsStatusError, StaleHandleError, statusOf } from '../errors.js'
import type { NfsExport } from '../exports.js'
import type { HandleCodec } from '../handles.js'
import { auth_flavor, auth_stat } from '../rpc.js'
import { RpcAuthError, type CallContext, type Encoder } from '../server.js'
import type { XdrReader } from '../xdr.js'
import { readFh } from './attrs.js'
import { MNTNAMLEN, nfsstat3, type NfsStat3 } from './consts.js'
import { ReplyCache } from './reply-cache.js'

/** A resolved file handle: which export and which node. */
export interface Target { readonly exp: NfsExport, readonly id: NodeId }

/** Longest file name accepted (filename3 has no bound in XDR; RFC 1813 §3.3.20 name_max). */
export const NAME_MAX = MNTNAMLEN

/**
 * Shared state of the NFSv3 program: the exports, the handle codec, and the write verifier
 * (random per server start, so clients notice a restart and resend unstable writes, RFC 1813 §3.3.7).
 */
export class Nfs3State {
  readonly handles: HandleCodec
  readonly writeVerifier: Uint8Array = randomBytes(8)
  /** Results of calls against unchanged exports (READDIRPLUS listings, GETATTR, LOOKUP, ACCESS). */
  readonly replies: ReplyCache
  readonly #exports = new Map<number, NfsExport>()

  /** `replyCacheBytes`: the bound of `replies` (default DEFAULT_REPLY_CACHE_BYTES_32MIB). */
  constructor (handles: HandleCodec, exports: Iterable<NfsExport>, replyCacheBytes?: number) {
    this.handles = handles
    this.replies = new ReplyCache(replyCacheBytes)
    for (const e of exports) this.#exports.set(e.id, e)
  }

  get exports (): NfsExport[] { return [...this.#exports.values()] }

  /**
   * The export and node of handle `fh` for caller `ctx`. Throws BadHandleError (forged or
   * malformed), StaleHandleError (no such export), or NfsStatusError(NFS3ERR_ACCES) when the
   * caller's address is not allowed on the export. Throws RpcAuthError(AUTH_TOOWEAK) for
   * calls without AUTH_SYS credentials (the whole call is then denied).
   */
  resolve (fh: Uint8Array, ctx: CallContext): Target {
    // Exports check identities, so a call without AUTH_SYS credentials is too weak (RFC 5531 §9).
    if (ctx.cred.flavor !== auth_flavor.AUTH_SYS) throw new RpcAuthError(auth_stat.AUTH_TOOWEAK)
    const exportId = exportIdAt(fh, 0)
    const exp = this.#exports.get(exportId)
    if (exp === undefined) {
      // Decode against a dummy id to tell a forged handle (BADHANDLE) from a foreign one (STALE).
      this.handles.decode(fh, exportId ^ 1)
      throw new StaleHandleError()
    }
    const id = this.handles.decode(fh, exp.id)
    if (!exp.allows(ctx.remoteAddress)) throw new NfsStatusError(nfsstat3.NFS3ERR_ACCES, `${ctx.remoteAddress} may not use ${exp.name}`)
    return { exp, id }
  }

  /**
   * The export a handle names, from the export id it carries, unchecked (no MAC): for callers
   * that know the handle bytes were verified before. `at` is where the handle starts in `bytes`.
   */
  exportNamedBy (bytes: Uint8Array, at: number): NfsExport | undefined {
    return this.#exports.get(exportIdAt(bytes, at))
  }

  /** The file handle of node `id` (shared: write it out, never modify it). */
  handle (exp: NfsExport, id: NodeId): Uint8Array { return this.handles.encode(exp.id, id) }

  caller (t: Target, ctx: CallContext): Caller { return t.exp.caller(ctx.cred) }
}

/** The export id field of a handle starting at `at` (handles.ts layout), 0 if too short. */
function exportIdAt (bytes: Uint8Array, at: number): number {
  if (bytes.length < at + 5) return 0
  return ((bytes[at + 1]! << 24) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!) >>> 0
}

/** Attributes or undefined (for post_op_attr, where failure is not an error). */
export async function tryGetattr (t: Target | undefined, id?: NodeId): Promise<Attrs | undefined> {
  if (t === undefined) return undefined
  try {
    return await t.exp.fs.getattr(id ?? t.id)
  } catch {
    return undefined
  }
}

/** Reads a filename3 and rejects bad names with NfsStatusError (after decoding completes). */
export function readName (r: XdrReader): string {
  return r.string()
}

/** NFS3ERR_NAMETOOLONG / NFS3ERR_INVAL checks for a name that will be created or looked up. */
export function checkName (name: string, creating: boolean): void {
  if (Buffer.byteLength(name) > NAME_MAX) throw new NfsStatusError(nfsstat3.NFS3ERR_NAMETOOLONG)
  if (name.length === 0 || name.includes('/') || name.includes('\0')) throw new NfsStatusError(nfsstat3.NFS3ERR_INVAL)
  if (creating && (name === '.' || name === '..')) throw new NfsStatusError(nfsstat3.NFS3ERR_EXIST)
}

/**
 * Runs a procedure body and turns any error into a status: the body's encoder follows NFS3_OK,
 * `fail(status)`'s encoder (the resfail body) follows the error status. Decode the arguments
 * before calling this, so XdrErrors become GARBAGE_ARGS and not a status.
 */
export async function respond (
  body: () => Promise<Encoder>,
  fail: (status: NfsStat3) => Promise<Encoder> | Encoder
): Promise<Encoder> {
  let ok: Encoder
  try {
    ok = await body()
  } catch (err) {
    if (err instanceof RpcAuthError) throw err
    const status = statusOf(err)
    const tail = await fail(status)
    return (out) => { out.uint32(status); tail(out) }
  }
  return (out) => { out.uint32(nfsstat3.NFS3_OK); ok(out) }
}

export { readFh }
