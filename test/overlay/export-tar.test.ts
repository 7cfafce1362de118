import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { exportTar } from '../../src/overlay/export-tar.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { importTar } from '../../src/overlay/import-tar.js'
import { paxTimeNs } from '../../src/overlay/import-tar-reader.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeFullTree } from '../helpers/trees.js'

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

const ExportTar = suite<{ dir: string }>('exportTar')
ExportTar.before(async (ctx) => {
  ctx.dir = await tmpdir()
  mkdirSync(join(ctx.dir, 'src'))
  makeFullTree(join(ctx.dir, 'src'), { socket: false })
})
ExportTar.after(async (ctx) => { await rmrf(ctx.dir) })

ExportTar('GNU tar extracts the exported tar identical to the source (rsync -aHAX --checksum)', async ({ dir }) => {
  const store = new MemoryChunkStore()
  const { root } = await importDirectory(join(dir, 'src'), store)
  const tar = join(dir, 'out.tar')
  writeFileSync(tar, await collect(exportTar(store, root)))
  const out = join(dir, 'out')
  mkdirSync(out)
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', tar, '-C', out])
  assert.is(execFileSync('rsync', ['-aHAXn', '--checksum', '--itemize-changes', `${join(dir, 'src')}/`, `${out}/`], { encoding: 'utf8' }), '')
})

ExportTar('export then import of a tar gives back the same root', async ({ dir }) => {
  const store = new MemoryChunkStore()
  const { root } = await importDirectory(join(dir, 'src'), store)
  const again = await importTar(exportTar(store, root), new MemoryChunkStore())
  assert.is(again.root.toString(), root.toString())
})

ExportTar('sockets are left out of a tar and reported', async ({ dir }) => {
  const src = join(dir, 'sock')
  mkdirSync(src)
  makeFullTree(src, { bigDirEntries: 3 })
  const store = new MemoryChunkStore()
  const { root } = await importDirectory(src, store)
  const skipped: string[] = []
  await collect(exportTar(store, root, { onSkip: (p) => skipped.push(p) }))
  assert.equal(skipped, ['dev/socket'])
})

ExportTar('PAX times parse to nanoseconds, negative and fractional', () => {
  assert.is(paxTimeNs('1700000000.123456789'), 1_700_000_000_123_456_789n)
  assert.is(paxTimeNs('-0.123456789'), -123_456_789n)
  assert.is(paxTimeNs('12'), 12_000_000_000n)
  assert.is(paxTimeNs('1.5'), 1_500_000_000n)
})

ExportTar.run()
