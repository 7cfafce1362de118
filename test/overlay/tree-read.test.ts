import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk } from '../../src/cas/hasher.js'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import {
  encodeDirEntries, encodeDirShards, encodeFileIndex, encodeTreeRoot, decodeDirNode, decodeTreeRoot,
  type Entry, openTree, MAX_DIR_ENTRIES
} from '../../src/overlay/index.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'

const Read = suite('tree reading')

const meta = { mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_700_000_000_123_456_789n }

async function putRaw (store: MemoryChunkStore, bytes: Uint8Array): Promise<ReturnType<typeof cidForChunk>> {
  const cid = cidForChunk(bytes)
  await store.put(cid, bytes)
  return cid
}

async function sample (): Promise<{ store: MemoryChunkStore, root: ReturnType<typeof cidForChunk>, big: Uint8Array }> {
  const store = new MemoryChunkStore()
  const small = new TextEncoder().encode('hello\n')
  const big = seededBytes(1, 300_000)
  const parts = [big.subarray(0, 100_000), big.subarray(100_000, 250_000), big.subarray(250_000)]
  const partCids = await Promise.all(parts.map(async (p) => ({ cid: await putRaw(store, p), size: p.length })))
  // Two levels of index: an index whose first part is itself an index.
  const inner = encodeFileIndex(partCids.slice(0, 2))
  await store.put(inner.cid, inner.bytes)
  const outer = encodeFileIndex([{ cid: inner.cid, size: 250_000 }, partCids[2]])
  await store.put(outer.cid, outer.bytes)
  const sub = encodeDirEntries([{ name: 'x', kind: 'fifo', size: 0, ...meta }])
  await store.put(sub.cid, sub.bytes)
  const entries: Entry[] = [
    { name: 'big', kind: 'file', size: big.length, cid: outer.cid, ...meta },
    { name: 'empty', kind: 'file', size: 0, ...meta },
    { name: 'hello', kind: 'file', size: small.length, cid: await putRaw(store, small), ...meta, xattrs: { 'user.a': new Uint8Array([1]) } },
    { name: 'link', kind: 'symlink', size: 5, target: 'hello', ...meta, mode: 0o777 },
    { name: 'sub', kind: 'dir', cid: sub.cid, size: 0, ...meta, mode: 0o755 }
  ]
  const dir = encodeDirEntries(entries)
  await store.put(dir.cid, dir.bytes)
  const rootBlock = encodeTreeRoot({ name: '', kind: 'dir', cid: dir.cid, size: 0, ...meta, mode: 0o755 })
  await store.put(rootBlock.cid, rootBlock.bytes)
  return { store, root: rootBlock.cid, big }
}

Read('stat, readdir and read any byte range through a two-level file index', async () => {
  const { store, root, big } = await sample()
  const tree = openTree(store, root)
  const names: string[] = []
  for await (const e of tree.readdir(await tree.rootEntry())) names.push(e.name)
  assert.equal(names, ['big', 'empty', 'hello', 'link', 'sub'])
  const file = await tree.statRequired('/big')
  for (const [off, len] of [[0, 10], [99_990, 20], [249_999, 2], [0, 300_000], [299_999, 100], [300_000, 5]]) {
    const got = await tree.read(file, off, len)
    assert.equal(Buffer.from(got), Buffer.from(big.subarray(off, Math.min(off + len, big.length))), `range ${off}+${len}`)
  }
  assert.is((await tree.stat('/sub/x'))?.kind, 'fifo')
  assert.is(await tree.stat('/nope'), undefined)
  assert.is((await tree.stat('link'))?.target, 'hello')
  assert.equal([...(await tree.stat('/hello'))!.xattrs!['user.a']], [1])
  assert.is((await tree.stat('/big'))!.mtimeNs, meta.mtimeNs)
  await rejects(tree.stat('/hello/x'), 'OVERLAY_NOT_DIR')
  await rejects(tree.stat('/../etc'), 'OVERLAY_BAD_PATH')
})

Read('a missing chunk is an error, not empty content', async () => {
  const { store, root } = await sample()
  const tree = openTree(store, root)
  const hello = await tree.statRequired('/hello')
  const other = new MemoryChunkStore()
  for (const key of store.keys()) {
    if (key !== hello.cid!.toString()) {
      const { CID } = await import('multiformats/cid')
      const c = CID.parse(key)
      await other.put(c, (await store.get(c))!)
    }
  }
  await rejects(openTree(other, root).read(hello, 0, 10), 'CAS_CHUNK_MISSING')
})

Read('sharded directories: lookup and resumable listing', async () => {
  const store = new MemoryChunkStore()
  const names = Array.from({ length: 2500 }, (_, i) => `f${String(i).padStart(5, '0')}`)
  const shardCids = []
  for (let i = 0; i < names.length; i += MAX_DIR_ENTRIES) {
    const node = encodeDirEntries(names.slice(i, i + MAX_DIR_ENTRIES).map((name) => ({ name, kind: 'fifo' as const, size: 0, ...meta })))
    await store.put(node.cid, node.bytes)
    shardCids.push({ first: names[i], cid: node.cid })
  }
  const dir = encodeDirShards(shardCids)
  await store.put(dir.cid, dir.bytes)
  const rootBlock = encodeTreeRoot({ name: '', kind: 'dir', cid: dir.cid, size: 0, ...meta })
  await store.put(rootBlock.cid, rootBlock.bytes)
  const tree = openTree(store, rootBlock.cid)
  for (const n of ['f00000', 'f01023', 'f01024', 'f02499']) assert.is((await tree.stat('/' + n))?.name, n)
  assert.is(await tree.stat('/f02500'), undefined)
  assert.is(await tree.stat('/a'), undefined)
  const after: string[] = []
  for await (const e of tree.readdir(await tree.rootEntry(), 'f01500')) after.push(e.name)
  assert.equal(after, names.slice(1501))
})

Read('malformed nodes are rejected with OVERLAY_BAD_NODE', () => {
  const bad = encodeDirEntries([{ name: 'a', kind: 'fifo', size: 0, ...meta }]).bytes.slice()
  assert.throws(() => decodeDirNode(bad.subarray(0, bad.length - 3)), (e: Error & { code?: string }) => e.code === 'OVERLAY_BAD_NODE')
  assert.throws(() => decodeTreeRoot(new Uint8Array([0xa0])), (e: Error & { code?: string }) => e.code === 'OVERLAY_BAD_NODE')
  assert.throws(() => decodeDirNode(new Uint8Array([1, 2, 3])), (e: Error & { code?: string }) => e.code === 'OVERLAY_BAD_NODE')
})

Read('golden: a known directory node has a pinned CID', () => {
  const node = encodeDirEntries([
    { name: 'a', kind: 'file', size: 0, ...meta },
    { name: 'b', kind: 'whiteout', size: 0, mode: 0, uid: 0, gid: 0, mtimeNs: 0n },
    { name: 'c', kind: 'chardev', size: 0, ...meta, devMajor: 1, devMinor: 3 }
  ])
  assert.is(node.cid.toString(), GOLDEN_DIR_CID)
  const back = decodeDirNode(node.bytes)
  assert.is(back.type, 'entries')
})

const GOLDEN_DIR_CID = 'bafyr4iashfr5yumhs4c6yskyi57exeinuttkty7jqlagat5txly32k2wwm'

Read.run()
