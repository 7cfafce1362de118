import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { CID } from 'multiformats/cid'
import type { ChunkReader } from '../cas/interface.js'
import { BlockBatcher } from '../cas/put-blocks.js'
import { hasCode } from '../util/coded-error.js'
import { visible, visibleReader } from './access.js'
import { AnswerCache, Completeness } from './answer-cache.js'
import { planDeltas } from './delta-plan.js'
import { requireBlockRead, requireUpload } from './auth.js'
import { decodeCar, encodeCar, type Block } from './car.js'
import { BadRequestError, NotFoundError, TooLargeError } from './errors.js'
import { cidFromBytes, decodeMessage, encodeMessage, MEDIA, ROUTES, toBitmap, unpackCids, type HasRequest, type UploadResult, type WantRequest } from './protocol.js'
import type { SyncContext } from './server.js'
import { compressStream, decompressStream, MAX_ZSTD_LEVEL, ZSTD_ENCODING } from './zstd-stream.js'
import { nodeClosure, nodeSet } from './walk.js'

/** Grants are written in batches of this many blocks (and at the end or on failure). */
const GRANT_BATCH = 512
/**
 * Received bytes between durability points of an upload: a server killed mid-upload keeps what
 * arrived up to the last point, so the client's re-run sends only the rest (the store buffers
 * writes, and a buffer is lost with the process).
 */
const DURABLE_EVERY_BYTES = 8 * 1024 * 1024

/** has, want, upload and single-block routes. */
export function registerBlockRoutes (app: FastifyInstance, ctx: SyncContext): void {
  const { store, index, limits } = ctx

  app.post(ROUTES.has, async (req, reply) => {
    const p = ctx.principal(req)
    requireBlockRead(p)
    const msg = decodeMessage<HasRequest>(body(req.body))
    const cids = unpackCids(body(msg.cids), limits.maxCidsPerRequest)
    const flags = await visible(store, index, p, cids)
    void reply.header('content-type', MEDIA.msgpack)
    return Buffer.from(encodeMessage({ v: 1, count: cids.length, have: toBitmap(flags) }))
  })

  app.post(ROUTES.want, async (req, reply) => {
    const p = ctx.principal(req)
    requireBlockRead(p)
    const request = body(req.body)
    const msg = decodeMessage<WantRequest>(request)
    const level = requestedLevel(req.headers)
    const answer = (source: AsyncIterable<Uint8Array> | readonly Uint8Array[]): Readable => {
      void reply.header('content-type', MEDIA.car)
      if (level > 0) void reply.header('content-encoding', ZSTD_ENCODING)
      return Readable.from(source)
    }
    // A fleet taking the same update asks the same: a complete answer already sent is sent again.
    const key = AnswerCache.keyOf(p.tenant, level, request)
    const kept = ctx.answers.get(key)
    if (kept !== undefined) return answer(kept)
    const watch = new Completeness()
    const visibleHere = async (cids: CID[]): Promise<boolean[]> => await visible(store, index, p, cids)
    const canRead = watch.check(visibleHere)
    const reader = watch.reader(store)
    let blocks: AsyncIterable<Block>
    let roots: CID[] = []
    if (msg.cids !== undefined) {
      const cids = unpackCids(body(msg.cids), limits.maxCidsPerRequest)
      await store.prefetch?.(cids)
      const allowed = await canRead(cids)
      if (msg.base !== undefined && msg.root !== undefined) {
        // The client holds tree `base`: changed files of `root` may go as deltas against it.
        const [root, base] = [cidFromBytes(msg.root), cidFromBytes(msg.base)]
        // Deltas are an optimisation: trees that cannot be read as xeno trees just get none.
        const plan = await planDeltas(watch.reader(visibleReader(store, index, p)), root, base, cids.filter((_c, i) => allowed[i]), Math.max(level, DEFAULT_DELTA_LEVEL), ctx.deltas)
          .catch(() => ({ covered: new Set<string>(), blocks: concat<Block>() }))
        blocks = concat(plan.blocks, readBlocks(reader, cids, allowed.map((a, i) => a && !plan.covered.has(cids[i].toString()))))
      } else blocks = readBlocks(reader, cids, allowed)
    } else if (msg.root !== undefined) {
      const root = cidFromBytes(msg.root)
      const base = msg.base !== undefined ? cidFromBytes(msg.base) : undefined
      // The client's base is only a hint of what to leave out: one this tenant cannot see just
      // leaves nothing out, and the answer is no less complete for it.
      const skip = base !== undefined && (await visibleHere([base]))[0] ? await nodeSet(reader, base) : new Set<string>()
      blocks = nodeClosure(reader, root, skip, { canRead })
      roots = [root]
    } else throw new BadRequestError('want needs "cids" or "root"')
    const car = encodeCar(roots, blocks)
    return answer(ctx.answers.keep(key, level === 0 ? car : compressStream(car, level), () => watch.complete))
  })

  /** Blocks of `cids` that are readable; a corrupt stored block is skipped, never served. */
  async function * readBlocks (reader: ChunkReader, cids: CID[], allowed: boolean[]): AsyncIterable<Block> {
    for (let i = 0; i < cids.length; i++) {
      if (!allowed[i]) continue
      let bytes: Uint8Array | undefined
      try { bytes = await reader.get(cids[i]) } catch (err) { if (hasCode(err, 'CAS_CHUNK_INVALID')) continue; throw err }
      if (bytes !== undefined) yield { cid: cids[i], bytes }
    }
  }

  app.put(ROUTES.blocks, async (req, reply) => {
    const p = ctx.principal(req)
    requireUpload(p)
    const declared = Number(req.headers['content-length'] ?? 0)
    if (declared > limits.maxCarBytes) throw new TooLargeError(`upload of ${declared} bytes exceeds the ${limits.maxCarBytes}-byte limit`)
    if (!(req.body instanceof Readable)) throw new BadRequestError(`upload needs a ${MEDIA.car} body`)
    const result: UploadResult = { v: 1, blocks: 0, stored: 0, bytes: 0 }
    let pending: CID[] = []
    let sinceDurable = 0
    const batcher = new BlockBatcher(store, { verified: true }) // decodeCar checked every block
    // The tenant is granted blocks once they are stored (and durable, when `durable`).
    const flush = async (durable: boolean): Promise<void> => {
      await batcher.flush()
      result.stored = batcher.stored
      if (durable) await ctx.store.flush?.()
      if (!p.open && pending.length > 0) await index.grant(p.tenant, pending)
      pending = []
    }
    try {
      const encoding = req.headers['content-encoding']
      if (encoding !== undefined && encoding !== ZSTD_ENCODING && encoding !== 'identity') throw new BadRequestError(`unsupported content-encoding "${encoding}"`)
      const body = encoding === ZSTD_ENCODING ? badZstdIsBadRequest(decompressStream(req.body)) : req.body
      for await (const block of decodeCar(limitBytes(body, limits.maxCarBytes), { maxBlockBytes: limits.maxBlockBytes })) {
        // decodeCar verified the bytes against the CID: only now may the tenant own the block.
        await batcher.add(block)
        result.blocks++
        result.bytes += block.bytes.length
        pending.push(block.cid)
        sinceDurable += block.bytes.length
        if (sinceDurable >= DURABLE_EVERY_BYTES) {
          await flush(true)
          sinceDurable = 0
        } else if (pending.length >= GRANT_BATCH) await flush(false)
      }
    } finally {
      // What was verified stays: make it durable (when the store buffers) and owned, even on failure.
      await flush(true)
    }
    void reply.header('content-type', MEDIA.msgpack)
    return Buffer.from(encodeMessage(result))
  })

  app.get<{ Params: { cid: string } }>(`${ROUTES.blocks}/:cid`, async (req, reply) => {
    const p = ctx.principal(req)
    requireBlockRead(p)
    let cid: CID
    try { cid = CID.parse(req.params.cid) } catch (err) { throw new BadRequestError(`"${req.params.cid}" is not a CID`, { cause: err }) }
    const [ok] = await visible(store, index, p, [cid])
    const bytes = ok ? await store.get(cid) : undefined
    if (bytes === undefined) throw new NotFoundError(`block ${cid} not found`)
    void reply.header('content-type', MEDIA.raw)
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  })
}

function body (value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new BadRequestError(`expected a ${MEDIA.msgpack} body`)
  return value
}

/**
 * Least level of a delta: deltas carry only changed files, so a higher level than a LAN
 * stream's costs little CPU and saves bytes (t1 -> t1-upgraded, blocks at level 1: 11.5 MB on
 * the wire with deltas at 6, 13.6 MB with deltas at 1).
 */
const DEFAULT_DELTA_LEVEL = 6

async function * concat<T> (...sources: Array<AsyncIterable<T>>): AsyncIterable<T> {
  for (const s of sources) yield * s
}

/** The zstd level a want asks for (Accept-Encoding: zstd, X-Xeno-Zstd-Level, default 3); 0 = uncompressed. */
function requestedLevel (headers: Record<string, string | string[] | undefined>): number {
  const accept = String(headers['accept-encoding'] ?? '')
  if (!accept.split(',').some((e) => e.trim().split(';')[0] === ZSTD_ENCODING)) return 0
  const n = Number(headers['x-xeno-zstd-level'] ?? 3)
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_ZSTD_LEVEL) : 3
}

/** Errors of a zstd body become 400s (an aborted request fails here too; nobody reads that answer). */
async function * badZstdIsBadRequest (source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  try { yield * source } catch (err) { throw new BadRequestError('upload body is not a valid zstd stream', { cause: err }) }
}

/** Passes `source` through, failing with TooLargeError once more than `max` bytes went by. */
async function * limitBytes (source: AsyncIterable<Uint8Array>, max: number): AsyncIterable<Uint8Array> {
  let total = 0
  for await (const chunk of source) {
    total += chunk.length
    if (total > max) throw new TooLargeError(`upload exceeds the ${max}-byte limit`)
    yield chunk
  }
}
