import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { defaultKeyFile } from '../../sync/cli-support.js'
import { defaultConfigFile, loadConfig } from '../../sync/config.js'
import { generateKeyFile } from '../../sync/names.js'
import { stringOption, stringsOption, type Command } from '../command.js'

const command: Command = {
  summary: 'create an ed25519 signing key for names, and trust it locally',
  usage: '[--out FILE] [--trust PREFIX ...] [--no-trust]',
  help: [
    'Writes a new private key (PKCS#8 PEM, mode 0600) to --out (default ~/.config/xeno/key.pem;',
    'never overwrites) and prints the public key. Unless --no-trust, the public key is added to',
    'the trust list of the client config (XENO_CONFIG or ~/.config/xeno/config.json) for the',
    'name prefixes --trust (default: every name). Give the public key to store operators for',
    'their trust lists.'
  ].join('\n'),
  options: { out: { type: 'string' }, trust: { type: 'string', multiple: true }, 'no-trust': { type: 'boolean' } },
  maxArgs: 0,
  async run (ctx) {
    const file = stringOption(ctx.options, 'out') ?? defaultKeyFile()
    const publicKey = await generateKeyFile(file)
    let configFile: string | undefined
    if (ctx.options['no-trust'] !== true) {
      configFile = defaultConfigFile()
      const config = await loadConfig(configFile, true)
      const prefixes = stringsOption(ctx.options, 'trust')
      const trust = [...(config.trust ?? []), { key: publicKey, names: prefixes.length > 0 ? prefixes : [''] }]
      const next = { ...config, trust, key: config.key ?? file }
      await mkdir(dirname(configFile), { recursive: true })
      await writeFile(configFile + '.tmp', JSON.stringify(next, null, 2) + '\n', { mode: 0o600 })
      await rename(configFile + '.tmp', configFile)
    }
    return { publicKey, keyFile: file, config: configFile }
  },
  human: (r: { publicKey: string, keyFile: string, config?: string }) =>
    `${r.publicKey}\nprivate key in ${r.keyFile}` + (r.config !== undefined ? `; trusted in ${r.config}` : '')
}

export default command
