import type { CID } from 'multiformats/cid'
import { blake3Digest } from '../cas/hasher.js'
import { encodeDirShards } from './codec.js'
import { encodeDirEntriesFast } from './dir-write-encode.js'
import { compareNames, MAX_DIR_ENTRIES } from './format.js'
import type { BlockSink } from './file-write.js'
import type { DirShard, Entry } from './interface.js'

/**
 * Directory shard split rule, part of tree format v1 (it decides CIDs; pinned by the golden
 * test in test/overlay/dir-write.test.ts). A directory of at most MAX_DIR_ENTRIES entries is
 * one node. A larger one is cut, walking its sorted entries, after an entry when
 *   - the shard holds MAX_DIR_ENTRIES entries, or
 *   - it holds at least SHARD_MIN_ENTRIES and the first 4 bytes (little-endian) of
 *     BLAKE3(name as UTF-8) & SHARD_CUT_MASK are 0 (one name in 256),
 * so shards hold ~512 entries and a cut depends only on the name before it: inserting or
 * removing one name rewrites one shard (two if it creates or removes a cut). When the shard
 * list itself exceeds MAX_DIR_ENTRIES, shards are grouped by the same rule applied to their
 * first names, one level up, until the top list fits.
 */
export const SHARD_MIN_ENTRIES = 256
export const SHARD_CUT_MASK = 0xff

const encoder = new TextEncoder()

function isCutName (name: string): boolean {
  const d = blake3Digest(encoder.encode(name))
  return ((d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)) & SHARD_CUT_MASK) === 0
}

/** Splits `items` (named by `nameOf`) into groups by the rule above. */
export function splitGroups<T> (items: readonly T[], nameOf: (item: T) => string): T[][] {
  const groups: T[][] = []
  let current: T[] = []
  for (const item of items) {
    current.push(item)
    if (current.length >= MAX_DIR_ENTRIES || (current.length >= SHARD_MIN_ENTRIES && isCutName(nameOf(item)))) {
      groups.push(current)
      current = []
    }
  }
  if (current.length > 0) groups.push(current)
  return groups
}

/** Sorts names in place by UTF-8 bytes (the order of directory nodes) and returns them. */
export function sortNames (names: string[]): string[] {
  return names.sort(compareNames)
}

/** Sorts entries in place by name bytes and returns them. */
export function sortEntries<T extends { name: string }> (entries: T[]): T[] {
  return entries.sort((a, b) => compareNames(a.name, b.name))
}

/**
 * Writes the node(s) of a directory with `entries` (sorted by name bytes, unique: checked)
 * to `sink` and returns the CID of its top node, for its Entry's `cid`. Idempotent with an
 * idempotent sink; same entries, same CID.
 */
export async function writeDir (entries: readonly Entry[], sink: BlockSink): Promise<CID> {
  if (entries.length <= MAX_DIR_ENTRIES) {
    const block = encodeDirEntriesFast(entries)
    await sink.put(block.cid, block.bytes)
    return block.cid
  }
  let shards: DirShard[] = []
  for (const group of splitGroups(entries, (e) => e.name)) {
    const block = encodeDirEntriesFast(group)
    await sink.put(block.cid, block.bytes)
    shards.push({ first: group[0].name, cid: block.cid })
  }
  return await writeShardList(shards, sink)
}

/**
 * Writes the shard list of a large directory (its shards, from splitGroups, already written)
 * and returns the CID of its top node: lists longer than MAX_DIR_ENTRIES grouped one level up.
 */
export async function writeShardList (shards: DirShard[], sink: BlockSink): Promise<CID> {
  while (shards.length > MAX_DIR_ENTRIES) {
    const upper: DirShard[] = []
    for (const group of splitGroups(shards, (s) => s.first)) {
      const block = encodeDirShards(group)
      await sink.put(block.cid, block.bytes)
      upper.push({ first: group[0].first, cid: block.cid })
    }
    shards = upper
  }
  const block = encodeDirShards(shards)
  await sink.put(block.cid, block.bytes)
  return block.cid
}
