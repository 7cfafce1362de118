import { existsSync } from 'node:fs'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cidForChunk, openLocalStore, type LocalStore } from '../../src/cas/index.js'
import { openCliStore, resolveRoot } from '../../src/cli/store.js'
import { rejects } from '../helpers/assert.js'
import { seededBytes } from '../helpers/bytes.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const Helpers = suite<{ dir: string, store: LocalStore }>('cli/store helpers')
Helpers.before.each(async (ctx) => { ctx.dir = await tmpdir(); ctx.store = await openCliStore({ storeDir: ctx.dir + '/nested/store' }, { create: true }) })
Helpers.after.each(async (ctx) => { await ctx.store.close(); await rmrf(ctx.dir) })

Helpers('openCliStore creates the store folder when asked; a second open rejects CAS_STORE_LOCKED', async (ctx) => {
  assert.is(ctx.store.dir, ctx.dir + '/nested/store')
  await rejects(openLocalStore(ctx.store.dir), 'CAS_STORE_LOCKED')
})

Helpers('openCliStore of a folder without a store rejects CAS_STORE_MISSING and makes nothing', async (ctx) => {
  await rejects(openCliStore({ storeDir: ctx.dir + '/elsewhere' }), 'CAS_STORE_MISSING')
  assert.not.ok(existsSync(ctx.dir + '/elsewhere'))
})

Helpers('resolveRoot takes a CID string or a pin name', async ({ store }) => {
  const b = seededBytes(1, 100)
  const cid = cidForChunk(b)
  await store.put(cid, b)
  await store.pin('Debian/12/current', cid)
  assert.is(String(await resolveRoot(store, cid.toString())), String(cid))
  assert.is(String(await resolveRoot(store, 'Debian/12/current')), String(cid))
})

Helpers('resolveRoot rejects CAS_PIN_NOT_FOUND for an unknown name and CAS_BAD_CID for a broken CID or bad text', async ({ store }) => {
  await rejects(resolveRoot(store, 'debian/13'), 'CAS_PIN_NOT_FOUND')
  await rejects(resolveRoot(store, 'bafkr4ifnkuw5icaoxpvjihba54jflvbxrreuntu6pagu4qcvji77okfq2'), 'CAS_BAD_CID')
  await rejects(resolveRoot(store, 'bafybroken'), 'CAS_BAD_CID')
  await rejects(resolveRoot(store, 'not a name!'), 'CAS_BAD_CID')
  await rejects(resolveRoot(store, ''), 'CAS_BAD_CID')
})

Helpers.run()
