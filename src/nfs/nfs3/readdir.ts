import type { Attrs, DirEntryOut } from '../backend.js'
import { NfsStatusError } from '../errors.js'
import type { CallContext, Procedure } from '../server.js'
import { checkList } from './permissions.js'
import { pad4 } from '../xdr.js'
import { readFh, writePostOpAttr } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { NFS3_COOKIEVERFSIZE, nfsstat3 } from './consts.js'
import { MAX_DIR_REPLY_1MIB } from './limits.js'
import { dotEntries } from './dot-entries.js'

/**
 * Bytes of READDIR3resok and READDIRPLUS3resok around the entries: status, post_op_attr,
 * cookieverf, list end, eof.
 */
const LISTING_OVERHEAD = 4 + 88 + 8 + 4 + 4

/**
 * Checks shared by READDIR and READDIRPLUS before listing: a reply of `count` bytes leaves
 * room for entries (else NFS3ERR_TOOSMALL), the target is a directory (NFS3ERR_NOTDIR) the
 * caller may list (NFS3ERR_ACCES). Resolves its attributes and the bytes left for entries.
 */
export async function openListing (s: Nfs3State, t: Target, ctx: CallContext, count: number): Promise<{ dirAttrs: Attrs, budget: number }> {
  const budget = count - LISTING_OVERHEAD
  if (budget < 0) throw new NfsStatusError(nfsstat3.NFS3ERR_TOOSMALL)
  const dirAttrs = await t.exp.fs.getattr(t.id)
  if (dirAttrs.type !== 'dir') throw new NfsStatusError(nfsstat3.NFS3ERR_NOTDIR)
  checkList(dirAttrs, s.caller(t, ctx))
  return { dirAttrs, budget }
}

/** Encoded size of one entry3: value_follows, fileid, name, cookie. */
export function entry3Size (name: string): number {
  const n = Buffer.byteLength(name)
  return 4 + 8 + 4 + n + pad4(n) + 8
}

/** cookieverf3 ⇄ bigint. */
export function readVerifier (bytes: Uint8Array): bigint { return Buffer.from(bytes).readBigUInt64BE(0) }
export function verifierBytes (v: bigint): Uint8Array { const b = Buffer.alloc(8); b.writeBigUInt64BE(v); return b }

/**
 * Entries that fit `budget` bytes by `sizeOf`, and whether the listing ended. Throws
 * NFS3ERR_TOOSMALL when not even one entry fits (RFC 1813 §3.3.16).
 */
export function fitEntries (entries: DirEntryOut[], eof: boolean, budget: number, sizeOf: (e: DirEntryOut) => number): { entries: DirEntryOut[], eof: boolean } {
  let used = 0
  for (let i = 0; i < entries.length; i++) {
    used += sizeOf(entries[i]!)
    if (used > budget) {
      if (i === 0) throw new NfsStatusError(nfsstat3.NFS3ERR_TOOSMALL)
      return { entries: entries.slice(0, i), eof: false }
    }
  }
  return { entries, eof }
}

/** READDIR3, RFC 1813 §3.3.16: names and fileids from a cookie, within `count` bytes. */
export function readdir (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const cookie = args.uint64()
    args.opaqueFixed(NFS3_COOKIEVERFSIZE)
    const count = Math.min(args.uint32(), MAX_DIR_REPLY_1MIB)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const { dirAttrs, budget } = await openListing(s, t, ctx, count)
      const { dots, from } = await dotEntries(t, cookie, dirAttrs)
      const res = await t.exp.fs.readdir(t.id, from, Math.max(1, Math.floor(budget / 28) - dots.length))
      const fit = fitEntries(dots.length === 0 ? res.entries : [...dots, ...res.entries], res.eof, budget, (e) => entry3Size(e.name))
      const fsid = t.exp.fsid
      return (out) => {
        writePostOpAttr(out, dirAttrs, fsid)
        out.opaqueFixed(verifierBytes(res.verifier))
        for (const e of fit.entries) out.bool(true).uint64(e.id).string(e.name).uint64(e.cookie)
        out.bool(false).bool(fit.eof)
      }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
