import { once } from 'node:events'
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { ChunkMissingError } from '../../cas/errors.js'
import { exportDirectory } from '../../overlay/export-dir.js'
import { exportTar } from '../../overlay/export-tar.js'
import { ExportError } from '../../overlay/errors.js'
import { UsageError, type Command } from '../command.js'
import { count } from '../../util/format.js'
import { openCliStore } from '../store.js'
import { LAYER_HELP, LAYER_OPTIONS, resolveViewRoot } from '../view.js'

interface ExportCliResult { root: string, dest: string, format: 'directory' | 'tar', files?: number, bytes: number, skipped?: string[] }

/** Writes a tar stream to `dest` ('-' is stdout, else a file written as DEST.partial, then renamed). */
async function writeTar (source: AsyncIterable<Uint8Array>, dest: string): Promise<number> {
  let total = 0
  if (dest === '-') {
    process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') process.exit(0); throw err })
    for await (const piece of source) {
      total += piece.length
      if (!process.stdout.write(piece)) await once(process.stdout, 'drain')
    }
    return total
  }
  const partial = `${dest}.partial`
  let fd: number
  try { fd = openSync(partial, 'w', 0o644) } catch (err) { throw new ExportError(`cannot create ${dest}`, { cause: err }) }
  try {
    for await (const piece of source) {
      let off = 0
      while (off < piece.length) off += writeSync(fd, piece, off, piece.length - off)
      total += piece.length
    }
  } catch (err) {
    closeSync(fd)
    rmSync(partial, { force: true })
    throw err
  }
  closeSync(fd)
  renameSync(partial, dest)
  return total
}

const command: Command = {
  summary: 'write a tree out as a directory or a tar archive',
  usage: 'ROOT[:PATH] DEST | [PATH] DEST --layer L ...',
  options: { ...LAYER_OPTIONS },
  help: [
    'ROOT is a CID or a pin name; :PATH exports only that directory. DEST ending in .tar is',
    'written as a POSIX tar (- for stdout);',
    'anything else is a directory, created if absent, that must be empty. Every piece of',
    'metadata is restored: owners (as root), modes, nanosecond mtimes, xattrs, hard links,',
    'devices, fifos and sockets (a tar cannot hold sockets: they are listed as skipped).',
    LAYER_HELP
  ].join('\n'),
  minArgs: 1,
  maxArgs: 2,
  async run (ctx): Promise<ExportCliResult | undefined> {
    const dest = ctx.positionals[ctx.positionals.length - 1]
    const ref = ctx.positionals.length > 1 ? ctx.positionals[0] : undefined
    if (ref === undefined && ctx.options.layer === undefined) throw new UsageError('give ROOT[:PATH] DEST, or DEST with --layer')
    if (dest === '-' && ctx.json) throw new UsageError('--json cannot be used when the tar goes to stdout')
    await using store = await openCliStore(ctx)
    const { root, path } = await resolveViewRoot(store, ctx.options, ref)
    if (!await store.has(root)) throw new ChunkMissingError(root)
    const bar = ctx.progress('export', undefined, 'bytes')
    try {
      if (dest === '-' || dest.endsWith('.tar')) {
        const skipped: string[] = []
        const bytes = await writeTar(exportTar(store, root, { path, signal: ctx.signal, onBytes: (n) => bar.add(n), onSkip: (p) => skipped.push(p) }), dest)
        if (dest === '-') return undefined
        return { root: root.toString(), dest, format: 'tar', bytes, skipped }
      }
      const r = await exportDirectory(store, root, dest, { path, signal: ctx.signal, onBytes: (n) => bar.add(n) })
      return { root: root.toString(), dest, format: 'directory', ...r }
    } finally {
      bar.done()
    }
  },
  human: (r: ExportCliResult) => `${r.root} -> ${r.dest} (${r.format}, ${r.files !== undefined ? `${count(r.files, 'file')}, ` : ''}${count(r.bytes, 'byte')})` +
    (r.skipped !== undefined && r.skipped.length > 0 ? `\nskipped (a tar cannot hold sockets): ${r.skipped.join(', ')}` : '')
}

export default command
