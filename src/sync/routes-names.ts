import type { FastifyInstance } from 'fastify'
import { CID } from 'multiformats/cid'
import type { ChunkStore } from '../cas/interface.js'
import { visible, visibleReader } from './access.js'
import { PUBLIC_TENANT, requireRead, requireWrite, type Principal } from './auth.js'
import { BadRequestError, IncompleteTreeError, NameConflictError, NotFoundError, RollbackError, UntrustedKeyError } from './errors.js'
import { isTrusted, isValidName, nameInPrefix, verifyRecord, type NameRecord } from './names.js'
import { ROUTES } from './protocol.js'
import type { SyncContext } from './server.js'
import type { SyncIndex } from './state.js'
import { walkTree } from './walk.js'

const CHECK_BATCH = 4096

/** Name routes: list, get, publish (signed, monotonic, tree complete on this server). */
export function registerNameRoutes (app: FastifyInstance, ctx: SyncContext): void {
  const { store, index, config } = ctx
  const isPublic = (name: string): boolean => (config.public ?? []).some((p) => nameInPrefix(name, p))
  const mayRead = (p: Principal, name: string): boolean => isPublic(name) || p.read.some((x) => nameInPrefix(name, x))
  let queue: Promise<unknown> = Promise.resolve()

  app.get<{ Querystring: { prefix?: string } }>(ROUTES.names, async (req) => {
    const p = ctx.principal(req)
    const records = await index.listNames(req.query.prefix ?? '')
    return { names: records.filter((r) => mayRead(p, r.name)) }
  })

  app.get<{ Params: { '*': string } }>(`${ROUTES.names}/*`, async (req) => {
    const p = ctx.principal(req)
    const name = checkName(req.params['*'])
    if (!isPublic(name)) requireRead(p, name)
    const record = await index.getName(name)
    if (record === undefined) throw new NotFoundError(`no name "${name}"`)
    return record
  })

  app.put<{ Params: { '*': string } }>(`${ROUTES.names}/*`, async (req) => {
    const p = ctx.principal(req)
    const name = checkName(req.params['*'])
    requireWrite(p, name)
    const record = verifyRecord(req.body)
    if (record.name !== name) throw new BadRequestError(`record is for "${record.name}", not "${name}"`)
    // Publishes are serialised so seq and prev checks see the latest record.
    const run = queue.then(async () => await publish(p, record))
    queue = run.catch(() => {})
    return await run
  })

  async function publish (p: Principal, record: NameRecord): Promise<NameRecord> {
    const existing = await index.getName(record.name)
    const trust = config.trust ?? []
    if (trust.length > 0) {
      if (!isTrusted(trust, record.key, record.name)) throw new UntrustedKeyError(`key ${record.key} is not trusted for "${record.name}"`)
    } else if (existing !== undefined && existing.key !== record.key) {
      throw new UntrustedKeyError(`"${record.name}" was published with another key (first key wins on a store without a trust list)`)
    }
    if (existing !== undefined) {
      if (record.seq === existing.seq && record.sig === existing.sig) return existing
      if (record.seq <= existing.seq) throw new RollbackError(`"${record.name}" is at seq ${existing.seq}; refusing seq ${record.seq}`)
      if (record.seq === existing.seq + 1 && record.prev !== existing.root) {
        throw new NameConflictError(`"${record.name}" now points at ${existing.root}, not ${String(record.prev)}`)
      }
    }
    const cids = await completeTree(store, index, p, CID.parse(record.root))
    if (isPublic(record.name) && !p.open) for (let i = 0; i < cids.length; i += CHECK_BATCH) await index.grant(PUBLIC_TENANT, cids.slice(i, i + CHECK_BATCH))
    // Published trees are pinned under their name, so the store's GC keeps them.
    await store.pin?.(record.name, CID.parse(record.root))
    await index.putName(record)
    return record
  }
}

function checkName (name: string): string {
  if (!isValidName(name)) throw new BadRequestError(`bad name "${name}"`)
  return name
}

/** Every CID of the tree `root`; throws IncompleteTreeError unless all are stored and visible to `p`. */
async function completeTree (store: ChunkStore, index: SyncIndex, p: Principal, root: CID): Promise<CID[]> {
  const all: CID[] = []
  let batch: CID[] = []
  let missing = 0
  const check = async (): Promise<void> => {
    const flags = await visible(store, index, p, batch)
    missing += flags.filter((f) => !f).length
    batch = []
  }
  try {
    for await (const cid of walkTree(visibleReader(store, index, p), root)) {
      all.push(cid)
      batch.push(cid)
      if (batch.length >= CHECK_BATCH) await check()
    }
    await check()
  } catch (err) {
    throw new IncompleteTreeError(`tree ${root} is not complete on this store (push it first)`, { cause: err })
  }
  if (missing > 0) throw new IncompleteTreeError(`tree ${root} lacks ${missing} blocks on this store (push it first)`)
  return all
}
