import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createMountHook, openLevelKv, openTree, openUnionView, openWritableLayer, type Kv, type Tree, type WritableLayer } from '../../overlay/index.js'
import type { UpperLayer } from '../../overlay/writable.js'
import {
  AccessTrace, ChunkCache, DEFAULT_KV_CACHE_ENTRIES, DEFAULT_NODE_CACHE_ENTRIES, DirView, cachedKv, createNfsServer, tracedFilesystem, viewFilesystem,
  type BatchChunkReader, type Filesystem
} from '../../nfs/index.js'
import { UsageError, numberOption, parseListen, portOption, stringOption, stringsOption, type Command } from '../command.js'
import { mallocTrimStats } from '../server-memory.js'
import { openCliStore } from '../store.js'
import { storeAddon } from '../../cas/addon.js'
import { verifyChunk } from '../../cas/verify.js'
import { MEDIA, Peer, PeerRejectedError, ROUTES, decodeCar, encodeMessage, packCids, peerHas } from '../../sync/index.js'
import { cliMountResolvers, resolveLayerRoot } from '../view.js'

/**
 * The blocks of a XenoStore as a ChunkReader: one `GET /v1/blocks/:cid` each, and many in one
 * want-list answered by a CAR stream (sync/protocol.ts) for readahead. Both check what they
 * return against its CID (decodeCar as blocks arrive), so the chunk cache does not hash again.
 * The stream is asked for uncompressed: a lazy read waits for it.
 */
function peerReader (peer: Peer): BatchChunkReader {
  return {
    verifies: true,
    async * getMany (cids) {
      const res = await peer.request('POST', ROUTES.want, { body: encodeMessage({ v: 1, cids: packCids(cids) }), contentType: MEDIA.msgpack })
      yield * decodeCar(res)
    },
    async has (cid) { return (await peerHas(peer, [cid]))[0] === true },
    async get (cid) {
      let bytes: Uint8Array
      try {
        bytes = await peer.fetchBytes('GET', `${ROUTES.blocks}/${cid.toString()}`)
      } catch (err) {
        if (err instanceof PeerRejectedError && err.status === 404) return undefined
        throw err
      }
      verifyChunk(cid, bytes)
      return bytes
    }
  }
}

/**
 * The kernel's split of RSS (Linux /proc/self/status): anonymous memory (heaps, buffers) and
 * file pages mapped in (code, and LevelDB's tables, which it reads through mmap). Empty elsewhere.
 */
function residentKinds (): { rssAnon?: number, rssFile?: number } {
  let status: string
  try { status = readFileSync('/proc/self/status', 'utf8') } catch { return {} }
  const kib = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)
    return m === null ? undefined : Number(m[1]) * 1024
  }
  return { rssAnon: kib('RssAnon'), rssFile: kib('RssFile') }
}

const command: Command = {
  summary: 'export a layer stack (copy-on-write) over NFSv3 + MOUNT v3',
  usage: '--layer ROOT ... [--writable DIR] --allow ADDR ... [--listen HOST:PORT] [--mount-port PORT]',
  help: [
    'Serves the union of the --layer stack (top first: CID, cas://CID, template://NAME[@CID],',
    'pin name) read straight from the local chunk store. With --writable DIR, writes go',
    'copy-on-write into that writable layer (created if absent); without it the export is',
    'read-only. Runs until interrupted and prints "listening on HOST:PORT" once ready.',
    '  --allow ADDR       client address or IPv4 CIDR allowed to mount and use it (repeatable;',
    '                     default 127.0.0.1); others are refused at MOUNT and at every call',
    '  --listen H:P       NFS address (default 127.0.0.1:2049; port 0 picks a free one)',
    '  --mount-port P     MOUNT on its own port (default: the NFS port serves MOUNT too)',
    '  --portmap-port P   also answer PORTMAP v2 there (111 for clients that need it)',
    '  --export NAME      the path clients mount (default /export)',
    '  --state DIR        handle secret and inode table (default STORE/nfs-state); keep it',
    '                     to keep file handles valid across restarts',
    '  --root-squash      map uid 0 to 65534',
    '  --dir DIR          export a plain directory instead of a layer stack (its handles',
    '                     last while the server runs; a layer stack\'s survive restarts)',
    '  --cache-mb N       decompressed chunks kept in memory (default 256)',
    '  --reply-cache-mb N encoded results kept for clients asking again (default 32)',
    '  --idle-poll-us N   after answering, keep polling for the next call up to N µs rather',
    '                     than sleep and be woken (default 200, or XENO_NFS_IDLE_POLL_US; 0:',
    '                     never, where every core is wanted); backs off when preempted',
    '  --kv-cache-entries N  inode table / writable layer entries kept in memory (default',
    '                     131072 each)',
    '  --node-cache-entries N  file handles, node paths and attributes, and listed directory',
    '                     entries remembered in memory (default 65536 each)',
    '  --trace FILE       append an access trace (blocks and files in first-read order)',
    '  --from URL         XenoStore to fetch missing blocks from on first read (lazy; verified',
    '                     and kept in the local store); --token T for a tenant store',
    '  --stats S          every S seconds, print a line "stats {JSON}": RSS (anonymous and',
    '                     file-mapped), V8 heap, malloc (in use, free), and what each cache',
    '                     holds (chunk bytes, kept replies, cached Kv entries), idle polls',
    'Memory: glibc\'s free pages go back to the kernel every 5 s (XENO_MALLOC_TRIM_MS; 0: off);',
    'at most 2 malloc arenas (MALLOC_ARENA_MAX overrides).',
    'Clients: nfs-ls "nfs://127.0.0.1/export?version=3&nfsport=P&mountport=P".'
  ].join('\n'),
  options: {
    layer: { type: 'string', multiple: true },
    writable: { type: 'string' },
    allow: { type: 'string', multiple: true },
    listen: { type: 'string' },
    'mount-port': { type: 'string' },
    'portmap-port': { type: 'string' },
    export: { type: 'string' },
    state: { type: 'string' },
    'root-squash': { type: 'boolean' },
    dir: { type: 'string' },
    'cache-mb': { type: 'string' },
    trace: { type: 'string' },
    from: { type: 'string' },
    token: { type: 'string' },
    stats: { type: 'string' },
    'reply-cache-mb': { type: 'string' },
    'idle-poll-us': { type: 'string' },
    'kv-cache-entries': { type: 'string' },
    'node-cache-entries': { type: 'string' }
  },
  maxArgs: 0,
  async run (ctx) {
    const { host, port } = parseListen(stringOption(ctx.options, 'listen') ?? '127.0.0.1:2049')
    const layers = stringsOption(ctx.options, 'layer')
    const plainDir = stringOption(ctx.options, 'dir')
    if ((layers.length === 0) === (plainDir === undefined)) throw new UsageError('give --layer ROOT (repeatable) or --dir DIR')
    const writableDir = stringOption(ctx.options, 'writable')
    const stateDir = stringOption(ctx.options, 'state') ?? join(ctx.storeDir, 'nfs-state')
    const allow = stringsOption(ctx.options, 'allow')
    const name = stringOption(ctx.options, 'export') ?? '/export'
    const closers: Array<() => Promise<void>> = []
    const traceFile = stringOption(ctx.options, 'trace')
    const trace = traceFile === undefined ? undefined : new AccessTrace(traceFile)
    if (trace !== undefined) closers.push(async () => { await trace.close() })
    const closeAll = async (): Promise<void> => { for (const c of closers.reverse()) await c() }
    const statsEvery = stringOption(ctx.options, 'stats')
    if (statsEvery !== undefined && !(Number(statsEvery) > 0)) throw new UsageError('--stats takes a number of seconds')
    const replyCacheMb = numberOption(ctx.options, 'reply-cache-mb', 'a number', { min: 0 }, 32)
    const idlePollUs = numberOption(ctx.options, 'idle-poll-us', 'a number of microseconds (0-1000000)', { min: 0, max: 1_000_000 })
    const kvEntries = numberOption(ctx.options, 'kv-cache-entries', 'a whole number', { min: 0, integer: true }, DEFAULT_KV_CACHE_ENTRIES)
    const nodeEntries = numberOption(ctx.options, 'node-cache-entries', 'a whole number >= 1', { min: 1, integer: true }, DEFAULT_NODE_CACHE_ENTRIES)
    let chunkCache: ChunkCache | undefined
    const kvs: Array<{ readonly cachedEntries: number }> = []
    try {
      let fs: Filesystem
      if (plainDir !== undefined) {
        // A plain directory may change behind the server's back: no attribute cache.
        fs = viewFilesystem(new DirView(plainDir), { cacheAttrs: false, statfsPath: plainDir, nodeCacheEntries: nodeEntries })
      } else {
        const from = stringOption(ctx.options, 'from')
        const store = await openCliStore(ctx, { create: from !== undefined }) // a lazy export may start from an empty store
        closers.push(async () => { await store.close() })
        const cacheMb = numberOption(ctx.options, 'cache-mb', 'a number', { min: 0 }, 256)
        const peer = from === undefined ? undefined : new Peer(from, { token: stringOption(ctx.options, 'token') })
        if (peer !== undefined) closers.push(async () => { peer.close() })
        const reader = chunkCache = new ChunkCache(store, { remote: peer === undefined ? undefined : peerReader(peer), maxBytes: cacheMb * 1_048_576, onRead: trace === undefined ? undefined : (cid, from) => { trace?.chunk(cid, from) } })
        closers.push(async () => { await reader.flush() }) // before the store closes (closers run last first)
        const trees: Tree[] = []
        for (const l of layers) trees.push(openTree(reader, await resolveLayerRoot(store, l)))
        let writable: WritableLayer | undefined
        let state: Kv | undefined
        if (writableDir !== undefined) {
          const layer = await openWritableLayer(writableDir)
          closers.push(async () => { await layer.close() })
          const kv = cachedKv(layer.kv, kvEntries)
          kvs.push(kv)
          writable = { dir: layer.dir, kv, close: async () => { await layer.close() } }
        } else {
          // A read-only view keeps its inode table here, so handles survive restarts.
          const kv = cachedKv(await openLevelKv(join(stateDir, 'inodes')), kvEntries)
          kvs.push(kv)
          state = kv
          closers.push(async () => { await state?.close() })
        }
        const view = await openUnionView({ lowers: trees, store: reader, writable, state, onDir: createMountHook<UpperLayer>(cliMountResolvers(store)) })
        closers.push(async () => { await view.close() })
        fs = viewFilesystem(view, { statfsPath: writableDir ?? ctx.storeDir, nodeCacheEntries: nodeEntries })
        if (trace !== undefined) fs = tracedFilesystem(fs, trace, async (id) => await view.pathOf(id))
      }
      const server = await createNfsServer({
        stateDir,
        host,
        port,
        mountPort: portOption(stringOption(ctx.options, 'mount-port'), 'mount-port'),
        portmapPort: portOption(stringOption(ctx.options, 'portmap-port'), 'portmap-port'),
        replyCacheBytes: Math.floor(replyCacheMb * 1_048_576),
        idlePollUs,
        handleCacheEntries: nodeEntries,
        exports: [{ name, fs, allow: allow.length > 0 ? allow : ['127.0.0.1'], rootSquash: ctx.options['root-squash'] === true }],
        log: (m) => { process.stderr.write(`${m}\n`) }
      })
      closers.push(async () => { await server.close() })
      process.stdout.write(`listening on ${host}:${server.port} (mount ${server.mountPort}${server.portmapPort !== undefined ? `, portmap ${server.portmapPort}` : ''}) export ${name}\n`)
      if (statsEvery !== undefined) {
        const timer = setInterval(() => {
          const m = process.memoryUsage()
          const stats = {
            rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers,
            chunkCacheBytes: chunkCache?.stats.bytes ?? 0, replyCacheBytes: server.replyCache.bytes, replyCacheEntries: server.replyCache.entries,
            kvCacheEntries: kvs.reduce((n, kv) => n + kv.cachedEntries, 0), calls: server.stats.calls, idlePoll: server.idlePoll,
            malloc: storeAddon()?.mallocInfo?.(), mallocTrim: mallocTrimStats, ...residentKinds()
          }
          process.stdout.write(`stats ${JSON.stringify(stats)}\n`)
        }, Number(statsEvery) * 1000)
        timer.unref()
        closers.push(async () => { clearInterval(timer) })
      }
      if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
      const result = { host, port: server.port, mountPort: server.mountPort, export: name, calls: server.stats.calls, stopped: true }
      return result
    } finally {
      await closeAll()
    }
  },
  human: () => ''
}

export default command
