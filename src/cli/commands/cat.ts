import { once } from 'node:events'
import { IsDirError } from '../../overlay/errors.js'
import { resolvePath } from '../../overlay/posix-resolve.js'
import { openTree } from '../../overlay/tree.js'
import { UsageError, type Command } from '../command.js'
import { openCliStore } from '../store.js'
import { LAYER_HELP, LAYER_OPTIONS, resolveViewRoot } from '../view.js'

/** Writes `data` to stdout, waiting for drain; a reader that went away (EPIPE) ends quietly. */
async function writeOut (data: Uint8Array): Promise<void> {
  if (process.stdout.listenerCount('error') === 0) {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); throw err })
  }
  if (!process.stdout.write(data)) await once(process.stdout, 'drain')
}

const command: Command = {
  summary: 'print a file of a tree to stdout',
  usage: 'ROOT:PATH | PATH --layer L ...',
  options: { ...LAYER_OPTIONS },
  help: 'ROOT is a CID or a pin name. Symlinks are followed inside the tree (absolute targets\nstart at its root), as they would be in a chroot of it.\n' + LAYER_HELP,
  minArgs: 1,
  maxArgs: 1,
  async run (ctx) {
    if (ctx.json) throw new UsageError('cat writes file bytes; --json does not apply')
    await using store = await openCliStore(ctx)
    const { root, path } = await resolveViewRoot(store, ctx.options, ctx.positionals[0])
    const tree = openTree(store, root)
    const { entry, path: resolved } = await resolvePath(tree, path)
    if (entry.kind === 'dir') throw new IsDirError(resolved)
    if (entry.kind !== 'file') throw new UsageError(`not a regular file: ${resolved} (${entry.kind})`)
    for await (const chunk of tree.readFile(entry)) await writeOut(chunk)
    return undefined
  }
}

export default command
