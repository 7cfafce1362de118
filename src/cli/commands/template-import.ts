import { createReadStream, statSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { checkPinName } from '../../cas/pins.js'
import { ImportError } from '../../overlay/errors.js'
import { importDirectory, measureTree, type ImportResult } from '../../overlay/import-dir.js'
import { numberOption, stringOption, type Command } from '../command.js'
import { count, formatBytes } from '../../util/format.js'
import type { LocalStore, StoreStats } from '../../cas/store/local.js'
import type { WriteLease } from '../../cas/store/guard.js'
import { storeHasPacks } from '../../cas/store/pack-files.js'
import type { IngestSink } from '../../overlay/ingest/pool.js'

/**
 * Chunks after which an import lets V8's heap grow to at most 1.5x its live data (V8 itself
 * allows up to 4x when collecting is cheap: 120 MiB of heap for ~30 MiB live). 100,000 small
 * files: peak RSS 331-338 -> 270-278 MiB at 2x, 309-311 -> 285-311 at 1.5x (with the old store
 * write-behind), at about the same CPU; t1 (8,200 chunks) never gets here, so its figures are
 * untouched. Set late at run time, as V8 allows.
 */
const BIG_IMPORT_CHUNKS = 16_384

interface TemplateImportResult extends Omit<ImportResult, 'root'> {
  root: string
  source: 'directory' | 'tar'
  newChunks: number
  storedBytes: number
  seconds: number
  name?: string
}

/**
 * The tar bytes of `input`, decompressed when they start with the gzip or zstd magic. The
 * tar-only modules load here, on use: a directory import never needs them.
 */
async function * tarBytes (input: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const [{ Readable }, { createGunzip }, { default: zstd }] = await Promise.all([import('node:stream'), import('node:zlib'), import('zstd-napi')])
  const it = input[Symbol.asyncIterator]()
  const first = await it.next()
  if (first.done === true) return
  const rest = { [Symbol.asyncIterator]: () => it }
  async function * all (): AsyncIterable<Uint8Array> { yield first.value; yield * rest }
  const head = first.value
  if (head[0] === 0x1f && head[1] === 0x8b) { yield * Readable.from(all()).pipe(createGunzip()); return }
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) { yield * Readable.from(all()).pipe(new zstd.DecompressStream()); return }
  if (head[0] === 0xfd && head[1] === 0x37 && head[2] === 0x7a) throw new ImportError('xz-compressed tar: decompress it first (xz -dc FILE | xeno template import -)')
  yield * all()
}

interface OpenedStore { readonly store: LocalStore, readonly lease: WriteLease, readonly before: StoreStats }

/** Opens the command's store (loading its modules), takes a write lease and reads its stats. */
async function openForImport (ctx: Parameters<Command['run']>[0]): Promise<OpenedStore> {
  const { openCliStore } = await import('../store.js')
  const store = await openCliStore(ctx, { create: true })
  try {
    const lease = store.beginWrite()
    return { store, lease, before: await store.stats() }
  } catch (err) {
    await store.close()
    throw err
  }
}

/** A sink whose calls wait for the store being opened, then go to it. */
function waitingSink (opening: Promise<OpenedStore>): IngestSink & Required<Pick<IngestSink, 'putPrepared' | 'putPreparedMany' | 'putFramesMany' | 'missing'>> {
  const store = async (): Promise<LocalStore> => (await opening).store
  return {
    put: async (cid, bytes) => { await (await store()).put(cid, bytes) },
    putPrepared: async (p) => await (await store()).putPrepared(p),
    putPreparedMany: async (ps) => await (await store()).putPreparedMany(ps),
    putFramesMany: async (fs) => await (await store()).putFramesMany(fs),
    missing: async function * missing (cids) { yield * (await store()).missing(cids) }
  }
}

const command: Command = {
  summary: 'import a directory or a tar archive as a tree; prints its root CID',
  usage: 'SRC [--name NAME]',
  help: [
    'SRC is a directory, a tar file (ustar, GNU or PAX; gzip and zstd are detected) or - for a tar on',
    'stdin. Every piece of metadata is kept: owners, modes (setuid/setgid/sticky), nanosecond',
    'mtimes, xattrs (user.*, security.capability, ...), hard links, devices, fifos, sockets.',
    'The same tree gives the same root CID on every machine; importing it again stores nothing.',
    '  --name NAME     pin the root under NAME (kept by gc; usable instead of the CID)',
    '  --workers N     reader/compressor threads (default 2)'
  ].join('\n'),
  options: { name: { type: 'string' }, workers: { type: 'string' } },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx): Promise<TemplateImportResult> {
    const src = ctx.positionals[0]
    const name = stringOption(ctx.options, 'name')
    if (name !== undefined) checkPinName(name)
    const workers = numberOption(ctx.options, 'workers', 'a number from 1 to 64', { min: 1, max: 64, integer: true })
    let isDir = false
    if (src !== '-') {
      try { isDir = statSync(src).isDirectory() } catch (err) { throw new ImportError(`cannot read ${src}`, { cause: err }) }
    }
    // The store (LevelDB and its modules) opens while a directory import already walks and
    // reads: the sink's calls wait for it, and nothing is written before the write lease is
    // taken and the stats are read.
    const opening = openForImport(ctx)
    opening.catch(() => {}) // observed below
    // A real percentage on a terminal costs one quick walk first (it also warms the inode cache).
    const showBar = process.stderr.isTTY === true && !ctx.json
    const bar = ctx.progress('import', showBar && isDir ? measureTree(src).bytes : undefined, 'bytes')
    try {
      const started = performance.now()
      // A store that already holds chunks is asked first, so content it has is not compressed again.
      let chunks = 0
      const onBytes = (n: number): void => {
        bar.add(n)
        if (++chunks === BIG_IMPORT_CHUNKS) setFlagsFromString('--heap-growing-percent=50')
      }
      const options = { workers, signal: ctx.signal, onBytes, probe: storeHasPacks(ctx.storeDir) }
      const r = isDir
        ? await importDirectory(src, waitingSink(opening), options)
        : await (await import('../../overlay/import-tar.js')).importTar(tarBytes(src === '-' ? process.stdin : createReadStream(src, { highWaterMark: 1024 * 1024 })), (await opening).store, options)
      const { store, before } = await opening
      if (name !== undefined) await store.pin(name, r.root)
      else await store.flush()
      const after = await store.stats()
      return {
        ...r,
        root: r.root.toString(),
        source: isDir ? 'directory' : 'tar',
        newChunks: after.chunks - before.chunks,
        storedBytes: after.storedBytes - before.storedBytes,
        seconds: Math.round(performance.now() - started) / 1000,
        name
      }
    } finally {
      bar.done()
      const opened = await opening.catch(() => undefined)
      if (opened !== undefined) {
        opened.lease.release()
        await opened.store.close()
      }
    }
  },
  human: (r: TemplateImportResult) => [
    r.root,
    `${count(r.files, 'file')}, ${count(r.dirs, 'directory', 'directories')}, ${count(r.symlinks, 'symlink')}, ${r.specials} special, ${count(r.hardlinks, 'hard link')}; ` +
    `${formatBytes(r.bytes)} in ${count(r.chunks, 'chunk')}; ${count(r.newChunks, 'new block')}, ${formatBytes(r.storedBytes)} stored; ${r.seconds} s` +
    (r.name !== undefined ? `; pinned as ${r.name}` : '')
  ].join('\n')
}

export default command
