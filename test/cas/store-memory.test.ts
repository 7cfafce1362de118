import { MemoryChunkStore } from '../../src/cas/index.js'
import { chunkStoreContract } from '../contract/chunk-store.js'

chunkStoreContract('memory', async () => {
  const store = new MemoryChunkStore()
  return { store, cleanup: async () => { await store.close() } }
})
