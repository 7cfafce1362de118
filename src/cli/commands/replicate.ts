import { clientConfig, peerFor } from '../../sync/cli-support.js'
import { formatBytes } from '../../util/format.js'
import { replicate } from '../../sync/replicate.js'
import { UsageError, stringOption, type Command } from '../command.js'

const command: Command = {
  summary: 'copy names and their trees from one XenoStore to another (only missing blocks)',
  usage: '--from URL --to URL [NAME ...] [--from-token T] [--to-token T]',
  help: [
    'Copies each NAME (all names of --from when none is given): the tree goes straight from a',
    'want-list on --from into an upload to --to, only the blocks --to lacks, each verified on the',
    'way; then the signed record (unchanged: --to checks its signature, trust and sequence).',
    'Tokens: --from-token / --to-token, else XENO_TOKEN or the config\'s tokens per URL.',
    'Records must be signed by keys the client config trusts (--insecure-any-key to skip).'
  ].join('\n'),
  options: {
    from: { type: 'string' }, to: { type: 'string' }, 'from-token': { type: 'string' }, 'to-token': { type: 'string' },
    config: { type: 'string' }, 'insecure-any-key': { type: 'boolean' }
  },
  async run (ctx) {
    const from = stringOption(ctx.options, 'from')
    const to = stringOption(ctx.options, 'to')
    if (from === undefined || to === undefined) throw new UsageError('--from URL and --to URL are required')
    const config = await clientConfig(ctx.options)
    const a = peerFor(from, ctx.options, config, 'from-token')
    const b = peerFor(to, ctx.options, config, 'to-token')
    try {
      const trust = ctx.options['insecure-any-key'] === true ? undefined : (config.trust ?? [])
      return await replicate(a, b, ctx.positionals, { trust, signal: ctx.signal })
    } finally { a.close(); b.close() }
  },
  human: (r: { names: Array<{ name: string, root: string, blocks: number }>, requests: number, wireBytes: number }) =>
    [...r.names.map((n) => `${n.name} -> ${n.root} (${n.blocks} blocks sent)`), `${formatBytes(r.wireBytes)} on the wire in ${r.requests} requests`].join('\n')
}

export default command
