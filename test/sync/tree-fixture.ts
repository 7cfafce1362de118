import type { CID } from 'multiformats/cid'
import { chunkLengths } from '../../src/cas/chunker/index.js'
import { cidForChunk } from '../../src/cas/hasher.js'
import type { ChunkWriter } from '../../src/cas/interface.js'
import { encodeDirEntries, encodeFileIndex, encodeTreeRoot } from '../../src/overlay/codec.js'
import type { Entry } from '../../src/overlay/interface.js'
import { seededBytes } from '../helpers/bytes.js'

/** Files of a generated tree: path -> bytes. */
export type FileMap = Map<string, Uint8Array>

const base = { mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_000_000_000n }

async function putFile (store: ChunkWriter, name: string, bytes: Uint8Array): Promise<Entry> {
  if (bytes.length === 0) return { ...base, name, kind: 'file', size: 0 }
  const parts = []
  let off = 0
  for (const len of chunkLengths(bytes)) {
    const chunk = bytes.slice(off, off + len)
    const cid = cidForChunk(chunk)
    await store.put(cid, chunk)
    parts.push({ cid, size: len })
    off += len
  }
  if (parts.length === 1) return { ...base, name, kind: 'file', size: bytes.length, cid: parts[0].cid }
  const index = encodeFileIndex(parts)
  await store.put(index.cid, index.bytes)
  return { ...base, name, kind: 'file', size: bytes.length, cid: index.cid }
}

/**
 * Writes a tree of `files` (path "dir/name" or "name", one level of directories) into
 * `store` and resolves its root CID. Deterministic for the same input.
 */
export async function writeTree (store: ChunkWriter, files: FileMap): Promise<CID> {
  const dirs = new Map<string, Array<[string, Uint8Array]>>()
  const top: Entry[] = []
  for (const [path, bytes] of files) {
    const [d, f] = path.includes('/') ? path.split('/') : ['', path]
    if (d === '') top.push(await putFile(store, f, bytes))
    else { if (!dirs.has(d)) dirs.set(d, []); dirs.get(d)?.push([f, bytes]) }
  }
  for (const [d, list] of dirs) {
    const entries: Entry[] = []
    for (const [f, bytes] of list) entries.push(await putFile(store, f, bytes))
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
    const node = encodeDirEntries(entries)
    await store.put(node.cid, node.bytes)
    top.push({ ...base, mode: 0o755, name: d, kind: 'dir', size: 0, cid: node.cid })
  }
  top.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  const dir = encodeDirEntries(top)
  await store.put(dir.cid, dir.bytes)
  const root = encodeTreeRoot({ ...base, mode: 0o755, name: '', kind: 'dir', size: 0, cid: dir.cid })
  await store.put(root.cid, root.bytes)
  return root.cid
}

/** A seeded set of files: `dirs` directories of `perDir` files of up to `maxSize` bytes. */
export function generateFiles (seed: number, dirs: number, perDir: number, maxSize: number): FileMap {
  const files: FileMap = new Map()
  let s = seed
  for (let d = 0; d < dirs; d++) {
    for (let f = 0; f < perDir; f++) {
      s = (s * 1103515245 + 12345) >>> 0
      files.set(`d${d}/f${f}`, seededBytes(s, s % maxSize))
    }
  }
  return files
}
