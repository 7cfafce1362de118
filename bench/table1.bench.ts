// The paper's Table 1 on real data: overlay size against total file-system size for a small
// service (Apache) and a big one (OpenArena, a Quake3-engine server, standing in for the
// paper's Quake3 server), and the bytes the overlay really adds to a store that already holds
// the template (after chunk dedup and zstd). No assertions.
// Usage: node dist/bench/table1.bench.js [BASE] [SERVICE_DIR...]
// (default: /work/data/t1 and /work/data/t1-apache, /work/data/t1-openarena; bench/make-datasets.sh)
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { openLocalStore } from '../src/cas/store/local.js'
import { diffTrees } from '../src/overlay/diff.js'
import { flattenUnion } from '../src/overlay/flatten.js'
import { importDirectory } from '../src/overlay/import-dir.js'
import { openTree, type Tree } from '../src/overlay/tree.js'
import { Union } from '../src/overlay/union.js'
import { treeSize } from './lib/size.js'
import { renderTable } from './lib/table.js'
import { parseBenchArgs } from './lib/args.js'

const PAPER = [
  { service: 'Apache (paper)', overlayKB: 23_695, totalKB: 2_318_937 },
  { service: 'Quake3 (paper)', overlayKB: 533_671, totalKB: 2_828_913 }
]

interface Row {
  service: string
  totalKB: number
  overlayKB: number
  entries?: string
  storedKB?: number
  rawNewKB?: number
  roundTrip?: string
}

/** Content bytes of the overlay: files whose content the base does not have at that path. */
async function overlayContent (overlay: Tree, base: Tree): Promise<{ bytes: number, files: number, metadataOnly: number, whiteouts: number, entries: number }> {
  const r = { bytes: 0, files: 0, metadataOnly: 0, whiteouts: 0, entries: 0 }
  for await (const { path, entry } of overlay.walk()) {
    r.entries++
    if (entry.kind === 'whiteout') { r.whiteouts++; continue }
    if (entry.kind !== 'file') continue
    const below = await base.stat(path).catch(() => undefined)
    if (below?.kind === 'file' && below.cid !== undefined && entry.cid !== undefined && below.cid.equals(entry.cid)) { r.metadataOnly++; continue }
    r.files++
    r.bytes += entry.size
  }
  return r
}

const USAGE = `usage: node dist/bench/table1.bench.js [BASE] [SERVICE_DIR...]
The paper's Table 1: overlay size against file-system size for each service tree over BASE,
and the bytes the overlay adds to a store holding BASE (default: /work/data/t1 with
/work/data/t1-apache and /work/data/t1-openarena; bench/data/make-datasets.sh).`
const args = parseBenchArgs(USAGE, {}).positionals
const baseDir = args[0] ?? '/work/data/t1'
const services = args.length > 1 ? args.slice(1) : ['/work/data/t1-apache', '/work/data/t1-openarena']
if (!existsSync(baseDir)) { console.error(`no base tree at ${baseDir} (run bench/make-datasets.sh)`); process.exit(1) }

const rows: Row[] = []
for (const dir of services.filter((d) => existsSync(d))) {
  const work = await mkdtemp(join(tmpdir(), 'xeno-table1-'))
  try {
    const store = await openLocalStore(join(work, 'store'))
    const base = (await importDirectory(baseDir, store)).root
    await store.flush()
    const before = await store.stats()
    const target = (await importDirectory(dir, store)).root
    const { root, stats } = await diffTrees(openTree(store, base), openTree(store, target), store)
    await store.flush()
    const after = await store.stats()
    const same = (await flattenUnion(new Union([openTree(store, root), openTree(store, base)]), store)).equals(target)
    const content = await overlayContent(openTree(store, root), openTree(store, base))
    const total = await treeSize(dir)
    rows.push({
      service: basename(dir),
      totalKB: Math.round(total.bytes / 1024),
      overlayKB: Math.round(content.bytes / 1024),
      entries: `${content.files} files, ${content.metadataOnly} chmod/chown/mtime only, ${content.whiteouts} whiteouts (${stats.opaque} opaque dirs)`,
      storedKB: Math.round((after.storedBytes - before.storedBytes) / 1024),
      rawNewKB: Math.round((after.rawBytes - before.rawBytes) / 1024),
      roundTrip: same ? 'union(base, overlay) = tree' : 'MISMATCH'
    })
    await store.close()
  } finally { await rm(work, { recursive: true, force: true }) }
}

const pct = (r: Row): string => `${(100 * r.overlayKB / r.totalKB).toFixed(1)} %`
console.log(`Table 1: overlay size vs file-system size (base ${baseDir}; KB = 1024 bytes of file content)\n`)
console.log(renderTable([
  { header: 'service', cell: (r: Row) => r.service, align: 'left' },
  { header: 'overlay KB', cell: (r: Row) => r.overlayKB.toLocaleString('en') },
  { header: 'total KB', cell: (r: Row) => r.totalKB.toLocaleString('en') },
  { header: 'overlay/total', cell: pct },
  { header: 'new in store (dedup) KB', cell: (r: Row) => r.rawNewKB?.toLocaleString('en') ?? '-' },
  { header: 'new in store (dedup+zstd) KB', cell: (r: Row) => r.storedKB?.toLocaleString('en') ?? '-' },
  { header: 'overlay', cell: (r: Row) => r.entries ?? '', align: 'left' },
  { header: 'check', cell: (r: Row) => r.roundTrip ?? '', align: 'left' }
], [...rows, ...PAPER]))
