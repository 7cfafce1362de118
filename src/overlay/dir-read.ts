import type { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { DecodedCache, loadNode } from './block-cache.js'
import { compareNames, decodeDirNode } from './codec.js'
import type { DirNode, Entry } from './interface.js'

/** Reads directory nodes (plain or sharded) of one store, with a bounded node cache. */
export class DirReader {
  readonly #reader: ChunkReader
  readonly #cache: DecodedCache<DirNode>
  constructor (reader: ChunkReader, cacheSize = 4096, cacheBytes?: number) {
    this.#reader = reader
    this.#cache = new DecodedCache(cacheSize, cacheBytes)
  }

  /** The decoded node of `cid`. Rejects CAS_CHUNK_MISSING or OVERLAY_BAD_NODE. */
  async node (cid: CID): Promise<DirNode> {
    return await loadNode(this.#reader, this.#cache, cid, decodeDirNode)
  }

  /** The entry named `name`, or undefined. Binary search in entries and shards. */
  async lookup (dirCid: CID, name: string): Promise<Entry | undefined> {
    let node = await this.node(dirCid)
    while (node.type === 'shards') {
      const shards = node.shards
      let lo = 0
      let hi = shards.length - 1
      if (compareNames(name, shards[0].first) < 0) return undefined
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if (compareNames(shards[mid].first, name) <= 0) lo = mid
        else hi = mid - 1
      }
      node = await this.node(shards[lo].cid)
    }
    const entries = node.entries
    let lo = 0
    let hi = entries.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const c = compareNames(entries[mid].name, name)
      if (c === 0) return entries[mid]
      if (c < 0) lo = mid + 1
      else hi = mid - 1
    }
    return undefined
  }

  /**
   * Entries in name order, optionally only those strictly after `after` (a resume point for
   * paged listings such as NFS READDIR cookies).
   */
  async * list (dirCid: CID, after?: string): AsyncIterable<Entry> {
    const node = await this.node(dirCid)
    if (node.type === 'entries') {
      const entries = node.entries
      for (let i = firstAfter(entries, after); i < entries.length; i++) yield entries[i]
      return
    }
    const shards = node.shards
    for (let i = firstShard(shards, after); i < shards.length; i++) yield * this.list(shards[i].cid, after)
  }

  /**
   * `list` into an array, without an async step per entry: appends the entries after `after`
   * to `out` until it holds `limit`, leaving whiteouts out (for a directory read alone, with no
   * layer below, where they hide nothing).
   */
  async page (dirCid: CID, after: string | undefined, limit: number, out: Entry[]): Promise<void> {
    const node = await this.node(dirCid)
    if (node.type === 'entries') {
      const entries = node.entries
      for (let i = firstAfter(entries, after); i < entries.length && out.length < limit; i++) {
        if (entries[i].kind !== 'whiteout') out.push(entries[i])
      }
      return
    }
    const shards = node.shards
    for (let i = firstShard(shards, after); i < shards.length && out.length < limit; i++) await this.page(shards[i].cid, after, limit, out)
  }
}

/** Index of the first entry named strictly after `after` (0 without one): binary search. */
function firstAfter (entries: readonly Entry[], after: string | undefined): number {
  let lo = 0
  if (after === undefined) return lo
  let hi = entries.length
  while (lo < hi) { const mid = (lo + hi) >> 1; if (compareNames(entries[mid].name, after) <= 0) lo = mid + 1; else hi = mid }
  return lo
}

/**
 * Index of the first shard that may hold names after `after`: the shards before it end before
 * the resume point (the next shard starts at or before it).
 */
function firstShard (shards: ReadonlyArray<{ readonly first: string }>, after: string | undefined): number {
  let i = 0
  if (after !== undefined) while (i + 1 < shards.length && compareNames(shards[i + 1].first, after) <= 0) i++
  return i
}
