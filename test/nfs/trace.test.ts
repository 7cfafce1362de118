import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MemoryChunkStore } from '../../src/cas/index.js'
import { openTree, openUnionView } from '../../src/overlay/index.js'
import { importDirectory } from '../../src/overlay/import-dir.js'
import { AccessTrace, ChunkCache, createNfsServer, tracedFilesystem, viewFilesystem } from '../../src/nfs/index.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { seededBytes } from '../helpers/bytes.js'
import { NfsClient } from './nfs-client.js'

const Trace = suite('access trace')

Trace('records the files and blocks a client read, each once, in first-read order', async () => {
  const dir = await tmpdir()
  try {
    await mkdir(join(dir, 'src', 'bin'), { recursive: true })
    await writeFile(join(dir, 'src', 'bin', 'init'), seededBytes(1, 200_000))
    await writeFile(join(dir, 'src', 'unread'), 'never read')
    const store = new MemoryChunkStore()
    const root = (await importDirectory(join(dir, 'src'), store)).root
    const trace = new AccessTrace(join(dir, 'trace.jsonl'))
    const cache = new ChunkCache(store, { onRead: (cid, from) => { trace.chunk(cid, from) } })
    const view = await openUnionView({ lowers: [openTree(cache, root)], store: cache })
    const fs = tracedFilesystem(viewFilesystem(view), trace, async (id) => await view.pathOf(id))
    const server = await createNfsServer({ stateDir: join(dir, 'state'), exports: [{ name: '/vm', fs, allow: ['127.0.0.1'] }] })
    const c = await NfsClient.connect(server.port)
    const init = (await c.lookup((await c.lookup((await c.mount('/vm')).fh!, 'bin')).fh!, 'init')).fh!
    for (let round = 0; round < 2; round++) {
      for (let at = 0n; at < 200_000n; at += 65_536n) assert.is((await c.read(init, at, 65_536)).status, 0)
    }
    await c.close(); await server.close(); await view.close(); await trace.close()
    const lines = (await readFile(join(dir, 'trace.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const files = lines.filter((l) => l.file !== undefined)
    assert.equal(files.map((f) => f.path), ['/bin/init'])
    const chunks = lines.filter((l) => l.chunk !== undefined).map((l) => l.chunk)
    assert.ok(chunks.length >= 3, 'the file\'s chunks (and tree nodes) are listed')
    assert.is(new Set(chunks).size, chunks.length, 'each block once')
    assert.is(trace.counts.files, 1)
  } finally { await rmrf(dir) }
})

Trace.run()
