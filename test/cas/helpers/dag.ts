import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { cidForBlock, DAG_CBOR_CODEC, prepareChunk, type ChunkWriter } from '../../../src/cas/index.js'
import { seededBytes } from '../../helpers/bytes.js'

/** A two-level DAG of dag-cbor nodes over raw chunks, as the tests' stand-in for a tree. */
export interface TestDag { root: CID, blocks: Map<string, Uint8Array> }

/** Builds (without storing) a DAG: `fanout` nodes of `perNode` seeded raw chunks each. */
export function makeDag (seed: number, fanout = 3, perNode = 4, chunkBytes = 20_000): TestDag {
  const blocks = new Map<string, Uint8Array>()
  const nodes: CID[] = []
  for (let n = 0; n < fanout; n++) {
    const links: CID[] = []
    for (let c = 0; c < perNode; c++) {
      const bytes = seededBytes(seed * 1000 + n * 100 + c + 1, chunkBytes)
      const p = prepareChunk(bytes)
      blocks.set(p.cid.toString(), bytes)
      links.push(p.cid)
    }
    const node = dagCbor.encode({ p: links.map((l) => [l, chunkBytes]) })
    const cid = cidForBlock(DAG_CBOR_CODEC, node)
    blocks.set(cid.toString(), node)
    nodes.push(cid)
  }
  const rootBytes = dagCbor.encode({ xeno: 1, seed, kids: nodes })
  const root = cidForBlock(DAG_CBOR_CODEC, rootBytes)
  blocks.set(root.toString(), rootBytes)
  return { root, blocks }
}

/** Puts every block of `dag` (children first, the root last, as an importer does). */
export async function storeDag (store: ChunkWriter, dag: TestDag): Promise<void> {
  for (const [text, bytes] of dag.blocks) await store.put(CID.parse(text), bytes)
}
