import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import type { ChunkStore } from '../cas/interface.js'
import { createAuthenticator, type Principal } from './auth.js'
import type { SyncConfig, SyncLimits } from './config.js'
import { ForbiddenError, NotFoundError, SyncError } from './errors.js'
import { DEFAULT_MAX_BLOCK_BYTES_4MIB, DEFAULT_MAX_CAR_BYTES_2GIB, DEFAULT_MAX_CIDS_PER_REQUEST, DEFAULT_MAX_MESSAGE_BYTES_4MIB, MEDIA, PROTOCOL_VERSION, ROUTES } from './protocol.js'
import { registerBlockRoutes } from './routes-blocks.js'
import { registerNameRoutes } from './routes-names.js'
import { AnswerCache } from './answer-cache.js'
import { DeltaCache } from './delta-cache.js'
import { createMemorySyncIndex, type SyncIndex } from './state.js'

export interface SyncAppOptions {
  /** Tenants, public prefixes, trust list, limits. Without `tenants`: one open tenant, loopback clients only. */
  config?: SyncConfig
  /** Ownership and names (default: in memory). */
  index?: SyncIndex
  /** Fastify logger option (default off). */
  logger?: boolean
  /** Deltas computed for updates, reused across clients (default: a 64 MiB cache of this app's own). */
  deltaCache?: DeltaCache
  /** Complete want answers, sent again to the next client asking the same (default: 256 MiB of this app's own; `new AnswerCache(0)` keeps none). */
  answerCache?: AnswerCache
}

/** A ChunkStore, and the durability and pinning hooks of a local store when it has them (LocalStore does). */
export type SyncStore = ChunkStore & {
  flush?: () => Promise<void>
  pin?: (name: string, root: CID) => Promise<void>
  /** A read-through store fetches a batch it lacks from upstream before a want answer streams it. */
  prefetch?: (cids: readonly CID[]) => Promise<void>
}

/** What route modules share. */
export interface SyncContext {
  readonly store: SyncStore
  readonly index: SyncIndex
  readonly config: SyncConfig
  readonly limits: SyncLimits
  readonly principal: (req: FastifyRequest) => Principal
  /** Deltas already computed (a fleet asks for the same ones). */
  readonly deltas: DeltaCache
  /** Want answers already sent whole. */
  readonly answers: AnswerCache
}

/** HTTP status of a code raised by the layers below sync (cas, overlay). */
const FOREIGN_STATUS: Record<string, number> = {
  CAS_CHUNK_INVALID: 422, CAS_CHUNK_MISSING: 404, CAS_BAD_CID: 400, OVERLAY_BAD_NODE: 422, CAS_STORE_CLOSED: 503
}

function isLoopback (address: string | undefined): boolean {
  return address !== undefined && (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))
}

/**
 * Builds the XenoStore HTTP app over `store` (see protocol.ts for the routes). Never calls
 * `listen`; the caller owns the app and closes it (which does not close `store` or `index`).
 */
export function buildSyncApp (store: SyncStore, options: SyncAppOptions = {}): FastifyInstance {
  const config = options.config ?? {}
  const limits: SyncLimits = {
    maxCidsPerRequest: config.limits?.maxCidsPerRequest ?? DEFAULT_MAX_CIDS_PER_REQUEST,
    maxMessageBytes: config.limits?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES_4MIB,
    maxCarBytes: config.limits?.maxCarBytes ?? DEFAULT_MAX_CAR_BYTES_2GIB,
    maxBlockBytes: config.limits?.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES_4MIB
  }
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: limits.maxMessageBytes })
  const authenticate = createAuthenticator(config)
  const open = config.tenants === undefined
  const principals = new WeakMap<FastifyRequest, Principal>()

  app.addContentTypeParser(MEDIA.msgpack, { parseAs: 'buffer', bodyLimit: limits.maxMessageBytes }, (_req, body, done) => { done(null, body) })
  // CAR uploads stay a stream: routes-blocks.ts verifies and stores each block as it arrives.
  app.addContentTypeParser(MEDIA.car, (_req, payload, done) => { done(null, payload) })

  app.addHook('onRequest', async (req) => {
    if (req.url === ROUTES.health) return
    if (open && !isLoopback(req.socket.remoteAddress)) throw new ForbiddenError('this store has no tenant config and serves loopback clients only')
    principals.set(req, authenticate(req.headers.authorization))
  })

  app.setErrorHandler((err: Error & { code?: string, statusCode?: number }, _req, reply) => {
    const code = err.code ?? 'SYNC_INTERNAL'
    let status = err instanceof SyncError ? err.status : FOREIGN_STATUS[code] ?? err.statusCode ?? 500
    let outCode = code
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') { status = 413; outCode = 'SYNC_TOO_LARGE' }
    if (status >= 500 && !(err instanceof SyncError)) app.log.error(err)
    void reply.status(status).header('content-type', MEDIA.json).send({ error: { code: outCode, message: err.message } })
  })
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: NotFoundError.code, message: `no route ${req.method} ${req.url}` } })
  })

  const ctx: SyncContext = {
    store, index: options.index ?? createMemorySyncIndex(), config, limits, deltas: options.deltaCache ?? new DeltaCache(), answers: options.answerCache ?? new AnswerCache(),
    principal: (req) => {
      const p = principals.get(req)
      if (p === undefined) throw new TypeError('request was not authenticated')
      return p
    }
  }
  app.get(ROUTES.health, async () => ({ ok: true, version: PROTOCOL_VERSION, open }))
  registerBlockRoutes(app, ctx)
  registerNameRoutes(app, ctx)
  return app
}
