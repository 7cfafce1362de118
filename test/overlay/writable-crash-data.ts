import { seededBytes } from '../helpers/bytes.js'

/** The bytes the crash child writes to file number `i` (a prefix of them after a crash or truncate). */
export function expectedContent (i: number): Uint8Array {
  return seededBytes(i + 1, 1000 + (i * 7919) % 150_000)
}
