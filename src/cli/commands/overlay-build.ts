import { createReadStream, statSync } from 'node:fs'
import { importTar } from '../../overlay/import-tar.js'
import { buildOverlay } from '../../overlay/build.js'
import { ImportError } from '../../overlay/errors.js'
import { importDirectory } from '../../overlay/import-dir.js'
import { openTree } from '../../overlay/tree.js'
import { stringOption, stringsOption, type Command } from '../command.js'
import { openCliStore } from '../store.js'
import { resolveLayerRoot } from '../view.js'

interface BuildCliResult { root: string, whiteouts: number, opaque: number, name?: string }

const command: Command = {
  summary: 'an overlay from a directory of additions; prints its root CID',
  usage: 'DIR|TAR [--whiteout PATH]... [--base ROOT] [--name NAME]',
  help: [
    'DIR holds only the files to add or change, with their parent directories (whose metadata',
    'the overlay carries). Deletions: --whiteout PATH, or OCI/Docker layer markers inside DIR:',
    'an empty file .wh.NAME hides NAME of the layers below, .wh..wh..opq makes its directory',
    'opaque (hides everything below it). A container image layer (its tar, uncompressed, or',
    'unpacked) imports as it is.',
    '  --whiteout PATH  hide PATH of the layers below (repeatable)',
    '  --base ROOT      take the metadata of directories that only whiteouts need from ROOT',
    '  --name NAME      pin the overlay under NAME'
  ].join('\n'),
  options: { whiteout: { type: 'string', multiple: true }, base: { type: 'string' }, name: { type: 'string' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx): Promise<BuildCliResult> {
    const dir = ctx.positionals[0]
    let isDir: boolean
    try { isDir = statSync(dir).isDirectory() } catch (err) { throw new ImportError(`cannot read ${dir}`, { cause: err }) }
    const name = stringOption(ctx.options, 'name')
    const baseText = stringOption(ctx.options, 'base')
    await using store = await openCliStore(ctx, { create: true })
    const lease = store.beginWrite()
    try {
      const imported = isDir
        ? (await importDirectory(dir, store, { signal: ctx.signal })).root
        : (await importTar(createReadStream(dir, { highWaterMark: 1 << 20 }), store, { signal: ctx.signal })).root
      const base = baseText === undefined ? undefined : openTree(store, await resolveLayerRoot(store, baseText))
      const r = await buildOverlay(store, imported, store, { whiteouts: stringsOption(ctx.options, 'whiteout'), base, signal: ctx.signal })
      if (name !== undefined) await store.pin(name, r.root); else await store.flush()
      return { root: r.root.toString(), whiteouts: r.whiteouts, opaque: r.opaque, name }
    } finally { lease.release() }
  },
  human: (r: BuildCliResult) => `${r.root}\n${r.whiteouts} whiteouts, ${r.opaque} opaque directories` + (r.name !== undefined ? `; pinned as ${r.name}` : '')
}

export default command
