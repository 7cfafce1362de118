// The native ingest loop's steps (native/ingest.h): read a file through a window, cut it
// (native/cdc.h), hash every chunk (native/blake3.c), skip the chunks another worker of this
// import already recorded (the shared dedup table), gather the new ones into frames and
// zstd-compress each frame (libzstd) straight into the outgoing message buffers.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "blake3.h"
#include "cdc.h"
#include "ingest.h"

// Binary CIDv1 prefix of a raw BLAKE3-256 chunk: version 1, codec raw 0x55, multihash blake3 0x1e, 32 bytes.
static const uint8_t RAW_CID_PREFIX[4] = { 1, 0x55, 0x1e, 32 };
/** A transparent huge page (x86-64). */
#define HUGE_BYTES ((size_t)2 * 1024 * 1024)

static uint32_t u32_prop (napi_env env, napi_value obj, const char *name) {
  napi_value v; uint32_t n = 0;
  napi_get_named_property(env, obj, name, &v);
  napi_get_value_uint32(env, v, &n);
  return n;
}
int xeno_typed (napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type; napi_value ab; size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok || type != want) {
    napi_throw_type_error(env, NULL, "ingest: unexpected argument type");
    return 0;
  }
  return 1;
}

// options: { level, frameBytes, minCompress, minSaving, min, avg, max, windowBytes, seen: BigInt64Array }
Ingest *xeno_ingest_new (napi_env env, napi_value options) {
  napi_value argv[1] = { options };
  if (!xeno_gear_ready) { napi_throw_error(env, NULL, "cdcInit not called"); return NULL; }
  Ingest *h = calloc(1, sizeof *h);
  h->level = (int)u32_prop(env, argv[0], "level");
  h->frame_bytes = u32_prop(env, argv[0], "frameBytes");
  h->min_compress = u32_prop(env, argv[0], "minCompress");
  h->min_saving = u32_prop(env, argv[0], "minSaving");
  h->min = u32_prop(env, argv[0], "min"); h->avg = u32_prop(env, argv[0], "avg"); h->max = u32_prop(env, argv[0], "max");
  cdc_masks(h->avg, &h->small, &h->large);
  h->window_cap = u32_prop(env, argv[0], "windowBytes");
  napi_value seen; size_t seen_len = 0; void *seen_data;
  napi_get_named_property(env, argv[0], "seen", &seen);
  if (!xeno_typed(env, seen, napi_bigint64_array, &seen_data, &seen_len)) { free(h); return NULL; }
  if (seen_len < 2 || h->min == 0 || h->avg <= h->min || h->max < h->avg || h->window_cap < h->max) {
    free(h);
    napi_throw_range_error(env, NULL, "ingestCreate: bad sizes");
    return NULL;
  }
  h->seen = seen_data; h->seen_slots = (uint32_t)(seen_len - 1); h->seen_fill = h->seen + h->seen_slots;
  h->frame_cap = h->frame_bytes > h->max ? h->frame_bytes : h->max;
  h->frame = malloc(h->frame_cap);
  // The read window (4 MiB) in huge pages when it is big enough for one (THP `madvise` mode):
  // two faults instead of a thousand when the file reads first fill it.
  h->window = NULL;
  if (h->window_cap >= HUGE_BYTES && posix_memalign((void **)&h->window, HUGE_BYTES, h->window_cap) == 0) madvise(h->window, h->window_cap, MADV_HUGEPAGE);
  else h->window = malloc(h->window_cap);
  h->cuts_cap = h->window_cap / h->min + 2;
  h->cuts = malloc(h->cuts_cap * sizeof *h->cuts);
  h->cctx = ZSTD_createCCtx();
  if (h->level > 0) ZSTD_CCtx_setParameter(h->cctx, ZSTD_c_compressionLevel, h->level);
  if (h->level == 2) {
    // Level 2 pinned to zstd's fast strategy (what it uses for inputs over 256 KiB; double-fast
    // below), also for the smaller frames, with 16 Ki hash slots (64 KiB) and matches of 6+
    // bytes. Session 8, t1 imported (2 threads, 1 MiB frames, compress-policy.ts
    // STORE_FRAME_RAW_BYTES), perf samples in libzstd over 16 imports alternating with the
    // previous build: median 0.74 s of CPU with session 5's 32 Ki slots, 5+ bytes and 384 KiB
    // frames, 0.645 s with these (-13%); store median 92.27 -> 92.17 MB. On one core over t1's
    // unique chunks (sum of each frame's fastest of 9 rounds) 0.52 -> 0.43 s; instructions fall
    // only 6% (cachegrind, 4.22 -> 3.97 G), misses of a 512 KiB last level 14%. At a given
    // frame size 16 Ki slots and 6+ bytes cost 1.2 MB (384 KiB: 90.9 -> 92.1 MB of frames),
    // which the 1 MiB frames buy back. Also measured in t1 imports: 16 Ki slots, 5+ bytes,
    // 1 MiB: 7% less zstd CPU than session 5; 32 Ki slots, 6+ bytes, 768 KiB: 4%. Session 5: 32
    // Ki slots and 5+ bytes took 12-13% less CPU than zstd's own level 2 (64 Ki, 6+). Acceleration
    // (ZSTD_c_targetLength 2 and up) costs 8-10 MB for 10-20% less CPU, and incompressible
    // chunks (20% of t1's bytes) already take 3% of zstd's time. Any parameters give standard
    // frames: readers are unaffected.
    ZSTD_CCtx_setParameter(h->cctx, ZSTD_c_strategy, ZSTD_fast);
    ZSTD_CCtx_setParameter(h->cctx, ZSTD_c_hashLog, 14);
    ZSTD_CCtx_setParameter(h->cctx, ZSTD_c_minMatch, 6);
  }
  h->fd = -1;
  return h;
}

void xeno_ingest_free (Ingest *h) {
  xeno_close_file(h);
  ZSTD_freeCCtx(h->cctx);
  free(h->frame); free(h->window); free(h->cuts); free(h->parts);
  free(h);
}


/** Largest compressed form of a frame of `raw` bytes (or its raw copy). */
static size_t frame_bound (size_t raw) { size_t b = ZSTD_compressBound(raw); return b > raw ? b : raw; }

/** Compresses the gathered frame into t->out as record st[3] (compress-policy.ts rules). */
void xeno_close_frame (Ingest *h, Target *t) {
  if (h->frame_members == 0) return;
  size_t at = (size_t)t->st[0], length = h->frame_pos;
  int compressed = 0;
  if (h->level > 0 && h->frame_pos >= h->min_compress) {
    size_t n = ZSTD_compress2(h->cctx, t->out + at, t->out_cap - at, h->frame, h->frame_pos);
    if (!ZSTD_isError(n) && n + h->min_saving <= h->frame_pos) { length = n; compressed = 1; }
  }
  if (!compressed) memcpy(t->out + at, h->frame, h->frame_pos);
  double *r = t->records + (size_t)t->st[3] * RECORD_FIELDS;
  r[0] = (double)at; r[1] = (double)length; r[2] = compressed; r[3] = h->frame_members;
  t->st[0] = (double)(at + length);
  t->st[3] += 1;
  h->frame_pos = 0;
  h->frame_members = 0;
}

/** The dedup table's key of a CID: its digest's first 8 bytes, little-endian, low bit set (never 0). */
static int64_t seen_key (const uint8_t *cid) {
  uint64_t k = 0;
  for (int i = 7; i >= 0; i--) k = (k << 8) | cid[4 + i];
  return (int64_t)(k | 1);
}

/** 1 when `key` is in the table (read only). */
static int seen_has (Ingest *h, int64_t key) {
  uint32_t i = (uint32_t)((uint64_t)key & 0xffffffffu) % h->seen_slots;
  for (uint32_t probes = 0; probes < h->seen_slots; probes++) {
    int64_t old = __atomic_load_n(h->seen + i, __ATOMIC_SEQ_CST);
    if (old == 0) return 0;
    if (old == key) return 1;
    i = i + 1 == h->seen_slots ? 0 : i + 1;
  }
  return 0;
}

/**
 * True when no worker recorded `key` yet, and records it (worker.ts firstSighting, same
 * table layout and rules: once 3/4 full it takes no new keys and every unknown key is new).
 */
static int first_sighting (Ingest *h, int64_t key) {
  int full = __atomic_load_n(h->seen_fill, __ATOMIC_SEQ_CST) * 4 > (int64_t)h->seen_slots * 3;
  uint32_t i = (uint32_t)((uint64_t)key & 0xffffffffu) % h->seen_slots;
  for (uint32_t probes = 0; probes < h->seen_slots; probes++) {
    int64_t old = 0;
    if (full) old = __atomic_load_n(h->seen + i, __ATOMIC_SEQ_CST);
    else __atomic_compare_exchange_n(h->seen + i, &old, key, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    if (old == 0) {
      if (!full) __atomic_fetch_add(h->seen_fill, 1, __ATOMIC_SEQ_CST);
      return 1;
    }
    if (old == key) return 0;
    i = i + 1 == h->seen_slots ? 0 : i + 1;
  }
  return 1;
}

/**
 * Appends chunk `bytes` of file `file` to the message (and, when new to this import, to the
 * open frame); `present`: the store has it (probe answer). INGEST_FULL, with nothing
 * changed, when the message cannot take it.
 */
int xeno_record (Ingest *h, Target *t, double file, const uint8_t *cid, const uint8_t *bytes, size_t len, int present) {
  double *st = t->st;
  if ((size_t)st[1] >= t->meta_cap || (size_t)st[2] + CID_BYTES > t->cids_cap) return INGEST_FULL;
  double rec = present ? CHUNK_PRESENT : CHUNK_SEEN;
  int64_t key = seen_key(cid);
  if (!present && !seen_has(h, key)) {
    if (h->frame_members > 0 && h->frame_pos + len > h->frame_bytes) xeno_close_frame(h, t);
    if ((size_t)st[0] + frame_bound(h->frame_pos + len) > t->out_cap || (size_t)st[3] + 1 > t->records_cap) return INGEST_FULL;
    if (first_sighting(h, key)) {
      rec = st[3];
      memcpy(h->frame + h->frame_pos, bytes, len);
      h->frame_pos += len;
      h->frame_members++;
    }
  }
  double *m = t->meta + (size_t)st[1] * CHUNK_FIELDS;
  m[0] = file; m[1] = st[2]; m[2] = CID_BYTES; m[3] = (double)len; m[4] = rec;
  memcpy(t->cids + (size_t)st[2], cid, CID_BYTES);
  st[2] += CID_BYTES;
  st[1] += 1;
  if (h->frame_bytes == 0) xeno_close_frame(h, t);
  return INGEST_DONE;
}

void xeno_raw_cid (const uint8_t *bytes, size_t len, uint8_t cid[CID_BYTES]) {
  memcpy(cid, RAW_CID_PREFIX, 4);
  xeno_blake3(bytes, len, cid + 4);
}

int xeno_step_file (Ingest *h, Target *t, double file) {
  for (;;) {
    while (h->cut_i < h->ncuts) {
      size_t len = h->cuts[h->cut_i];
      uint8_t cid[CID_BYTES];
      const uint8_t *bytes = h->window + h->cut_pos;
      xeno_raw_cid(bytes, len, cid);
      int r = h->on_chunk != NULL ? h->on_chunk(h->on_chunk_ctx, t, file, cid, bytes, len) : xeno_record(h, t, file, cid, bytes, len, 0);
      if (r == INGEST_FULL) return INGEST_FULL;
      if (h->collect) {
        if (h->nparts == h->parts_cap) { h->parts_cap = h->parts_cap ? h->parts_cap * 2 : 64; h->parts = realloc(h->parts, h->parts_cap * PART_BYTES); }
        uint8_t *part = h->parts + h->nparts++ * PART_BYTES;
        uint32_t l32 = (uint32_t)len;
        memcpy(part, cid, CID_BYTES); memcpy(part + CID_BYTES, &l32, 4);
      }
      h->cut_pos += len;
      h->cut_i++;
    }
    if (h->eof && h->cut_pos == h->end) return INGEST_DONE;
    memmove(h->window, h->window + h->cut_pos, h->end - h->cut_pos);
    h->end -= h->cut_pos;
    h->cut_pos = 0;
    while (!h->eof && h->end < h->window_cap) {
      ssize_t n = read(h->fd, h->window + h->end, h->window_cap - h->end);
      if (n < 0) { if (errno == EINTR) continue; return -errno; }
      if (n == 0) h->eof = 1; else h->end += (size_t)n;
    }
    h->ncuts = 0; h->cut_i = 0;
    int64_t start = 0;
    while (start < (int64_t)h->end) {
      int64_t len = cdc_find_boundary(h->window, start, (int64_t)h->end, h->eof, h->min, h->avg, h->max, h->small, h->large);
      if (len < 0) break;
      h->cuts[h->ncuts++] = (uint32_t)len;
      start += len;
    }
  }
}

int xeno_open_file (Ingest *h, const char *path) {
  xeno_close_file(h);
  int fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
  if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  h->fd = fd; h->active = 1; h->eof = 0; h->end = 0; h->cut_pos = 0; h->ncuts = 0; h->cut_i = 0;
  return 0;
}

void xeno_close_file (Ingest *h) {
  if (h->active) close(h->fd);
  h->active = 0; h->fd = -1;
}
