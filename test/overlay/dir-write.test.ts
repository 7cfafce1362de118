import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { decodeDirNode, MAX_DIR_ENTRIES } from '../../src/overlay/codec.js'
import { DirReader } from '../../src/overlay/dir-read.js'
import { SHARD_MIN_ENTRIES, sortEntries, sortNames, splitGroups, writeDir } from '../../src/overlay/dir-write.js'
import { compareNames, encodeDirEntries, encodeTreeRoot } from '../../src/overlay/codec.js'
import { encodeDirEntriesFast, encodeTreeRootFast } from '../../src/overlay/dir-write-encode.js'
import { cidForChunk } from '../../src/cas/hasher.js'
import { seededRandom } from '../helpers/bytes.js'
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
  // UTF-8: Z 5A, a 61, é C3 A9, U+E000 EE 80 80, U+FF41 EF BD 81, U+1F600 F0 9F 98 80.
  assert.equal(sortNames([...sample]), ['Z', 'a', 'a b', 'b', 'é', '\uE000', '\uFF41', '\u{1F600}'])
  assert.is(compareNames('\u{1F600}', '\uFF41'), 1)
  assert.is(compareNames('a', 'a'), 0)
})

DirWrite('the fast node encoder writes the same bytes as codec.ts for every kind of entry', () => {
  const rnd = seededRandom(11)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]
  const kinds: Array<Entry['kind']> = ['file', 'dir', 'symlink', 'chardev', 'blockdev', 'fifo', 'socket', 'whiteout']
  const cid = cidForChunk(new Uint8Array([1, 2, 3]))
  for (let round = 0; round < 200; round++) {
    const list: Entry[] = []
    const count = Math.floor(rnd() * 40)
    for (let i = 0; i < count; i++) {
      const kind = pick(kinds)
      const e: Record<string, unknown> = {
        name: pick(['', 'é', '\u{1F600}', 'x'.repeat(30), 'ab']) + i, kind, mode: Math.floor(rnd() * 0o10000),
        uid: pick([0, 23, 255, 256, 65535, 65536, 4_294_967_295, 4_294_967_296]), gid: pick([0, 1000, 3_000_000]),
        mtimeNs: pick([0n, 1n, -1n, -123_456_789n, 1_700_000_000_123_456_789n, 99_999_999_999_999_999_999n]),
        size: pick([0, 1, 23, 24, 255, 256, 70_000, 5_000_000_000])
      }
      if (kind === 'file' || kind === 'dir') e.cid = cid
      if (kind === 'symlink') e.target = pick(['../x', '/абв', ''])
      if (kind === 'chardev' || kind === 'blockdev') { e.devMajor = pick([0, 8, 4095]); e.devMinor = pick([1, 1_048_575]) }
      if (kind === 'file' && rnd() < 0.3) e.hardlink = 'a/b/' + i
      if (kind === 'dir' && rnd() < 0.3) e.opaque = true
      if (rnd() < 0.3) e.xattrs = { 'user.z': new Uint8Array([1]), 'security.capability': new Uint8Array(20), 'user.ä': new Uint8Array(0), 'trusted.long-name': new Uint8Array(300) }
      list.push(e as unknown as Entry)
    }
    sortEntries(list)
    const a = encodeDirEntries(list)
    const b = encodeDirEntriesFast(list)
    assert.is(Buffer.from(b.bytes).toString("hex"), Buffer.from(a.bytes).toString("hex"), `round ${round}`)
  }
})

DirWrite('the fast tree root encoder writes the same bytes and CID as codec.ts', () => {
  const cid = cidForChunk(new Uint8Array([4, 5, 6]))
  const roots: Array<Record<string, unknown>> = [
    { name: '', kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtimeNs: 1_700_000_000_123_456_789n, size: 4096, cid },
    { name: '', kind: 'dir', mode: 0o1777, uid: 4_294_967_296, gid: 1000, mtimeNs: -123_456_789n, size: 0, cid, opaque: true },
    { name: '', kind: 'dir', mode: 0o700, uid: 23, gid: 24, mtimeNs: 0n, size: 70_000, cid, xattrs: { 'user.a': new Uint8Array([1, 2]), 'security.selinux': new Uint8Array(30) } }
  ]
  for (const r of roots) {
    const a = encodeTreeRoot(r as unknown as Entry)
    const b = encodeTreeRootFast(r as unknown as Entry)
    assert.is(Buffer.from(b.bytes).toString('hex'), Buffer.from(a.bytes).toString('hex'))
    assert.ok(b.cid.equals(a.cid))
  }
  assert.throws(() => encodeTreeRootFast({ ...roots[0], name: 'x' } as unknown as Entry), TypeError)
})

const GOLDEN_3000 = 'bafyr4if42thc5czqdinfptfjbfsym6mzifghnty5lvld445nyephbvvzzq'

DirWrite.run()
