import { CarWriter } from '@ipld/car/writer'
import { asyncIterableReader, createDecoder } from '@ipld/car/decoder'
import type { CID } from 'multiformats/cid'
import { DAG_CBOR_CODEC, RAW_CODEC } from '../cas/codes.js'
import { matchesCid } from '../cas/hasher.js'
import type { AwaitIterable } from '../cas/interface.js'
import { BadBlockError, BadCarError, TooLargeError, TruncatedCarError } from './errors.js'
import { DEFAULT_MAX_BLOCK_BYTES_4MIB } from './protocol.js'

/** A block: bytes and the CID they hash to. */
export interface Block { readonly cid: CID, readonly bytes: Uint8Array }

/**
 * Encodes `blocks` as a CAR v1 byte stream with header `roots` (CarWriter: the producer
 * awaits the consumer, so nothing is buffered beyond one block). Errors of `blocks` end the
 * stream with that error.
 */
export async function * encodeCar (roots: CID[], blocks: AwaitIterable<Block>): AsyncIterable<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  let failure: unknown
  const feeding = (async () => {
    try { for await (const b of blocks) await writer.put({ cid: b.cid as any, bytes: b.bytes }) } catch (err) { failure = err }
    await writer.close()
  })()
  for await (const bytes of out) yield bytes
  await feeding
  if (failure !== undefined) throw failure
}

/** Marks errors that come from the byte source rather than from the CAR's content. */
class SourceError extends Error {}

async function * tagSourceErrors (source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  try { yield * source } catch (err) { throw new SourceError('source failed', { cause: err }) }
}

export interface DecodeCarOptions {
  /** Largest block accepted (default 4 MiB); a larger one fails with TooLargeError. */
  maxBlockBytes?: number
}

/**
 * Decodes a CAR v1 stream and verifies each block against its CID as it arrives: only
 * BLAKE3-256 CIDv1 of the raw or dag-cbor codec are accepted. Yields `{ cid, bytes }` (bytes
 * owned by the consumer) for every verified block, in stream order, so a consumer that stores
 * each one keeps everything received before a failure. Throws TruncatedCarError when the
 * stream ends inside a block, BadCarError on malformed framing, BadBlockError on a block that
 * does not match its CID, TooLargeError on an oversized section; errors of `source` itself are
 * rethrown unchanged. Single use.
 */
export async function * decodeCar (source: AsyncIterable<Uint8Array>, options: DecodeCarOptions = {}): AsyncIterable<Block> {
  const maxBlock = options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES_4MIB
  const inner = asyncIterableReader(tagSourceErrors(source))
  const reader = {
    upTo: async (n: number) => await inner.upTo(n),
    exactly: async (n: number, seek?: boolean) => {
      if (n > maxBlock + 256) throw new TooLargeError(`CAR section of ${n} bytes exceeds the ${maxBlock}-byte block limit`)
      return await inner.exactly(n, seek)
    },
    seek: (n: number) => inner.seek(n),
    get pos () { return inner.pos }
  }
  const decoder = createDecoder(reader)
  try {
    await decoder.header()
    for await (const { cid, bytes } of decoder.blocks()) {
      checkBlock(cid as unknown as CID, bytes)
      yield { cid: cid as unknown as CID, bytes: bytes.slice() }
    }
  } catch (err) {
    throw mapDecodeError(err)
  }
}

function checkBlock (cid: CID, bytes: Uint8Array): void {
  if (cid.version !== 1 || (cid.code !== RAW_CODEC && cid.code !== DAG_CBOR_CODEC)) {
    throw new BadBlockError(`block ${cid} has a codec xeno does not store`)
  }
  if (!matchesCid(cid, bytes)) throw new BadBlockError(`block ${cid} does not match its hash`)
}

function mapDecodeError (err: unknown): unknown {
  if (err instanceof SourceError) return err.cause
  if (err instanceof BadBlockError || err instanceof TooLargeError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (/Unexpected end of data/.test(message)) return new TruncatedCarError(undefined, { cause: err })
  return new BadCarError(`malformed CAR stream: ${message}`, { cause: err })
}
