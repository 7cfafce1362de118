// N-API functions over the native ingest loop (native/ingest-core.c) for a worker thread that
// drives it call by call (src/overlay/ingest/worker.ts: tar members, probe mode, large files'
// ranges), writing into the worker's message buffers. The message buffers are the worker's
// typed arrays, passed on every call with a Float64Array `st` = [outPos, chunkCount, cidPos,
// recordCount] that both sides read and advance (layouts: src/overlay/ingest/protocol.ts).
// When a buffer is full a call returns INGEST_FULL without consuming the chunk; the worker
// posts what it has and calls again with fresh buffers, and the file resumes where it stopped.
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include "blake3.h"
#include "cdc.h"
#include "ingest.h"

napi_value xeno_ingest_thread_register (napi_env env, napi_value exports);

static void finalize (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  xeno_ingest_free(data);
}

// ingestCreate(options) -> handle (options: xeno_ingest_new)
static napi_value ingest_create (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Ingest *h = argc < 1 ? NULL : xeno_ingest_new(env, argv[0]);
  if (h == NULL) return NULL;
  napi_value ext;
  napi_create_external(env, h, finalize, NULL, &ext);
  return ext;
}

static int get_target (napi_env env, napi_value *argv, Target *t) {
  void *p; size_t n;
  if (!xeno_typed(env, argv[0], napi_uint8_array, &p, &n)) return 0;
  t->out = p; t->out_cap = n;
  if (!xeno_typed(env, argv[1], napi_float64_array, &p, &n)) return 0;
  t->meta = p; t->meta_cap = n / CHUNK_FIELDS;
  if (!xeno_typed(env, argv[2], napi_uint8_array, &p, &n)) return 0;
  t->cids = p; t->cids_cap = n;
  if (!xeno_typed(env, argv[3], napi_float64_array, &p, &n)) return 0;
  t->records = p; t->records_cap = n / RECORD_FIELDS;
  if (!xeno_typed(env, argv[4], napi_float64_array, &p, &n) || n < 4) return 0;
  t->st = p;
  return 1;
}

static Ingest *handle_of (napi_env env, napi_value v) {
  void *h = NULL;
  if (napi_get_value_external(env, v, &h) != napi_ok || h == NULL) napi_throw_type_error(env, NULL, "ingest: not an ingest handle");
  return h;
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
    int opened = xeno_open_file(h, path);
    napi_value r;
    if (opened < 0) { napi_create_int32(env, opened, &r); return r; }
  }
  int status = xeno_step_file(h, &t, file);
  if (status != INGEST_FULL) xeno_close_file(h);
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
      !xeno_typed(env, argv[2], napi_uint8_array, &bytes, &len) || napi_get_value_bool(env, argv[3], &present) != napi_ok ||
      !get_target(env, argv + 4, &t)) return NULL;
  if (len > h->frame_cap) { napi_throw_range_error(env, NULL, "ingestRecord: chunk larger than a frame"); return NULL; }
  uint8_t cid[CID_BYTES];
  napi_valuetype vt = napi_undefined;
  if (argc >= 10) napi_typeof(env, argv[9], &vt);
  if (vt != napi_undefined) {
    void *c; size_t clen;
    if (!xeno_typed(env, argv[9], napi_uint8_array, &c, &clen)) return NULL;
    if (clen != CID_BYTES) { napi_throw_range_error(env, NULL, "ingestRecord: a raw BLAKE3 CID is 36 bytes"); return NULL; }
    memcpy(cid, c, CID_BYTES);
  } else {
    xeno_raw_cid(bytes, len, cid);
  }
  napi_value r;
  napi_create_int32(env, xeno_record(h, &t, file, cid, bytes, len, present), &r);
  return r;
}

// ingestCloseFrame(h, out, meta, cids, records, st): compresses the open frame into the message.
static napi_value ingest_close_frame (napi_env env, napi_callback_info info) {
  size_t argc = 6; napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Ingest *h = handle_of(env, argv[0]);
  Target t;
  if (h == NULL || argc < 6 || !get_target(env, argv + 1, &t)) return NULL;
  xeno_close_frame(h, &t);
  return NULL;
}

// rawCid(bytes) -> Uint8Array(36): the binary CIDv1 (raw, BLAKE3-256) of `bytes`.
static napi_value raw_cid_js (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *bytes; size_t len;
  if (argc < 1 || !xeno_typed(env, argv[0], napi_uint8_array, &bytes, &len)) return NULL;
  void *out; napi_value ab, arr;
  napi_create_arraybuffer(env, CID_BYTES, &out, &ab);
  xeno_raw_cid(bytes, len, out);
  napi_create_typedarray(env, napi_uint8_array, CID_BYTES, ab, 0, &arr);
  return arr;
}

// blake3(bytes) -> Uint8Array(32)
static napi_value blake3_js (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *bytes; size_t len;
  if (argc < 1 || !xeno_typed(env, argv[0], napi_uint8_array, &bytes, &len)) return NULL;
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
  return xeno_ingest_thread_register(env, exports);
}
