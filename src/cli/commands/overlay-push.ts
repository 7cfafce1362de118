import { statSync } from 'node:fs'
import { diffTrees } from '../../overlay/diff.js'
import { openTree } from '../../overlay/tree.js'
import { publishName } from '../../sync/client-names.js'
import { push } from '../../sync/client.js'
import { clientConfig, peerFor, signingKey } from '../../sync/cli-support.js'
import { formatBytes } from '../../util/format.js'
import { UsageError, stringOption, type Command } from '../command.js'
import { openCliStore } from '../store.js'
import { resolveLayerRoot } from '../view.js'
import { treeArgument } from './overlay-diff.js'

function isPath (text: string): boolean {
  if (text === '-') return true
  try { statSync(text); return true } catch { return false }
}

const command: Command = {
  summary: 'send an overlay to a XenoStore and name it (only what the store lacks)',
  usage: 'SRC --base ROOT --to URL --name TENANT/NAME [--token TOKEN] [--key FILE] [--diff]',
  help: [
    'SRC is a directory or a tar (a full tree: imported, then diffed against --base so only the',
    'overlay goes), or the root of an overlay (a CID or local pin; with --diff a full tree root',
    'to diff first). The store is asked which blocks it lacks; only those are sent, in one CAR',
    'stream; a re-run after an interruption sends only the rest. Then NAME is published,',
    'signed with --key (default ~/.config/xeno/key.pem). Prints the bytes and requests used.'
  ].join('\n'),
  options: {
    base: { type: 'string' }, to: { type: 'string' }, name: { type: 'string' }, key: { type: 'string' },
    token: { type: 'string' }, config: { type: 'string' }, diff: { type: 'boolean' }
  },
  minArgs: 1,
  maxArgs: 1,
  async run (ctx) {
    const baseText = stringOption(ctx.options, 'base')
    const to = stringOption(ctx.options, 'to')
    const name = stringOption(ctx.options, 'name')
    if (baseText === undefined || to === undefined || name === undefined) throw new UsageError('--base ROOT, --to URL and --name TENANT/NAME are required')
    const config = await clientConfig(ctx.options)
    const key = await signingKey(ctx.options, config)
    await using store = await openCliStore(ctx, { create: true })
    const lease = store.beginWrite()
    const peer = peerFor(to, ctx.options, config)
    const bar = ctx.progress('overlay push', undefined, 'bytes')
    try {
      const base = await resolveLayerRoot(store, baseText)
      const src = ctx.positionals[0]
      const full = isPath(src) || ctx.options.diff === true
      let root = await treeArgument(ctx, store, src)
      if (full) root = (await diffTrees(openTree(store, base), openTree(store, root), store, { signal: ctx.signal })).root
      await store.flush()
      const result = await push(store, root, peer, { signal: ctx.signal, onBlock: (n) => bar.add(n) })
      const record = await publishName(peer, name, root, key, ctx.signal)
      const s = peer.stats
      return { ...result, root: root.toString(), base: base.toString(), name: record.name, seq: record.seq, bytes: s.bytesSent + s.bytesReceived, requests: s.requests }
    } finally {
      bar.done()
      lease.release()
      peer.close()
    }
  },
  human: (r: { root: string, name: string, seq: number, blocks: number, blockBytes: number, bytes: number, requests: number, zstdLevel: number }) =>
    `${r.root}\n${r.name} (seq ${r.seq}): sent ${r.blocks} blocks (${formatBytes(r.blockBytes)}); ${formatBytes(r.bytes)} on the wire in ${r.requests} requests${r.zstdLevel > 0 ? ` (zstd-${r.zstdLevel})` : ''}`
}

export default command
