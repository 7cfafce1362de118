// The ingest worker's inner loop in C (src/overlay/ingest/worker.ts drives it): read a file
// through a window, cut it (native/cdc.h), hash every chunk (native/blake3.c), skip the chunks
// another worker of this import already recorded (the shared dedup table), gather the new ones
// into frames and zstd-compress each frame (libzstd) straight into the outgoing message
// buffers. One call per file (or per chunk for the worker's other job kinds) instead of a
// dozen JavaScript calls, copies and allocations per chunk.
//
// The message buffers are the worker's typed arrays, passed on every call with a Float64Array
// `st` = [outPos, chunkCount, cidPos, recordCount] that both sides read and advance. Layouts:
// src/overlay/ingest/protocol.ts (CHUNK_FIELDS, RECORD_FIELDS, CHUNK_PRESENT, CHUNK_SEEN).
// When a buffer is full a call returns INGEST_FULL without consuming the chunk; the worker
// posts what it has and calls again with fresh buffers, and the file resumes where it stopped.
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include "blake3.h"
#include "cdc.h"

#define CHUNK_FIELDS 5
#define RECORD_FIELDS 4
#define CHUNK_PRESENT (-1)
#define CHUNK_SEEN (-2)
#define INGEST_DONE 0
#define INGEST_FULL 1
#define CID_BYTES 36
#define PATH_BYTES 4096
// Binary CIDv1 prefix of a raw BLAKE3-256 chunk: version 1, codec raw 0x55, multihash blake3 0x1e, 32 bytes.
static const uint8_t RAW_CID_PREFIX[4] = { 1, 0x55, 0x1e, 32 };

typedef struct {
  ZSTD_CCtx *cctx;
  int level;
  uint32_t frame_bytes, min_compress, min_saving;
  uint32_t min, avg, max, small, large;
  // The frame being gathered (consecutive new chunks).
  uint8_t *frame; size_t frame_cap, frame_pos; uint32_t frame_members;
  // Dedup table shared by the workers (WorkerInit.seen): slots, then the fill count.
  int64_t *seen; uint32_t seen_slots; int64_t *seen_fill;
  // The file in progress: window of bytes read, and the cuts found in it not yet recorded.
  uint8_t *window; size_t window_cap;
  uint32_t *cuts; size_t cuts_cap, ncuts, cut_i;
  int fd; int active, eof; size_t end, cut_pos;
} Ingest;

/** The caller's message buffers for one call. */
typedef struct {
  uint8_t *out; size_t out_cap;
  double *meta; size_t meta_cap;
  uint8_t *cids; size_t cids_cap;
  double *records; size_t records_cap;
  double *st;
} Target;

static void finalize (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Ingest *h = data;
  if (h->active) close(h->fd);
  ZSTD_freeCCtx(h->cctx);
  free(h->frame); free(h->window); free(h->cuts);
  free(h);
}

static uint32_t u32_prop (napi_env env, napi_value obj, const char *name) {
  napi_value v; uint32_t n = 0;
  napi_get_named_property(env, obj, name, &v);
  napi_get_value_uint32(env, v, &n);
  return n;
}

static int typed (napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type; napi_value ab; size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &offset) != napi_ok || type != want) {
    napi_throw_type_error(env, NULL, "ingest: unexpected argument type");
    return 0;
  }
  return 1;
}

// ingestCreate({ level, frameBytes, minCompress, minSaving, min, avg, max, windowBytes, seen: BigInt64Array }) -> handle
static napi_value ingest_create (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
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
  if (!typed(env, seen, napi_bigint64_array, &seen_data, &seen_len)) { free(h); return NULL; }
  if (seen_len < 2 || h->min == 0 || h->avg <= h->min || h->max < h->avg || h->window_cap < h->max) {
    free(h);
    napi_throw_range_error(env, NULL, "ingestCreate: bad sizes");
    return NULL;
  }
  h->seen = seen_data; h->seen_slots = (uint32_t)(seen_len - 1); h->seen_fill = h->seen + h->seen_slots;
  h->frame_cap = h->frame_bytes > h->max ? h->frame_bytes : h->max;
  h->frame = malloc(h->frame_cap);
  h->window = malloc(h->window_cap);
  h->cuts_cap = h->window_cap / h->min + 2;
  h->cuts = malloc(h->cuts_cap * sizeof *h->cuts);
  h->cctx = ZSTD_createCCtx();
  if (h->level > 0) ZSTD_CCtx_setParameter(h->cctx, ZSTD_c_compressionLevel, h->level);
  napi_value ext;
  napi_create_external(env, h, finalize, NULL, &ext);
  return ext;
}

static int get_target (napi_env env, napi_value *argv, Target *t) {
  void *p; size_t n;
  if (!typed(env, argv[0], napi_uint8_array, &p, &n)) return 0;
  t->out = p; t->out_cap = n;
  if (!typed(env, argv[1], napi_float64_array, &p, &n)) return 0;
  t->meta = p; t->meta_cap = n / CHUNK_FIELDS;
  if (!typed(env, argv[2], napi_uint8_array, &p, &n)) return 0;
  t->cids = p; t->cids_cap = n;
  if (!typed(env, argv[3], napi_float64_array, &p, &n)) return 0;
  t->records = p; t->records_cap = n / RECORD_FIELDS;
  if (!typed(env, argv[4], napi_float64_array, &p, &n) || n < 4) return 0;
  t->st = p;
  return 1;
}

static Ingest *handle_of (napi_env env, napi_value v) {
  void *h = NULL;
  if (napi_get_value_external(env, v, &h) != napi_ok || h == NULL) napi_throw_type_error(env, NULL, "ingest: not an ingest handle");
  return h;
}

/** Largest compressed form of a frame of `raw` bytes (or its raw copy). */
static size_t frame_bound (size_t raw) { size_t b = ZSTD_compressBound(raw); return b > raw ? b : raw; }

/** Compresses the gathered frame into t->out as record st[3] (compress-policy.ts rules). */
static void close_frame (Ingest *h, Target *t) {
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
static int record (Ingest *h, Target *t, double file, const uint8_t *cid, const uint8_t *bytes, size_t len, int present) {
  double *st = t->st;
  if ((size_t)st[1] >= t->meta_cap || (size_t)st[2] + CID_BYTES > t->cids_cap) return INGEST_FULL;
  double rec = present ? CHUNK_PRESENT : CHUNK_SEEN;
  int64_t key = seen_key(cid);
  if (!present && !seen_has(h, key)) {
    if (h->frame_members > 0 && h->frame_pos + len > h->frame_bytes) close_frame(h, t);
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
  if (h->frame_bytes == 0) close_frame(h, t);
  return INGEST_DONE;
}

static void raw_cid (const uint8_t *bytes, size_t len, uint8_t cid[CID_BYTES]) {
  memcpy(cid, RAW_CID_PREFIX, 4);
  xeno_blake3(bytes, len, cid + 4);
}

/** Continues the open file: records its pending cuts, reads and cuts more; DONE at its end, or FULL, or -errno. */
static int step_file (Ingest *h, Target *t, double file) {
  for (;;) {
    while (h->cut_i < h->ncuts) {
      size_t len = h->cuts[h->cut_i];
      uint8_t cid[CID_BYTES];
      raw_cid(h->window + h->cut_pos, len, cid);
      if (record(h, t, file, cid, h->window + h->cut_pos, len, 0) == INGEST_FULL) return INGEST_FULL;
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

// ingestFile(h, path, file, out, meta, cids, records, st) -> 0 done | 1 full (call again, same
// path, after posting) | -errno (the file is closed). O_NOATIME when allowed.
static napi_value ingest_file (napi_env env, napi_callback_info info) {
  size_t argc = 8; napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Ingest *h = handle_of(env, argv[0]);
  Target t;
  double file;
  if (h == NULL || argc < 8 || !get_target(env, argv + 3, &t) || napi_get_value_double(env, argv[2], &file) != napi_ok) return NULL;
  if (!h->active) {
    char path[PATH_BYTES]; size_t plen;
    if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &plen) != napi_ok || plen >= sizeof path - 1) {
      napi_throw_type_error(env, NULL, "ingestFile: bad path"); return NULL;
    }
    int fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
    if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_CLOEXEC);
    napi_value r;
    if (fd < 0) { napi_create_int32(env, -errno, &r); return r; }
    h->fd = fd; h->active = 1; h->eof = 0; h->end = 0; h->cut_pos = 0; h->ncuts = 0; h->cut_i = 0;
  }
  int status = step_file(h, &t, file);
  if (status != INGEST_FULL) { close(h->fd); h->active = 0; }
  napi_value r;
  napi_create_int32(env, status, &r);
  return r;
}

// ingestRecord(h, file, bytes, present, out, meta, cids, records, st[, cid]) -> 0 | 1 (full:
// post, then call again). Hashes `bytes` unless its binary CID is given.
static napi_value ingest_record (napi_env env, napi_callback_info info) {
  size_t argc = 10; napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Ingest *h = handle_of(env, argv[0]);
  Target t; double file; bool present; void *bytes; size_t len;
  if (h == NULL || argc < 9 || napi_get_value_double(env, argv[1], &file) != napi_ok ||
      !typed(env, argv[2], napi_uint8_array, &bytes, &len) || napi_get_value_bool(env, argv[3], &present) != napi_ok ||
      !get_target(env, argv + 4, &t)) return NULL;
  if (len > h->frame_cap) { napi_throw_range_error(env, NULL, "ingestRecord: chunk larger than a frame"); return NULL; }
  uint8_t cid[CID_BYTES];
  napi_valuetype vt = napi_undefined;
  if (argc >= 10) napi_typeof(env, argv[9], &vt);
  if (vt != napi_undefined) {
    void *c; size_t clen;
    if (!typed(env, argv[9], napi_uint8_array, &c, &clen)) return NULL;
    if (clen != CID_BYTES) { napi_throw_range_error(env, NULL, "ingestRecord: a raw BLAKE3 CID is 36 bytes"); return NULL; }
    memcpy(cid, c, CID_BYTES);
  } else {
    raw_cid(bytes, len, cid);
  }
  napi_value r;
  napi_create_int32(env, record(h, &t, file, cid, bytes, len, present), &r);
  return r;
}

// ingestCloseFrame(h, out, meta, cids, records, st): compresses the open frame into the message.
static napi_value ingest_close_frame (napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Ingest *h = handle_of(env, argv[0]);
  Target t;
  if (h == NULL || argc < 6 || !get_target(env, argv + 1, &t)) return NULL;
  close_frame(h, &t);
  return NULL;
}

// rawCid(bytes) -> Uint8Array(36): the binary CIDv1 (raw, BLAKE3-256) of `bytes`.
static napi_value raw_cid_js (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *bytes; size_t len;
  if (argc < 1 || !typed(env, argv[0], napi_uint8_array, &bytes, &len)) return NULL;
  void *out; napi_value ab, arr;
  napi_create_arraybuffer(env, CID_BYTES, &out, &ab);
  raw_cid(bytes, len, out);
  napi_create_typedarray(env, napi_uint8_array, CID_BYTES, ab, 0, &arr);
  return arr;
}

// blake3(bytes) -> Uint8Array(32)
static napi_value blake3_js (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *bytes; size_t len;
  if (argc < 1 || !typed(env, argv[0], napi_uint8_array, &bytes, &len)) return NULL;
  void *out; napi_value ab, arr;
  napi_create_arraybuffer(env, 32, &out, &ab);
  xeno_blake3(bytes, len, out);
  napi_create_typedarray(env, napi_uint8_array, 32, ab, 0, &arr);
  return arr;
}

napi_value xeno_ingest_register (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "ingestCreate", NULL, ingest_create, NULL, NULL, NULL, napi_enumerable, NULL },
    { "ingestFile", NULL, ingest_file, NULL, NULL, NULL, napi_enumerable, NULL },
    { "ingestRecord", NULL, ingest_record, NULL, NULL, NULL, napi_enumerable, NULL },
    { "ingestCloseFrame", NULL, ingest_close_frame, NULL, NULL, NULL, napi_enumerable, NULL },
    { "rawCid", NULL, raw_cid_js, NULL, NULL, NULL, napi_enumerable, NULL },
    { "blake3", NULL, blake3_js, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
