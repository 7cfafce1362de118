import type { CID } from 'multiformats/cid'
import { ChunkInvalidError } from './errors.js'
import { matchesCid } from './hasher.js'

/** Throws ChunkInvalidError unless `bytes` hash to `cid`. */
export function verifyChunk (cid: CID, bytes: Uint8Array): void {
  if (!matchesCid(cid, bytes)) throw new ChunkInvalidError(cid)
}
