/** What one tar member header says (POSIX pax + ustar). */
export interface TarHeader {
  readonly path: string
  /** '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6' fifo. */
  readonly type: string
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly mtimeNs: bigint
  readonly size: number
  readonly linkname?: string
  readonly devMajor?: number
  readonly devMinor?: number
  readonly xattrs?: Readonly<Record<string, Uint8Array>>
}

const BLOCK = 512
const encoder = new TextEncoder()
const NS = 1_000_000_000n

function putStr (h: Uint8Array, at: number, len: number, bytes: Uint8Array): void { h.set(bytes.subarray(0, len), at) }

/** Octal field of `len` bytes (len-1 digits + NUL); false when the value does not fit. */
function putOct (h: Uint8Array, at: number, len: number, value: number): boolean {
  const s = Math.max(0, value).toString(8)
  if (s.length > len - 1 || value < 0) return false
  putStr(h, at, len, encoder.encode(s.padStart(len - 1, '0')))
  return true
}

/** Splits a path into ustar prefix (<=155 bytes) and name (<=100 bytes), or undefined. */
function splitUstar (path: Uint8Array): { prefix: Uint8Array, name: Uint8Array } | undefined {
  if (path.length <= 100) return { prefix: new Uint8Array(0), name: path }
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== 0x2f) continue
    if (i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0) return { prefix: path.subarray(0, i), name: path.subarray(i + 1) }
    if (i < path.length - 101) break
  }
  return undefined
}

/** One PAX record "LEN key=value\n", LEN counting itself. */
function paxRecord (key: string, value: Uint8Array): Uint8Array {
  const k = encoder.encode(` ${key}=`)
  const rest = k.length + value.length + 1
  let len = rest + 1
  while (String(len).length + rest !== len) len = String(len).length + rest
  const out = new Uint8Array(len)
  out.set(encoder.encode(String(len)))
  out.set(k, String(len).length)
  out.set(value, String(len).length + k.length)
  out[len - 1] = 0x0a
  return out
}

function ustar (path: Uint8Array, h: TarHeader, type: string, size: number, pax: Array<[string, Uint8Array]>): Uint8Array {
  const b = new Uint8Array(BLOCK)
  const split = splitUstar(path)
  if (split === undefined) pax.push(['path', path])
  else { putStr(b, 0, 100, split.name); putStr(b, 345, 155, split.prefix) }
  putOct(b, 100, 8, h.mode & 0o7777)
  if (!putOct(b, 108, 8, h.uid)) { pax.push(['uid', encoder.encode(String(h.uid))]); putOct(b, 108, 8, 0) }
  if (!putOct(b, 116, 8, h.gid)) { pax.push(['gid', encoder.encode(String(h.gid))]); putOct(b, 116, 8, 0) }
  if (!putOct(b, 124, 12, size)) { pax.push(['size', encoder.encode(String(size))]); putOct(b, 124, 12, 0) }
  const sec = h.mtimeNs >= 0n ? h.mtimeNs / NS : -((-h.mtimeNs + NS - 1n) / NS)
  const nsec = h.mtimeNs - sec * NS
  if (nsec !== 0n || !putOct(b, 136, 12, Number(sec))) {
    putOct(b, 136, 12, Math.max(0, Number(sec)))
    const neg = h.mtimeNs < 0n
    const abs = neg ? -h.mtimeNs : h.mtimeNs
    pax.push(['mtime', encoder.encode(`${neg ? '-' : ''}${abs / NS}.${String(abs % NS).padStart(9, '0')}`)])
  }
  b[156] = type.charCodeAt(0)
  if (h.linkname !== undefined) {
    const l = encoder.encode(h.linkname)
    if (l.length <= 100) putStr(b, 157, 100, l); else pax.push(['linkpath', l])
  }
  b.set(encoder.encode('ustar\u000000'), 257)
  for (const [at, v, key] of [[329, h.devMajor ?? 0, 'SCHILY.devmajor'], [337, h.devMinor ?? 0, 'SCHILY.devminor']] as const) {
    if (!putOct(b, at, 8, v)) { pax.push([key, encoder.encode(String(v))]); putOct(b, at, 8, 0) }
  }
  b.fill(0x20, 148, 156)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += b[i]
  putStr(b, 148, 8, encoder.encode(sum.toString(8).padStart(6, '0') + '\u0000 '))
  return b
}

/**
 * The header blocks of one member: a PAX extended header when a value does not fit ustar
 * (long or non-ASCII-long paths, big ids or sizes, sub-second or negative mtimes, xattrs as
 * SCHILY.xattr.*), then the ustar header. Content and its padding follow from the caller.
 */
export function encodeTarHeader (h: TarHeader): Uint8Array {
  const path = encoder.encode(h.path)
  const pax: Array<[string, Uint8Array]> = []
  const main = ustar(path, h, h.type, h.size, pax)
  for (const [k, v] of Object.entries(h.xattrs ?? {})) pax.push([`SCHILY.xattr.${k}`, v])
  if (pax.length === 0) return main
  const records = pax.map(([k, v]) => paxRecord(k, v))
  const length = records.reduce((a, r) => a + r.length, 0)
  const xh = ustar(encoder.encode('PaxHeader'), { ...h, linkname: undefined, devMajor: 0, devMinor: 0, mtimeNs: 0n, uid: 0, gid: 0 }, 'x', length, [])
  const out = new Uint8Array(BLOCK + Math.ceil(length / BLOCK) * BLOCK + BLOCK)
  out.set(xh)
  let at = BLOCK
  for (const r of records) { out.set(r, at); at += r.length }
  out.set(main, BLOCK + Math.ceil(length / BLOCK) * BLOCK)
  return out
}

/** Zero bytes that pad a member body of `size` to the block size. */
export function tarPadding (size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK)
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = new Uint8Array(2 * BLOCK)
