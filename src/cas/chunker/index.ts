export type { Chunker } from '../interface.js'
export { cdcChunker, chunkLengths, findBoundary, CHUNKER_V1, GEAR } from './cdc.js'
export type { CdcParams } from './cdc.js'
