import { cdcChunker } from '../cas/chunker/cdc.js'
import { cidForChunk } from '../cas/hasher.js'
import { prepareChunk, type PreparedChunk } from '../cas/prepare.js'
import { encodeTreeRoot } from './codec.js'
import { sortNames, writeDir } from './dir-write.js'
import { ImportError } from './errors.js'
import { FileIndexBuilder, type FileContent } from './file-write.js'
import type { ImportOptions, ImportResult } from './import-dir.js'
import type { EntryDraft } from './import-meta.js'
import { normaliseTarPath, readTar, type TarMember } from './import-tar-reader.js'
import { batching } from './ingest/batch-sink.js'
import { IngestPool, type IngestSink } from './ingest/pool.js'
import type { Entry, EntryKind } from './interface.js'

interface TNode { draft: EntryDraft, children?: Map<string, TNode>, link?: string, group?: LinkGroup }

/** Members up to this size go whole to the worker pool; larger ones are chunked here, streaming. */
const WHOLE_MEMBER_BYTES = 16 * 1024 * 1024
/** Content handed to workers and not yet stored stays under this (bounds memory). */
const MAX_PENDING_BYTES = 64 * 1024 * 1024
interface LinkGroup { members: number, leader?: string }

const KIND_OF_TYPE: Record<string, EntryKind> = { 0: 'file', 1: 'file', 2: 'symlink', 3: 'chardev', 4: 'blockdev', 5: 'dir', 6: 'fifo', D: 'dir' }

/** Directories a tar stream implies but does not list: root-owned, 0755, mtime 0. */
function defaultDir (name: string): TNode {
  return { draft: { name, kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }, children: new Map() }
}

/**
 * Imports a tar stream (see readTar for the formats) into `sink` as a tree and returns its
 * root. Members may come in any order; a later member of the same path replaces an earlier
 * one; missing parent directories get defaults (defaultDir). The root is the tree of the
 * archive's `.` entry when present. A tar of a directory (with `--xattrs`, POSIX format for
 * nanosecond times) gives the same root CID as importing that directory. Rejects ImportError
 * for malformed archives, hard links to absent files, and paths with `..`.
 */
export async function importTar (source: AsyncIterable<Uint8Array>, sink: IngestSink, options: ImportOptions = {}): Promise<ImportResult> {
  const nodes = batching(sink)
  const pool = new IngestPool(sink, { workers: options.workers, level: options.level, onBytes: options.onBytes, probe: options.probe, nodeSink: nodes.sink })
  try {
    const result = await readMembers(source, pool, nodes.sink, sink, options)
    await nodes.flush()
    return result
  } finally {
    await pool.close()
  }
}

async function readMembers (source: AsyncIterable<Uint8Array>, pool: IngestPool, sink: IngestSink, chunkSink: IngestSink,
  options: ImportOptions): Promise<ImportResult> {
  const root = defaultDir('')
  const contents: Array<Promise<unknown>> = []
  const counts = { files: 0, dirs: 0, symlinks: 0, specials: 0, hardlinks: 0, bytes: 0, chunks: 0 }
  const links: TNode[] = []
  for await (const m of readTar(source)) {
    options.signal?.throwIfAborted()
    const kind = KIND_OF_TYPE[m.type]
    if (kind === undefined) {
      if (m.type === 'V') continue
      throw new ImportError(`unsupported tar member type "${m.type}": ${m.path}`)
    }
    // A member listed twice comes back as a hard link to itself: the first copy stands.
    if (m.type === '1' && normaliseTarPath(m.linkname) === m.path) continue
    const draft = draftOf(m, kind)
    if (m.path === '') {
      if (kind !== 'dir') throw new ImportError('tar member "." is not a directory')
      root.draft = draft
      continue
    }
    const names = m.path.split('/')
    const parent = ensureDir(root, names.slice(0, -1))
    const existing = parent.children!.get(draft.name)
    const node: TNode = { draft }
    if (kind === 'dir') node.children = existing?.children ?? new Map()
    else if (m.type === '1') { node.link = normaliseTarPath(m.linkname); links.push(node) } else if (kind === 'file') {
      const content = m.size <= WHOLE_MEMBER_BYTES
        ? pool.submitData(await collect(m.body, m.size))
        : Promise.resolve(await storeContent(m.body, chunkSink, counts, options.onBytes)) // the body must be read before the next member
      const done = content.then((c) => { draft.size = c.size; if (c.cid !== undefined) draft.cid = c.cid })
      done.catch(() => {})
      contents.push(done)
      await pool.waitBelow(4096, MAX_PENDING_BYTES)
    } else if (kind === 'symlink') { draft.target = m.linkname; draft.size = Buffer.byteLength(m.linkname) }
    parent.children!.set(draft.name, node)
  }
  await Promise.all(contents)
  await pool.checkSeen()
  counts.bytes += pool.counters.bytes
  counts.chunks += pool.counters.chunks
  for (const node of links) resolveLink(root, node)
  const rootEntry = await finish(root, '', sink, counts)
  const block = encodeTreeRoot(rootEntry)
  await sink.put(block.cid, block.bytes)
  return { root: block.cid, ...counts, frames: pool.counters.frames, duplicateChunks: pool.counters.duplicateChunks }
}

/** A member's whole body in one fresh buffer (owned, so it can be transferred). */
async function collect (body: AsyncIterable<Uint8Array>, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size)
  let at = 0
  for await (const piece of body) { out.set(piece, at); at += piece.length }
  if (at !== size) throw new ImportError('tar member shorter than its header says')
  return out
}

function draftOf (m: TarMember, kind: EntryKind): EntryDraft {
  const name = m.path === '' ? '' : m.path.slice(m.path.lastIndexOf('/') + 1)
  const d: EntryDraft = { name, kind, mode: m.mode, uid: m.uid, gid: m.gid, mtimeNs: m.mtimeNs, size: 0 }
  if (kind === 'chardev' || kind === 'blockdev') { d.devMajor = m.devMajor; d.devMinor = m.devMinor }
  if (Object.keys(m.xattrs).length > 0) d.xattrs = m.xattrs
  return d
}

function ensureDir (root: TNode, names: string[]): TNode {
  let dir = root
  for (const name of names) {
    let next = dir.children!.get(name)
    if (next === undefined || next.children === undefined) {
      next = defaultDir(name)
      dir.children!.set(name, next)
    }
    dir = next
  }
  return dir
}

function lookup (root: TNode, path: string): TNode | undefined {
  let node: TNode | undefined = root
  for (const name of path.split('/')) node = node?.children?.get(name)
  return node
}

/** Gives a hard-link member its target's content and metadata, and joins their group. */
function resolveLink (root: TNode, node: TNode): void {
  let target = lookup(root, node.link!)
  for (let hops = 0; target?.link !== undefined && hops < 64; hops++) target = lookup(root, target.link)
  if (target === undefined || target.draft.kind !== 'file' || target.link !== undefined) {
    throw new ImportError(`hard link to a missing file: ${node.link}`)
  }
  target.group ??= { members: 1 }
  target.group.members++
  node.group = target.group
  node.draft = { ...target.draft, name: node.draft.name }
}

async function storeContent (body: AsyncIterable<Uint8Array>, sink: IngestSink,
  counts: { bytes: number, chunks: number }, onBytes?: (n: number) => void): Promise<FileContent> {
  const builder = new FileIndexBuilder(sink)
  let batch: PreparedChunk[] = []
  for await (const chunk of cdcChunker()(body)) {
    let cid
    if (sink.putPreparedMany !== undefined) {
      const p = prepareChunk(chunk)
      cid = p.cid
      batch.push(p)
      if (batch.length >= 64) { await sink.putPreparedMany(batch); batch = [] }
    } else if (sink.putPrepared !== undefined) {
      const p = prepareChunk(chunk)
      cid = p.cid
      await sink.putPrepared(p)
    } else {
      cid = cidForChunk(chunk)
      await sink.put(cid, chunk)
    }
    await builder.add(cid, chunk.length)
    counts.chunks++
    counts.bytes += chunk.length
    onBytes?.(chunk.length)
  }
  if (batch.length > 0) await sink.putPreparedMany!(batch)
  return await builder.finish()
}

/** Depth-first in name order: hard-link leaders, then directory nodes bottom-up. */
async function finish (node: TNode, rel: string, sink: IngestSink, counts: Record<string, number>): Promise<Entry> {
  const draft = node.draft
  if (node.children === undefined) {
    if (node.group !== undefined && node.group.members > 1) {
      if (node.group.leader === undefined) node.group.leader = rel
      else counts.hardlinks++
      draft.hardlink = node.group.leader
    }
    if (draft.kind === 'file') counts.files++
    else if (draft.kind === 'symlink') counts.symlinks++
    else counts.specials++
    return draft
  }
  counts.dirs++
  const entries: Entry[] = []
  for (const name of sortNames([...node.children.keys()])) {
    entries.push(await finish(node.children.get(name)!, rel === '' ? name : `${rel}/${name}`, sink, counts))
  }
  draft.cid = await writeDir(entries, sink)
  return draft
}
