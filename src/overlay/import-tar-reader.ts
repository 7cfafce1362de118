import { ImportError } from './errors.js'
import { ByteReader } from './import-tar-bytes.js'

// Our own reader rather than tar-stream: its PAX parser decodes every record value as UTF-8 text,
// which corrupts binary xattr values (SCHILY.xattr.security.capability), and full fidelity needs
// those bytes as they are.

/** One member of a tar archive, with PAX and GNU extensions already applied. */
export interface TarMember {
  /** Path as stored, normalised: no leading './' or '/', no trailing '/'; '' for the root. */
  readonly path: string
  /** '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo. */
  readonly type: string
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtimeNs: bigint
  readonly size: number
  readonly linkname: string
  readonly devMajor: number
  readonly devMinor: number
  readonly xattrs: Record<string, Uint8Array>
  /** The content of a regular file: consume it (or not) before asking for the next member. */
  readonly body: AsyncIterable<Uint8Array>
}

const BLOCK = 512
const decoder = new TextDecoder()

function str (b: Uint8Array, at: number, len: number): string {
  const f = b.subarray(at, at + len)
  const end = f.indexOf(0)
  return decoder.decode(end < 0 ? f : f.subarray(0, end))
}

/** Octal ASCII or GNU base-256 (high bit set) numeric field. */
function num (b: Uint8Array, at: number, len: number): number {
  if ((b[at] & 0x80) !== 0) {
    let v = BigInt(b[at] & 0x7f)
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[at + i])
    return Number(v)
  }
  const s = str(b, at, len).trim()
  return s === '' ? 0 : parseInt(s, 8)
}

function checksumOk (h: Uint8Array): boolean {
  const stored = num(h, 148, 8)
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 32 : h[i]
    unsigned += v
    signed += v > 127 ? v - 256 : v
  }
  return stored === unsigned || stored === signed
}

/** PAX records "LEN key=value\n"; values stay bytes (xattr values are binary). */
function parsePax (data: Uint8Array, into: Map<string, Uint8Array>): void {
  let at = 0
  while (at < data.length) {
    const sp = data.indexOf(0x20, at)
    if (sp < 0) break
    const len = parseInt(decoder.decode(data.subarray(at, sp)), 10)
    if (!(len > 0) || at + len > data.length) throw new ImportError('malformed PAX header')
    const rec = data.subarray(sp + 1, at + len - 1)
    const eq = rec.indexOf(0x3d)
    if (eq < 0) throw new ImportError('malformed PAX record')
    into.set(decoder.decode(rec.subarray(0, eq)), rec.slice(eq + 1))
    at += len
  }
}

/** PAX time "[-]SEC[.FRACTION]" in nanoseconds. */
export function paxTimeNs (text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text.trim())
  if (m === null) throw new ImportError(`bad PAX time ${JSON.stringify(text)}`)
  const ns = BigInt(m[2]) * 1_000_000_000n + BigInt((m[3] ?? '').slice(0, 9).padEnd(9, '0'))
  return m[1] === '-' ? -ns : ns
}

/** Strips './' and '/' prefixes and trailing '/'; rejects '..' (ImportError). */
export function normaliseTarPath (p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.')
  if (parts.includes('..')) throw new ImportError(`tar member path contains "..": ${p}`)
  return parts.join('/')
}

/**
 * Reads a tar stream (ustar, GNU with long names and base-256 numbers, POSIX PAX with
 * nanosecond times and SCHILY.xattr.* / LIBARCHIVE.xattr.*), yielding members in archive
 * order. Rejects ImportError on a bad checksum, truncation or unsupported members
 * (sparse files, multi-volume).
 */
export async function * readTar (source: AsyncIterable<Uint8Array>): AsyncIterable<TarMember> {
  const r = new ByteReader(source)
  let global = new Map<string, Uint8Array>()
  let pax = new Map<string, Uint8Array>()
  let longName: string | undefined
  let longLink: string | undefined
  for (;;) {
    const h = await r.read(BLOCK)
    if (h === undefined || h.every((v) => v === 0)) return
    if (h.length < BLOCK) throw new ImportError('tar stream truncated in a header')
    if (!checksumOk(h)) throw new ImportError('tar header checksum mismatch (not a tar stream, or corrupt)')
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156])
    const fields = new Map([...global, ...pax])
    const paxSize = fields.get('size')
    const size = paxSize !== undefined ? parseInt(decoder.decode(paxSize), 10) : num(h, 124, 12)
    const padded = Math.ceil(size / BLOCK) * BLOCK
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      const data = await r.readExact(padded, 'tar stream truncated in an extended header')
      const body = data.subarray(0, size)
      if (type === 'x') { pax = new Map(); parsePax(body, pax) } else if (type === 'g') { global = new Map(global); parsePax(body, global) } else if (type === 'L') longName = str(body, 0, body.length)
      else longLink = str(body, 0, body.length)
      continue
    }
    if (type === 'S' || type === 'M' || fields.has('GNU.sparse.major') || fields.has('GNU.sparse.size')) throw new ImportError('sparse and multi-volume tar members are not supported')
    const magic = str(h, 257, 6)
    const prefix = magic === 'ustar' && h[262] === 0 ? str(h, 345, 155) : ''
    let name = longName ?? (prefix !== '' ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100))
    let linkname = longLink ?? str(h, 157, 100)
    const text = (k: string): string | undefined => { const v = fields.get(k); return v === undefined ? undefined : decoder.decode(v) }
    name = text('path') ?? name
    linkname = text('linkpath') ?? linkname
    const xattrs: Record<string, Uint8Array> = {}
    for (const [k, v] of fields) {
      if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice(13)] = v
      else if (k.startsWith('LIBARCHIVE.xattr.')) xattrs[decodeURIComponent(k.slice(17))] = Buffer.from(decoder.decode(v), 'base64')
    }
    const pnum = (k: string, fallback: number): number => { const v = text(k); return v === undefined ? fallback : parseInt(v, 10) }
    const paxMtime = text('mtime')
    const member: TarMember = {
      path: normaliseTarPath(name),
      type: type === '7' ? '0' : type,
      mode: num(h, 100, 8) & 0o7777,
      uid: pnum('uid', num(h, 108, 8)),
      gid: pnum('gid', num(h, 116, 8)),
      mtimeNs: paxMtime !== undefined ? paxTimeNs(paxMtime) : BigInt(num(h, 136, 12)) * 1_000_000_000n,
      size: type === '0' || type === '7' ? size : 0,
      linkname,
      devMajor: pnum('SCHILY.devmajor', num(h, 329, 8)),
      devMinor: pnum('SCHILY.devminor', num(h, 337, 8)),
      xattrs,
      body: r.body(size, padded)
    }
    pax = new Map()
    longName = undefined
    longLink = undefined
    yield member
    await r.finishBody()
  }
}
