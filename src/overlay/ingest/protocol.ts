/**
 * Messages between the ingest pool (main thread) and its workers (ingest/worker.ts). Plain
 * structured-clone data only; chunk payloads travel packed in one transferred ArrayBuffer
 * per message, so a message costs one clone of small arrays and no copy of content.
 */

/**
 * Read, chunk, hash and compress the file at `path`, or the bytes in `data` (transferred).
 * Large files go in two steps: `cutsOnly` returns the chunk lengths of the whole file (a
 * CutsMessage, no content); then range jobs (`offset`, `lengths`) hash and compress those
 * chunks of it, on every worker at once.
 */
export interface FileJob {
  readonly id: number
  readonly path?: string
  readonly data?: ArrayBuffer
  readonly cutsOnly?: boolean
  readonly offset?: number
  readonly lengths?: Uint32Array
}

/** worker -> main: the chunk lengths of a `cutsOnly` job (sent before its FileDone). */
export interface CutsMessage { readonly type: 'cuts', readonly file: number, readonly lengths: Uint32Array }

/** main -> worker: a batch of jobs. */
export interface JobsMessage { readonly type: 'jobs', readonly jobs: FileJob[] }

/**
 * Per-chunk fields in ResultMessage.meta, CHUNK_FIELDS numbers per chunk: the file id, where
 * its payload and its CID bytes are in the buffer, whether the payload is zstd, and the
 * chunk's own size. A flat Float64Array clones as one buffer, where an object per chunk
 * would clone thousands of small arrays.
 */
export const CHUNK = { FILE: 0, OFFSET: 1, LENGTH: 2, COMPRESSED: 3, RAW_SIZE: 4, CID_OFFSET: 5, CID_LENGTH: 6 } as const
export const CHUNK_FIELDS = 7

/** A file that ended in this message (all its chunks are in this or earlier messages). */
export interface FileDone { readonly file: number, readonly error?: { code?: string, message: string } }

/** worker -> main: chunks (payloads and CIDs packed in `buffer`), then the files that completed. */
export interface ResultMessage {
  readonly type: 'result'
  readonly buffer: ArrayBuffer
  /** CHUNK_FIELDS numbers per chunk, in file order. */
  readonly meta: Float64Array
  readonly done: FileDone[]
  /** Payload bytes in this message, to return as credit once stored. */
  readonly bytes: number
}

/**
 * worker -> main (probe mode): which of these chunks (CIDs packed, `cidLength` bytes each)
 * does the store lack? The worker then waits on `answer` (WorkerInit) until its first Int32
 * is `seq`; the bytes after the first 8 are 1 for each missing chunk, in order.
 */
export interface ProbeMessage { readonly type: 'probe', readonly seq: number, readonly cids: Uint8Array, readonly cidLength: number }

/** Chunks one probe may ask about. */
export const MAX_PROBE_CHUNKS = 4096
/** CHUNK.COMPRESSED value of a chunk the store already holds: no payload follows. */
export const CHUNK_PRESENT = 2

/** Worker start-up data. `credit` is an Int32Array over a SharedArrayBuffer: [bytes in flight]. */
export interface WorkerInit {
  /** Probe mode: ask the main thread which chunks are new before compressing (re-imports). */
  readonly probe: boolean
  /** Probe answers: Int32 [seq, unused], then MAX_PROBE_CHUNKS bytes (1 = missing). */
  readonly answer: SharedArrayBuffer
  readonly credit: SharedArrayBuffer
  /** zstd level for payloads (0: store raw, for sinks without putPrepared). */
  readonly level: number
  /** The worker waits while more than this many payload bytes are posted and not yet stored. */
  readonly maxInFlightBytes: number
}
