// BLAKE3-256 (unkeyed hash mode only), written from the BLAKE3 specification
// (O'Connor, Aumasson, Neves, Wilcox-O'Hearn, 2020: §2 compression function, §2.1 chunks,
// §2.2 tree). For the ingest path in native/ingest.c, so a whole file is cut, hashed and
// compressed in one native call. Checked against @napi-rs/blake-hash by test/cas/blake3-native.test.ts
// and by every golden CID of the test suite.
//
// Whole 1 KiB chunks are hashed 8 at a time: each lane of a 8 x u32 vector is one chunk
// (GCC/Clang vector extensions; the same source is compiled once for AVX2, chosen at run
// time, and once for the baseline, where the compiler splits it into SSE2 halves).
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "blake3.h"

#define BLOCK_LEN 64
#define CHUNK_LEN 1024
enum { CHUNK_START = 1, CHUNK_END = 2, PARENT = 4, ROOT = 8 };

static const uint32_t IV[8] = {
  0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au, 0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u
};
// Message word order of each of the 7 rounds: round r applies the spec's permutation r times.
static const uint8_t SCHEDULE[7][16] = {
  { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
  { 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8 },
  { 3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1 },
  { 10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6 },
  { 12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4 },
  { 9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7 },
  { 11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13 }
};

static inline uint32_t load32 (const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint32_t rotr (uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

#define G(v, a, b, c, d, x, y) do { \
  v[a] = v[a] + v[b] + (x); v[d] = ROTR(v[d] ^ v[a], 16); \
  v[c] = v[c] + v[d];       v[b] = ROTR(v[b] ^ v[c], 12); \
  v[a] = v[a] + v[b] + (y); v[d] = ROTR(v[d] ^ v[a], 8);  \
  v[c] = v[c] + v[d];       v[b] = ROTR(v[b] ^ v[c], 7);  \
} while (0)

#define ROUNDS(v, m) for (int r = 0; r < 7; r++) { \
  const uint8_t *s = SCHEDULE[r]; \
  G(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);   G(v, 1, 5, 9, 13, m[s[2]], m[s[3]]); \
  G(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);  G(v, 3, 7, 11, 15, m[s[6]], m[s[7]]); \
  G(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);  G(v, 1, 6, 11, 12, m[s[10]], m[s[11]]); \
  G(v, 2, 7, 8, 13, m[s[12]], m[s[13]]); G(v, 3, 4, 9, 14, m[s[14]], m[s[15]]); \
}

/** The compression function, truncated to the new chaining value (cv is updated in place). */
static void compress (uint32_t cv[8], const uint8_t block[BLOCK_LEN], uint32_t block_len, uint64_t counter, uint32_t flags) {
#define ROTR(x, n) rotr((x), (n))
  uint32_t m[16], v[16];
  for (int i = 0; i < 16; i++) m[i] = load32(block + 4 * i);
  for (int i = 0; i < 8; i++) v[i] = cv[i];
  v[8] = IV[0]; v[9] = IV[1]; v[10] = IV[2]; v[11] = IV[3];
  v[12] = (uint32_t)counter; v[13] = (uint32_t)(counter >> 32); v[14] = block_len; v[15] = flags;
  ROUNDS(v, m)
  for (int i = 0; i < 8; i++) cv[i] = v[i] ^ v[i + 8];
#undef ROTR
}

/** Chaining value of one chunk (1..1024 bytes; 0 only for the empty input), `extra` added to the last block's flags. */
static void chunk_cv (const uint8_t *in, size_t len, uint64_t counter, uint32_t extra, uint32_t cv[8]) {
  memcpy(cv, IV, sizeof IV);
  size_t blocks = len == 0 ? 1 : (len + BLOCK_LEN - 1) / BLOCK_LEN;
  for (size_t b = 0; b < blocks; b++) {
    uint32_t flags = (b == 0 ? CHUNK_START : 0) | (b == blocks - 1 ? CHUNK_END | extra : 0);
    size_t at = b * BLOCK_LEN, n = len - at < BLOCK_LEN ? len - at : BLOCK_LEN;
    if (n == BLOCK_LEN) { compress(cv, in + at, BLOCK_LEN, counter, flags); continue; }
    uint8_t last[BLOCK_LEN] = { 0 };
    if (n > 0) memcpy(last, in + at, n);
    compress(cv, last, (uint32_t)n, counter, flags);
  }
}

static void parent_cv (const uint32_t left[8], const uint32_t right[8], uint32_t flags, uint32_t out[8]) {
  uint8_t block[BLOCK_LEN];
  for (int i = 0; i < 8; i++) {
    for (int k = 0; k < 4; k++) { block[4 * i + k] = (uint8_t)(left[i] >> (8 * k)); block[32 + 4 * i + k] = (uint8_t)(right[i] >> (8 * k)); }
  }
  memcpy(out, IV, sizeof IV);
  compress(out, block, BLOCK_LEN, 0, PARENT | flags);
}

// ---- 8 whole chunks at once: lane j hashes the chunk at in + j * CHUNK_LEN, counter + j.
typedef uint32_t v8u __attribute__((vector_size(32)));

#define HASH8_BODY { \
  v8u v[16], m[16], cv[8]; \
  for (int i = 0; i < 8; i++) cv[i] = (v8u){ IV[i], IV[i], IV[i], IV[i], IV[i], IV[i], IV[i], IV[i] }; \
  v8u lo, hi; \
  for (int j = 0; j < 8; j++) { lo[j] = (uint32_t)(counter + j); hi[j] = (uint32_t)((counter + j) >> 32); } \
  for (int b = 0; b < CHUNK_LEN / BLOCK_LEN; b++) { \
    for (int w = 0; w < 16; w++) { \
      const uint8_t *p = in + b * BLOCK_LEN + 4 * w; \
      m[w] = (v8u){ load32(p), load32(p + CHUNK_LEN), load32(p + 2 * CHUNK_LEN), load32(p + 3 * CHUNK_LEN), \
                    load32(p + 4 * CHUNK_LEN), load32(p + 5 * CHUNK_LEN), load32(p + 6 * CHUNK_LEN), load32(p + 7 * CHUNK_LEN) }; \
    } \
    uint32_t f = (b == 0 ? CHUNK_START : 0) | (b == CHUNK_LEN / BLOCK_LEN - 1 ? CHUNK_END : 0); \
    for (int i = 0; i < 8; i++) v[i] = cv[i]; \
    for (int i = 0; i < 4; i++) v[8 + i] = (v8u){ IV[i], IV[i], IV[i], IV[i], IV[i], IV[i], IV[i], IV[i] }; \
    v[12] = lo; v[13] = hi; \
    v[14] = (v8u){ BLOCK_LEN, BLOCK_LEN, BLOCK_LEN, BLOCK_LEN, BLOCK_LEN, BLOCK_LEN, BLOCK_LEN, BLOCK_LEN }; \
    v[15] = (v8u){ f, f, f, f, f, f, f, f }; \
    ROUNDS(v, m) \
    for (int i = 0; i < 8; i++) cv[i] = v[i] ^ v[i + 8]; \
  } \
  for (int j = 0; j < 8; j++) for (int i = 0; i < 8; i++) out[j][i] = cv[i][j]; \
}

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void hash8_generic (const uint8_t *in, uint64_t counter, uint32_t out[8][8]) HASH8_BODY
#undef ROTR

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2"), always_inline)) static inline
AVX2 __m256i add (__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
AVX2 __m256i rot16 (__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_set_epi8(13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2));
}
AVX2 __m256i rot8 (__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_set_epi8(12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1, 12, 15, 14, 13, 8, 11, 10, 9, 4, 7, 6, 5, 0, 3, 2, 1));
}
AVX2 __m256i rot12 (__m256i x) { return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20)); }
AVX2 __m256i rot7 (__m256i x) { return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25)); }
#define GV(a, b, c, d, x, y) do { \
  v[a] = add(add(v[a], v[b]), x); v[d] = rot16(_mm256_xor_si256(v[d], v[a])); \
  v[c] = add(v[c], v[d]);         v[b] = rot12(_mm256_xor_si256(v[b], v[c])); \
  v[a] = add(add(v[a], v[b]), y); v[d] = rot8(_mm256_xor_si256(v[d], v[a])); \
  v[c] = add(v[c], v[d]);         v[b] = rot7(_mm256_xor_si256(v[b], v[c])); \
} while (0)

/** Words w0..w7 of rows r[0..7] (one row per chunk) into column vectors (lane j = chunk j). */
AVX2 void transpose8 (__m256i r[8]) {
  __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  r[0] = _mm256_permute2x128_si256(u0, u4, 0x20); r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  r[2] = _mm256_permute2x128_si256(u2, u6, 0x20); r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  r[4] = _mm256_permute2x128_si256(u0, u4, 0x31); r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  r[6] = _mm256_permute2x128_si256(u2, u6, 0x31); r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

__attribute__((target("avx2"))) static void hash8_avx2 (const uint8_t *in, uint64_t counter, uint32_t out[8][8]) {
  __m256i cv[8], v[16], m[16];
  for (int i = 0; i < 8; i++) cv[i] = _mm256_set1_epi32((int)IV[i]);
  __m256i lo = _mm256_setr_epi32((int)(uint32_t)counter, (int)(uint32_t)(counter + 1), (int)(uint32_t)(counter + 2), (int)(uint32_t)(counter + 3),
                                 (int)(uint32_t)(counter + 4), (int)(uint32_t)(counter + 5), (int)(uint32_t)(counter + 6), (int)(uint32_t)(counter + 7));
  __m256i hi = _mm256_setr_epi32((int)(uint32_t)(counter >> 32), (int)(uint32_t)((counter + 1) >> 32), (int)(uint32_t)((counter + 2) >> 32), (int)(uint32_t)((counter + 3) >> 32),
                                 (int)(uint32_t)((counter + 4) >> 32), (int)(uint32_t)((counter + 5) >> 32), (int)(uint32_t)((counter + 6) >> 32), (int)(uint32_t)((counter + 7) >> 32));
  for (int b = 0; b < CHUNK_LEN / BLOCK_LEN; b++) {
    for (int half = 0; half < 2; half++) {
      for (int j = 0; j < 8; j++) m[8 * half + j] = _mm256_loadu_si256((const __m256i *)(in + j * CHUNK_LEN + b * BLOCK_LEN + 32 * half));
      transpose8(m + 8 * half);
    }
    uint32_t f = (b == 0 ? CHUNK_START : 0) | (b == CHUNK_LEN / BLOCK_LEN - 1 ? CHUNK_END : 0);
    for (int i = 0; i < 8; i++) v[i] = cv[i];
    for (int i = 0; i < 4; i++) v[8 + i] = _mm256_set1_epi32((int)IV[i]);
    v[12] = lo; v[13] = hi; v[14] = _mm256_set1_epi32(BLOCK_LEN); v[15] = _mm256_set1_epi32((int)f);
    for (int r = 0; r < 7; r++) {
      const uint8_t *s = SCHEDULE[r];
      GV(0, 4, 8, 12, m[s[0]], m[s[1]]);   GV(1, 5, 9, 13, m[s[2]], m[s[3]]);
      GV(2, 6, 10, 14, m[s[4]], m[s[5]]);  GV(3, 7, 11, 15, m[s[6]], m[s[7]]);
      GV(0, 5, 10, 15, m[s[8]], m[s[9]]);  GV(1, 6, 11, 12, m[s[10]], m[s[11]]);
      GV(2, 7, 8, 13, m[s[12]], m[s[13]]); GV(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) cv[i] = _mm256_xor_si256(v[i], v[i + 8]);
  }
  transpose8(cv); // now cv[j] holds chunk j's 8 words
  for (int j = 0; j < 8; j++) _mm256_storeu_si256((__m256i *)out[j], cv[j]);
}

/** 8 parent nodes at once: parent j of in[2j] and in[2j+1] (all inputs are read before `out` is written). */
__attribute__((target("avx2"))) static void parents8_avx2 (const uint32_t (*in)[8], uint32_t flags, uint32_t out[8][8]) {
  __m256i v[16], m[16];
  for (int j = 0; j < 8; j++) { m[j] = _mm256_loadu_si256((const __m256i *)in[2 * j]); m[8 + j] = _mm256_loadu_si256((const __m256i *)in[2 * j + 1]); }
  transpose8(m);
  transpose8(m + 8);
  for (int i = 0; i < 8; i++) v[i] = _mm256_set1_epi32((int)IV[i]);
  for (int i = 0; i < 4; i++) v[8 + i] = _mm256_set1_epi32((int)IV[i]);
  v[12] = _mm256_setzero_si256(); v[13] = _mm256_setzero_si256();
  v[14] = _mm256_set1_epi32(BLOCK_LEN); v[15] = _mm256_set1_epi32((int)(PARENT | flags));
  for (int r = 0; r < 7; r++) {
    const uint8_t *s = SCHEDULE[r];
    GV(0, 4, 8, 12, m[s[0]], m[s[1]]);   GV(1, 5, 9, 13, m[s[2]], m[s[3]]);
    GV(2, 6, 10, 14, m[s[4]], m[s[5]]);  GV(3, 7, 11, 15, m[s[6]], m[s[7]]);
    GV(0, 5, 10, 15, m[s[8]], m[s[9]]);  GV(1, 6, 11, 12, m[s[10]], m[s[11]]);
    GV(2, 7, 8, 13, m[s[12]], m[s[13]]); GV(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (int i = 0; i < 8; i++) v[i] = _mm256_xor_si256(v[i], v[i + 8]);
  transpose8(v);
  for (int j = 0; j < 8; j++) _mm256_storeu_si256((__m256i *)out[j], v[j]);
}
#endif

typedef void (*hash8_fn) (const uint8_t *, uint64_t, uint32_t[8][8]);
static hash8_fn hash8;
static int have_avx2;

static void pick_hash8 (void) {
  hash8 = hash8_generic;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) { hash8 = hash8_avx2; have_avx2 = 1; }
#endif
}

/** Chaining values of the `n` whole chunks at `in` (counters from 0). */
static void chunk_cvs (const uint8_t *in, size_t n, uint32_t (*cvs)[8]) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) hash8(in + i * CHUNK_LEN, i, (uint32_t (*)[8])cvs[i]);
  if (i == n) return;
  // The last few whole chunks: lanes past them hash zeros, and their results are dropped.
  uint8_t tail[8 * CHUNK_LEN];
  uint32_t got[8][8];
  memset(tail, 0, sizeof tail);
  memcpy(tail, in + i * CHUNK_LEN, (n - i) * CHUNK_LEN);
  hash8(tail, i, got);
  memcpy(cvs[i], got, (n - i) * sizeof got[0]);
}

/**
 * Merges chaining values pairwise, level by level, an odd last one carried up, to the root
 * (ROOT on the last merge). The same tree as the spec's (§2.2: a left subtree holds the
 * largest power of two of chunks that leaves the right non-empty).
 */
static void merge_to_root (uint32_t (*cvs)[8], size_t n, uint32_t root[8]) {
  while (n > 2) {
    size_t pairs = n / 2, i = 0;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (have_avx2) for (; i + 8 <= pairs; i += 8) parents8_avx2((const uint32_t (*)[8])cvs[2 * i], 0, (uint32_t (*)[8])cvs[i]);
#endif
    for (; i < pairs; i++) parent_cv(cvs[2 * i], cvs[2 * i + 1], 0, cvs[i]);
    if (n & 1) memcpy(cvs[pairs], cvs[n - 1], sizeof cvs[0]);
    n = pairs + (n & 1);
  }
  parent_cv(cvs[0], cvs[1], ROOT, root);
}

void xeno_blake3 (const uint8_t *in, size_t len, uint8_t out[32]) {
  if (hash8 == NULL) pick_hash8();
  uint32_t root[8];
  if (len <= CHUNK_LEN) {
    chunk_cv(in, len, 0, ROOT, root);
  } else {
    size_t whole = len / CHUNK_LEN, partial = len % CHUNK_LEN, n = whole + (partial > 0);
    uint32_t stack_cvs[512][8];
    uint32_t (*cvs)[8] = n <= 512 ? stack_cvs : malloc(n * sizeof *cvs);
    chunk_cvs(in, whole, cvs);
    if (partial > 0) chunk_cv(in + whole * CHUNK_LEN, partial, whole, 0, cvs[whole]);
    merge_to_root(cvs, n, root);
    if (cvs != stack_cvs) free(cvs);
  }
  for (int i = 0; i < 8; i++) for (int k = 0; k < 4; k++) out[4 * i + k] = (uint8_t)(root[i] >> (8 * k));
}
