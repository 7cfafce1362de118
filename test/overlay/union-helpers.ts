import type { CID } from 'multiformats/cid'
import { cdcChunker } from '../../src/cas/chunker/index.js'
import type { ChunkStore } from '../../src/cas/interface.js'
import { encodeTreeRoot } from '../../src/overlay/codec.js'
import { sortEntries, writeDir } from '../../src/overlay/dir-write.js'
import { writeFileChunks } from '../../src/overlay/file-write.js'
import type { Entry } from '../../src/overlay/interface.js'
import type { ReadView } from '../../src/overlay/view.js'

/**
 * A tree written from a literal: path → string (file content), or an object:
 * { dir: true, opaque?: true } | { whiteout: true } | { symlink: target } | { fifo: true },
 * with optional mode. Parent directories are implied (mode 0o755).
 */
export type Spec = Record<string, string | { dir?: true, opaque?: true, whiteout?: true, symlink?: string, fifo?: true, mode?: number, content?: string }>

const T = 1_700_000_000_000_000_000n

interface Node { entry?: Omit<Entry, 'name'>, children: Map<string, Node> }

async function* one (b: Uint8Array): AsyncIterable<Uint8Array> { yield b }

export async function buildTree (store: ChunkStore, spec: Spec): Promise<CID> {
  const root: Node = { children: new Map() }
  for (const [path, v] of Object.entries(spec)) {
    const names = path.split('/').filter((n) => n !== '')
    let node = root
    for (const n of names) {
      let next = node.children.get(n)
      if (next === undefined) { next = { children: new Map() }; node.children.set(n, next) }
      node = next
    }
    const base = { uid: 0, gid: 0, mtimeNs: T, size: 0 }
    if (typeof v === 'string' || v.content !== undefined) {
      const text = typeof v === 'string' ? v : v.content as string
      const bytes = new TextEncoder().encode(text)
      const c = await writeFileChunks(cdcChunker()(one(bytes)), store)
      node.entry = { ...base, kind: 'file', mode: typeof v === 'string' ? 0o644 : v.mode ?? 0o644, size: c.size, ...(c.cid !== undefined ? { cid: c.cid } : {}) }
    } else if (v.whiteout === true) node.entry = { ...base, kind: 'whiteout', mode: 0 }
    else if (v.symlink !== undefined) node.entry = { ...base, kind: 'symlink', mode: 0o777, target: v.symlink, size: Buffer.byteLength(v.symlink) }
    else if (v.fifo === true) node.entry = { ...base, kind: 'fifo', mode: v.mode ?? 0o644 }
    else node.entry = { ...base, kind: 'dir', mode: v.mode ?? 0o755, ...(v.opaque === true ? { opaque: true } : {}) }
  }
  const write = async (node: Node, name: string): Promise<Entry> => {
    const e = node.entry ?? { uid: 0, gid: 0, mtimeNs: T, size: 0, kind: 'dir' as const, mode: 0o755 }
    if (e.kind !== 'dir') return { ...e, name }
    const children = sortEntries(await Promise.all([...node.children].map(async ([n, c]) => await write(c, n))))
    return { ...e, name, cid: await writeDir(children, store) }
  }
  const rootEntry = await write(root, '')
  const block = encodeTreeRoot(rootEntry)
  await store.put(block.cid, block.bytes)
  return block.cid
}

/** A view's whole content as a sorted path → description map (for equality checks). */
export async function dump (view: ReadView, path = '/', out: Record<string, string> = {}): Promise<Record<string, string>> {
  for await (const { name, attrs } of view.readdir(path)) {
    const p = path === '/' ? `/${name}` : `${path}/${name}`
    const mode = attrs.mode.toString(8)
    if (attrs.kind === 'dir') { out[p] = `dir ${mode}`; await dump(view, p, out) }
    else if (attrs.kind === 'file') out[p] = `file ${mode} ${Buffer.from(await view.read(p, 0, attrs.size)).toString()}`
    else if (attrs.kind === 'symlink') out[p] = `symlink ${attrs.target ?? ''}`
    else out[p] = `${attrs.kind} ${mode}`
  }
  return out
}
