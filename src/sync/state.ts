import { Level } from 'level'
import type { CID } from 'multiformats/cid'
import type { NameRecord } from './names.js'
import { nameInPrefix } from './names.js'

/**
 * What a XenoStore keeps besides the chunks: which tenant may see which block (ownership,
 * so `has` cannot be used to probe other tenants' data through dedup) and the latest signed
 * record of each name.
 */
export interface SyncIndex {
  /** One flag per CID: does `tenant` own it? */
  owns (tenant: string, cids: readonly CID[]): Promise<boolean[]>
  /** Records that `tenant` owns `cids` (idempotent). */
  grant (tenant: string, cids: readonly CID[]): Promise<void>
  getName (name: string): Promise<NameRecord | undefined>
  /** Replaces the record of `record.name` (the caller has checked seq, prev and signature). */
  putName (record: NameRecord): Promise<void>
  /** Every record whose name lies under `prefix`, sorted by name. */
  listNames (prefix: string): Promise<NameRecord[]>
  close (): Promise<void>
}

const SEP = '\u0000'

/** A SyncIndex in a LevelDB folder (`dir`): sublevels `own` (tenant NUL cid -> 1) and `names` (name -> record). Durable per call. */
export async function openSyncIndex (dir: string): Promise<SyncIndex> {
  const db = new Level<string, unknown>(dir, { valueEncoding: 'json' })
  await db.open()
  const own = db.sublevel<string, number>('own', { valueEncoding: 'json' })
  const names = db.sublevel<string, NameRecord>('names', { valueEncoding: 'json' })
  return {
    async owns (tenant, cids) {
      if (cids.length === 0) return []
      const values = await own.getMany(cids.map((c) => tenant + SEP + c.toString()))
      return values.map((v) => v !== undefined)
    },
    async grant (tenant, cids) {
      if (cids.length === 0) return
      await own.batch(cids.map((c) => ({ type: 'put' as const, key: tenant + SEP + c.toString(), value: 1 })))
    },
    async getName (name) { return await names.get(name) },
    async putName (record) { await names.put(record.name, record) },
    async listNames (prefix) {
      const out: NameRecord[] = []
      for await (const [name, record] of names.iterator(prefix === '' ? {} : { gte: prefix })) {
        if (!name.startsWith(prefix)) break
        if (nameInPrefix(name, prefix)) out.push(record)
      }
      return out
    },
    async close () { await db.close() }
  }
}

/** A SyncIndex in memory (tests, throwaway servers). */
export function createMemorySyncIndex (): SyncIndex {
  const own = new Set<string>()
  const names = new Map<string, NameRecord>()
  return {
    async owns (tenant, cids) { return cids.map((c) => own.has(tenant + SEP + c.toString())) },
    async grant (tenant, cids) { for (const c of cids) own.add(tenant + SEP + c.toString()) },
    async getName (name) { return names.get(name) },
    async putName (record) { names.set(record.name, record) },
    async listNames (prefix) {
      return [...names.values()].filter((r) => nameInPrefix(r.name, prefix)).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    },
    async close () {}
  }
}
