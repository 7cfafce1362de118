// zstd compression on libuv's thread pool: zstdCompressAsync(bytes, level) -> Promise<Uint8Array>.
// A pull or an upload stores what it receives in frames (src/cas/prepare.ts), and compressing
// those on the event loop's thread took a quarter of a whole-template pull's main-thread time;
// here the frames compress on the pool's threads (in parallel, on every core) while the event
// loop goes on decoding the stream. One compression context per pool thread, kept for reuse.
#include <node_api.h>
#include <stdlib.h>
#include <zstd.h>

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  const uint8_t *in;
  size_t in_len;
  int level;
  uint8_t *out;
  size_t out_len;
  const char *err;
} Job;

static __thread ZSTD_CCtx *cctx;

static void execute (napi_env env, void *data) {
  (void)env;
  Job *j = data;
  if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL) { j->err = "zstd: out of memory"; return; }
  size_t cap = ZSTD_compressBound(j->in_len);
  j->out = malloc(cap > 0 ? cap : 1);
  if (j->out == NULL) { j->err = "zstd: out of memory"; return; }
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, j->level);
  // The frame header carries the content size, as the synchronous compressor's does (readers size their buffer by it).
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
  size_t n = ZSTD_compress2(cctx, j->out, cap, j->in, j->in_len);
  if (ZSTD_isError(n)) { j->err = ZSTD_getErrorName(n); free(j->out); j->out = NULL; return; }
  uint8_t *shrunk = realloc(j->out, n > 0 ? n : 1);
  if (shrunk != NULL) j->out = shrunk;
  j->out_len = n;
}

static void free_output (napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

static void complete (napi_env env, napi_status status, void *data) {
  Job *j = data;
  if (status == napi_ok && j->err == NULL) {
    napi_value ab, arr;
    napi_create_external_arraybuffer(env, j->out, j->out_len, free_output, NULL, &ab);
    napi_create_typedarray(env, napi_uint8_array, j->out_len, ab, 0, &arr);
    napi_resolve_deferred(env, j->deferred, arr);
  } else {
    free(j->out);
    napi_value msg, err;
    napi_create_string_utf8(env, j->err != NULL ? j->err : "zstd: compression cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_reference(env, j->input_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

// zstdCompressAsync(bytes: Uint8Array, level: number): the input must not change until the promise settles.
static napi_value compress_async (napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool typed = false;
  if (argc < 2 || napi_is_typedarray(env, argv[0], &typed) != napi_ok || !typed) {
    napi_throw_type_error(env, NULL, "zstdCompressAsync(bytes: Uint8Array, level: number)");
    return NULL;
  }
  napi_typedarray_type type; size_t length; void *bytes;
  napi_get_typedarray_info(env, argv[0], &type, &length, &bytes, NULL, NULL);
  int32_t level = 1;
  if (type != napi_uint8_array || napi_get_value_int32(env, argv[1], &level) != napi_ok) {
    napi_throw_type_error(env, NULL, "zstdCompressAsync(bytes: Uint8Array, level: number)");
    return NULL;
  }
  Job *j = calloc(1, sizeof *j);
  j->in = bytes; j->in_len = length; j->level = level;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &j->input_ref);
  napi_create_string_utf8(env, "xeno-zstd", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

napi_value xeno_zstd_async_register (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "zstdCompressAsync", NULL, compress_async, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
