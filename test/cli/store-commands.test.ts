import { execFile } from 'node:child_process'
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openLocalStore } from '../../src/cas/index.js'
import { makeDag, storeDag } from '../cas/helpers/dag.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

// The CLI compiled next to this test (not bin/xeno's), so the test runs the code it was built with.
const MAIN = new URL('../../src/cli/main.js', import.meta.url).href
const RUN = 'const { main } = await import(process.argv[1]); process.exitCode = await main(process.argv.slice(2))'

interface Run { code: number, stdout: string, stderr: string, json: any }

function xeno (store: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', RUN, MAIN, ...args, '--store', store], { env: { ...process.env, XENO_LOCK_WAIT: '' } }, (err, stdout, stderr) => {
      let json: unknown
      try { json = JSON.parse(stdout) } catch { json = undefined }
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr, json })
    })
  })
}

const Cli = suite<{ dir: string }>('xeno stats/pin/gc/fsck')
Cli.before.each(async (ctx) => { ctx.dir = await tmpdir() })
Cli.after.each(async (ctx) => { await rmrf(ctx.dir) })

Cli('pin, stats and gc: unpinned trees go, pinned ones stay', async ({ dir }) => {
  const keep = makeDag(1); const drop = makeDag(2)
  const store = await openLocalStore(dir)
  await storeDag(store, keep); await storeDag(store, drop)
  await store.close()
  const pinned = await xeno(dir, 'pin', 'debian/12', keep.root.toString(), '--json')
  assert.is(pinned.code, 0, pinned.stderr)
  assert.equal(pinned.json, { pinned: { name: 'debian/12', root: keep.root.toString() }, blocks: keep.blocks.size, missing: 0 })
  const alias = await xeno(dir, 'pin', 'Debian/12/current', 'debian/12', '--json')
  assert.is(alias.json.pinned.root, keep.root.toString())
  const list = await xeno(dir, 'pin', '--json')
  assert.equal(list.json.pins.map((p: { name: string }) => p.name), ['Debian/12/current', 'debian/12'])
  const before = await xeno(dir, 'stats', '--json')
  assert.is(before.json.chunks, keep.blocks.size + drop.blocks.size)
  assert.is(before.json.pins, 2)
  const gc = await xeno(dir, 'gc', '--json')
  assert.is(gc.code, 0, gc.stderr)
  assert.is(gc.json.removedChunks, drop.blocks.size)
  const after = await xeno(dir, 'stats', '--json')
  assert.is(after.json.chunks, keep.blocks.size)
  const human = await xeno(dir, 'stats')
  assert.match(human.stdout, /chunks\s+\d+/)
  const rm = await xeno(dir, 'pin', '--rm', 'debian/12')
  assert.is(rm.code, 0)
  assert.is((await xeno(dir, 'pin', '--rm', 'debian/12')).code, 1)
})

Cli('pin of an incomplete tree works and says how many blocks are missing', async ({ dir }) => {
  const dag = makeDag(5)
  const store = await openLocalStore(dir)
  const skip = [...dag.blocks.keys()][0]
  for (const [text, bytes] of dag.blocks) if (text !== skip) await store.put(CID.parse(text), bytes)
  await store.close()
  const r = await xeno(dir, 'pin', 'partial', dag.root.toString(), '--json')
  assert.is(r.code, 0, r.stderr)
  assert.is(r.json.missing, 1)
  const human = await xeno(dir, 'pin', 'partial', dag.root.toString())
  assert.match(human.stdout, /warning: 1 blocks/)
})

Cli('pin rejects bad names, unknown names and bad CIDs with one line and a code', async ({ dir }) => {
  const bad = await xeno(dir, 'pin', 'bad name', 'x', '--json')
  assert.is(bad.code, 1, bad.stderr); assert.is(bad.json?.error?.code, 'CAS_BAD_PIN_NAME', bad.stderr)
  // A folder without a store is named as such (and left as it was), not searched for names.
  const none = await xeno(dir, 'pin', 'a', 'no-such-pin', '--json')
  assert.is(none.code, 1); assert.is(none.json.error.code, 'CAS_STORE_MISSING')
  assert.equal(await readdir(dir), [])
  await (await openLocalStore(dir)).close()
  const unknown = await xeno(dir, 'pin', 'a', 'no-such-pin', '--json')
  assert.is(unknown.json.error.code, 'CAS_PIN_NOT_FOUND')
  const cid = await xeno(dir, 'pin', 'a', 'bafkreinotacid', '--json')
  assert.is(cid.json.error.code, 'CAS_BAD_CID')
  const plain = await xeno(dir, 'pin', 'a', '!!')
  assert.is(plain.stderr.trim().split('\n').length, 1)
})

Cli('fsck exits 0 on a sound store, 1 on a corrupt block, and --repair fixes it', async ({ dir }) => {
  const dag = makeDag(3)
  const store = await openLocalStore(dir)
  await storeDag(store, dag)
  await store.pin('t', dag.root)
  await store.flush()
  const victim = [...dag.blocks.keys()][0]
  const loc = await store.locate(CID.parse(victim))
  await store.close()
  assert.is((await xeno(dir, 'fsck')).code, 0)
  const e = loc?.entry
  if (e === undefined) throw new Error('not in a pack')
  const fh = await open(join(dir, 'packs', `${String(e.pack).padStart(6, '0')}.pack`), 'r+')
  await fh.write(Buffer.from('XXXX'), 0, 4, e.offset + 16 + 36 + 10)
  await fh.close()
  const found = await xeno(dir, 'fsck', '--json')
  assert.is(found.code, 1)
  assert.is(found.json.corrupt, 1)
  const repaired = await xeno(dir, 'fsck', '--repair', '--json')
  assert.is(repaired.json.missing, 1) // the dropped block is now missing under pin t
  assert.is(repaired.code, 1)
  const human = await xeno(dir, 'fsck')
  assert.match(human.stdout, /missing/)
})

Cli('gc fails with CAS_STORE_LOCKED while another process holds the store', async ({ dir }) => {
  const store = await openLocalStore(dir)
  try {
    const r = await xeno(dir, 'gc', '--json')
    assert.is(r.code, 1, r.stderr)
    assert.is(r.json?.error?.code, 'CAS_STORE_LOCKED', r.stdout + r.stderr)
  } finally {
    await store.close()
  }
  assert.is((await xeno(dir, 'gc', '--wait', '5')).code, 0)
})

Cli.run()
