/**
 * Messages between the ingest pool (main thread) and its workers (ingest/worker.ts). Plain
 * structured-clone data only; chunk payloads travel packed in one transferred ArrayBuffer
 * per message, so a message costs one clone of small arrays and no copy of content.
 */

/** Read, chunk, hash and compress the file at `path`. */
export interface FileJob { readonly id: number, readonly path: string }

/** main -> worker: a batch of jobs. */
export interface JobsMessage { readonly type: 'jobs', readonly jobs: FileJob[] }

/** One prepared chunk inside a ResultMessage: its payload is buffer[offset, offset + length). */
export interface ChunkRecord {
  readonly file: number
  readonly cid: Uint8Array
  readonly offset: number
  readonly length: number
  readonly compressed: boolean
  readonly rawSize: number
}

/** A file that ended in this message (all its chunks are in this or earlier messages). */
export interface FileDone { readonly file: number, readonly error?: { code?: string, message: string } }

/** worker -> main: chunks in file order, then the files that completed. */
export interface ResultMessage {
  readonly type: 'result'
  readonly buffer: ArrayBuffer
  readonly chunks: ChunkRecord[]
  readonly done: FileDone[]
  /** Payload bytes in this message, to return as credit once stored. */
  readonly bytes: number
}

/** Worker start-up data. `credit` is an Int32Array over a SharedArrayBuffer: [bytes in flight]. */
export interface WorkerInit {
  readonly credit: SharedArrayBuffer
  /** zstd level for payloads (0: store raw, for sinks without putPrepared). */
  readonly level: number
  /** The worker waits while more than this many payload bytes are posted and not yet stored. */
  readonly maxInFlightBytes: number
}
