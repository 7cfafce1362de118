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
#include <dirent.h>
#include <malloc.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "cdc.h"

napi_value xeno_ingest_register (napi_env env, napi_value exports);
napi_value xeno_zstd_async_register (napi_env env, napi_value exports);

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
    case EILSEQ: name = "EILSEQ"; break; case ENAMETOOLONG: name = "ENAMETOOLONG"; break;
    case ENOTDIR: name = "ENOTDIR"; break; case ELOOP: name = "ELOOP"; break;
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

// Reads two bigint nanosecond times (atime, mtime) into timespecs, flooring towards -inf so
// times before 1970 keep a non-negative tv_nsec. Throws a TypeError and returns false otherwise.
static bool get_times (napi_env env, napi_value *args, struct timespec ts[2]) {
  for (int i = 0; i < 2; i++) {
    int64_t ns; bool lossless;
    if (napi_get_value_bigint_int64(env, args[i], &ns, &lossless) != napi_ok) {
      napi_throw_type_error(env, NULL, "times must be bigint nanoseconds");
      return false;
    }
    int64_t sec = ns / 1000000000LL, nsec = ns % 1000000000LL;
    if (nsec < 0) { nsec += 1000000000LL; sec -= 1; }
    ts[i].tv_sec = sec; ts[i].tv_nsec = nsec;
  }
  return true;
}

// utimens(path, atimeNs: bigint, mtimeNs: bigint): never follows a final symlink.
static napi_value utimens (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  if (argc < 3 || !get_string(env, argv[0], path, sizeof path)) return NULL;
  struct timespec ts[2];
  if (!get_times(env, argv + 1, ts)) return NULL;
  if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "utimensat", path);
  return NULL;
}

// futimens(fd, atimeNs: bigint, mtimeNs: bigint)
static napi_value do_futimens (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) { napi_throw_type_error(env, NULL, "fd must be a number"); return NULL; }
  struct timespec ts[2];
  if (!get_times(env, argv + 1, ts)) return NULL;
  if (futimens(fd, ts) != 0) return throw_errno(env, errno, "futimens", "(fd)");
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
static napi_value lxattrs_of (napi_env env, const char *path) {
  napi_value result, nul;
  napi_get_null(env, &nul);
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

static napi_value lxattrs (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  if (argc < 1 || !get_string(env, argv[0], path, sizeof path)) return NULL;
  return lxattrs_of(env, path);
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

// ---- content-defined chunking: the hot loop of src/cas/chunker/cdc.ts findBoundary, in C
// (native/cdc.h). Same gear table (passed once by cdcInit), same masks, same cuts (checked by tests).
uint32_t xeno_gear[256];
int xeno_gear_ready = 0;

static napi_value cdc_init (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type; size_t length; void *data; napi_value ab; size_t offset;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok ||
      type != napi_uint32_array || length != 256) {
    napi_throw_type_error(env, NULL, "cdcInit needs the 256-entry Uint32Array gear table");
    return NULL;
  }
  memcpy(xeno_gear, data, sizeof xeno_gear);
  xeno_gear_ready = 1;
  return NULL;
}

// cdcCuts(data: Uint8Array, final: boolean, min, avg, max) -> Uint32Array of chunk lengths,
// as many whole chunks as `data` holds (all of it when final).
static napi_value cdc_cuts (napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (!xeno_gear_ready) { napi_throw_error(env, NULL, "cdcInit not called"); return NULL; }
  napi_typedarray_type type; size_t length; void *data; napi_value ab; size_t offset;
  if (argc < 5 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "cdcCuts needs a Uint8Array");
    return NULL;
  }
  bool final; uint32_t min, avg, max;
  napi_get_value_bool(env, argv[1], &final);
  napi_get_value_uint32(env, argv[2], &min);
  napi_get_value_uint32(env, argv[3], &avg);
  napi_get_value_uint32(env, argv[4], &max);
  uint32_t small, large;
  cdc_masks(avg, &small, &large);
  size_t cap = length / min + 2, n = 0;
  uint32_t *cuts = malloc(cap * sizeof *cuts);
  int64_t start = 0;
  while (start < (int64_t)length) {
    int64_t len = cdc_find_boundary(data, start, (int64_t)length, final, min, avg, max, small, large);
    if (len < 0) break;
    cuts[n++] = (uint32_t)len;
    start += len;
  }
  napi_value buf, arr; void *out;
  napi_create_arraybuffer(env, n * sizeof *cuts, &out, &buf);
  memcpy(out, cuts, n * sizeof *cuts);
  free(cuts);
  napi_create_typedarray(env, napi_uint32_array, n, buf, 0, &arr);
  return arr;
}

// ---- scandir: one call per directory for the import walk.
#define SCAN_FIELDS 13
static int cmp_names (const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int valid_utf8 (const unsigned char *s) {
  while (*s) {
    int n = *s < 0x80 ? 0 : (*s >> 5) == 6 ? 1 : (*s >> 4) == 14 ? 2 : (*s >> 3) == 30 ? 3 : -1;
    if (n < 0) return 0;
    for (int i = 1; i <= n; i++) if ((s[i] & 0xc0) != 0x80) return 0;
    s += n + 1;
  }
  return 1;
}

// scandir(path) -> { names: string[] (sorted bytewise), stats: Float64Array(n * 13)
//   [mode, uid, gid, size, nlink, devHi, devLo, inoHi, inoLo, rdevMajor, rdevMinor, mtimeSec, mtimeNsec],
//   targets: (string|undefined)[] (symlinks), xattrs: ({name: Buffer}|null)[] }
// Throws with code EILSEQ for a name that is not valid UTF-8.
static napi_value scan_dir (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char path[PATH_BYTES];
  if (argc < 1 || !get_string(env, argv[0], path, sizeof path)) return NULL;
  DIR *dir = opendir(path);
  if (dir == NULL) return throw_errno(env, errno, "opendir", path);
  size_t cap = 64, n = 0;
  char **names = malloc(cap * sizeof *names);
  struct dirent *de;
  errno = 0;
  while ((de = readdir(dir)) != NULL) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    if (n == cap) { cap *= 2; names = realloc(names, cap * sizeof *names); }
    names[n++] = strdup(de->d_name);
  }
  int dfd = dirfd(dir);
  qsort(names, n, sizeof *names, cmp_names);
  napi_value result, jnames, jtargets, jxattrs, statsBuf, stats, undef;
  napi_get_undefined(env, &undef);
  napi_create_object(env, &result);
  napi_create_array_with_length(env, n, &jnames);
  napi_create_array_with_length(env, n, &jtargets);
  napi_create_array_with_length(env, n, &jxattrs);
  double *st; napi_create_arraybuffer(env, n * SCAN_FIELDS * sizeof(double), (void **)&st, &statsBuf);
  napi_create_typedarray(env, napi_float64_array, n * SCAN_FIELDS, statsBuf, 0, &stats);
  size_t plen = strlen(path);
  napi_value failed = NULL;
  for (size_t i = 0; i < n && failed == NULL; i++) {
    if (!valid_utf8((const unsigned char *)names[i])) {
      char full[PATH_BYTES + 256]; snprintf(full, sizeof full, "%s/%s", path, names[i]);
      throw_errno(env, EILSEQ, "scandir", full); failed = undef; break;
    }
    struct stat s;
    if (fstatat(dfd, names[i], &s, AT_SYMLINK_NOFOLLOW) != 0) {
      char full[PATH_BYTES + 256]; snprintf(full, sizeof full, "%s/%s", path, names[i]);
      throw_errno(env, errno, "lstat", full); failed = undef; break;
    }
    double *f = st + i * SCAN_FIELDS;
    f[0] = s.st_mode; f[1] = s.st_uid; f[2] = s.st_gid; f[3] = (double)s.st_size; f[4] = (double)s.st_nlink;
    f[5] = (double)((uint64_t)s.st_dev >> 32); f[6] = (double)((uint64_t)s.st_dev & 0xffffffffu);
    f[7] = (double)((uint64_t)s.st_ino >> 32); f[8] = (double)((uint64_t)s.st_ino & 0xffffffffu);
    f[9] = major(s.st_rdev); f[10] = minor(s.st_rdev);
    f[11] = (double)s.st_mtim.tv_sec; f[12] = (double)s.st_mtim.tv_nsec;
    napi_value jname; napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &jname);
    napi_set_element(env, jnames, i, jname);
    char full[PATH_BYTES + 256];
    if (plen + strlen(names[i]) + 2 > sizeof full) { throw_errno(env, ENAMETOOLONG, "scandir", path); failed = undef; break; }
    memcpy(full, path, plen); full[plen] = '/'; strcpy(full + plen + 1, names[i]);
    if (S_ISLNK(s.st_mode)) {
      char target[PATH_BYTES];
      ssize_t tl = readlinkat(dfd, names[i], target, sizeof target - 1);
      if (tl < 0) { throw_errno(env, errno, "readlink", full); failed = undef; break; }
      napi_value jt; napi_create_string_utf8(env, target, (size_t)tl, &jt);
      napi_set_element(env, jtargets, i, jt);
    }
    napi_value x = lxattrs_of(env, full);
    if (x == NULL) { failed = undef; break; }
    napi_set_element(env, jxattrs, i, x);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  closedir(dir);
  if (failed != NULL) return NULL;
  napi_set_named_property(env, result, "names", jnames);
  napi_set_named_property(env, result, "stats", stats);
  napi_set_named_property(env, result, "targets", jtargets);
  napi_set_named_property(env, result, "xattrs", jxattrs);
  return result;
}

// syncRange(fd, offset, length): starts writeback of that range (sync_file_range with
// SYNC_FILE_RANGE_WRITE: no wait for completion, no metadata), so a later fsync has less to
// wait for. Best effort: errors are ignored (the fsync that follows reports real ones).
static napi_value sync_range (napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd; double offset, length;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_double(env, argv[1], &offset) != napi_ok ||
      napi_get_value_double(env, argv[2], &length) != napi_ok) { napi_throw_type_error(env, NULL, "syncRange(fd, offset, length)"); return NULL; }
#ifdef SYNC_FILE_RANGE_WRITE
  sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE);
#endif
  return NULL;
}

// mallocArenaMax(n): at most n glibc malloc arenas from now on (mallopt M_ARENA_MAX). A long-running
// server's threads (libuv's pool, V8's) each get an arena of their own by default (up to 8 per
// core) whose freed pages glibc rarely returns: the NFS load run's RSS kept growing outside V8's
// heap. Returns false where glibc refuses (or is not the allocator).
static napi_value malloc_arena_max (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t n;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) { napi_throw_type_error(env, NULL, "mallocArenaMax(n >= 1)"); return NULL; }
  napi_value ok;
#ifdef M_ARENA_MAX
  napi_get_boolean(env, mallopt(M_ARENA_MAX, n) == 1, &ok);
#else
  napi_get_boolean(env, false, &ok);
#endif
  return ok;
}

// mallocInfo(): what glibc's allocator holds, summed over its arenas (mallinfo2): `heap`, the
// bytes taken from the kernel by sbrk/arenas; `inUse`, allocated to the program; `free`, held
// but unused (fragmentation, or pages not yet returned); `mmapped`, large blocks mapped on their
// own. A server prints these beside RSS so growth outside V8 can be told apart: live
// allocations (inUse) or memory glibc keeps (free). Undefined where glibc is not the allocator.
static napi_value malloc_stats_now (napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 m = mallinfo2();
  napi_create_object(env, &out);
  const char *names[] = { "heap", "inUse", "free", "mmapped" };
  double values[] = { (double)m.arena, (double)m.uordblks, (double)m.fordblks, (double)m.hblkhd };
  for (int i = 0; i < 4; i++) {
    napi_value v; napi_create_double(env, values[i], &v);
    napi_set_named_property(env, out, names[i], v);
  }
#else
  napi_get_undefined(env, &out);
#endif
  return out;
}

// mallocTrim(): gives the free pages of every glibc arena back to the kernel (malloc_trim(0));
// true when some were released. Freed memory inside an arena's heap is otherwise only returned
// from its top, so a long-running server's RSS keeps what its busiest moment left behind.
static napi_value malloc_trim_now (napi_env env, napi_callback_info info) {
  (void)info;
  napi_value ok;
#ifdef __GLIBC__
  napi_get_boolean(env, malloc_trim(0) == 1, &ok);
#else
  napi_get_boolean(env, false, &ok);
#endif
  return ok;
}

// threadCpuMs(): CPU time of the calling thread so far, in ms (CLOCK_THREAD_CPUTIME_ID), or
// undefined if the clock is missing. The NFS server's idle poll asks it at each turn of its loop
// to tell a preempted main thread from a busy one; getrusage counts every thread of the process.
static napi_value thread_cpu_ms (napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  napi_value v;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) { napi_get_undefined(env, &v); return v; }
  napi_create_double(env, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6, &v);
  return v;
}

static napi_value init (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "utimens", NULL, utimens, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mknod", NULL, do_mknod, NULL, NULL, NULL, napi_enumerable, NULL },
    { "futimens", NULL, do_futimens, NULL, NULL, NULL, napi_enumerable, NULL },
    { "lxattrs", NULL, lxattrs, NULL, NULL, NULL, napi_enumerable, NULL },
    { "lsetxattr", NULL, do_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL },
    { "cdcInit", NULL, cdc_init, NULL, NULL, NULL, napi_enumerable, NULL },
    { "cdcCuts", NULL, cdc_cuts, NULL, NULL, NULL, napi_enumerable, NULL },
    { "scandir", NULL, scan_dir, NULL, NULL, NULL, napi_enumerable, NULL },
    { "syncRange", NULL, sync_range, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mallocArenaMax", NULL, malloc_arena_max, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mallocInfo", NULL, malloc_stats_now, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mallocTrim", NULL, malloc_trim_now, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadCpuMs", NULL, thread_cpu_ms, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  xeno_zstd_async_register(env, exports);
  return xeno_ingest_register(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
