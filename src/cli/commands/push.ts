import { ChunkMissingError } from '../../cas/errors.js'
import { publishName } from '../../sync/client-names.js'
import { push } from '../../sync/client.js'
import { clientConfig, peerFor, signingKey } from '../../sync/cli-support.js'
import { formatBytes } from '../../util/format.js'
import { UsageError, stringOption, type Command } from '../command.js'
import { transferProgress } from '../progress.js'
import { openCliStore } from '../store.js'
import { resolveLayerRoot } from '../view.js'

const command: Command = {
  summary: 'send a tree from the local store to a XenoStore (only the blocks it lacks)',
  usage: 'REF --to URL [--name NAME] [--token TOKEN] [--key FILE]',
  help: [
    'REF is a local pin name, a CID, cas://CID, template://NAME@CID or template://NAME (local pin). The store is asked which',
    'blocks it lacks (batched), and only those are sent, in one CAR stream per 256 MiB. A re-run',
    'after an interruption sends only the rest. --name NAME then publishes NAME -> root, signed',
    'with --key (default ~/.config/xeno/key.pem, see `xeno key generate`).',
    'The token comes from --token, XENO_TOKEN or the config file (--config, XENO_CONFIG).'
  ].join('\n'),
  options: { to: { type: 'string' }, name: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, config: { type: 'string' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx) {
    const to = stringOption(ctx.options, 'to')
    if (to === undefined) throw new UsageError('--to URL is required')
    const name = stringOption(ctx.options, 'name')
    const config = await clientConfig(ctx.options)
    const key = name !== undefined ? await signingKey(ctx.options, config) : undefined
    await using store = await openCliStore(ctx)
    const ref = ctx.positionals[0]
    const root = await resolveLayerRoot(store, ref)
    if (!await store.has(root)) throw new ChunkMissingError(root)
    const peer = peerFor(to, ctx.options, config)
    const bar = ctx.progress('push', undefined, 'items')
    try {
      const result = await push(store, root, peer, { signal: ctx.signal, ...transferProgress(bar) })
      const record = name !== undefined && key !== undefined ? await publishName(peer, name, root, key, ctx.signal) : undefined
      const s = peer.stats
      return { ...result, root: root.toString(), bytes: s.bytesSent + s.bytesReceived, requests: s.requests, name: record?.name, seq: record?.seq }
    } finally {
      bar.done()
      peer.close()
    }
  },
  human: (r: { root: string, blocks: number, blockBytes: number, present: number, bytes: number, requests: number, zstdLevel: number, name?: string, seq?: number }) =>
    `${r.root}\nsent ${r.blocks} blocks (${formatBytes(r.blockBytes)}), ${r.present} already there; ${formatBytes(r.bytes)} on the wire in ${r.requests} requests${r.zstdLevel > 0 ? ` (zstd-${r.zstdLevel})` : ''}` +
    (r.name !== undefined ? `\npublished ${r.name} (seq ${r.seq})` : '')
}

export default command
