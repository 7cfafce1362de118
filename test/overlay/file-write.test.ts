import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DAG_CBOR_CODEC, RAW_CODEC } from '../../src/cas/codes.js'
import { cdcChunker } from '../../src/cas/chunker/cdc.js'
import { cidForBlock, cidForChunk } from '../../src/cas/hasher.js'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { decodeFileIndex, encodeFileIndex, MAX_FILE_PARTS } from '../../src/overlay/codec.js'
import { encodeFileIndexFast } from '../../src/overlay/dir-write-encode.js'
import { FileReader } from '../../src/overlay/file-read.js'
import { FileIndexBuilder, writeFileChunks } from '../../src/overlay/file-write.js'
import type { CID } from 'multiformats/cid'
import { inPieces, seededBytes } from '../helpers/bytes.js'

async function readAll (store: MemoryChunkStore, cid: CID | undefined, size: number): Promise<Uint8Array> {
  return await new FileReader(store).read(cid, size, 0, size)
}

/** Depths of every raw chunk below `cid`, and the largest part count of any index node. */
async function shape (store: MemoryChunkStore, cid: CID, depth = 0): Promise<{ depths: Set<number>, maxParts: number }> {
  if (cid.code === RAW_CODEC) return { depths: new Set([depth]), maxParts: 0 }
  const parts = decodeFileIndex((await store.get(cid))!)
  const out = { depths: new Set<number>(), maxParts: parts.length }
  for (const p of parts) {
    const s = await shape(store, p.cid, depth + 1)
    for (const d of s.depths) out.depths.add(d)
    out.maxParts = Math.max(out.maxParts, s.maxParts)
  }
  return out
}

const FileWrite = suite('file-write')

FileWrite('an empty file has no CID and size 0', async () => {
  const store = new MemoryChunkStore()
  const c = await writeFileChunks([], store)
  assert.is(c.cid, undefined)
  assert.is(c.size, 0)
  assert.is(store.size, 0)
})

FileWrite('a one-chunk file is its raw chunk CID, with no index node', async () => {
  const store = new MemoryChunkStore()
  const bytes = seededBytes(1, 5000)
  const c = await writeFileChunks([bytes], store)
  assert.ok(c.cid?.equals(cidForChunk(bytes)))
  assert.is(c.size, 5000)
  assert.is(store.size, 1)
})

FileWrite('a multi-chunk file gets one index node and reads back byte for byte', async () => {
  const store = new MemoryChunkStore()
  const bytes = seededBytes(2, 1_500_000)
  const c = await writeFileChunks(cdcChunker()(inPieces(bytes, 100_000)), store)
  assert.is(c.cid?.code, DAG_CBOR_CODEC)
  assert.is(c.size, bytes.length)
  assert.equal(await readAll(store, c.cid, c.size), bytes)
  const again = await writeFileChunks(cdcChunker()(inPieces(bytes, 33_333)), new MemoryChunkStore())
  assert.ok(again.cid?.equals(c.cid!), 'same bytes, same CID whatever the read sizes')
})

FileWrite('deep indexes are balanced and no node exceeds its part limit', async () => {
  for (const [parts, limit] of [[4, 4], [5, 4], [17, 4], [64, 4], [65, 4], [1000, 7]]) {
    const store = new MemoryChunkStore()
    const b = new FileIndexBuilder(store, limit)
    const chunks: Uint8Array[] = []
    for (let i = 0; i < parts; i++) {
      const chunk = seededBytes(100 + i, 10 + (i % 7))
      chunks.push(chunk)
      const cid = cidForChunk(chunk)
      await store.put(cid, chunk)
      await b.add(cid, chunk.length)
    }
    const c = await b.finish()
    const s = await shape(store, c.cid!)
    assert.is(s.depths.size, 1, `${parts} parts / ${limit}: every chunk at one depth`)
    assert.ok(s.maxParts <= limit)
    assert.is(Math.max(...s.depths), Math.ceil(Math.log(parts) / Math.log(limit) - 1e-9), `${parts} parts / ${limit}: minimal depth`)
    assert.equal(await readAll(store, c.cid, c.size), new Uint8Array(Buffer.concat(chunks)))
  }
})

FileWrite('MAX_FILE_PARTS + 1 chunks make a two-level index', async () => {
  const store = new MemoryChunkStore()
  const b = new FileIndexBuilder(store)
  const chunk = seededBytes(9, 3)
  const cid = cidForChunk(chunk)
  await store.put(cid, chunk)
  for (let i = 0; i <= MAX_FILE_PARTS; i++) await b.add(cid, chunk.length)
  const c = await b.finish()
  const top = decodeFileIndex((await store.get(c.cid!))!)
  assert.is(top.length, 2)
  assert.is(top[0].size, MAX_FILE_PARTS * 3)
  assert.is(top[1].size, 3)
  assert.is(c.size, (MAX_FILE_PARTS + 1) * 3)
})

FileWrite('encodeFileIndexFast gives the bytes and CID of codec.ts encodeFileIndex (raw and index links, every integer width)', () => {
  const sizes = [1, 23, 24, 255, 256, 65_535, 65_536, 262_144, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7]
  for (const n of [1, 2, 23, 24, 255, 256, MAX_FILE_PARTS]) {
    const parts = Array.from({ length: n }, (_, i) => ({
      cid: i % 3 === 2 ? cidForBlock(DAG_CBOR_CODEC, seededBytes(i, 40)) : cidForChunk(seededBytes(i + 1, 100)),
      size: sizes[i % sizes.length]
    }))
    const fast = encodeFileIndexFast(parts)
    const slow = encodeFileIndex(parts)
    assert.equal([...fast.bytes], [...slow.bytes], `${n} parts`)
    assert.ok(fast.cid.equals(slow.cid))
  }
  assert.throws(() => encodeFileIndexFast(Array.from({ length: MAX_FILE_PARTS + 1 }, () => ({ cid: cidForChunk(new Uint8Array(1)), size: 1 }))))
})

FileWrite.run()
