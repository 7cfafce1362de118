import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { DAG_CBOR_CODEC, RAW_CODEC } from '../cas/codes.js'
import { cidForBlock } from '../cas/hasher.js'
import { BadNodeError } from './errors.js'
import { compareNames, FORMAT_VERSION, MAX_DIR_ENTRIES, MAX_FILE_PARTS, type EncodedBlock } from './format.js'
import type { DirNode, DirShard, Entry, EntryKind, FilePart, TreeRoot } from './interface.js'

/**
 * The only file that knows how tree nodes become bytes. Every node is dag-cbor (canonical:
 * sorted map keys, shortest integers), so the same tree has the same root CID everywhere,
 * and a CAR of a tree can be walked by standard IPLD tooling. Format v1, pinned by the
 * golden tests in test/overlay/codec.test.ts:
 *
 *   tree root   { xeno: 1, root: ENTRY }                 (ENTRY of the root directory, name '')
 *   dir node    { e: [ENTRY, ...] }                      (sorted by name bytes, unique)
 *             | { s: [[firstName, CID(dir node)], ...] } (large directories, see MAX_DIR_ENTRIES)
 *   file index  { p: [[CID(raw chunk | file index), size], ...] }
 *   ENTRY       { n: name, k: kind, m: mode, u: uid, g: gid, t: [sec, nsec], z: size,
 *                 c?: CID, l?: symlink target, r?: [major, minor], x?: { name: bytes },
 *                 o?: true (opaque dir), h?: hard-link leader path }
 *   whiteout    { n: name, k: 'w' }
 * kinds: f file, d dir, l symlink, c char device, b block device, p fifo, s socket, w whiteout.
 */
export { compareNames, FORMAT_VERSION, MAX_DIR_ENTRIES, MAX_FILE_PARTS, type EncodedBlock } from './format.js'

const KIND_TO_CODE: Record<EntryKind, string> = {
  file: 'f', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's', whiteout: 'w'
}
const CODE_TO_KIND: Record<string, EntryKind> = Object.fromEntries(
  Object.entries(KIND_TO_CODE).map(([k, v]) => [v, k as EntryKind]))

const textEncoder = new TextEncoder()

function block (value: unknown): EncodedBlock {
  const bytes = dagCbor.encode(value)
  return { cid: cidForBlock(DAG_CBOR_CODEC, bytes), bytes }
}

const NS_PER_SEC = 1_000_000_000n

function encodeEntry (e: Entry): Record<string, unknown> {
  if (e.kind === 'whiteout') return { n: e.name, k: 'w' }
  const sec = e.mtimeNs >= 0n ? e.mtimeNs / NS_PER_SEC : -((-e.mtimeNs + NS_PER_SEC - 1n) / NS_PER_SEC)
  const nsec = e.mtimeNs - sec * NS_PER_SEC
  const out: Record<string, unknown> = {
    n: e.name, k: KIND_TO_CODE[e.kind], m: e.mode, u: e.uid, g: e.gid, t: [Number(sec), Number(nsec)], z: e.size
  }
  if (e.cid !== undefined) out.c = e.cid
  if (e.target !== undefined) out.l = e.target
  if (e.devMajor !== undefined || e.devMinor !== undefined) out.r = [e.devMajor ?? 0, e.devMinor ?? 0]
  if (e.xattrs !== undefined && Object.keys(e.xattrs).length > 0) out.x = e.xattrs
  if (e.opaque === true) out.o = true
  if (e.hardlink !== undefined) out.h = e.hardlink
  return out
}

function fail (message: string): never { throw new BadNodeError(message) }

function isUint (v: unknown): v is number { return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 }
function isInt (v: unknown): v is number { return typeof v === 'number' && Number.isSafeInteger(v) }

/** Validates a decoded name: non-empty, no '/', no NUL, not '.' or '..'. */
export function isValidName (name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name !== '.' && name !== '..' &&
    !name.includes('/') && !name.includes('\0') &&
    // At most 3 UTF-8 bytes per UTF-16 unit: short names need no encoding to check.
    (name.length <= 85 || textEncoder.encode(name).length <= 255)
}

function decodeEntry (raw: unknown, allowEmptyName = false): Entry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('entry is not a map')
  const r = raw as Record<string, unknown>
  const name = r.n
  if (!(allowEmptyName && name === '') && !isValidName(name)) fail(`bad entry name ${JSON.stringify(name)}`)
  const kind = typeof r.k === 'string' ? CODE_TO_KIND[r.k] : undefined
  if (kind === undefined) fail(`entry "${String(name)}" has unknown kind ${JSON.stringify(r.k)}`)
  if (kind === 'whiteout') return { name: name as string, kind, mode: 0, uid: 0, gid: 0, mtimeNs: 0n, size: 0 }
  const t = r.t
  if (!isUint(r.m) || r.m > 0o7777 || !isUint(r.u) || !isUint(r.g) || !isUint(r.z) ||
    !Array.isArray(t) || t.length !== 2 || !isInt(t[0]) || !isUint(t[1]) || t[1] >= 1e9) {
    fail(`entry "${String(name)}" has bad metadata`)
  }
  const entry: { -readonly [K in keyof Entry]: Entry[K] } = {
    name: name as string, kind, mode: r.m, uid: r.u, gid: r.g, size: r.z,
    mtimeNs: BigInt(t[0]) * NS_PER_SEC + BigInt(t[1])
  }
  if (r.c !== undefined) {
    const cid = CID.asCID(r.c)
    if (cid === null) fail(`entry "${entry.name}" has a bad CID`)
    entry.cid = cid
  }
  checkChild(entry)
  if (r.l !== undefined) { if (typeof r.l !== 'string' || kind !== 'symlink') fail('bad symlink target'); entry.target = r.l }
  if (kind === 'symlink' && entry.target === undefined) fail(`symlink "${entry.name}" has no target`)
  if (r.r !== undefined) {
    const rdev = r.r
    if (!Array.isArray(rdev) || rdev.length !== 2 || !isUint(rdev[0]) || !isUint(rdev[1])) fail('bad device numbers')
    entry.devMajor = rdev[0]; entry.devMinor = rdev[1]
  }
  if (r.x !== undefined) {
    if (typeof r.x !== 'object' || r.x === null || Array.isArray(r.x)) fail('bad xattrs')
    for (const v of Object.values(r.x)) if (!(v instanceof Uint8Array)) fail('xattr value is not bytes')
    entry.xattrs = r.x as Record<string, Uint8Array>
  }
  if (r.o !== undefined) { if (r.o !== true || kind !== 'dir') fail('bad opaque flag'); entry.opaque = true }
  if (r.h !== undefined) { if (typeof r.h !== 'string' || kind !== 'file') fail('bad hardlink'); entry.hardlink = r.h }
  return entry
}

function checkChild (e: Entry): void {
  if (e.kind === 'dir' && (e.cid === undefined || e.cid.code !== DAG_CBOR_CODEC)) fail(`directory "${e.name}" has no directory node`)
  if (e.kind === 'file') {
    if (e.size > 0 && e.cid === undefined) fail(`file "${e.name}" has a size but no content`)
    if (e.cid !== undefined && e.cid.code !== RAW_CODEC && e.cid.code !== DAG_CBOR_CODEC) fail(`file "${e.name}" has a bad content CID`)
  }
  if (e.kind !== 'dir' && e.kind !== 'file' && e.cid !== undefined) fail(`entry "${e.name}" of kind ${e.kind} has a CID`)
}

function asMap (value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not a map`)
  return value as Record<string, unknown>
}

function decodeCbor (bytes: Uint8Array): unknown {
  try { return dagCbor.decode(bytes) } catch (err) { throw new BadNodeError('not valid dag-cbor', { cause: err }) }
}

/** Encodes a tree root. */
export function encodeTreeRoot (root: Entry): EncodedBlock {
  if (root.kind !== 'dir' || root.name !== '') throw new TypeError('tree root must be a directory entry named ""')
  return block({ xeno: FORMAT_VERSION, root: encodeEntry(root) })
}

/** Decodes a tree root. Throws BadNodeError on anything else. */
export function decodeTreeRoot (bytes: Uint8Array): TreeRoot {
  const m = asMap(decodeCbor(bytes), 'tree root')
  if (m.xeno !== FORMAT_VERSION) fail(`not a xeno tree root (format ${JSON.stringify(m.xeno)})`)
  const root = decodeEntry(m.root, true)
  if (root.kind !== 'dir' || root.name !== '') fail('tree root entry is not a directory')
  return { version: 1, root }
}

/** Encodes a directory node of entries. Entries must be sorted and unique (checked). */
export function encodeDirEntries (entries: readonly Entry[]): EncodedBlock {
  checkSorted(entries.map((e) => e.name))
  if (entries.length > MAX_DIR_ENTRIES) throw new RangeError(`a directory node holds at most ${MAX_DIR_ENTRIES} entries`)
  return block({ e: entries.map(encodeEntry) })
}

/** Encodes a shard list of a large directory. */
export function encodeDirShards (shards: readonly DirShard[]): EncodedBlock {
  checkSorted(shards.map((s) => s.first))
  return block({ s: shards.map((s) => [s.first, s.cid]) })
}

function checkSorted (names: readonly string[]): void {
  for (let i = 1; i < names.length; i++) {
    if (compareNames(names[i - 1], names[i]) >= 0) throw new RangeError(`names not sorted and unique at "${names[i]}"`)
  }
}

/** Decodes a directory node, validating every entry and the order. */
export function decodeDirNode (bytes: Uint8Array): DirNode {
  const m = asMap(decodeCbor(bytes), 'directory node')
  if (Array.isArray(m.e)) {
    const entries = m.e.map((e) => decodeEntry(e))
    for (let i = 1; i < entries.length; i++) {
      if (compareNames(entries[i - 1].name, entries[i].name) >= 0) fail(`directory entries out of order at "${entries[i].name}"`)
    }
    if (entries.length > MAX_DIR_ENTRIES) fail('directory node too large')
    return { type: 'entries', entries }
  }
  if (Array.isArray(m.s)) {
    const shards = m.s.map((s): DirShard => {
      if (!Array.isArray(s) || s.length !== 2 || !isValidName(s[0])) fail('bad directory shard')
      const cid = CID.asCID(s[1])
      if (cid === null || cid.code !== DAG_CBOR_CODEC) fail('bad directory shard CID')
      return { first: s[0], cid }
    })
    if (shards.length === 0) fail('empty shard list')
    for (let i = 1; i < shards.length; i++) if (compareNames(shards[i - 1].first, shards[i].first) >= 0) fail('directory shards out of order')
    return { type: 'shards', shards }
  }
  fail('directory node has neither entries nor shards')
}

/** Encodes a file index node. */
export function encodeFileIndex (parts: readonly FilePart[]): EncodedBlock {
  if (parts.length > MAX_FILE_PARTS) throw new RangeError(`a file index holds at most ${MAX_FILE_PARTS} parts`)
  return block({ p: parts.map((p) => [p.cid, p.size]) })
}

/** Decodes a file index node. */
export function decodeFileIndex (bytes: Uint8Array): FilePart[] {
  const m = asMap(decodeCbor(bytes), 'file index')
  if (!Array.isArray(m.p) || m.p.length === 0 || m.p.length > MAX_FILE_PARTS) fail('file index has no valid part list')
  return m.p.map((p): FilePart => {
    if (!Array.isArray(p) || p.length !== 2 || !isUint(p[1]) || p[1] === 0) fail('bad file part')
    const cid = CID.asCID(p[0])
    if (cid === null || (cid.code !== RAW_CODEC && cid.code !== DAG_CBOR_CODEC)) fail('bad file part CID')
    return { cid, size: p[1] }
  })
}

/** All CIDs a node links to (for walking a tree without understanding it, e.g. sync and GC). */
export function linksOf (cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === RAW_CODEC) return []
  const links: CID[] = []
  const walk = (v: unknown): void => {
    const c = CID.asCID(v)
    if (c !== null) { links.push(c); return }
    if (Array.isArray(v)) { for (const x of v) walk(x); return }
    if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) for (const x of Object.values(v)) walk(x)
  }
  walk(decodeCbor(bytes))
  return links
}
