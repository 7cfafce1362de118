// xeno_posix: the few POSIX calls Node does not expose, for full-fidelity import and export
// of file trees: nanosecond mtimes (utimensat), device/fifo/socket nodes (mknod), and
// extended attributes that never follow symlinks (l*xattr). Synchronous: each is one syscall.
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define PATH_BYTES 4096
#define NAME_BYTES 256

static napi_value throw_errno (napi_env env, int err, const char *syscall, const char *path) {
  char msg[PATH_BYTES + 128];
  snprintf(msg, sizeof msg, "%s: %s '%s'", strerror(err), syscall, path);
  napi_value error, code, message, sys, errnum, p;
  const char *name = NULL;
  switch (err) {
    case ENOENT: name = "ENOENT"; break; case EEXIST: name = "EEXIST"; break;
    case EPERM: name = "EPERM"; break; case EACCES: name = "EACCES"; break;
    case ENOTSUP: name = "ENOTSUP"; break; case ENODATA: name = "ENODATA"; break;
    case ERANGE: name = "ERANGE"; break; case ENOSPC: name = "ENOSPC"; break;
    default: name = "EIO";
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys);
  napi_create_int32(env, -err, &errnum);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
  napi_set_named_property(env, error, "syscall", sys);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "path", p);
  napi_throw(env, error);
  return NULL;
}

static int get_string (napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok || len >= size - 1) {
    napi_throw_type_error(env, NULL, "expected a string argument of sane length");
    return 0;
  }
  return 1;
}

// utimens(path, atimeNs: bigint, mtimeNs: bigint): never follows a final symlink.
static napi_value utimens (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  if (argc < 3 || !get_string(env, argv[0], path, sizeof path)) return NULL;
  int64_t ns[2]; bool lossless;
  for (int i = 0; i < 2; i++) {
    if (napi_get_value_bigint_int64(env, argv[1 + i], &ns[i], &lossless) != napi_ok) {
      napi_throw_type_error(env, NULL, "times must be bigint nanoseconds");
      return NULL;
    }
  }
  struct timespec ts[2];
  for (int i = 0; i < 2; i++) {
    int64_t sec = ns[i] / 1000000000LL, nsec = ns[i] % 1000000000LL;
    if (nsec < 0) { nsec += 1000000000LL; sec -= 1; }
    ts[i].tv_sec = sec; ts[i].tv_nsec = nsec;
  }
  if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "utimensat", path);
  return NULL;
}

// mknod(path, mode: number incl. S_IF* type bits, major, minor)
static napi_value do_mknod (napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  if (argc < 4 || !get_string(env, argv[0], path, sizeof path)) return NULL;
  uint32_t mode, major, minor;
  napi_get_value_uint32(env, argv[1], &mode);
  napi_get_value_uint32(env, argv[2], &major);
  napi_get_value_uint32(env, argv[3], &minor);
  if (mknod(path, (mode_t)mode, makedev(major, minor)) != 0) return throw_errno(env, errno, "mknod", path);
  return NULL;
}

// lxattrs(path) -> { name: Buffer } | null (none). ENOTSUP (no xattr support) counts as none.
static napi_value lxattrs (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1], result, nul;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_get_null(env, &nul);
  char path[PATH_BYTES];
  if (argc < 1 || !get_string(env, argv[0], path, sizeof path)) return NULL;
  char stack[1024]; char *list = stack;
  ssize_t n = llistxattr(path, list, sizeof stack);
  if (n < 0 && errno == ERANGE) {
    ssize_t want = llistxattr(path, NULL, 0);
    if (want < 0) return throw_errno(env, errno, "llistxattr", path);
    list = malloc(want + 1);
    n = llistxattr(path, list, want);
  }
  if (n < 0) {
    int err = errno;
    if (list != stack) free(list);
    if (err == ENOTSUP) return nul;
    return throw_errno(env, err, "llistxattr", path);
  }
  if (n == 0) { if (list != stack) free(list); return nul; }
  napi_create_object(env, &result);
  for (char *name = list; name < list + n; name += strlen(name) + 1) {
    ssize_t len = lgetxattr(path, name, NULL, 0);
    if (len < 0) { if (errno == ENODATA) continue; int err = errno; if (list != stack) free(list); return throw_errno(env, err, "lgetxattr", path); }
    void *data; napi_value buf;
    napi_create_buffer(env, (size_t)len, &data, &buf);
    ssize_t got = len > 0 ? lgetxattr(path, name, data, (size_t)len) : 0;
    if (got < 0) { int err = errno; if (list != stack) free(list); return throw_errno(env, err, "lgetxattr", path); }
    if (got < len) napi_create_buffer_copy(env, (size_t)got, data, NULL, &buf);
    napi_set_named_property(env, result, name, buf);
  }
  if (list != stack) free(list);
  return result;
}

// lsetxattr(path, name, value: Uint8Array)
static napi_value do_lsetxattr (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES], name[NAME_BYTES];
  if (argc < 3 || !get_string(env, argv[0], path, sizeof path) || !get_string(env, argv[1], name, sizeof name)) return NULL;
  napi_typedarray_type type; size_t length; void *data; napi_value ab; size_t offset;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &offset) != napi_ok) {
    napi_throw_type_error(env, NULL, "value must be a Uint8Array");
    return NULL;
  }
  if (lsetxattr(path, name, data, length, 0) != 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

static napi_value init (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "utimens", NULL, utimens, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mknod", NULL, do_mknod, NULL, NULL, NULL, napi_enumerable, NULL },
    { "lxattrs", NULL, lxattrs, NULL, NULL, NULL, napi_enumerable, NULL },
    { "lsetxattr", NULL, do_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
