/**
 * Run inside a private network namespace by portmap.test.ts: serves two exports with PORTMAP
 * on the standard port 111 (free there) and runs `nfs-ls -D` and a portless `nfs-ls`, which
 * find MOUNT and NFS through the portmapper. Prints {"discover": ..., "ls": ...} as JSON.
 */
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createNfsServer, viewFilesystem } from '../../src/nfs/index.js'
import { DirView } from '../../src/nfs/dir-view.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const run = promisify(execFile)
const dir = await tmpdir('xeno-nfs-pmap-')
await mkdir(join(dir, 'tree'))
await writeFile(join(dir, 'tree', 'file.txt'), 'x')
const server = await createNfsServer({
  stateDir: join(dir, 'state'),
  portmapPort: 111,
  exports: [
    { name: '/export', fs: viewFilesystem(new DirView(join(dir, 'tree'))), allow: ['127.0.0.1'] },
    { name: '/second', fs: viewFilesystem(new DirView(join(dir, 'tree'))), allow: ['127.0.0.1'] }
  ]
})
try {
  const discover = (await run('nfs-ls', ['-D', 'nfs://127.0.0.1'], { timeout: 20_000 })).stdout
  const ls = (await run('nfs-ls', ['nfs://127.0.0.1/export'], { timeout: 20_000 })).stdout
  console.log(JSON.stringify({ discover, ls }))
} finally {
  await server.close()
  await rmrf(dir)
}
