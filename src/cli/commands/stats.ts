import type { StoreStats } from '../../cas/index.js'
import type { Command } from '../command.js'
import { formatBytes } from '../../util/format.js'
import { openCliStore } from '../store.js'

interface StatsResult extends StoreStats { store: string, compressionRatio: number }

/** `xeno stats`: what the local store holds. */
const stats: Command = {
  summary: 'show what the local store holds (chunks, bytes, pack files, pins)',
  usage: '',
  help: [
    'Counts the blocks (file chunks and tree nodes) in the store, their size as stored and',
    'uncompressed, the frames (records of several chunks compressed together), the pack files',
    'on disk (including garbage not yet collected) and the pins.'
  ].join('\n'),
  maxArgs: 0,
  async run (ctx): Promise<StatsResult> {
    await using store = await openCliStore(ctx)
    const s = await store.stats({ frames: true })
    return { store: store.dir, ...s, compressionRatio: s.storedBytes === 0 ? 1 : Number((s.rawBytes / s.storedBytes).toFixed(3)) }
  },
  human (r: StatsResult): string {
    return [
      `store       ${r.store}`,
      `chunks      ${r.chunks}`,
      `raw         ${formatBytes(r.rawBytes)}`,
      `stored      ${formatBytes(r.storedBytes)} (${r.compressionRatio}x)`,
      `frames      ${r.frames ?? 0} (holding ${r.framedChunks} of the chunks, compressed together)`,
      `pack files  ${r.packFiles} (${formatBytes(r.packBytes)} on disk${r.packBytes > r.storedBytes ? `, ${formatBytes(r.packBytes - r.storedBytes)} reclaimable: xeno gc --repack-all` : ''})`,
      `pins        ${r.pins}`
    ].join('\n')
  }
}
export default stats
