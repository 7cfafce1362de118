import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { HandleCodec, HANDLE_BYTES, exportIdOf } from '../../src/nfs/handles.js'
import { rmrf, tmpdir } from '../helpers/tmpdir.js'

const Handles = suite('file handles')

function code (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as { code?: string }).code }
  return undefined
}

Handles('round-trip node ids within 64 bytes', () => {
  const h = new HandleCodec(new Uint8Array(32).fill(1))
  const e = exportIdOf('/export')
  for (const id of [1n, 2n, 2n ** 63n, 2n ** 64n - 1n]) {
    const fh = h.encode(e, id)
    assert.ok(fh.length <= 64)
    assert.is(fh.length, HANDLE_BYTES)
    assert.is(h.decode(fh, e), id)
  }
})

Handles('every single-bit change, truncation or extension is NFS_BAD_HANDLE', () => {
  const h = new HandleCodec(new Uint8Array(32).fill(2))
  const fh = h.encode(7, 42n)
  for (let bit = 0; bit < fh.length * 8; bit++) {
    const f = Uint8Array.from(fh); f[bit >> 3]! ^= 1 << (bit & 7)
    assert.is(code(() => h.decode(f, 7)), 'NFS_BAD_HANDLE', `bit ${bit}`)
  }
  assert.is(code(() => h.decode(fh.subarray(0, 28), 7)), 'NFS_BAD_HANDLE')
  assert.is(code(() => h.decode(new Uint8Array(64), 7)), 'NFS_BAD_HANDLE')
})

Handles('with a bound of 2 remembered handles, many handles still round-trip and a forged one is refused', () => {
  const h = new HandleCodec(new Uint8Array(32).fill(5), 2)
  const handles = Array.from({ length: 50 }, (_, i) => h.encode(9, BigInt(i + 1)))
  // Every handle again, oldest first: most were evicted, so their MACs are checked anew.
  handles.forEach((fh, i) => { assert.is(h.decode(fh, 9), BigInt(i + 1)); assert.equal(h.encode(9, BigInt(i + 1)), fh) })
  const forged = Uint8Array.from(handles[0]!); forged[6]! ^= 1
  assert.is(code(() => h.decode(forged, 9)), 'NFS_BAD_HANDLE')
  assert.throws(() => new HandleCodec(new Uint8Array(32), 0), /maxRemembered/)
})

Handles('a genuine handle of another export is NFS_STALE_HANDLE; another secret is NFS_BAD_HANDLE', () => {
  const h = new HandleCodec(new Uint8Array(32).fill(3))
  assert.is(code(() => h.decode(h.encode(1, 5n), 2)), 'NFS_STALE_HANDLE')
  const other = new HandleCodec(new Uint8Array(32).fill(4))
  assert.is(code(() => h.decode(other.encode(1, 5n), 1)), 'NFS_BAD_HANDLE')
})

Handles('the secret persists in the state directory (mode 0600), so handles survive a restart', async () => {
  const dir = await tmpdir()
  try {
    const a = await HandleCodec.open(join(dir, 'state'))
    const fh = a.encode(9, 77n)
    const b = await HandleCodec.open(join(dir, 'state'))
    assert.is(b.decode(fh, 9), 77n)
    assert.is((await stat(join(dir, 'state', 'handle-secret'))).mode & 0o777, 0o600)
    const c = await HandleCodec.open(join(dir, 'elsewhere'))
    assert.is(code(() => c.decode(fh, 9)), 'NFS_BAD_HANDLE')
  } finally { await rmrf(dir) }
})

Handles.run()
