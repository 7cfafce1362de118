import type { FsckReport } from '../../cas/index.js'
import type { Command } from '../command.js'
import { formatBytes } from '../../util/format.js'
import { openCliStore, waitOption } from '../store.js'

const MAX_SHOWN = 20

/** `xeno fsck [--repair]`: verify every stored block and every pinned tree. */
const fsck: Command = {
  summary: 'verify every block in the store and every pinned tree; --repair fixes what it can',
  usage: '[--repair] [--wait SECONDS]',
  help: [
    'Reads every pack file, checks each block against its hash and the index, and walks every pin',
    'for missing blocks. Finds corrupt blocks, index entries pointing nowhere, valid blocks missing',
    'from the index, damaged byte ranges and unused pack files. Exits 1 when problems remain.',
    '',
    '  --repair         drop corrupt and dangling entries (the blocks then read as absent and are',
    '                   stored again by the next import or pull), index orphans, rewrite damaged',
    '                   packs, delete unused ones. Missing blocks cannot be repaired locally.',
    '  --wait SECONDS   wait this long for another xeno process to release the store'
  ].join('\n'),
  options: { repair: { type: 'boolean' }, wait: { type: 'string' } },
  maxArgs: 0,
  async run (ctx): Promise<FsckReport> {
    await using store = await openCliStore(ctx, { lockWaitMs: waitOption(ctx.options) })
    const progress = ctx.progress('fsck', undefined, 'items')
    try {
      return await store.fsck({ repair: ctx.options.repair === true, signal: ctx.signal, onPack: (done, total) => { progress.setTotal(total); progress.add(1) } })
    } finally {
      progress.done()
    }
  },
  human (r: FsckReport): string {
    const lines = [`checked ${r.packs} packs, ${r.records} records, ${r.verified} blocks verified`]
    const counts: Array<[number, string]> = [[r.corrupt, 'corrupt'], [r.dangling, 'dangling index entries'], [r.orphans, 'orphan records'],
      [r.damagedRegions, 'damaged regions'], [r.unreferencedPacks, 'unused packs'], [r.lostPacks, 'lost packs'], [r.missing, 'missing under pins']]
    const found = counts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`)
    lines.push(found.length === 0 ? 'no problems found' : `found: ${found.join(', ')}`)
    const rec = r.recovered
    if (rec.reindexed + rec.truncatedBytes + rec.deadPacksRemoved + rec.foundPacksRemoved > 0 || rec.indexRepaired) {
      lines.push(`on open: ${rec.indexRepaired ? 'repaired the index, ' : ''}re-indexed ${rec.reindexed} records, cut ${rec.truncatedBytes} torn bytes, ` +
        `removed ${rec.deadPacksRemoved + rec.foundPacksRemoved} leftover packs`)
    }
    for (const p of r.problems.slice(0, MAX_SHOWN)) {
      lines.push(`  ${p.repaired ? 'repaired' : 'PROBLEM '} ${p.kind}${p.cid !== undefined ? ' ' + p.cid : ''}${p.pack !== undefined ? ` pack ${p.pack}` : ''}${p.offset !== undefined ? `@${p.offset}` : ''}${p.pin !== undefined ? ` (pin ${p.pin})` : ''}: ${p.detail}`)
    }
    if (r.problems.length > MAX_SHOWN) lines.push(`  ... and ${r.problems.length - MAX_SHOWN} more (--json lists up to 1000)`)
    if (r.garbageRecords > 0) lines.push(`${r.garbageRecords} unused records (${formatBytes(r.garbageBytes)}) can be reclaimed by xeno gc (at once with --repack-all)`)
    if (r.strayFiles.length > 0) lines.push(`unknown files in packs/: ${r.strayFiles.join(', ')}`)
    lines.push(r.ok ? (r.repair && r.problems.length > 0 ? 'all problems repaired' : 'store is consistent')
      : `${r.unrepaired} problems left${r.repair ? '' : ' (run xeno fsck --repair)'}`)
    return lines.join('\n')
  },
  exitCode: (r: FsckReport) => r.ok ? 0 : 1
}
export default fsck
