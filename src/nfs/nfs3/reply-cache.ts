import type { NfsExport } from '../exports.js'
import { auth_flavor } from '../rpc.js'
import type { Encoder, Procedure } from '../server.js'
import { XdrWriter } from '../xdr.js'
import type { Nfs3State } from './context.js'

/** Encoded results kept, in bytes, by default. */
export const DEFAULT_REPLY_CACHE_BYTES_32MIB = 33_554_432

/**
 * Encoded results of calls made against an export that has not changed since: READDIRPLUS
 * listings (cookie verifier, entries, eof) and whole GETATTR, LOOKUP and ACCESS results, so a
 * client asking again gets the same bytes without the view being walked and everything encoded
 * again (ganesha's MDCACHE keeps attributes and directory entries for the same reason). An
 * entry is valid only for the Filesystem `version` it was made at; memory is bounded in bytes,
 * oldest first.
 */
export class ReplyCache {
  readonly #map = new Map<string, { version: number, bytes: Uint8Array }>()
  readonly #max: number
  #bytes = 0

  constructor (maxBytes = DEFAULT_REPLY_CACHE_BYTES_32MIB) { this.#max = maxBytes }

  /** Bytes of results kept (at most the bound given to the constructor). */
  get bytes (): number { return this.#bytes }
  get entries (): number { return this.#map.size }

  /** The listing made under `key` at `version`, or undefined. */
  get (key: string, version: number): Uint8Array | undefined {
    const hit = this.#map.get(key)
    if (hit === undefined) return undefined
    if (hit.version === version) return hit.bytes
    this.#drop(key, hit.bytes)
    return undefined
  }

  /** Keeps `bytes` (owned by the cache from now on) as the listing of `key` at `version`. */
  set (key: string, version: number, bytes: Uint8Array): void {
    const old = this.#map.get(key)
    if (old !== undefined) this.#drop(key, old.bytes)
    if (bytes.length > this.#max) return
    this.#map.set(key, { version, bytes })
    this.#bytes += bytes.length
    while (this.#bytes > this.#max) {
      const [k, v] = this.#map.entries().next().value as [string, { bytes: Uint8Array }]
      this.#drop(k, v.bytes)
    }
  }

  #drop (key: string, bytes: Uint8Array): void {
    this.#map.delete(key)
    this.#bytes -= bytes.length
  }
}

const NFS3_OK_BYTES = 4

/** Where the handle starts in the arguments of every replayed procedure: after its XDR length. */
const FH_AT = 4

/**
 * `inner` (a procedure whose result follows from its arguments, the caller's identity and the
 * export's state: GETATTR, LOOKUP, ACCESS, READLINK, FSINFO, PATHCONF, READDIRPLUS, small
 * READs; each takes a handle first) with its successful results kept in `s.replies` for the
 * export's version and sent again as bytes for the same call by the same identity. The
 * credentials and the caller's address are checked on every call. A kept result is found only
 * by the very argument bytes `inner` answered NFS3_OK, which it does only after checking the
 * handle's MAC: a hit carries a handle already verified, so the MAC is not computed again (nor
 * looked up). Calls to an export without a version, made while it changes, or whose raw
 * arguments `accept` turns down, go straight to `inner`, as does anything it must refuse.
 */
export function replayable (s: Nfs3State, proc: number, inner: Procedure, accept?: (raw: Uint8Array) => boolean): Procedure {
  // Not async: a kept result is returned as it is, so the server replies without a promise.
  return (args, ctx) => {
    const raw = args.rest()
    if (accept !== undefined && !accept(raw)) return inner(args, ctx)
    const c = ctx.cred
    const exp = s.exportNamedBy(raw, FH_AT)
    // `inner` reports the bad handle, foreign address or weak credentials.
    if (exp === undefined || c.flavor !== auth_flavor.AUTH_SYS || !exp.allows(ctx.remoteAddress)) return inner(args, ctx)
    const version = stableVersion(exp)
    if (version === undefined) return inner(args, ctx)
    const key = `${proc}:${c.key}:${Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1')}`
    const hit = s.replies.get(key, version)
    if (hit !== undefined) return (out) => { out.opaqueFixed(hit) }
    return keep(s, key, exp, version, inner(args, ctx))
  }
}

/** Encodes `result` once, keeps the bytes when it is NFS3_OK and the export did not change meanwhile. */
async function keep (s: Nfs3State, key: string, exp: NfsExport, version: number, result: ReturnType<Procedure>): Promise<Encoder> {
  const encode = await result
  const w = new XdrWriter()
  encode(w)
  const bytes = w.bytes()
  const ok = bytes.length >= NFS3_OK_BYTES && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0 && bytes[3] === 0
  if (ok) keepIfUnchanged(s, key, exp, version, bytes)
  return (out) => { out.opaqueFixed(bytes) }
}

/** The export's version when results made now may be kept (it has one, no change is running). */
export function stableVersion (exp: NfsExport): number | undefined {
  const version = exp.fs.version
  return version === undefined || (version & 1) !== 0 ? undefined : version
}

/** Keeps a copy of `bytes` under `key` if the export is still at `version` (nothing changed while they were made). */
export function keepIfUnchanged (s: Nfs3State, key: string, exp: NfsExport, version: number, bytes: Uint8Array): void {
  // A copy of its own: the writer's buffer may be a slice of a shared pool slab.
  if (exp.fs.version === version) s.replies.set(key, version, new Uint8Array(bytes))
}

/** Largest READ count whose reply is kept: a small file's whole content (big reads go out by reference, uncopied). */
const MAX_REPLAYED_READ_BYTES_64KIB = 65_536

/** READ3args (nfs_fh3, offset, count): true when `count` is small enough to keep the reply. */
export function isSmallRead (raw: Uint8Array): boolean {
  if (raw.length < 4) return false
  const count = ((raw[raw.length - 4]! << 24) | (raw[raw.length - 3]! << 16) | (raw[raw.length - 2]! << 8) | raw[raw.length - 1]!) >>> 0
  return count <= MAX_REPLAYED_READ_BYTES_64KIB
}
