import type { CID } from 'multiformats/cid'
import type { AbortOptions } from '../cas/interface.js'
import { compareNames, encodeTreeRoot } from './codec.js'
import { writeDir } from './dir-write.js'
import type { BlockSink } from './file-write.js'
import type { Entry } from './interface.js'
import type { Tree } from './tree.js'

/** What a diff found, by entry (a changed directory counts once, as a directory). */
export interface DiffStats {
  added: number
  changed: number
  /** Changes of metadata only (chmod, chown, mtime, xattrs): no content stored again. */
  metadata: number
  whiteouts: number
  opaque: number
  /** Directories that did not need a visit because their CIDs were equal. */
  skipped: number
}

export interface DiffResult { readonly root: CID, readonly stats: DiffStats }

function sameBytes (a?: Readonly<Record<string, Uint8Array>>, b?: Readonly<Record<string, Uint8Array>>): boolean {
  const ka = Object.keys(a ?? {}).sort()
  const kb = Object.keys(b ?? {}).sort()
  if (ka.join('\0') !== kb.join('\0')) return false
  return ka.every((k) => Buffer.from(a![k]).equals(Buffer.from(b![k])))
}

/** True when every piece of metadata except the content CID is equal. */
export function sameMeta (a: Entry, b: Entry): boolean {
  return a.kind === b.kind && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeNs === b.mtimeNs &&
    a.size === b.size && a.target === b.target && a.devMajor === b.devMajor && a.devMinor === b.devMinor &&
    a.hardlink === b.hardlink && (a.opaque === true) === (b.opaque === true) && sameBytes(a.xattrs, b.xattrs)
}

function sameCid (a: Entry, b: Entry): boolean {
  return a.cid === undefined ? b.cid === undefined : b.cid !== undefined && a.cid.equals(b.cid)
}

/**
 * The overlay that turns tree `base` into tree `target`: union(overlay, base) shows exactly
 * `target` (same entries, same metadata, same content CIDs). Added and changed entries are
 * `target`'s own (their content is already in the store: nothing is copied), removed names
 * become whiteouts, a directory that replaces a non-directory is marked opaque, and a
 * directory whose metadata alone changed is an empty directory entry carrying the new
 * metadata. Subtrees with equal CIDs are skipped without reading them. Both trees must be
 * readable from the store behind `sink`'s reader.
 */
export async function diffTrees (base: Tree, target: Tree, sink: BlockSink, options: AbortOptions = {}): Promise<DiffResult> {
  const stats: DiffStats = { added: 0, changed: 0, metadata: 0, whiteouts: 0, opaque: 0, skipped: 0 }
  const baseRoot = await base.rootEntry()
  const targetRoot = await target.rootEntry()

  const diffDir = async (b: Entry, t: Entry): Promise<Entry[]> => {
    options.signal?.throwIfAborted()
    const out: Entry[] = []
    const bi = base.readdir(b)[Symbol.asyncIterator]()
    const ti = target.readdir(t)[Symbol.asyncIterator]()
    let be = (await bi.next()).value as Entry | undefined
    let te = (await ti.next()).value as Entry | undefined
    while (be !== undefined || te !== undefined) {
      const c = be === undefined ? 1 : te === undefined ? -1 : compareNames(be.name, te.name)
      if (c < 0) {
        out.push({ name: be!.name, kind: 'whiteout', mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0 })
        stats.whiteouts++
        be = (await bi.next()).value
      } else if (c > 0) {
        out.push(te!)
        stats.added++
        te = (await ti.next()).value
      } else {
        const entry = await diffEntry(be!, te!)
        if (entry !== undefined) out.push(entry)
        be = (await bi.next()).value
        te = (await ti.next()).value
      }
    }
    return out
  }

  const diffEntry = async (b: Entry, t: Entry): Promise<Entry | undefined> => {
    const meta = sameMeta(b, t)
    if (sameCid(b, t)) {
      if (t.kind === 'dir') stats.skipped++
      if (meta) return undefined
      stats.metadata++
      if (t.kind !== 'dir') return t
      return { ...t, cid: await writeDir([], sink) }
    }
    if (t.kind === 'dir' && b.kind === 'dir') {
      const entries = await diffDir(b, t)
      if (entries.length === 0 && meta) return undefined
      if (!meta) stats.metadata++
      return { ...t, cid: await writeDir(entries, sink) }
    }
    if (t.kind === 'dir') { stats.opaque++; return { ...t, opaque: true } }
    stats.changed++
    return t
  }

  const same = baseRoot.cid !== undefined && targetRoot.cid !== undefined && baseRoot.cid.equals(targetRoot.cid)
  if (same) stats.skipped++
  const entries = same ? [] : await diffDir(baseRoot, targetRoot)
  const rootCid = await writeDir(entries, sink)
  const block = encodeTreeRoot({ ...targetRoot, cid: rootCid })
  await sink.put(block.cid, block.bytes)
  return { root: block.cid, stats }
}
