import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { commitLayer } from '../../overlay/commit.js'
import { BadPathError } from '../../overlay/errors.js'
import { openTree } from '../../overlay/tree.js'
import { openWritableLayer } from '../../overlay/writable.js'
import { stringOption, stringsOption, type Command } from '../command.js'
import { openCliStore } from '../store.js'
import { count } from '../../util/format.js'
import { resolveLayerRoot } from '../view.js'

interface CommitCliResult { root: string, files: number, chunks: number, name?: string }

const command: Command = {
  summary: 'turn a writable layer into an immutable overlay; prints its root CID',
  usage: 'LAYER_DIR [--layer ROOT]... [--name NAME]',
  help: [
    'LAYER_DIR is a writable layer directory (what an instance wrote). The overlay holds its',
    'files, directories, whiteouts and opaque directories; files never written reuse their',
    'lower content, written files every chunk they still share. Ready for overlay push.',
    'The layer is left as it is (an instance may keep running on it).',
    '  --layer ROOT    the layer below (top first): the overlay root keeps its root metadata',
    '                  when the writable layer never changed it',
    '  --name NAME     pin the overlay under NAME'
  ].join('\n'),
  options: { layer: { type: 'string', multiple: true }, name: { type: 'string' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx): Promise<CommitCliResult> {
    const dir = ctx.positionals[0]
    if (!existsSync(join(dir, 'meta'))) throw new BadPathError(dir, 'not a writable layer directory')
    const name = stringOption(ctx.options, 'name')
    await using store = await openCliStore(ctx)
    const layer = await openWritableLayer(dir)
    const lease = store.beginWrite()
    try {
      const below = stringsOption(ctx.options, 'layer')
      const rootFallback = below.length > 0 ? await openTree(store, await resolveLayerRoot(store, below[0])).rootEntry() : undefined
      const r = await commitLayer(layer.kv, store, store, { rootFallback, signal: ctx.signal })
      if (name !== undefined) await store.pin(name, r.root); else await store.flush()
      return { root: r.root.toString(), files: r.files, chunks: r.chunks, name }
    } finally { lease.release(); await layer.close() }
  },
  human: (r: CommitCliResult) => `${r.root}\n${count(r.files, 'rewritten file')}, ${count(r.chunks, 'chunk')} stored` + (r.name !== undefined ? `; pinned as ${r.name}` : '')
}

export default command
