import { PinNotFoundError } from '../../cas/errors.js'
import { checkPinName } from '../../cas/pins.js'
import type { Command } from '../command.js'
import { UsageError } from '../command.js'
import { openCliStore, resolveRoot } from '../store.js'

type PinResult =
  | { pinned: { name: string, root: string } }
  | { removed: string }
  | { pins: Array<{ name: string, root: string }> }

/** `xeno pin NAME ROOT` / `xeno pin --rm NAME` / `xeno pin`: named roots that gc keeps. */
const pin: Command = {
  summary: 'name a root so gc keeps it; --rm NAME removes a name; no arguments lists them',
  usage: 'NAME ROOT | --rm NAME | (no arguments: list)',
  help: [
    'NAME: letters, digits and ._-/@ (e.g. debian/12, Debian/12/current). ROOT: a CID or an',
    'existing name (pinning a name copies its current root). An existing NAME is replaced.',
    '',
    '  --rm NAME   remove the name (its blocks go at the next xeno gc unless another name keeps them)'
  ].join('\n'),
  options: { rm: { type: 'string' } },
  maxArgs: 2,
  async run (ctx): Promise<PinResult> {
    const rm = ctx.options.rm
    if (rm !== undefined) {
      if (typeof rm !== 'string' || ctx.positionals.length > 0) throw new UsageError('--rm takes one NAME and no other arguments')
      await using store = await openCliStore(ctx)
      if (!await store.unpin(rm)) throw new PinNotFoundError(rm)
      return { removed: rm }
    }
    if (ctx.positionals.length === 1) throw new UsageError('give NAME and ROOT, or no arguments to list')
    await using store = await openCliStore(ctx)
    if (ctx.positionals.length === 0) {
      return { pins: (await store.pins()).map((p) => ({ name: p.name, root: p.root.toString() })) }
    }
    const [name, rootText] = ctx.positionals
    checkPinName(name)
    const root = await resolveRoot(store, rootText)
    await store.pin(name, root)
    return { pinned: { name, root: root.toString() } }
  },
  human (r: PinResult): string {
    if ('pinned' in r) return `${r.pinned.name} -> ${r.pinned.root}`
    if ('removed' in r) return `removed ${r.removed}`
    if (r.pins.length === 0) return 'no pins'
    const w = Math.max(...r.pins.map((p) => p.name.length))
    return r.pins.map((p) => `${p.name.padEnd(w)}  ${p.root}`).join('\n')
  }
}
export default pin
