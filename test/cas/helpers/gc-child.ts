// Child process for the kill-during-gc test: opens the store, says "ready", runs gc.
import { openLocalStore } from '../../../src/cas/index.js'

if (process.argv[1]?.endsWith('gc-child.js') === true && process.argv[2] !== undefined) {
  const store = await openLocalStore(process.argv[2], { packSizeBytes: 256 * 1024 })
  process.stdout.write('ready\n')
  await store.gc()
  await store.close()
}
