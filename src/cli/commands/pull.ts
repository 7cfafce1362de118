import { pull } from '../../sync/pull.js'
import { clientConfig, peerFor, resolveRemote } from '../../sync/cli-support.js'
import { formatBytes } from '../../util/format.js'
import { UsageError, stringOption, type Command } from '../command.js'
import { transferProgress } from '../progress.js'
import { openCliStore, resolveRoot } from '../store.js'

const command: Command = {
  summary: 'fetch a tree from a XenoStore into the local store (only the missing blocks)',
  usage: 'REF --from URL [--base ROOT] [--pin NAME] [--token TOKEN]',
  help: [
    'REF is a name (resolved on the store and verified against the trust list of the config),',
    'template://NAME (the same), template://NAME@CID, cas://CID or a CID. Tree nodes come first,',
    'then exactly the chunks the local store lacks, in one or a few CAR streams; every block is',
    'verified and kept as it arrives, so a re-run after an interruption fetches only the rest.',
    '--base ROOT names a tree already held locally (its nodes are not sent again).',
    'The root is pinned locally under --pin NAME, or under the name of REF when it has one.'
  ].join('\n'),
  options: { from: { type: 'string' }, base: { type: 'string' }, pin: { type: 'string' }, token: { type: 'string' }, config: { type: 'string' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx) {
    const from = stringOption(ctx.options, 'from')
    if (from === undefined) throw new UsageError('--from URL is required')
    const config = await clientConfig(ctx.options)
    const peer = peerFor(from, ctx.options, config)
    await using store = await openCliStore(ctx, { create: true })
    const bar = ctx.progress('pull', undefined, 'items')
    try {
      const { root, record, name } = await resolveRemote(ctx.positionals[0], peer, config, ctx.signal)
      const baseText = stringOption(ctx.options, 'base')
      const base = baseText !== undefined ? await resolveRoot(store, baseText) : undefined
      const lease = store.beginWrite()
      let result
      try {
        result = await pull(store, root, peer, { base, signal: ctx.signal, ...transferProgress(bar) })
        const pinName = stringOption(ctx.options, 'pin') ?? name
        if (pinName !== undefined) await store.pin(pinName, root)
        else await store.flush()
      } finally { lease.release() }
      const s = peer.stats
      return { ...result, root: root.toString(), bytes: s.bytesSent + s.bytesReceived, requests: s.requests, name: record?.name, seq: record?.seq }
    } finally {
      bar.done()
      peer.close()
    }
  },
  human: (r: { root: string, blocks: number, blockBytes: number, present: number, bytes: number, requests: number, zstdLevel: number }) =>
    `${r.root}\nfetched ${r.blocks} blocks (${formatBytes(r.blockBytes)}), ${r.present} already local; ${formatBytes(r.bytes)} on the wire in ${r.requests} requests${r.zstdLevel > 0 ? ` (zstd-${r.zstdLevel})` : ''}`
}

export default command
