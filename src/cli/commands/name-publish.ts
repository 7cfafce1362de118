import { CID } from 'multiformats/cid'
import { publishName } from '../../sync/client-names.js'
import { clientConfig, peerFor, signingKey } from '../../sync/cli-support.js'
import { BadRefError } from '../../sync/errors.js'
import { isValidName } from '../../sync/names.js'
import { UsageError, stringOption, type Command } from '../command.js'

const command: Command = {
  summary: 'point a name at a root CID on a XenoStore (signed record)',
  usage: 'NAME ROOT --to URL [--key FILE] [--token TOKEN]',
  help: [
    'Signs {name, root, seq, prev, time} with --key (default ~/.config/xeno/key.pem) and stores it.',
    'seq is one above the store\'s current record and prev its root. The store refuses the record',
    'unless the whole tree is already there (push it first), the key is trusted for the name, and',
    'the token may write the name.'
  ].join('\n'),
  options: { to: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, config: { type: 'string' } },
  minArgs: 2,
  maxArgs: 2,
  async run (ctx) {
    const [name, rootText] = ctx.positionals
    const to = stringOption(ctx.options, 'to')
    if (to === undefined) throw new UsageError('--to URL is required')
    if (!isValidName(name)) throw new BadRefError(`bad name "${name}" (segments of letters, digits and ._- separated by /)`)
    let root: CID
    try { root = CID.parse(rootText.replace(/^cas:\/\//, '')) } catch (err) { throw new BadRefError(`"${rootText}" is not a CID`, { cause: err }) }
    const config = await clientConfig(ctx.options)
    const key = await signingKey(ctx.options, config)
    const peer = peerFor(to, ctx.options, config)
    try {
      return await publishName(peer, name, root, key, ctx.signal)
    } finally { peer.close() }
  },
  human: (r: { name: string, root: string, seq: number }) => `${r.name} -> ${r.root} (seq ${r.seq})`
}

export default command
