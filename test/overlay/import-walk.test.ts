import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryChunkStore } from '../../src/cas/store/memory.js'
import { DAG_CBOR_CODEC } from '../../src/cas/codes.js'
import { decodeDirNode, decodeTreeRoot, encodeDirEntries } from '../../src/overlay/codec.js'
import { writeDir } from '../../src/overlay/dir-write.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import type { Entry } from '../../src/overlay/interface.js'
import { openTree } from '../../src/overlay/tree.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { makeFullTree } from '../helpers/trees.js'

// The directory nodes of a directory import are written by native code (native/ingest-walk.inc
// listingEncode) from the walker's listing: they must be byte for byte what codec.ts makes.
const Walk = suite<{ dir: string }>('native directory nodes')
Walk.before(async (ctx) => {
  ctx.dir = await tmpdir()
  const src = join(ctx.dir, 'src')
  mkdirSync(src)
  makeFullTree(src)
  // A symlink target that is not UTF-8: that directory keeps the JS encoder.
  mkdirSync(join(src, 'odd'))
  symlinkSync(Buffer.from([0x61, 0xff, 0x62]) as unknown as string, join(src, 'odd', 'bad-target'))
  // Large enough for several shards, with files (content CIDs and sizes) and subdirectories.
  mkdirSync(join(src, 'wide'))
  for (let i = 0; i < 3000; i++) {
    if (i % 500 === 7) mkdirSync(join(src, 'wide', `d${i}`))
    else writeFileSync(join(src, 'wide', `f${i}`), `file ${i}\n`.repeat(i % 7))
  }
})
Walk.after(async (ctx) => { await rmrf(ctx.dir) })

Walk('every directory node equals codec.ts encodeDirEntries of its decoded entries', async ({ dir }) => {
  const store = new MemoryChunkStore()
  const { root } = await importDirectory(join(dir, 'src'), store)
  const top = decodeTreeRoot((await store.get(root))!)
  let checked = 0
  let sharded = 0
  const visit = async (cid: CID, top = true): Promise<void> => {
    const bytes = (await store.get(cid))!
    const node = decodeDirNode(bytes)
    if (node.type === 'shards') {
      // The shards and their list (native listingGroups and listingEncode of ranges) are
      // what dir-write.ts makes of the same entries.
      if (top) {
        const entries: Entry[] = []
        for await (const e of openTree(store, root).dirs.list(cid)) entries.push(e)
        const again = await writeDir(entries, new MemoryChunkStore())
        assert.ok(again.equals(cid), `sharded directory ${cid} (${entries.length} entries) differs from dir-write.ts's`)
        sharded++
      }
      for (const s of node.shards) await visit(s.cid, false)
      return
    }
    const again = encodeDirEntries(node.entries)
    assert.ok(again.cid.equals(cid), `directory node ${cid} differs from codec.ts's encoding`)
    checked++
    for (const e of node.entries) if (e.kind === 'dir' && e.cid !== undefined && e.cid.code === DAG_CBOR_CODEC) await visit(e.cid)
  }
  await visit(top.root.cid!)
  assert.ok(checked > 10)
  assert.is(sharded, 2) // makeFullTree's big directory and `wide`
})

Walk.run()
