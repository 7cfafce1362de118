import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeCall } from '../../src/nfs/rpc.js'
import { RecordDecoder } from '../../src/nfs/record.js'
import { readFh, readSattr3, writeFattr3 } from '../../src/nfs/nfs3/attrs.js'
import { XdrWriter } from '../../src/nfs/xdr.js'

/** Wire bytes pinned against the RFCs and against a real client. */
const Golden = suite('golden XDR')

/** A CREATE call as libnfs 4.0 (nfs-cp) sent it to this server, record mark included (strace capture). */
const LIBNFS_CREATE_HEX =
  '80000094' + '4a24db95' + '00000000' + '00000002' + '000186a3' + '00000003' + '00000008' +
  '00000001' + '0000001c' + '001ddb8e' + '00000006' + '6c69626e66730000' + '00000000' + '00000000' + '00000000' +
  '00000000' + '00000000' +
  '0000001d' + '011e8cb7f7' + '0000000000000001' + '0e55c6346a03b5e322cfd3b499b617b5' + '000000' +
  '00000005' + '612e747874000000' +
  '00000001' + '00000001' + '000001b0' + '00000000' + '00000000' + '00000000' + '00000000' + '00000000'

Golden('a libnfs CREATE call decodes: AUTH_SYS from "libnfs", GUARDED, mode 0660', () => {
  const records: Uint8Array[] = []
  new RecordDecoder({ record: (b) => records.push(b), oversized: () => assert.unreachable() }, 4096).push(Buffer.from(LIBNFS_CREATE_HEX, 'hex'))
  assert.is(records.length, 1)
  const d = decodeCall(records[0]!)
  assert.is(d.kind, 'call')
  if (d.kind !== 'call') return
  assert.is(d.call.xid, 0x4a24db95)
  assert.equal([d.call.prog, d.call.vers, d.call.proc], [100003, 3, 8])
  assert.equal(d.call.cred, { flavor: 1, uid: 0, gid: 0, gids: [], machineName: 'libnfs', key: '0:0:' })
  const args = d.call.args
  assert.is(readFh(args).length, 29)
  assert.is(args.string(), 'a.txt')
  assert.is(args.uint32(), 1)
  assert.equal(readSattr3(args), { mode: 0o660 })
  args.end()
})

Golden('fattr3 is laid out as RFC 1813 §2.6 orders it', () => {
  const w = new XdrWriter()
  writeFattr3(w, {
    type: 'file', mode: 0o100644, nlink: 1, uid: 1000, gid: 100, size: 5n, used: 4096n, rdev: { major: 8, minor: 1 },
    fileid: 42n, atimeNs: 1_000_000_002n, mtimeNs: 1_000_000_002n, ctimeNs: 3_000_000_004n
  }, 7n)
  const hex = Buffer.from(w.bytes()).toString('hex')
  assert.is(hex, [
    '00000001', '000001a4', '00000001', '000003e8', '00000064', // type NF3REG, mode (no type bits), nlink, uid, gid
    '0000000000000005', '0000000000001000', '00000008', '00000001', // size, used, rdev
    '0000000000000007', '000000000000002a', // fsid, fileid
    '00000001', '00000002', '00000001', '00000002', '00000003', '00000004' // atime, mtime, ctime
  ].join(''))
  assert.is(hex.length / 2, 84)
})

Golden.run()
