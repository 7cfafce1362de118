import type { GcReport } from '../../cas/index.js'
import type { Command } from '../command.js'
import { count, formatBytes } from '../../util/format.js'
import { openCliStore, waitOption } from '../store.js'

/** `xeno gc`: remove every block no pin reaches. */
const gc: Command = {
  summary: 'remove every chunk and tree node that no pin reaches',
  usage: '[--dry-run] [--repack-all] [--wait SECONDS]',
  help: [
    'Marks everything reachable from the pins (xeno pin) and removes everything else: pack files',
    'with nothing reachable are deleted, packs where at least 10% would be freed are rewritten,',
    'and the rest only drop their garbage from the index (the space is reclaimed by a later run,',
    'or now with --repack-all). Crash-safe: a kill at any moment loses nothing that is pinned.',
    'The store is used by one process at a time: while an import runs, gc waits 3 s and then',
    'fails with CAS_STORE_LOCKED, or waits longer with --wait SECONDS (also XENO_LOCK_WAIT).',
    '',
    '  --dry-run        report what would be freed, change nothing',
    '  --repack-all     rewrite every pack that holds garbage, however little',
    '  --wait SECONDS   wait this long for another xeno process to release the store'
  ].join('\n'),
  options: { 'dry-run': { type: 'boolean' }, 'repack-all': { type: 'boolean' }, wait: { type: 'string' } },
  maxArgs: 0,
  async run (ctx): Promise<GcReport> {
    await using store = await openCliStore(ctx, { lockWaitMs: waitOption(ctx.options) })
    const progress = ctx.progress('gc', undefined, 'items')
    try {
      return await store.gc({
        dryRun: ctx.options['dry-run'] === true,
        repackThreshold: ctx.options['repack-all'] === true ? 0 : undefined,
        signal: ctx.signal,
        onPack: (done, total) => { progress.setTotal(total); progress.add(1); progress.detail(`${done}/${total} packs`) }
      })
    } finally {
      progress.done()
    }
  },
  human (r: GcReport): string {
    const verb = r.dryRun ? 'would remove' : 'removed'
    const lines = [`${verb} ${count(r.removedChunks, 'chunk')} (${formatBytes(r.removedRawBytes)} raw), ${r.dryRun ? 'would free' : 'freed'} ${formatBytes(r.freedBytes)} on disk`,
      `kept ${count(r.reachable, 'block')} reachable from ${count(r.pins, 'pin')}` + (r.protected > 0 ? `, ${r.protected} more written by imports in progress` : ''),
      `packs: ${r.packsRewritten} rewritten, ${r.packsDeleted} deleted` + (r.packsSkipped > 0 ? `, ${r.packsSkipped} left for next time (in use)` : '') +
        (r.reclaimableBytes > 0 ? `; ${formatBytes(r.reclaimableBytes)} of dead space left in packs (--repack-all frees it)` : '')]
    if (r.missing > 0) lines.push(`warning: ${r.missing} tree nodes under pins are missing (see xeno fsck)`)
    if (r.corrupt > 0) lines.push(`warning: ${r.corrupt} corrupt blocks were dropped (fetch or import them again)`)
    return lines.join('\n')
  }
}
export default gc
