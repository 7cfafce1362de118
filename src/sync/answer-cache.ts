import { blake3Digest } from '../cas/hasher.js'
import type { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { ByteLru } from '../util/byte-lru.js'

/**
 * Want answers a XenoStore has streamed, kept whole (compressed, as sent), least recently
 * used dropped beyond `maxBytes`. A fleet of like servers taking the same update sends the
 * same want requests (the nodes of a new root against the same base, then the same missing
 * chunks): the first is computed (reading blocks, deltas, compression), the rest are answered
 * with these bytes. Only complete answers are kept (every wanted block readable and sent), so
 * a block the store gains later is never missing from a kept answer.
 */
export class AnswerCache {
  readonly #maxEntry: number
  readonly #entries: ByteLru<{ chunks: Uint8Array[], bytes: number }>
  hits = 0

  /** `maxBytes` 0 keeps nothing. An answer over `maxEntryBytes` (default half the bound: a whole template's answer fits) is not kept. */
  constructor (maxBytes = 256 * 1024 * 1024, maxEntryBytes = maxBytes / 2) {
    this.#entries = new ByteLru(maxBytes, (e) => e.bytes)
    this.#maxEntry = maxEntryBytes
  }

  /** The key of a request: who asks (tenant), how (level), what (the request body's bytes). */
  static keyOf (tenant: string, level: number, body: Uint8Array): string {
    const head = Buffer.from(`${tenant}\n${level}\n`, 'utf8')
    return Buffer.from(blake3Digest(Buffer.concat([head, body]))).toString('hex')
  }

  /** The kept answer of `key`, or undefined. */
  get (key: string): readonly Uint8Array[] | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    this.hits++
    return e.chunks
  }

  /**
   * Passes `source` (an answer being sent) through, keeping a copy of its chunks under `key`
   * once it ends, when `complete()` then says every wanted block was sent and it fits.
   */
  async * keep (key: string, source: AsyncIterable<Uint8Array>, complete: () => boolean): AsyncIterable<Uint8Array> {
    let chunks: Uint8Array[] | undefined = this.#maxEntry > 0 ? [] : undefined
    let bytes = 0
    for await (const chunk of source) {
      if (chunks !== undefined) {
        bytes += chunk.length
        if (bytes > this.#maxEntry) chunks = undefined; else chunks.push(chunk)
      }
      yield chunk
    }
    if (chunks !== undefined && complete()) this.#entries.set(key, { chunks, bytes })
  }

  /** Bytes held. */
  get bytes (): number { return this.#entries.bytes }
}

/**
 * Notes whether an answer built through its readers and checks got every block it asked
 * for: a block absent, unreadable, corrupt or not visible makes it incomplete.
 */
export class Completeness {
  complete = true

  /** `reader` (plain has/get) watched: an absent or failing get marks the answer incomplete. */
  reader (reader: ChunkReader): ChunkReader {
    return {
      has: async (cid, options) => await reader.has(cid, options),
      get: async (cid, options) => {
        try {
          const bytes = await reader.get(cid, options)
          if (bytes === undefined) this.complete = false
          return bytes
        } catch (err) { this.complete = false; throw err }
      }
    }
  }

  /** A visibility check watched: any block refused marks the answer incomplete. */
  check (canRead: (cids: CID[]) => Promise<boolean[]>): (cids: CID[]) => Promise<boolean[]> {
    return async (cids) => {
      const flags = await canRead(cids)
      if (flags.some((f) => !f)) this.complete = false
      return flags
    }
  }
}
