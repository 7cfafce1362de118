import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { decodeDirNode, MAX_DIR_ENTRIES } from '../../src/overlay/codec.js'
import { DirReader } from '../../src/overlay/dir-read.js'
import { compareNamesFast, SHARD_MIN_ENTRIES, sortNames, splitGroups, writeDir } from '../../src/overlay/dir-write.js'
import { compareNames } from '../../src/overlay/codec.js'
import type { Entry } from '../../src/overlay/interface.js'

function entries (names: string[]): Entry[] {
  return sortNames([...names]).map((name) => ({ name, kind: 'fifo', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1n, size: 0 }))
}
const names = (n: number, prefix = 'n'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i.toString(36)}`)

const DirWrite = suite('dir-write')

DirWrite('a directory up to MAX_DIR_ENTRIES is one node', async () => {
  const store = new MemoryChunkStore()
  const cid = await writeDir(entries(names(MAX_DIR_ENTRIES)), store)
  const node = decodeDirNode((await store.get(cid))!)
  assert.is(node.type, 'entries')
  assert.is(store.size, 1)
})

DirWrite('a larger directory is sharded; every shard is bounded and lookups and listing work', async () => {
  const store = new MemoryChunkStore()
  const all = entries(names(5000))
  const cid = await writeDir(all, store)
  const node = decodeDirNode((await store.get(cid))!)
  assert.is(node.type, 'shards')
  if (node.type !== 'shards') return
  for (const s of node.shards) {
    const shard = decodeDirNode((await store.get(s.cid))!)
    assert.is(shard.type, 'entries')
    if (shard.type === 'entries') assert.ok(shard.entries.length <= MAX_DIR_ENTRIES && shard.entries.length >= 1)
  }
  const reader = new DirReader(store)
  const listed: string[] = []
  for await (const e of reader.list(cid)) listed.push(e.name)
  assert.equal(listed, all.map((e) => e.name))
  assert.is((await reader.lookup(cid, 'n2bx'))?.name, 'n2bx')
  assert.is(await reader.lookup(cid, 'zzz'), undefined)
})

DirWrite('the split rule is pinned (golden CID of a 3000-entry directory)', async () => {
  const cid = await writeDir(entries(names(3000)), new MemoryChunkStore())
  assert.is(cid.toString(), GOLDEN_3000)
})

DirWrite('inserting one name rewrites at most two shards (content-defined cuts)', async () => {
  const base = names(20_000)
  const a = new MemoryChunkStore()
  const b = new MemoryChunkStore()
  await writeDir(entries(base), a)
  await writeDir(entries([...base, 'n5x-inserted']), b)
  const onlyB = [...b.keys()].filter((k) => ![...a.keys()].includes(k))
  assert.ok(onlyB.length <= 3, `new blocks: ${onlyB.length} (top node + at most two shards)`)
})

DirWrite('splitGroups keeps groups within [SHARD_MIN_ENTRIES, MAX_DIR_ENTRIES] except the last', () => {
  const groups = splitGroups(names(100_000), (n) => n)
  for (const g of groups.slice(0, -1)) assert.ok(g.length >= SHARD_MIN_ENTRIES && g.length <= MAX_DIR_ENTRIES)
  assert.is(groups.flat().length, 100_000)
})

DirWrite('name order is UTF-8 byte order, also for astral and fullwidth characters', () => {
  const sample = ['b', 'a', '\u{1F600}', '\uFF41', 'é', 'Z', 'a b', '\uE000']
  assert.equal(sortNames([...sample]), [...sample].sort(compareNames))
  assert.is(compareNamesFast('\u{1F600}', '\uFF41'), 1)
})

const GOLDEN_3000 = 'bafyr4if42thc5czqdinfptfjbfsym6mzifghnty5lvld445nyephbvvzzq'

DirWrite.run()
