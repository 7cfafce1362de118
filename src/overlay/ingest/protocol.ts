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
 * its CID bytes are in `cids`, the chunk's own size, and the record (index into `records`)
 * that stores it, or CHUNK_PRESENT / CHUNK_SEEN when nothing of this message stores it. A flat
 * Float64Array clones as one buffer, where an object per chunk would clone thousands of
 * small arrays.
 */
export const CHUNK = { FILE: 0, CID_OFFSET: 1, CID_LENGTH: 2, RAW_SIZE: 3, RECORD: 4 } as const
export const CHUNK_FIELDS = 5

/**
 * Per-record fields in ResultMessage.records, RECORD_FIELDS numbers per record: where its
 * payload is in `buffer`, whether it is zstd, and how many members it has. The members are
 * the chunks whose RECORD field names it, in chunk order; their bytes are concatenated in
 * that order (a frame, store/pack-format.ts), or it is one chunk's own payload.
 */
export const RECORD = { OFFSET: 0, LENGTH: 1, COMPRESSED: 2, MEMBERS: 3 } as const
export const RECORD_FIELDS = 4

/** A file that ended in this message (all its chunks are in this or earlier messages). */
export interface FileDone {
  readonly file: number
  readonly error?: { code?: string, message: string, path?: string }
  /**
   * A native walker's file (no job of the pool's): its content as the thread built it (its CID
   * absent when empty), and the index nodes it wrote, packed as [CID (36 bytes)][u32 LE length][bytes]...
   */
  readonly content?: { size: number, cid?: Uint8Array, nodes?: Uint8Array }
}

/** worker -> main: records (payloads packed in `buffer`), chunks (CIDs packed in `cids`), then the files that completed. */
export interface ResultMessage {
  readonly type: 'result'
  readonly buffer: ArrayBuffer
  readonly cids: Uint8Array
  /** CHUNK_FIELDS numbers per chunk, in file order. */
  readonly meta: Float64Array
  /** RECORD_FIELDS numbers per record. */
  readonly records: Float64Array
  readonly done: FileDone[]
  /** Payload bytes in this message, to return as credit once stored. */
  readonly bytes: number
}

/**
 * worker -> main (probe mode): which of these chunks (CIDs packed, `cidLength` bytes each)
 * does the store lack? The worker then waits on `answer` (WorkerInit) until its first Int32
 * is `seq`; the bytes after the first 8 are 1 for each missing chunk, in order.
 */
export interface ProbeMessage {
  readonly type: 'probe'
  readonly seq: number
  readonly cids: Uint8Array
  readonly cidLength: number
  /** Native ingest threads: which thread of the group asks (and waits). */
  readonly thread?: number
}

/** Chunks one probe may ask about. */
export const MAX_PROBE_CHUNKS = 4096
/** CHUNK.RECORD of a chunk the store already holds (probe answer). */
export const CHUNK_PRESENT = -1
/**
 * CHUNK.RECORD of a chunk this import already put in a record (on this worker or another:
 * the shared `seen` table), so it is stored once. The pool checks at the end that the store
 * holds every such chunk.
 */
export const CHUNK_SEEN = -2

/** Worker start-up data. `credit` is an Int32Array over a SharedArrayBuffer: [bytes in flight]. */
export interface WorkerInit {
  /** Probe mode: ask the main thread which chunks are new before compressing (re-imports). */
  readonly probe: boolean
  /** Probe answers: Int32 [seq, unused], then MAX_PROBE_CHUNKS bytes (1 = missing). */
  readonly answer: SharedArrayBuffer
  readonly credit: SharedArrayBuffer
  /** zstd level for payloads (0: store raw, for sinks without putPrepared). */
  readonly level: number
  /** Largest raw size of a frame of consecutive new chunks; 0: one record per chunk (sinks without putFramesMany). */
  readonly frameBytes: number
  /**
   * Chunks already put in a record by any worker of this import: an open-addressed set of
   * 64-bit digest prefixes (BigInt64Array over the SharedArrayBuffer, 0 = empty slot).
   */
  readonly seen: SharedArrayBuffer
  /** The worker waits while more than this many payload bytes are posted and not yet stored. */
  readonly maxInFlightBytes: number
}
