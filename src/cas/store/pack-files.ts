import { constants, readdirSync, readSync } from 'node:fs'
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { packFileName, packNumber } from './pack-format.js'
import { startWriteback } from './writeback.js'

const MAX_OPEN_HANDLES = 128

/**
 * Whether the store in `storeDir` has a pack file (so may hold chunks), read without opening
 * the store: an import decides from it whether to ask the store which chunks it has.
 */
export function storeHasPacks (storeDir: string): boolean {
  try { return readdirSync(join(storeDir, 'packs')).some((f) => packNumber(f) !== undefined) } catch { return false }
}

/**
 * The `packs/` folder: one file handle per pack (opened read-write on demand, a small LRU),
 * positional reads and writes, fsync of the files and of the folder.
 */
export class PackFiles {
  readonly dir: string
  readonly #handles = new Map<number, FileHandle>()
  readonly #unsynced = new Set<number>()
  /** Operations in flight per pack: such a handle is never evicted under them. */
  readonly #busy = new Map<number, number>()
  #dirDirty = false

  constructor (dir: string) { this.dir = dir }

  async init (): Promise<void> { await mkdir(this.dir, { recursive: true }) }

  path (pack: number): string { return join(this.dir, packFileName(pack)) }

  /** Pack numbers present on disk, ascending. Other files are returned in `others`. */
  async list (): Promise<{ packs: number[], others: string[] }> {
    const packs: number[] = []
    const others: string[] = []
    for (const name of await readdir(this.dir)) {
      const n = packNumber(name)
      if (n === undefined) others.push(name); else packs.push(n)
    }
    return { packs: packs.sort((a, b) => a - b), others }
  }

  /** Handle of pack `n`, creating the file when `create`. Rejects ENOENT otherwise. */
  async handle (n: number, create = false): Promise<FileHandle> {
    const cached = this.#handles.get(n)
    if (cached !== undefined) {
      this.#handles.delete(n); this.#handles.set(n, cached) // LRU: move to the back
      return cached
    }
    const flags = constants.O_RDWR | (create ? constants.O_CREAT : 0)
    const fh = await open(this.path(n), flags, 0o644)
    if (create) this.#dirDirty = true
    const racing = this.#handles.get(n)
    if (racing !== undefined) { await fh.close(); return racing }
    this.#handles.set(n, fh)
    if (this.#handles.size > MAX_OPEN_HANDLES) await this.#evict()
    return fh
  }

  async #evict (): Promise<void> {
    for (const [n, fh] of this.#handles) {
      if (this.#unsynced.has(n) || (this.#busy.get(n) ?? 0) > 0) continue
      this.#handles.delete(n)
      await fh.close()
      return
    }
  }

  /** Reads exactly `length` bytes at `position`; a short read resolves a shorter array. */
  async read (n: number, position: number, length: number): Promise<Buffer> {
    return await this.#using(n, false, async (fh) => await readAt(fh, position, length))
  }

  /**
   * Reads one record's bytes with a synchronous pread(2): from the page cache that takes
   * ~15 µs against ~110 µs through FileHandle and the thread pool (bench/store.bench.ts);
   * a cold read blocks the event loop for one disk read of at most MAX_BLOCK_BYTES.
   * A short read resolves a shorter array.
   */
  async readSmall (n: number, position: number, length: number): Promise<Buffer> {
    const fh = this.#handles.get(n) ?? await this.handle(n)
    const buf = Buffer.allocUnsafe(length)
    let got = 0
    while (got < length) {
      const read = readSync(fh.fd, buf, got, length - got, position + got)
      if (read === 0) break
      got += read
    }
    return got === length ? buf : buf.subarray(0, got)
  }

  async #using<T> (n: number, create: boolean, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    this.#busy.set(n, (this.#busy.get(n) ?? 0) + 1)
    try {
      return await fn(await this.handle(n, create))
    } finally {
      const left = (this.#busy.get(n) ?? 1) - 1
      if (left === 0) this.#busy.delete(n); else this.#busy.set(n, left)
    }
  }

  /** Writes `buffers` contiguously at `position` of pack `n` (created if needed). */
  async write (n: number, position: number, buffers: Uint8Array[]): Promise<void> {
    await this.#using(n, true, async (fh) => {
      let pos = position
      let list = buffers
      while (list.length > 0) {
        const { bytesWritten } = await fh.writev(list, pos)
        pos += bytesWritten
        list = skipBytes(list, bytesWritten)
      }
      startWriteback(fh.fd, position, pos - position)
    })
    this.#unsynced.add(n)
  }

  async size (n: number): Promise<number> { return await this.#using(n, false, async (fh) => (await fh.stat()).size) }

  async truncate (n: number, length: number): Promise<void> {
    await this.#using(n, false, async (fh) => { await fh.truncate(length) })
    this.#unsynced.add(n)
  }

  /** fsyncs every pack written since the last sync, then the folder if files were created. */
  async sync (): Promise<void> {
    for (const n of [...this.#unsynced]) {
      await this.#handles.get(n)?.sync()
      this.#unsynced.delete(n)
    }
    if (this.#dirDirty) {
      this.#dirDirty = false
      const d = await open(this.dir, constants.O_RDONLY)
      try { await d.sync() } finally { await d.close() }
    }
  }

  /** Closes and deletes pack `n` (absent is fine). */
  async remove (n: number): Promise<void> {
    const fh = this.#handles.get(n)
    this.#handles.delete(n)
    this.#unsynced.delete(n)
    await fh?.close()
    await unlink(this.path(n)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
    this.#dirDirty = true
  }

  async close (): Promise<void> {
    const all = [...this.#handles.values()]
    this.#handles.clear()
    await Promise.all(all.map(async (fh) => { await fh.close() }))
  }
}

async function readAt (fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got === length ? buf : buf.subarray(0, got)
}

function skipBytes (list: Uint8Array[], n: number): Uint8Array[] {
  let i = 0
  while (i < list.length && n >= list[i].length) { n -= list[i].length; i++ }
  if (i === list.length) return []
  const rest = list.slice(i)
  rest[0] = rest[0].subarray(n)
  return rest
}
