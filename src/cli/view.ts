import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import type { LocalStore } from '../cas/store/local.js'
import { flattenUnion } from '../overlay/flatten.js'
import type { UnionLayer } from '../overlay/layer.js'
import { createMountHook, type MountResolvers } from '../overlay/mount.js'
import { openTree, type Tree } from '../overlay/tree.js'
import { Union } from '../overlay/union.js'
import { openUnionView, type UnionView } from '../overlay/union-view.js'
import { openWritableLayer, type UpperLayer, type WritableLayer } from '../overlay/writable.js'
import { UsageError, stringsOption, type OptionValues } from './command.js'
import { resolveRoot } from './store.js'
import { resolveTreeRef } from './tree-ref.js'

/** The repeatable `--layer` option: add to a command's `options`. */
export const LAYER_OPTIONS = { layer: { type: 'string', multiple: true } } as const

/** Help text for commands that take `--layer`. */
export const LAYER_HELP = [
  '  --layer L       a layer of a stack, top first, repeatable (instead of ROOT): a CID, a pin',
  '                  name, cas://CID, template://NAME or template://NAME@CID; the top one may be',
  '                  a writable layer directory. .mount files inside are resolved.'
].join('\n')

/**
 * A `--layer` value or `.mount` line as a root: CID, `cas://CID`, `template://NAME@CID`
 * (the CID, pinned by the writer), `template://NAME` or a bare pin name (resolved in `store`).
 * Rejects CAS_BAD_CID / CAS_PIN_NOT_FOUND.
 */
export async function resolveLayerRoot (store: Pick<LocalStore, 'resolvePin'>, text: string): Promise<CID> {
  if (text.startsWith('cas://')) return CID.parse(text.slice(6))
  if (text.startsWith('template://')) {
    const rest = text.slice(11)
    const at = rest.lastIndexOf('@')
    if (at >= 0) { try { return CID.parse(rest.slice(at + 1)) } catch { /* a pin name with @ */ } }
    return await resolveRoot(store, rest)
  }
  return await resolveRoot(store, text)
}

/** Mount resolvers for the CLI: cas://, template:// through the local store's pins, local dirs. */
export function cliMountResolvers (store: LocalStore): MountResolvers {
  return {
    tree: async (url) => openTree(store, await resolveLayerRoot(store, url)),
    store
  }
}

export interface CliView {
  readonly view: UnionView
  readonly union: Union
  /** The immutable layers, top first. */
  readonly trees: readonly Tree[]
  readonly writable?: WritableLayer
  close (): Promise<void>
}

function isWritableDir (text: string): boolean {
  return existsSync(join(text, 'meta'))
}

/**
 * Opens the union of `layers` (top first, as given with `--layer`) over `store`, read-only
 * unless the top one is a writable layer directory. `.mount` files are resolved on demand.
 */
export async function openLayerView (store: LocalStore, layers: readonly string[]): Promise<CliView> {
  if (layers.length === 0) throw new UsageError('give at least one --layer')
  let writable: WritableLayer | undefined
  const trees: Tree[] = []
  for (const [i, text] of layers.entries()) {
    if (i === 0 && isWritableDir(text)) { writable = await openWritableLayer(text); continue }
    trees.push(openTree(store, await resolveLayerRoot(store, text)))
  }
  const onDir = createMountHook<UpperLayer>(cliMountResolvers(store))
  const view = await openUnionView({ lowers: trees, store, writable, onDir })
  const union = new Union(trees as UnionLayer[], { onDir: onDir as never })
  return {
    view, union, trees, writable,
    async close () { await view.close(); await writable?.close() }
  }
}

/**
 * What ls, cat and export read: with `--layer` options, the stack flattened into one tree
 * (written to `store`; subtrees only the bottom layer holds are reused, never copied; `.mount`
 * files are kept as they are) and the positional PATH; otherwise the positional `ROOT[:PATH]`.
 */
export async function resolveViewRoot (store: LocalStore, options: OptionValues, ref: string | undefined): Promise<{ root: CID, path: string }> {
  const layers = stringsOption(options, 'layer')
  if (layers.length === 0) {
    if (ref === undefined) throw new UsageError('give ROOT[:PATH] or --layer')
    return await resolveTreeRef(store, ref)
  }
  if (layers.length === 1 && !isWritableDir(layers[0])) return { root: await resolveLayerRoot(store, layers[0]), path: ref ?? '/' }
  const trees = await Promise.all(layers.map(async (l) => openTree(store, await resolveLayerRoot(store, l))))
  // `.mount` files stay files here: they are resolved where the stack is served (a view).
  const root = await flattenUnion(new Union(trees), store)
  return { root, path: ref === undefined || ref === '' ? '/' : ref.startsWith(':') ? ref.slice(1) || '/' : ref }
}
