import type { Attrs } from '../backend.js'
import type { Procedure } from '../server.js'
import { readFh, writePostOpAttr, writePostOpFh } from './attrs.js'
import { respond, tryGetattr, type Nfs3State, type Target } from './context.js'
import { NFS3_COOKIEVERFSIZE } from './consts.js'
import { HANDLE_BYTES } from '../handles.js'
import { MAX_DIR_REPLY_1MIB } from './limits.js'
import { XdrWriter } from '../xdr.js'
import { entry3Size, fitEntries, openListing, verifierBytes } from './readdir.js'
import { dotEntries } from './dot-entries.js'
import { keepIfUnchanged, stableVersion } from './reply-cache.js'

/** post_op_attr (4 + 84) and post_op_fh3 (4 + 4 + handle) added to each entry. */
const PLUS_EXTRA = 88 + 8 + HANDLE_BYTES + 3

/**
 * READDIRPLUS3, RFC 1813 §3.3.17: entries with attributes and handles. `dircount` bounds the
 * entry3 part, `maxcount` the whole reply.
 */
export function readdirplus (s: Nfs3State): Procedure {
  return async (args, ctx) => {
    const fh = readFh(args)
    const cookie = args.uint64()
    args.opaqueFixed(NFS3_COOKIEVERFSIZE)
    const dircount = args.uint32()
    const maxcount = Math.min(args.uint32(), MAX_DIR_REPLY_1MIB)
    let t: Target | undefined
    return await respond(async () => {
      t = s.resolve(fh, ctx)
      const { dirAttrs, budget } = await openListing(s, t, ctx, maxcount)
      const exp = t.exp
      // An unchanged directory is answered with the bytes of its last listing.
      const version = stableVersion(exp)
      const key = `rdp:${exp.id}:${t.id}:${cookie}:${dircount}:${maxcount}`
      const cached = version !== undefined ? s.replies.get(key, version) : undefined
      if (cached !== undefined) return (out) => { writePostOpAttr(out, dirAttrs, exp.fsid); out.opaqueFixed(cached) }
      const want = Math.max(1, Math.min(Math.floor(budget / (28 + PLUS_EXTRA)), Math.floor(Math.max(dircount, 512) / 24)))
      const { dots, from } = await dotEntries(t, cookie, dirAttrs)
      const res = await t.exp.fs.readdir(t.id, from, Math.max(1, want - dots.length))
      let fit = fitEntries(dots.length === 0 ? res.entries : [...dots, ...res.entries], res.eof, budget, (e) => entry3Size(e.name) + PLUS_EXTRA)
      if (dircount > 0) {
        const byDir = fitEntries(fit.entries, fit.eof, Math.max(dircount, 512), (e) => entry3Size(e.name))
        fit = byDir
      }
      // A view's listing carries every entry's attributes: no getattr (nor a promise) per entry.
      const attrs: Array<Attrs | undefined> = fit.entries.every((e) => e.attrs !== undefined)
        ? fit.entries.map((e) => e.attrs)
        : await Promise.all(fit.entries.map(async (e) => e.attrs ?? await tryGetattr(t, e.id)))
      const body = new XdrWriter(fit.entries.length * (28 + PLUS_EXTRA) + 16)
      body.opaqueFixed(verifierBytes(res.verifier))
      fit.entries.forEach((e, i) => {
        body.bool(true).uint64(e.id).string(e.name).uint64(e.cookie)
        writePostOpAttr(body, attrs[i], exp.fsid)
        writePostOpFh(body, attrs[i] === undefined ? undefined : s.handle(exp, e.id))
      })
      body.bool(false).bool(fit.eof)
      const bytes = body.bytes()
      if (version !== undefined) keepIfUnchanged(s, key, exp, version, bytes)
      return (out) => { writePostOpAttr(out, dirAttrs, exp.fsid); out.opaqueFixed(bytes) }
    }, async () => {
      const a = await tryGetattr(t)
      return (out) => { writePostOpAttr(out, a, t?.exp.fsid ?? 0n) }
    })
  }
}
