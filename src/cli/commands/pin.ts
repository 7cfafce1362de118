import { PinNotFoundError } from '../../cas/errors.js'
import type { CID } from 'multiformats/cid'
import { mayHaveLinks, walkDag } from '../../cas/links.js'
import { checkPinName } from '../../cas/pins.js'
import type { LocalStore } from '../../cas/store/local.js'
import type { Command } from '../command.js'
import { UsageError } from '../command.js'
import { openCliStore, resolveRoot } from '../store.js'

type PinResult =
  | { pinned: { name: string, root: string }, blocks: number, missing: number }
  | { removed: string }
  | { pins: Array<{ name: string, root: string }> }

/** `xeno pin NAME ROOT` / `xeno pin --rm NAME` / `xeno pin`: named roots that gc keeps. */
const pin: Command = {
  summary: 'name a root so gc keeps it; --rm NAME removes a name; no arguments lists them',
  usage: 'NAME ROOT | --rm NAME | (no arguments: list)',
  help: [
    'NAME: letters, digits and ._-/@ (e.g. debian/12, Debian/12/current). ROOT: a CID or an',
    'existing name (pinning a name copies its current root). An existing NAME is replaced.',
    'Then walks the tree and reports how many of its blocks the store lacks (pinning still works).',
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
    const [name, rootText] = ctx.positionals
    if (name !== undefined) checkPinName(name) // the arguments first, then the store
    await using store = await openCliStore(ctx)
    if (name === undefined || rootText === undefined) {
      return { pins: (await store.pins()).map((p) => ({ name: p.name, root: p.root.toString() })) }
    }
    const root = await resolveRoot(store, rootText)
    await store.pin(name, root)
    const { blocks, missing } = await countTree(store, root, ctx.signal)
    return { pinned: { name, root: root.toString() }, blocks, missing }
  },
  human (r: PinResult): string {
    if ('pinned' in r) {
      const line = `${r.pinned.name} -> ${r.pinned.root} (${r.blocks} blocks)`
      return r.missing === 0 ? line : `${line}\nwarning: ${r.missing} blocks of this tree are not in the store (import or pull it again)`
    }
    if ('removed' in r) return `removed ${r.removed}`
    if (r.pins.length === 0) return 'no pins'
    const w = Math.max(...r.pins.map((p) => p.name.length))
    return r.pins.map((p) => `${p.name.padEnd(w)}  ${p.root}`).join('\n')
  }
}
/** Blocks of the tree under `root`, and how many of them the store lacks (a walk like fsck's). */
async function countTree (store: LocalStore, root: CID, signal: AbortSignal): Promise<{ blocks: number, missing: number }> {
  let blocks = 0
  let missing = 0
  let leaves: CID[] = []
  const check = async (): Promise<void> => { for await (const _ of store.missing(leaves)) missing++; leaves = [] }
  for await (const cid of walkDag(store, root, { onMissing: 'skip', missing: () => { missing++ }, signal })) {
    blocks++
    if (!mayHaveLinks(cid)) { leaves.push(cid); if (leaves.length >= 1024) await check() }
  }
  await check()
  return { blocks, missing }
}

export default pin
