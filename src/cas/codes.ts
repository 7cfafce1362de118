/** Multicodec numbers used by xeno, in one place (https://github.com/multiformats/multicodec). */
export const RAW_CODEC = 0x55
export const DAG_CBOR_CODEC = 0x71
export const BLAKE3_MULTIHASH = 0x1e
export const BLAKE3_DIGEST_BYTES = 32
