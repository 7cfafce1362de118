import { resolveName } from '../../sync/client-names.js'
import { clientConfig, peerFor, seenNames } from '../../sync/cli-support.js'
import { BadRefError } from '../../sync/errors.js'
import { parseRef } from '../../sync/refs.js'
import { UsageError, stringOption, type Command } from '../command.js'

const command: Command = {
  summary: 'resolve a name on a XenoStore to its verified, signed record',
  usage: 'NAME --from URL [--token TOKEN]',
  help: [
    'NAME or template://NAME. The record must be signed by a key that the trust list of the',
    'config (--config, XENO_CONFIG, ~/.config/xeno/config.json) holds for the name, and its',
    'sequence number must not be below one seen before (rollback).'
  ].join('\n'),
  options: { from: { type: 'string' }, token: { type: 'string' }, config: { type: 'string' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx) {
    const from = stringOption(ctx.options, 'from')
    if (from === undefined) throw new UsageError('--from URL is required')
    const ref = parseRef(ctx.positionals[0])
    if (ref.kind !== 'name') throw new BadRefError(`"${ctx.positionals[0]}" is not a name`)
    const config = await clientConfig(ctx.options)
    const peer = peerFor(from, ctx.options, config)
    try {
      return await resolveName(peer, ref.name, config.trust ?? [], seenNames(), ctx.signal)
    } finally { peer.close() }
  },
  human: (r: { name: string, root: string, seq: number, time: string }) => `${r.root}\n${r.name} seq ${r.seq} signed ${r.time}`
}

export default command
