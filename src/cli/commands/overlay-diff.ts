import { createReadStream, statSync } from 'node:fs'
import type { CID } from 'multiformats/cid'
import type { LocalStore } from '../../cas/store/local.js'
import { diffTrees, type DiffStats } from '../../overlay/diff.js'
import { ImportError } from '../../overlay/errors.js'
import { flattenUnion } from '../../overlay/flatten.js'
import { importDirectory } from '../../overlay/import-dir.js'
import { importTar } from '../../overlay/import-tar.js'
import { openTree } from '../../overlay/tree.js'
import { Union } from '../../overlay/union.js'
import { stringOption, UsageError, type Command, type CommandContext } from '../command.js'
import { openCliStore } from '../store.js'
import { resolveLayerRoot } from '../view.js'

interface DiffResult { root: string, base: string, target: string, stats: DiffStats, checked?: boolean, name?: string }

/** TREE as a root: a directory or tar file is imported first; anything else is a CID or pin name. */
export async function treeArgument (ctx: CommandContext, store: LocalStore, text: string): Promise<CID> {
  let isDir = false
  let isFile = false
  try { const st = statSync(text); isDir = st.isDirectory(); isFile = st.isFile() } catch { /* not a path */ }
  const options = { signal: ctx.signal }
  if (isDir) return (await importDirectory(text, store, options)).root
  if (isFile || text === '-') {
    const src = text === '-' ? process.stdin : createReadStream(text, { highWaterMark: 1 << 20 })
    try { return (await importTar(src, store, options)).root } catch (err) { throw err instanceof ImportError ? err : new ImportError(`cannot import ${text} as a tar`, { cause: err }) }
  }
  if (text.startsWith('/') || text.startsWith('.')) throw new ImportError(`cannot read ${text}: no such file or directory`)
  return await resolveLayerRoot(store, text)
}

const command: Command = {
  summary: 'the overlay that turns a base tree into TREE; prints its root CID',
  usage: 'TREE --base ROOT [--name NAME] [--check]',
  help: [
    'TREE is a directory or a tar file (imported first) or a root (CID, pin name, cas://CID).',
    'The overlay holds added and changed entries (their content is not stored again), whiteouts',
    'for deletions, opaque directories where a directory replaced something else, and entries',
    'whose metadata alone changed. Subtrees with equal CIDs are skipped without reading them.',
    '  --base ROOT     the tree the overlay applies to',
    '  --name NAME     pin the overlay under NAME',
    '  --check         verify that the union of base and overlay is TREE (same root CID)'
  ].join('\n'),
  options: { base: { type: 'string' }, name: { type: 'string' }, check: { type: 'boolean' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx): Promise<DiffResult> {
    const baseText = stringOption(ctx.options, 'base')
    if (baseText === undefined) throw new UsageError('--base ROOT is required')
    const name = stringOption(ctx.options, 'name')
    await using store = await openCliStore(ctx)
    const lease = store.beginWrite()
    try {
      const base = await resolveLayerRoot(store, baseText)
      const target = await treeArgument(ctx, store, ctx.positionals[0])
      const { root, stats } = await diffTrees(openTree(store, base), openTree(store, target), store, { signal: ctx.signal })
      let checked: boolean | undefined
      if (ctx.options.check === true) {
        checked = (await flattenUnion(new Union([openTree(store, root), openTree(store, base)]), store)).equals(target)
      }
      if (name !== undefined) await store.pin(name, root); else await store.flush()
      return { root: root.toString(), base: base.toString(), target: target.toString(), stats, checked, name }
    } finally { lease.release() }
  },
  human: (r: DiffResult) => [
    r.root,
    `${r.stats.added} added, ${r.stats.changed} changed, ${r.stats.metadata} metadata-only, ${r.stats.whiteouts} whiteouts, ` +
    `${r.stats.opaque} opaque; ${r.stats.skipped} identical directories skipped` +
    (r.checked === undefined ? '' : r.checked ? '; check: union of base and overlay equals TREE' : '; CHECK FAILED: union differs from TREE') +
    (r.name !== undefined ? `; pinned as ${r.name}` : '')
  ].join('\n')
}

export default command
