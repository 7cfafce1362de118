import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Worker } from 'node:worker_threads'
import { cidForBlock, cidForChunk, decompress, DAG_CBOR_CODEC, fromTransferable, prepareChunk, toTransferable } from '../../src/cas/index.js'
import { seededBytes } from '../helpers/bytes.js'

const Prepare = suite('prepareChunk')

Prepare('computes the raw CID and compresses only when that makes the chunk smaller', () => {
  const text = new TextEncoder().encode('abc'.repeat(10_000))
  const p = prepareChunk(text)
  assert.equal(String(p.cid), String(cidForChunk(text)))
  assert.ok(p.compressed); assert.ok(p.payload.length < text.length / 10)
  assert.equal(new Uint8Array(decompress(p.payload)), text)
  assert.is(p.rawSize, text.length)
  const noise = seededBytes(1, 65_536)
  const q = prepareChunk(noise)
  assert.not.ok(q.compressed); assert.is(q.payload, noise)
  assert.not.ok(prepareChunk(new Uint8Array(10)).compressed)
})

Prepare('takes a codec for tree nodes, and level 0 disables compression', () => {
  const node = new Uint8Array(1000).fill(1)
  assert.equal(String(prepareChunk(node, { codec: DAG_CBOR_CODEC }).cid), String(cidForBlock(DAG_CBOR_CODEC, node)))
  assert.not.ok(prepareChunk(node, { level: 0 }).compressed)
})

Prepare('runs inside a worker thread and crosses postMessage as a TransferablePrepared', async () => {
  const url = new URL('../../src/cas/prepare.js', import.meta.url).href
  const worker = new Worker(`
    const { parentPort } = require('node:worker_threads')
    import(${JSON.stringify(url)}).then(({ prepareChunk, toTransferable }) => {
      parentPort.on('message', (bytes) => parentPort.postMessage(toTransferable(prepareChunk(bytes))))
    })`, { eval: true })
  const bytes = new Uint8Array(50_000).fill(7)
  const reply = await new Promise<ReturnType<typeof toTransferable>>((resolve) => { worker.once('message', resolve); worker.postMessage(bytes) })
  await worker.terminate()
  const p = fromTransferable(reply)
  assert.equal(String(p.cid), String(cidForChunk(bytes)))
  assert.ok(p.compressed)
})

Prepare.run()
