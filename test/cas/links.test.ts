import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForBlock, cidForChunk, DAG_CBOR_CODEC, linksOf, MemoryChunkStore, walkDag } from '../../src/cas/index.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { makeDag, storeDag } from './helpers/dag.js'

async function collect<T> (iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of iter) out.push(x)
  return out
}

const Links = suite('links')

Links('linksOf() finds no links in raw blocks and every CID anywhere in a dag-cbor block', () => {
  const a = cidForChunk(seededBytes(1, 10)); const b = cidForChunk(seededBytes(2, 10))
  assert.equal(linksOf(a, seededBytes(1, 10)), [])
  const bytes = dagCbor.encode({ x: [a, { deep: [[b]] }], y: 'text', z: new Uint8Array([1]), again: a })
  assert.equal(linksOf(cidForBlock(DAG_CBOR_CODEC, bytes), bytes).map(String).sort(), [a, a, b].map(String).sort())
})

Links('linksOf() rejects a dag-cbor block that does not decode with CAS_STORE_CORRUPT', () => {
  const bytes = new Uint8Array([0xff, 0x00])
  try { linksOf(cidForBlock(DAG_CBOR_CODEC, bytes), bytes); assert.unreachable() } catch (err) { assert.is((err as { code?: string }).code, 'CAS_STORE_CORRUPT') }
})

Links('walkDag() yields every reachable CID once, parents before children', async () => {
  const store = new MemoryChunkStore()
  const dag = makeDag(1, 3, 4)
  await storeDag(store, dag)
  const shared = dagCbor.encode({ kids: [dag.root, dag.root] })
  const top = cidForBlock(DAG_CBOR_CODEC, shared)
  await store.put(top, shared)
  const seen = (await collect(walkDag(store, top))).map(String)
  assert.is(seen[0], String(top))
  assert.is(seen[1], String(dag.root))
  assert.equal([...seen].sort(), [String(top), ...dag.blocks.keys()].sort())
})

Links('walkDag() yields raw leaves without reading them, and rejects CAS_CHUNK_MISSING for an absent node', async () => {
  const store = new MemoryChunkStore()
  const dag = makeDag(2, 2, 2)
  const leafText = [...dag.blocks.keys()][0] // a raw chunk: the walk yields it without reading it
  for (const [text, bytes] of dag.blocks) if (text !== leafText) await store.put(CID.parse(text), bytes)
  assert.is((await collect(walkDag(store, dag.root))).length, dag.blocks.size)
  const empty = new MemoryChunkStore()
  await rejects(collect(walkDag(empty, dag.root)), 'CAS_CHUNK_MISSING')
  const skipped: string[] = []
  const got = await collect(walkDag(empty, dag.root, { onMissing: 'skip', missing: (c) => skipped.push(String(c)) }))
  assert.equal(got.map(String), [String(dag.root)])
  assert.equal(skipped, [String(dag.root)])
})

Links.run()
