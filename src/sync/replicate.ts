import { CID } from 'multiformats/cid'
import type { AbortOptions } from '../cas/interface.js'
import { MemoryChunkStore } from '../cas/store/memory.js'
import { decodeCar, encodeCar, type Block } from './car.js'
import { carBody, peerHas, peerLevel, wantStream } from './client.js'
import { pull } from './pull.js'
import { fetchRecord, listNames, putRecord } from './client-names.js'
import { IncompleteTransferError, NotFoundError, UntrustedKeyError } from './errors.js'
import type { Peer } from './http.js'
import { findMissing } from './missing.js'
import { isTrusted, verifyRecord, type NameRecord, type TrustEntry } from './names.js'
import { packCids, ROUTES } from './protocol.js'
import { isNode, walkTree } from './walk.js'

export interface ReplicateResult {
  readonly names: Array<{ name: string, root: string, seq: number, blocks: number, present: number }>
  readonly requests: number
  readonly wireBytes: number
}

export interface ReplicateOptions extends AbortOptions {
  /** When given, every record must be signed by a key trusted here for its name. */
  trust?: readonly TrustEntry[]
  /** CIDs per has/want request (default 16,384). */
  batchSize?: number
}

/**
 * Copies names and their trees from `from` to `to` (all names of `from` when `names` is
 * empty): tree nodes are fetched from `from` (kept in memory), `to` is asked which blocks it
 * lacks, and exactly those are streamed from a want-list on `from` straight into an upload to
 * `to`, each block verified on the way. Then the signed record itself is stored on `to`
 * (which checks signature, trust and sequence as for any publish). Resumable like push.
 */
export async function replicate (from: Peer, to: Peer, names: readonly string[], options: ReplicateOptions = {}): Promise<ReplicateResult> {
  const before = [from.stats, to.stats]
  const list = names.length > 0 ? [...names] : (await listNames(from, '', options.signal)).map((r) => verifyRecord(r).name)
  const out: ReplicateResult['names'] = []
  for (const name of list) {
    const raw = await fetchRecord(from, name, options.signal)
    if (raw === undefined) throw new NotFoundError(`no name "${name}" on ${from.url.origin}`)
    const record = verifyRecord(raw)
    if (options.trust !== undefined && !isTrusted(options.trust, record.key, name)) throw new UntrustedKeyError(`"${name}" is signed by an untrusted key`)
    out.push({ name, root: record.root, seq: record.seq, ...await copyTree(from, to, record, options) })
    await putRecord(to, record, options.signal)
  }
  const a = from.stats
  const b = to.stats
  return {
    names: out,
    requests: a.requests - before[0].requests + b.requests - before[1].requests,
    wireBytes: a.bytesSent + a.bytesReceived - before[0].bytesSent - before[0].bytesReceived + b.bytesSent + b.bytesReceived - before[1].bytesSent - before[1].bytesReceived
  }
}

async function copyTree (from: Peer, to: Peer, record: NameRecord, options: ReplicateOptions): Promise<{ blocks: number, present: number }> {
  const root = CID.parse(record.root)
  const nodes = new MemoryChunkStore()
  // Nodes only: leaves are never read, so pull's leaf phase is skipped by walking ourselves.
  await pull(nodesOnly(nodes), root, from, { ...options })
  const all: CID[] = []
  const missing: CID[] = []
  const tree = async function * (): AsyncIterable<CID> { for await (const c of walkTree(nodes, root, options)) { all.push(c); yield c } }
  for await (const c of findMissing(tree(), (b) => peerHas(to, b, options), { batchSize: options.batchSize ?? 16_384, signal: options.signal })) missing.push(c)
  if (missing.length === 0) return { blocks: 0, present: all.length }
  const lackingNodes = missing.filter(isNode)
  const lackingLeaves = missing.filter((c) => !isNode(c))
  const blocks = async function * (): AsyncIterable<Block> {
    for (const cid of lackingNodes) yield { cid, bytes: (await nodes.get(cid))! }
    const batch = options.batchSize ?? 16_384
    for (let i = 0; i < lackingLeaves.length; i += batch) {
      const part = lackingLeaves.slice(i, i + batch)
      let n = 0
      for await (const block of decodeCar(await wantStream(from, { cids: packCids(part) }, options.signal))) { n++; yield block }
      if (n < part.length) throw new IncompleteTransferError(`${from.url.origin} lacks ${part.length - n} blocks of ${root}`)
    }
  }
  await to.fetchBytes('PUT', ROUTES.blocks, { ...carBody(encodeCar([root], blocks()), await peerLevel(to, options.signal)), signal: options.signal })
  return { blocks: missing.length, present: all.length - missing.length }
}

/** A store view for pull() that keeps nodes and pretends to hold every raw chunk (so none is fetched). */
function nodesOnly (store: MemoryChunkStore): MemoryChunkStore {
  return new Proxy(store, {
    get (target, prop) {
      if (prop === 'missing') {
        return async function * (cids: Iterable<CID> | AsyncIterable<CID>) {
          for await (const c of target.missing(cids)) if (isNode(c)) yield c
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    }
  })
}
