import { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { decodeJson, type KvReader } from './kv.js'
import type { UpperNode } from './upper-node.js'
import { spanPrefix } from './upper-spans.js'
import { ROOT_UPPER_INO, type Dirent } from './writable.js'

/**
 * Checks every invariant of a writable layer's records (writable.ts) and returns the
 * problems found (empty when consistent): entries naming missing nodes, nodes no entry
 * names, parents that are not directories, link counts, file spans with gaps or a wrong
 * total, chunks neither in the layer nor in `store`, and reference counts of the layer's
 * own chunks. Reads everything; for tests and `fsck`.
 */
export async function checkWritableLayer (kv: KvReader, store: ChunkReader): Promise<string[]> {
  const problems: string[] = []
  const nodes = new Map<number, UpperNode>()
  for await (const [key, raw] of kv.range('n:', 'n;')) nodes.set(Number(key.slice(2)), decodeJson<UpperNode>(raw))
  const links = new Map<number, number>()
  const dirOf = new Map<string, number>([['/', ROOT_UPPER_INO]])
  const entries: Array<{ parent: string, name: string, d: Dirent }> = []
  for await (const [key, raw] of kv.range('d:', 'd;')) {
    const [parent, name] = key.slice(2).split('\0')
    const d = decodeJson<Dirent>(raw)
    entries.push({ parent, name, d })
    if (d.i !== undefined) {
      links.set(d.i, (links.get(d.i) ?? 0) + 1)
      if (nodes.get(d.i)?.k === 'dir') dirOf.set(parent === '/' ? `/${name}` : `${parent}/${name}`, d.i)
    }
  }
  for (const { parent, name, d } of entries) {
    if (d.i !== undefined && !nodes.has(d.i)) problems.push(`${parent}/${name}: names missing node ${d.i}`)
    const p = dirOf.get(parent)
    if (p === undefined || nodes.get(p)?.k !== 'dir') problems.push(`${parent}/${name}: parent is not a directory of the layer`)
  }
  const refs = new Map<string, number>()
  for (const [ino, node] of nodes) {
    const n = links.get(ino) ?? 0
    if (ino !== ROOT_UPPER_INO && n === 0) problems.push(`node ${ino}: no entry names it`)
    if (node.k !== 'dir' && ino !== ROOT_UPPER_INO && n !== node.nl) problems.push(`node ${ino}: nlink ${node.nl}, named ${n} times`)
    if (node.k === 'file' && node.sp === true) {
      let at = 0
      const [gte, lt] = spanPrefix(ino)
      for await (const [key, raw] of kv.range(gte, lt)) {
        const end = parseInt(key.slice(key.lastIndexOf(':') + 1), 16)
        const { c, z } = decodeJson<{ c: string, z: number }>(raw)
        if (end - z !== at) problems.push(`node ${ino}: span ending at ${end} starts at ${end - z}, expected ${at}`)
        at = end
        refs.set(c, (refs.get(c) ?? 0) + 1)
        if ((await kv.get(`k:${c}`)) === undefined && !(await store.has(CID.parse(c)))) problems.push(`node ${ino}: chunk ${c} is missing`)
      }
      if (at !== node.z) problems.push(`node ${ino}: spans hold ${at} bytes, size is ${node.z}`)
    }
    if (node.k === 'file' && node.sp !== true && node.b !== undefined && !(await store.has(CID.parse(node.b)))) problems.push(`node ${ino}: base content ${node.b} is missing`)
  }
  for await (const [key, raw] of kv.range('r:', 'r;')) {
    const cid = key.slice(2)
    const count = decodeJson<number>(raw)
    // A chunk the shared store also holds may be under-counted (spans taken from a lower
    // file are not counted); it stays readable from the store, so only exact counts of
    // chunks the layer alone holds matter.
    if ((refs.get(cid) ?? 0) !== count && !(await store.has(CID.parse(cid)))) problems.push(`chunk ${cid}: reference count ${count}, used ${refs.get(cid) ?? 0} times`)
    if ((await kv.get(`k:${cid}`)) === undefined) problems.push(`chunk ${cid}: counted but not stored`)
  }
  for await (const [key] of kv.range('k:', 'k;')) if ((await kv.get(`r:${key.slice(2)}`)) === undefined) problems.push(`chunk ${key.slice(2)}: stored but not counted`)
  return problems
}
