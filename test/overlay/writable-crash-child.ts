// Child process of writable-crash.test.ts: mutates a writable layer forever, until killed.
// argv: STORE_DIR LAYER_DIR BASE_CID START
import { CID } from 'multiformats/cid'
import { openLocalStore } from '../../src/cas/store/local.js'
import { openTree } from '../../src/overlay/tree.js'
import { openUnionView } from '../../src/overlay/union-view.js'
import { openWritableLayer } from '../../src/overlay/writable.js'
import { expectedContent } from './writable-crash-data.js'

const [storeDir, layerDir, baseText, startText] = process.argv.slice(2)
const store = await openLocalStore(storeDir)
const layer = await openWritableLayer(layerDir)
const view = await openUnionView({ lowers: [openTree(store, CID.parse(baseText))], store, writable: layer })
const ignore = async (p: Promise<unknown>): Promise<void> => { await p.catch(() => {}) }

for (let i = Number(startText); ; i++) {
  const data = expectedContent(i)
  const half = data.length >> 1
  await view.create(`/f${i}`)
  await view.write(`/f${i}`, 0, data.subarray(0, half))
  await view.write(`/f${i}`, half, data.subarray(half))
  if (i % 3 === 0) {
    await ignore(view.mkdir(`/d${i % 5}`))
    await ignore(view.rename(`/f${i - 1}`, `/d${i % 5}/f${i - 1}`))
  }
  if (i % 4 === 0) await ignore(view.write('/lower/big', (i * 4099) % 500_000, data.subarray(0, 3000)))
  if (i % 5 === 0) await ignore(view.unlink(`/f${i - 2}`))
  if (i % 7 === 0) await ignore(view.setattr(`/f${i}`, { size: half }))
  if (i % 11 === 0) await ignore(view.rename(`/d${i % 5}`, `/e${i}`))
  if (i === Number(startText)) process.stdout.write('ready\n')
}
