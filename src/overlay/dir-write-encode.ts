import { DAG_CBOR_CODEC } from '../cas/codes.js'
import { cidForBlock } from '../cas/hasher.js'
import { compareNames, FORMAT_VERSION, MAX_DIR_ENTRIES, MAX_FILE_PARTS, type EncodedBlock } from './format.js'
import type { Entry, FilePart } from './interface.js'

/**
 * Fast paths for the hottest encodings of an import: a directory node `{ e: [ENTRY, ...] }`
 * and a file index node `{ p: [[CID, size], ...] }` written straight as canonical dag-cbor,
 * byte for byte what codec.ts encodeDirEntries and encodeFileIndex produce through
 * @ipld/dag-cbor (about 10x faster; the equality is checked by test/overlay/dir-write.test.ts
 * and test/overlay/file-write.test.ts on generated and random nodes). codec.ts stays the
 * definition of the format: change both or neither.
 */
const KIND: Record<Entry['kind'], number> = {
  file: 0x66, dir: 0x64, symlink: 0x6c, chardev: 0x63, blockdev: 0x62, fifo: 0x70, socket: 0x73, whiteout: 0x77
}
const NS = 1_000_000_000n
const utf8 = new TextEncoder()
const ZERO = new Uint8Array([0])

class Writer {
  buf = new Uint8Array(4096)
  pos = 0

  #room (n: number): void {
    if (this.pos + n <= this.buf.length) return
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    bigger.set(this.buf.subarray(0, this.pos))
    this.buf = bigger
  }

  /** CBOR head: major type and argument, shortest form (RFC 8949 §3, as dag-cbor requires). */
  head (major: number, v: number): void {
    this.#room(9)
    const b = this.buf
    const m = major << 5
    if (v < 24) { b[this.pos++] = m | v } else if (v < 0x100) { b[this.pos++] = m | 24; b[this.pos++] = v } else if (v < 0x10000) {
      b[this.pos++] = m | 25; b[this.pos++] = v >>> 8; b[this.pos++] = v & 0xff
    } else if (v < 0x100000000) {
      b[this.pos++] = m | 26; b[this.pos++] = v >>> 24; b[this.pos++] = (v >>> 16) & 0xff; b[this.pos++] = (v >>> 8) & 0xff; b[this.pos++] = v & 0xff
    } else {
      const hi = Math.floor(v / 0x100000000)
      const lo = v >>> 0
      b[this.pos++] = m | 27
      for (const w of [hi, lo]) { b[this.pos++] = w >>> 24; b[this.pos++] = (w >>> 16) & 0xff; b[this.pos++] = (w >>> 8) & 0xff; b[this.pos++] = w & 0xff }
    }
  }

  int (v: number): void { if (v >= 0) this.head(0, v); else this.head(1, -1 - v) }

  bytes (major: number, data: Uint8Array): void {
    this.head(major, data.length)
    this.raw(data)
  }

  text (s: string): void {
    // ASCII fast path; anything else through TextEncoder.
    let ascii = true
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break }
    if (!ascii) { this.bytes(3, utf8.encode(s)); return }
    this.head(3, s.length)
    this.#room(s.length)
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i)
  }

  raw (data: Uint8Array): void {
    this.#room(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
  }

  /** A dag-cbor link: tag 42 over the bytes 0x00 || CID. */
  link (cid: Uint8Array): void { this.head(6, 42); this.head(2, cid.length + 1); this.raw(ZERO); this.raw(cid) }

  /** A one-character key (every ENTRY key is one ASCII letter). */
  key (c: number): void { this.#room(2); this.buf[this.pos++] = 0x61; this.buf[this.pos++] = c }
}

function entry (w: Writer, e: Entry): void {
  if (e.kind === 'whiteout') { w.head(5, 2); w.key(0x6b); w.key(KIND.whiteout); w.key(0x6e); w.text(e.name); return }
  const hasX = e.xattrs !== undefined && Object.keys(e.xattrs).length > 0
  const hasR = e.devMajor !== undefined || e.devMinor !== undefined
  const n = 7 + (e.cid !== undefined ? 1 : 0) + (e.hardlink !== undefined ? 1 : 0) + (e.target !== undefined ? 1 : 0) +
    (e.opaque === true ? 1 : 0) + (hasR ? 1 : 0) + (hasX ? 1 : 0)
  w.head(5, n)
  // Keys in dag-cbor order (length, then bytes): c g h k l m n o r t u x z.
  if (e.cid !== undefined) { w.key(0x63); w.link(e.cid.bytes) }
  w.key(0x67); w.int(e.gid)
  if (e.hardlink !== undefined) { w.key(0x68); w.text(e.hardlink) }
  w.key(0x6b); w.key(KIND[e.kind])
  if (e.target !== undefined) { w.key(0x6c); w.text(e.target) }
  w.key(0x6d); w.int(e.mode)
  w.key(0x6e); w.text(e.name)
  if (e.opaque === true) { w.key(0x6f); w.head(7, 21) }
  if (hasR) { w.key(0x72); w.head(4, 2); w.int(e.devMajor ?? 0); w.int(e.devMinor ?? 0) }
  const sec = e.mtimeNs >= 0n ? e.mtimeNs / NS : -((-e.mtimeNs + NS - 1n) / NS)
  w.key(0x74); w.head(4, 2); w.int(Number(sec)); w.int(Number(e.mtimeNs - sec * NS))
  w.key(0x75); w.int(e.uid)
  if (hasX) {
    w.key(0x78)
    const keys = Object.keys(e.xattrs!).sort((a, b) => {
      const x = utf8.encode(a)
      const y = utf8.encode(b)
      return x.length !== y.length ? x.length - y.length : Buffer.compare(x, y)
    })
    w.head(5, keys.length)
    for (const k of keys) { w.text(k); w.bytes(2, e.xattrs![k]) }
  }
  w.key(0x7a); w.int(e.size)
}

/** Same bytes and CID as codec.ts encodeDirEntries(entries), with the same checks. */
export function encodeDirEntriesFast (entries: readonly Entry[]): EncodedBlock {
  if (entries.length > MAX_DIR_ENTRIES) throw new RangeError(`a directory node holds at most ${MAX_DIR_ENTRIES} entries`)
  for (let i = 1; i < entries.length; i++) {
    if (compareNames(entries[i - 1].name, entries[i].name) >= 0) throw new RangeError(`names not sorted and unique at "${entries[i].name}"`)
  }
  const w = new Writer()
  w.head(5, 1)
  w.key(0x65)
  w.head(4, entries.length)
  for (const e of entries) entry(w, e)
  const bytes = w.buf.slice(0, w.pos)
  return { cid: cidForBlock(DAG_CBOR_CODEC, bytes), bytes }
}

/**
 * Same bytes and CID as codec.ts encodeTreeRoot(root), `{ root: ENTRY, xeno: 1 }`: a directory
 * import's only node through @ipld/dag-cbor, which it then need not load.
 */
export function encodeTreeRootFast (root: Entry): EncodedBlock {
  if (root.kind !== 'dir' || root.name !== '') throw new TypeError('tree root must be a directory entry named ""')
  const w = new Writer()
  w.head(5, 2)
  w.text('root') // dag-cbor key order: length, then bytes ('root' < 'xeno')
  entry(w, root)
  w.text('xeno')
  w.int(FORMAT_VERSION)
  const bytes = w.buf.slice(0, w.pos)
  return { cid: cidForBlock(DAG_CBOR_CODEC, bytes), bytes }
}

/** Same bytes and CID as codec.ts encodeFileIndex(parts), with the same check. */
export function encodeFileIndexFast (parts: readonly FilePart[]): EncodedBlock {
  if (parts.length > MAX_FILE_PARTS) throw new RangeError(`a file index holds at most ${MAX_FILE_PARTS} parts`)
  const w = new Writer()
  w.head(5, 1)
  w.key(0x70)
  w.head(4, parts.length)
  for (const p of parts) { w.head(4, 2); w.link(p.cid.bytes); w.int(p.size) }
  const bytes = w.buf.slice(0, w.pos)
  return { cid: cidForBlock(DAG_CBOR_CODEC, bytes), bytes }
}
