import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'
import { runXeno, startNfsServe } from '../helpers/cli.js'
import { libnfs, nfsUrl } from '../nfs/real-client.js'

interface Stats {
  rss: number, rssAnon?: number, rssFile?: number
  malloc?: { heap: number, inUse: number, free: number, mmapped: number }
  mallocTrim: { runs: number, released: number, lastMs: number }
}

// A server's memory settings (src/cli/server-memory.ts) and what --stats reports of them, read
// from a real `xeno nfs serve` that has served a real client.
test('nfs serve trims malloc periodically and --stats reports RSS kinds and malloc', async () => {
  const dir = await tmpdir('xeno-server-memory-')
  try {
    await mkdir(join(dir, 'tree'), { recursive: true })
    await writeFile(join(dir, 'tree', 'motd'), 'welcome\n')
    const root = (JSON.parse(await runXeno(['template', 'import', join(dir, 'tree'), '--store', join(dir, 'store'), '--json'])) as { root: string }).root
    const lines: Stats[] = []
    let served = false
    const { child, port } = await startNfsServe(['--store', join(dir, 'store'), '--layer', root, '--state', join(dir, 'state'),
      '--listen', '127.0.0.1:0', '--stats', '0.5'], {
      env: { ...process.env, XENO_MALLOC_TRIM_MS: '100' },
      onLine: (line) => { if (served && line.startsWith('stats ')) lines.push(JSON.parse(line.slice(6)) as Stats) }
    })
    try {
      assert.is((await libnfs('nfs-cat', [nfsUrl(port, '/export/motd')])).toString(), 'welcome\n')
      served = true
      while (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 100))
      const s = lines[0]!
      assert.ok(s.mallocTrim.runs >= 1, `trimmed ${s.mallocTrim.runs} times`)
      assert.ok(s.malloc !== undefined && s.malloc.inUse > 0 && s.malloc.heap >= s.malloc.inUse - s.malloc.mmapped, 'malloc figures')
      assert.ok(s.rssAnon !== undefined && s.rssFile !== undefined, 'RSS kinds on Linux')
      // The kernel's two kinds (plus shared memory, none here) make up RSS, read a moment apart.
      assert.ok(Math.abs(s.rssAnon + s.rssFile - s.rss) < s.rss * 0.2, `${s.rssAnon} + ${s.rssFile} vs ${s.rss}`)
    } finally {
      child.kill('SIGINT')
    }
  } finally {
    await rmrf(dir)
  }
})

test.run()
