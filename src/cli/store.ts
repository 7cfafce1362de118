import { CID } from 'multiformats/cid'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { BadCidError, PinNotFoundError, StoreMissingError } from '../cas/errors.js'
import { isPinName } from '../cas/pins.js'
import { openLocalStore, type LocalStore } from '../cas/store/local.js'
import { UsageError, type CommandContext } from './command.js'

const DEFAULT_LOCK_WAIT_MS = 3_000

/**
 * How long to wait for another xeno process to release the store: env XENO_LOCK_WAIT
 * (seconds), default 3 s, enough to ride over a process that is just exiting or restarting.
 */
function lockWaitMs (): number {
  const text = process.env.XENO_LOCK_WAIT
  if (text === undefined) return DEFAULT_LOCK_WAIT_MS
  const s = Number(text)
  return Number.isFinite(s) && s > 0 ? s * 1000 : 0
}

/**
 * Opens the local store of a command (ctx.storeDir). Only commands that fill a store (`create`:
 * an import, a pull, a lazy NFS export) make one where there is none; the others reject
 * CAS_STORE_MISSING, so that a mistyped --store does not leave an empty store behind and
 * answer "no root named ...". Rejects CAS_STORE_LOCKED when another process holds it longer
 * than XENO_LOCK_WAIT seconds (3). The caller closes it (`await using store = await openCliStore(ctx)`).
 */
export async function openCliStore (ctx: Pick<CommandContext, 'storeDir'>, options: { lockWaitMs?: number, create?: boolean } = {}): Promise<LocalStore> {
  // A store is its index or its packs (opening rebuilds a lost index from the packs).
  if (options.create !== true && !existsSync(join(ctx.storeDir, 'index')) && !existsSync(join(ctx.storeDir, 'packs'))) throw new StoreMissingError(ctx.storeDir)
  return await openLocalStore(ctx.storeDir, { lockWaitMs: options.lockWaitMs ?? lockWaitMs() })
}

/** The `--wait SECONDS` option of maintenance commands, in ms (undefined when absent). */
export function waitOption (options: CommandContext['options']): number | undefined {
  const v = options.wait
  if (v === undefined) return undefined
  const s = Number(v)
  if (typeof v !== 'string' || !Number.isFinite(s) || s < 0) throw new UsageError('--wait takes a number of seconds')
  return s * 1000
}

/**
 * The root CID that `text` names: a CID string, or the name of a pin in `store`.
 * Rejects CAS_BAD_CID for text that is neither a valid CID nor a valid name, and
 * CAS_PIN_NOT_FOUND for a valid name that is not pinned. Does not check that the store holds the root.
 */
export async function resolveRoot (store: Pick<LocalStore, 'resolvePin'>, text: string): Promise<CID> {
  let parseError: unknown
  try {
    return CID.parse(text)
  } catch (err) {
    parseError = err
  }
  if (isPinName(text)) {
    const cid = await store.resolvePin(text)
    if (cid !== undefined) return cid
    if (!looksLikeCid(text)) throw new PinNotFoundError(text)
  }
  throw new BadCidError(text, { cause: parseError })
}

/** Text that starts like a CIDv1 in base32 (`baf…`) or a CIDv0 (`Qm…`) is meant as a CID, not a name. */
function looksLikeCid (text: string): boolean {
  return /^baf[a-z2-7]{5,}$/.test(text) || /^Qm[1-9A-HJ-NP-Za-km-z]{6,}$/.test(text)
}
