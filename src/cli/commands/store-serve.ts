import { join } from 'node:path'
import { once } from 'node:events'
import { openLocalStore } from '../../cas/index.js'
import { BadConfigError } from '../../sync/errors.js'
import { loadConfig } from '../../sync/config.js'
import { Peer } from '../../sync/http.js'
import { ReadThroughStore } from '../../sync/read-through.js'
import { RemoteChunkReader } from '../../sync/remote.js'
import { AnswerCache } from '../../sync/answer-cache.js'
import { buildSyncApp } from '../../sync/server.js'
import { openSyncIndex } from '../../sync/state.js'
import { numberOption, parseListen, stringOption, type Command } from '../command.js'

const isLoopbackHost = (h: string): boolean => h === 'localhost' || h === '::1' || h.startsWith('127.')

const command: Command = {
  summary: 'run a XenoStore (chunk store, names, tenants) over HTTP',
  usage: '[--listen HOST:PORT] [--data DIR] [--config FILE] [--answer-cache-mb N]',
  help: [
    'Serves the sync protocol (has, want, CAR uploads, single blocks, signed names) until',
    'interrupted. --data DIR holds the chunks (DIR/chunks) and the tenant/name index (DIR/sync);',
    'default: the --store directory. Without --config there is one open tenant and only',
    'loopback addresses may listen or connect. Prints "listening on URL" once ready.',
    '--listen 127.0.0.1:0 picks a free port. --upstream URL makes this a read-through cache of',
    'another XenoStore (a peer server\'s cache or the central store): blocks it lacks are fetched',
    'from there once, verified and kept (--upstream-token or XENO_UPSTREAM_TOKEN).',
    '--answer-cache-mb N (default 256, 0 = none): complete want answers are kept, compressed as',
    'sent, and sent again to the next client asking the same (a fleet taking one update).',
    'Memory: glibc\'s free pages go back to the kernel every 5 s (XENO_MALLOC_TRIM_MS; 0: off);',
    'at most 2 malloc arenas (MALLOC_ARENA_MAX overrides).'
  ].join('\n'),
  options: { listen: { type: 'string' }, data: { type: 'string' }, config: { type: 'string' }, upstream: { type: 'string' }, 'upstream-token': { type: 'string' }, 'answer-cache-mb': { type: 'string' } },
  maxArgs: 0,
  async run (ctx) {
    const { host, port } = parseListen(stringOption(ctx.options, 'listen') ?? '127.0.0.1:7070')
    const configFile = stringOption(ctx.options, 'config')
    const config = configFile !== undefined ? await loadConfig(configFile) : undefined
    if (config?.tenants === undefined && !isLoopbackHost(host)) {
      throw new BadConfigError(`refusing to serve ${host} without a tenant config (--config): the open default is for loopback only`)
    }
    const dir = stringOption(ctx.options, 'data') ?? ctx.storeDir
    const local = await openLocalStore(join(dir, 'chunks'))
    const upstreamUrl = stringOption(ctx.options, 'upstream')
    const upstream = upstreamUrl === undefined ? undefined : new Peer(upstreamUrl, { token: stringOption(ctx.options, 'upstream-token') ?? process.env.XENO_UPSTREAM_TOKEN })
    const store = upstream === undefined ? local : new ReadThroughStore(local, new RemoteChunkReader(upstream))
    const index = await openSyncIndex(join(dir, 'sync'))
    const answerMb = numberOption(ctx.options, 'answer-cache-mb', 'a number of MiB (0 keeps none)', { min: 0 }, 256)
    const app = buildSyncApp(store, { config, index, answerCache: new AnswerCache(answerMb * 1024 * 1024) })
    let url: string
    try {
      url = await app.listen({ host, port })
    } catch (err) {
      await index.close(); await store.close()
      throw err
    }
    process.stdout.write(`listening on ${url}\n`)
    if (!ctx.signal.aborted) await once(ctx.signal, 'abort')
    await app.close()
    upstream?.close()
    await index.close()
    await store.close()
    return { url, stopped: true }
  },
  human: () => ''
}

export default command
