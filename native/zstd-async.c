// zstd on libuv's thread pool, so the event loop goes on while it runs:
// - zstdCompressAsync(bytes, level) -> Promise<Uint8Array>: one frame. A pull or an upload stores
//   what it receives in frames (src/cas/prepare.ts); compressing those on the event loop's thread
//   took a quarter of a whole-template pull's main-thread time.
// - zstdStreamCreate(params) / zstdStreamCompress(stream, bytes, end) and zstdDStreamCreate() /
//   zstdDStreamDecompress(stream, bytes, maxOut): the transfer streams of src/sync/zstd-stream.ts.
//   A XenoStore answering pulls spent most of its CPU in the stream's compression on its one
//   event-loop thread; on the pool, concurrent pulls use every core, and each pull's reading of
//   blocks overlaps its compression.
// A stream is used by one call at a time (the JS side awaits each); its context is freed with
// the handle, or at once by zstdStreamFree.
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

typedef struct { ZSTD_CCtx *c; ZSTD_DCtx *d; int busy; } Stream;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref, stream_ref, prefix_ref;
  Stream *stream;          // NULL: a one-shot frame
  const uint8_t *in;
  size_t in_len, in_used;
  const uint8_t *prefix;   // a one-shot frame's reference (raw content before the input), if any
  size_t prefix_len;
  int level, end, window_log;
  int decompress;          // a one-shot decompression with `prefix` (at most max_out bytes out)
  size_t max_out;          // decompression: stop once this much is out (the rest of the input is for the next call)
  int ended;               // decompression: the last step finished a frame (0 from ZSTD_decompressStream)
  uint8_t *out;
  size_t out_len, out_cap;
  const char *err;
} Job;

static __thread ZSTD_CCtx *cctx;
static __thread ZSTD_DCtx *dctx;

static int grow (Job *j, size_t need) {
  if (j->out_cap - j->out_len >= need) return 1;
  size_t cap = j->out_cap * 2 > j->out_len + need ? j->out_cap * 2 : j->out_len + need;
  uint8_t *p = realloc(j->out, cap);
  if (p == NULL) { j->err = "zstd: out of memory"; return 0; }
  j->out = p; j->out_cap = cap;
  return 1;
}

static void compress_frame (Job *j) {
  if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL) { j->err = "zstd: out of memory"; return; }
  if (!grow(j, ZSTD_compressBound(j->in_len))) return;
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, j->level);
  // The frame header carries the content size, as the synchronous compressor's does (readers size their buffer by it).
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  if (j->prefix != NULL) {
    // The reference as raw content before the input (what a raw-content dictionary is to the reader).
    if (j->window_log > 0) ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, j->window_log);
    size_t r = ZSTD_CCtx_refPrefix(cctx, j->prefix, j->prefix_len);
    if (ZSTD_isError(r)) { j->err = ZSTD_getErrorName(r); return; }
  }
  size_t n = ZSTD_compress2(cctx, j->out, j->out_cap, j->in, j->in_len);
  if (ZSTD_isError(n)) { j->err = ZSTD_getErrorName(n); return; }
  j->out_len = n;
}

static void decompress_prefixed (Job *j) {
  if (dctx == NULL && (dctx = ZSTD_createDCtx()) == NULL) { j->err = "zstd: out of memory"; return; }
  if (!grow(j, j->max_out > 0 ? j->max_out : 1)) return;
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
  if (j->prefix != NULL) {
    size_t r = ZSTD_DCtx_refPrefix(dctx, j->prefix, j->prefix_len);
    if (ZSTD_isError(r)) { j->err = ZSTD_getErrorName(r); return; }
  }
  size_t n = ZSTD_decompressDCtx(dctx, j->out, j->max_out, j->in, j->in_len);
  if (ZSTD_isError(n)) { j->err = ZSTD_getErrorName(n); return; }
  j->out_len = n;
}

static void compress_stream (Job *j) {
  ZSTD_inBuffer in = { j->in, j->in_len, 0 };
  for (;;) {
    if (!grow(j, ZSTD_CStreamOutSize())) return;
    ZSTD_outBuffer out = { j->out + j->out_len, j->out_cap - j->out_len, 0 };
    size_t left = ZSTD_compressStream2(j->stream->c, &out, &in, j->end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left)) { j->err = ZSTD_getErrorName(left); return; }
    j->out_len += out.pos;
    if (j->end ? left == 0 : in.pos == in.size) break;
  }
  j->in_used = in.pos;
}

static void decompress_stream (Job *j) {
  ZSTD_inBuffer in = { j->in, j->in_len, 0 };
  // A call with no input drains output zstd held back when the last one stopped at max_out.
  int pending = j->in_len == 0;
  while ((in.pos < in.size || pending) && j->out_len < j->max_out) {
    if (!grow(j, ZSTD_DStreamOutSize())) return;
    ZSTD_outBuffer out = { j->out + j->out_len, j->out_cap - j->out_len, 0 };
    size_t before = in.pos;
    size_t r = ZSTD_decompressStream(j->stream->d, &out, &in);
    if (ZSTD_isError(r)) { j->err = ZSTD_getErrorName(r); return; }
    j->out_len += out.pos;
    // Only a step that did something tells where a frame stands (between frames zstd asks for the next header).
    if (out.pos > 0 || in.pos > before) j->ended = r == 0;
    pending = out.pos == out.size; // the buffer filled: zstd may hold more
    if (out.pos == 0 && in.pos == before) break;
  }
  j->in_used = in.pos;
}

static void execute (napi_env env, void *data) {
  (void)env;
  Job *j = data;
  if (j->stream == NULL) { if (j->decompress) decompress_prefixed(j); else compress_frame(j); }
  else if (j->stream->c != NULL) compress_stream(j);
  else decompress_stream(j);
}

static void free_output (napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

static napi_value bytes_of (napi_env env, Job *j) {
  napi_value ab, arr;
  uint8_t *p = j->out_len > 0 ? realloc(j->out, j->out_len) : NULL;
  if (j->out_len == 0) { free(j->out); void *unused; napi_create_arraybuffer(env, 0, &unused, &ab); }
  else napi_create_external_arraybuffer(env, p != NULL ? p : j->out, j->out_len, free_output, NULL, &ab);
  j->out = NULL;
  napi_create_typedarray(env, napi_uint8_array, j->out_len, ab, 0, &arr);
  return arr;
}

static void complete (napi_env env, napi_status status, void *data) {
  Job *j = data;
  if (j->stream != NULL) j->stream->busy = 0;
  if (status == napi_ok && j->err == NULL) {
    napi_value result = bytes_of(env, j);
    if (j->stream != NULL && j->stream->d != NULL) {
      // Decompression answers { out, used, ended }: input bytes past `used` go again with the
      // next call; `ended`: the last step completed a frame (a stream must end so).
      napi_value o, used, ended;
      napi_create_object(env, &o);
      napi_set_named_property(env, o, "out", result);
      napi_create_double(env, (double)j->in_used, &used);
      napi_set_named_property(env, o, "used", used);
      napi_get_boolean(env, j->ended, &ended);
      napi_set_named_property(env, o, "ended", ended);
      result = o;
    }
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    free(j->out);
    napi_value msg, err, code;
    napi_create_string_utf8(env, j->err != NULL ? j->err : "zstd: cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_create_string_utf8(env, "ZSTD_ERROR", NAPI_AUTO_LENGTH, &code);
    napi_set_named_property(env, err, "code", code);
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_reference(env, j->input_ref);
  if (j->prefix_ref != NULL) napi_delete_reference(env, j->prefix_ref);
  if (j->stream_ref != NULL) napi_delete_reference(env, j->stream_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static int bytes_arg (napi_env env, napi_value v, const uint8_t **data, size_t *len) {
  bool typed = false;
  napi_typedarray_type type; void *p;
  if (napi_is_typedarray(env, v, &typed) != napi_ok || !typed) return 0;
  napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL);
  *data = p;
  return type == napi_uint8_array;
}

/** Queues `j` (its input `input`, its stream handle `handle` if any); returns the promise. */
static napi_value queue (napi_env env, Job *j, napi_value input, napi_value handle) {
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_reference(env, input, 1, &j->input_ref);
  if (handle != NULL) { napi_create_reference(env, handle, 1, &j->stream_ref); j->stream->busy = 1; }
  napi_create_string_utf8(env, "xeno-zstd", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

// zstdCompressAsync(bytes: Uint8Array, level: number): the input must not change until the promise settles.
static napi_value compress_async (napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *in; size_t len; int32_t level;
  if (argc < 2 || !bytes_arg(env, argv[0], &in, &len) || napi_get_value_int32(env, argv[1], &level) != napi_ok) {
    napi_throw_type_error(env, NULL, "zstdCompressAsync(bytes: Uint8Array, level: number)");
    return NULL;
  }
  Job *j = calloc(1, sizeof *j);
  j->in = in; j->in_len = len; j->level = level;
  return queue(env, j, argv[0], NULL);
}

// zstdCompressWithPrefixAsync(bytes, reference, level, windowLog): a frame of `bytes` that reads
// `reference` as the history before it (the reader loads the same bytes as a raw-content
// dictionary: src/cas/compress.ts decompressWithReference). Neither may change until it settles.
static napi_value compress_prefix_async (napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *in, *prefix; size_t len, prefix_len; int32_t level, window_log;
  if (argc < 4 || !bytes_arg(env, argv[0], &in, &len) || !bytes_arg(env, argv[1], &prefix, &prefix_len) ||
      napi_get_value_int32(env, argv[2], &level) != napi_ok || napi_get_value_int32(env, argv[3], &window_log) != napi_ok) {
    napi_throw_type_error(env, NULL, "zstdCompressWithPrefixAsync(bytes: Uint8Array, reference: Uint8Array, level: number, windowLog: number)");
    return NULL;
  }
  Job *j = calloc(1, sizeof *j);
  j->in = in; j->in_len = len; j->level = level; j->window_log = window_log;
  j->prefix = prefix_len > 0 ? prefix : NULL; j->prefix_len = prefix_len;
  napi_create_reference(env, argv[1], 1, &j->prefix_ref);
  return queue(env, j, argv[0], NULL);
}

// zstdDecompressWithPrefixAsync(bytes, reference, maxOut): the inverse of
// zstdCompressWithPrefixAsync (at most `maxOut` bytes; more is an error). Rejects ZSTD_ERROR.
static napi_value decompress_prefix_async (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *in, *prefix; size_t len, prefix_len; double max = 0;
  if (argc < 3 || !bytes_arg(env, argv[0], &in, &len) || !bytes_arg(env, argv[1], &prefix, &prefix_len) ||
      napi_get_value_double(env, argv[2], &max) != napi_ok || max < 0 || max > (double)(1u << 30)) {
    napi_throw_type_error(env, NULL, "zstdDecompressWithPrefixAsync(bytes: Uint8Array, reference: Uint8Array, maxOut: number <= 1 GiB)");
    return NULL;
  }
  Job *j = calloc(1, sizeof *j);
  j->in = in; j->in_len = len; j->decompress = 1; j->max_out = (size_t)max;
  j->prefix = prefix_len > 0 ? prefix : NULL; j->prefix_len = prefix_len;
  napi_create_reference(env, argv[1], 1, &j->prefix_ref);
  return queue(env, j, argv[0], NULL);
}

static void free_stream (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Stream *s = data;
  ZSTD_freeCCtx(s->c); ZSTD_freeDCtx(s->d);
  free(s);
}

static Stream *stream_of (napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) { napi_throw_type_error(env, NULL, "zstd: not a stream"); return NULL; }
  Stream *s = p;
  if (s->busy) { napi_throw_error(env, NULL, "zstd: the stream is busy (await the previous call)"); return NULL; }
  if (s->c == NULL && s->d == NULL) { napi_throw_error(env, NULL, "zstd: the stream is freed"); return NULL; }
  return s;
}

/** A job on the stream `handle` (a compression stream when `compress`), or NULL with an exception pending. */
static Job *stream_job (napi_env env, napi_value handle, int compress) {
  Stream *s = stream_of(env, handle);
  if (s == NULL) return NULL;
  if ((compress ? s->c : (void *)s->d) == NULL) {
    napi_throw_type_error(env, NULL, compress ? "zstd: not a compression stream" : "zstd: not a decompression stream");
    return NULL;
  }
  Job *j = calloc(1, sizeof *j);
  j->stream = s;
  return j;
}

static int32_t int_prop (napi_env env, napi_value o, const char *name, int32_t fallback) {
  napi_value v; napi_valuetype t; int32_t n = fallback;
  if (napi_get_named_property(env, o, name, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok) return fallback;
  if (t == napi_number) napi_get_value_int32(env, v, &n);
  else if (t == napi_boolean) { bool b; napi_get_value_bool(env, v, &b); n = b; }
  return n;
}

// zstdStreamCreate({ level, windowLog?, longDistance? }) -> a compression stream.
static napi_value stream_create (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) { napi_throw_type_error(env, NULL, "zstdStreamCreate({ level, windowLog?, longDistance? })"); return NULL; }
  Stream *s = calloc(1, sizeof *s);
  s->c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(s->c, ZSTD_c_compressionLevel, int_prop(env, argv[0], "level", 1));
  int32_t window = int_prop(env, argv[0], "windowLog", 0);
  if (window > 0) ZSTD_CCtx_setParameter(s->c, ZSTD_c_windowLog, window);
  if (int_prop(env, argv[0], "longDistance", 0)) ZSTD_CCtx_setParameter(s->c, ZSTD_c_enableLongDistanceMatching, 1);
  napi_value ext;
  napi_create_external(env, s, free_stream, NULL, &ext);
  return ext;
}

// zstdStreamCompress(stream, bytes, end: boolean) -> Promise<Uint8Array>: the compressed bytes ready (all of them when `end`).
static napi_value stream_compress (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *in; size_t len; bool end = false;
  if (argc < 3 || !bytes_arg(env, argv[1], &in, &len) || napi_get_value_bool(env, argv[2], &end) != napi_ok) {
    napi_throw_type_error(env, NULL, "zstdStreamCompress(stream, bytes: Uint8Array, end: boolean)");
    return NULL;
  }
  Job *j = stream_job(env, argv[0], 1);
  if (j == NULL) return NULL;
  j->in = in; j->in_len = len; j->end = end;
  return queue(env, j, argv[1], argv[0]);
}

// zstdDStreamCreate() -> a decompression stream (window up to zstd's default limit, 128 MiB).
static napi_value dstream_create (napi_env env, napi_callback_info info) {
  (void)info;
  Stream *s = calloc(1, sizeof *s);
  s->d = ZSTD_createDCtx();
  napi_value ext;
  napi_create_external(env, s, free_stream, NULL, &ext);
  return ext;
}

// zstdDStreamDecompress(stream, bytes, maxOut) -> Promise<{ out, used, ended }>: decompresses until the
// input is used or about `maxOut` bytes are out (bounds what hostile input can make one call hold).
static napi_value dstream_decompress (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *in; size_t len; double max = 0;
  if (argc < 3 || !bytes_arg(env, argv[1], &in, &len) || napi_get_value_double(env, argv[2], &max) != napi_ok || max < 1) {
    napi_throw_type_error(env, NULL, "zstdDStreamDecompress(stream, bytes: Uint8Array, maxOut: number)");
    return NULL;
  }
  Job *j = stream_job(env, argv[0], 0);
  if (j == NULL) return NULL;
  j->in = in; j->in_len = len; j->max_out = (size_t)max;
  return queue(env, j, argv[1], argv[0]);
}

// zstdStreamFree(stream): frees its context now (not busy), instead of when the handle is collected.
static napi_value stream_free (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || p == NULL) return NULL;
  Stream *s = p;
  if (s->busy) return NULL; // the finalizer frees it
  ZSTD_freeCCtx(s->c); ZSTD_freeDCtx(s->d);
  s->c = NULL; s->d = NULL;
  return NULL;
}

napi_value xeno_zstd_async_register (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "zstdCompressAsync", NULL, compress_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdCompressWithPrefixAsync", NULL, compress_prefix_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdDecompressWithPrefixAsync", NULL, decompress_prefix_async, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdStreamCreate", NULL, stream_create, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdStreamCompress", NULL, stream_compress, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdDStreamCreate", NULL, dstream_create, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdDStreamDecompress", NULL, dstream_decompress, NULL, NULL, NULL, napi_enumerable, NULL },
    { "zstdStreamFree", NULL, stream_free, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
