import type { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { DecodedCache, loadNode } from './block-cache.js'
import { compareNames, decodeDirNode } from './codec.js'
import type { DirNode, Entry } from './interface.js'

/** Reads directory nodes (plain or sharded) of one store, with a bounded node cache. */
export class DirReader {
  readonly #reader: ChunkReader
  readonly #cache: DecodedCache<DirNode>
  constructor (reader: ChunkReader, cacheSize = 4096) {
    this.#reader = reader
    this.#cache = new DecodedCache(cacheSize)
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
      for (const e of node.entries) if (after === undefined || compareNames(e.name, after) > 0) yield e
      return
    }
    const shards = node.shards
    for (let i = 0; i < shards.length; i++) {
      // Skip shards that end before the resume point: the next shard starts at or before it.
      if (after !== undefined && i + 1 < shards.length && compareNames(shards[i + 1].first, after) <= 0) continue
      yield * this.list(shards[i].cid, after)
    }
  }
}
