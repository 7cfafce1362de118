// Ingest threads: the native ingest loop (ingest-core.c) on threads of its own, for directory
// imports, instead of Node worker threads (each a V8 isolate: ~70 ms of CPU to start and load
// its modules, and JavaScript between every file). A group of threads shares one job queue,
// so a thread never idles while another has work queued. The pool (src/overlay/ingest/pool.ts)
// talks to a group as to a worker: it posts batches of jobs (a file, the cuts of a large file,
// or a range of a large file's chunks) and receives the same messages (ingest/protocol.ts:
// result, cuts, probe) through one thread-safe function on its event loop, returns credit for
// the payload bytes it has stored (threads wait while too many are outstanding) and answers
// probes (the asking thread waits for the answer; a probe names its thread).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cdc.h"
#include "ingest.h"

#define OUT_BYTES (1024 * 1024)
#define MAX_CHUNKS 4096
#define MAX_PROBE_CHUNKS 4096
#define STAGE_BYTES (8 * 1024 * 1024)
/** Done.err of a range job whose file shrank while being read. */
#define ERR_SHRANK (-100000)

typedef struct { double id; char *path; int kind; double offset; uint32_t *lengths; size_t nlengths; int walked; } Job;
enum { JOB_FILE, JOB_CUTS, JOB_RANGE };
typedef struct Batch { Job *jobs; size_t n; struct Batch *next; } Batch;
/**
 * A finished job; `path` (owned) names the file of a failed one. A walked file's content:
 * `content` set, its size, its CID (`has_cid`; none when empty) and the index nodes written
 * for it (`nodes`, owned: [CID][u32 length][bytes]...).
 */
typedef struct { double file; int err; char *path; int content, has_cid; double size; uint8_t cid[CID_BYTES]; uint8_t *nodes; size_t nodes_len; } Done;
enum { MSG_RESULT, MSG_CUTS, MSG_PROBE, MSG_DIR };
struct Listing;
typedef struct {
  int kind;
  /** `out` is a whole OUT_BYTES buffer of out_buffer (back to the pool once freed), not a copy of its used part. */
  int out_whole;
  uint8_t *out; size_t out_len; double *meta; size_t nchunks; uint8_t *cids; size_t cid_bytes;
  double *records; size_t nrecords; Done *done; size_t ndone; size_t credit;
  double file; uint32_t *lengths; size_t nlengths;
  uint32_t seq; uint8_t *probe; size_t nprobe;
  struct Listing *listing;
} Msg;
typedef struct { double file; uint8_t cid[CID_BYTES]; size_t off, len; } Staged;

/** What the threads of a group share: the job queue, the credit, the way out, closing. */
typedef struct {
  pthread_mutex_t mu; pthread_cond_t cv;
  Batch *head, *tail; int closing;
  int64_t in_flight, max_in_flight;
  napi_threadsafe_function tsfn;
  /** Keeps the dedup table (each state's `seen` points into its shared memory) alive. */
  napi_ref seen_ref;
  int closed;
  /** Files the walker queued that no thread has finished yet (it waits above MAX_WALK_AHEAD). */
  int64_t walk_ahead;
} Shared;

typedef struct {
  Shared *g;
  int index;
  Ingest *h;
  pthread_t tid; int started;
  // The message being gathered.
  Target t; double st[4];
  Done *done; size_t ndone, done_cap;
  // Probe mode: chunks staged until the pool says which the store lacks.
  int probe;
  uint8_t *stage; size_t stage_pos; Staged *staged; size_t nstaged;
  Done *staged_done; size_t nstaged_done, staged_done_cap;
  uint32_t seq, answer_seq; uint8_t *answer;
} Thread;

struct Walker;
/** A group: its shared part, its threads and its walker (threadWalk). */
typedef struct { Shared g; size_t n; Thread *threads; struct Walker *walker; } Group;
static void free_listing (struct Listing *L);
static void walker_join (Group *G);

static Done *add_done_to (Done **list, size_t *n, size_t *cap, Done d) {
  if (*n == *cap) { *cap = *cap ? *cap * 2 : 64; *list = realloc(*list, *cap * sizeof **list); }
  (*list)[(*n)++] = d;
  return &(*list)[*n - 1];
}

/** Records job `j` as done (`err` 0 or its error). */
static Done *add_done (Thread *T, Job *j, int err) {
  Done d = { .file = j->id, .err = err, .path = err != 0 && j->path != NULL ? strdup(j->path) : NULL };
  if (T->probe) return add_done_to(&T->staged_done, &T->nstaged_done, &T->staged_done_cap, d);
  return add_done_to(&T->done, &T->ndone, &T->done_cap, d);
}

static void file_content (Ingest *h, Done *d);

/**
 * Message buffers (OUT_BYTES each), for the messages of any group, cut from 2 MiB slabs that
 * are mapped once per process, aligned and advised for transparent huge pages (THP is in
 * `madvise` mode here), and never unmapped: a buffer the store has finished with goes back
 * to the free list, so the ~90 MB that t1 passes through these buffers reuses the same pages
 * instead of faulting in new ones (on this VM every first touch of a 4 KiB page costs ~3 us
 * of system time; a huge page is one fault). Past MAX_SLABS, plain malloc. 16 (32 MiB): with
 * 32 the pool filled whenever the store's write-behind lagged, and held 64 MiB of a 100,000
 * small-file import's peak RSS; its CPU did not change with 16.
 */
#define SLAB_BYTES (2 * 1024 * 1024)
#define MAX_SLABS 16
#define BUFFERS_PER_SLAB (SLAB_BYTES / OUT_BYTES)
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *slabs[MAX_SLABS];
static int nslabs;
static void *pool_free[MAX_SLABS * BUFFERS_PER_SLAB];
static int npool_free;

/** `bytes` of anonymous memory aligned to 2 MiB and advised for huge pages, or NULL. */
static void *huge_map (size_t bytes) {
  uint8_t *p = mmap(NULL, bytes + SLAB_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uint8_t *a = (uint8_t *)(((uintptr_t)p + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1));
  if (a > p) munmap(p, (size_t)(a - p));
  size_t tail = (size_t)(p + bytes + SLAB_BYTES - (a + bytes));
  if (tail > 0) munmap(a + bytes, tail);
  madvise(a, bytes, MADV_HUGEPAGE);
  return a;
}

static int in_pool (const void *p) {
  for (int i = 0; i < nslabs; i++) if ((const uint8_t *)p >= slabs[i] && (const uint8_t *)p < slabs[i] + SLAB_BYTES) return 1;
  return 0;
}

static uint8_t *out_buffer (void) {
  void *p = NULL;
  pthread_mutex_lock(&pool_mu);
  if (npool_free == 0 && nslabs < MAX_SLABS) {
    uint8_t *slab = huge_map(SLAB_BYTES);
    if (slab != NULL) {
      slabs[nslabs++] = slab;
      for (int i = BUFFERS_PER_SLAB - 1; i >= 0; i--) pool_free[npool_free++] = slab + (size_t)i * OUT_BYTES;
    }
  }
  if (npool_free > 0) p = pool_free[--npool_free];
  pthread_mutex_unlock(&pool_mu);
  return p != NULL ? p : malloc(OUT_BYTES);
}

/** Gives back a buffer of out_buffer (or any malloc'd one). */
static void out_release (void *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&pool_mu);
  int pooled = in_pool(p);
  if (pooled) pool_free[npool_free++] = p;
  pthread_mutex_unlock(&pool_mu);
  if (!pooled) free(p);
}

/**
 * A group closing: when every pooled buffer is free, their pages go back to the kernel
 * (the mappings stay, for the next import of this process).
 */
static void drop_spares (void) {
  pthread_mutex_lock(&pool_mu);
  if (npool_free == nslabs * BUFFERS_PER_SLAB) for (int i = 0; i < nslabs; i++) madvise(slabs[i], SLAB_BYTES, MADV_DONTNEED);
  pthread_mutex_unlock(&pool_mu);
}

/** A thread's message arrays (reused for every message it gathers; a posted message gets copies of their used part). */
static void message_arrays (Thread *T) {
  T->t.meta = malloc(MAX_CHUNKS * CHUNK_FIELDS * sizeof(double)); T->t.meta_cap = MAX_CHUNKS;
  T->t.cids = malloc(MAX_CHUNKS * CID_BYTES); T->t.cids_cap = MAX_CHUNKS * CID_BYTES;
  T->t.records = malloc(MAX_CHUNKS * RECORD_FIELDS * sizeof(double)); T->t.records_cap = MAX_CHUNKS;
  T->t.st = T->st;
}

static void new_message (Thread *T) {
  if (T->t.out == NULL) { T->t.out = out_buffer(); T->t.out_cap = OUT_BYTES; }
  memset(T->st, 0, sizeof T->st);
}

/** A copy of the first `bytes` of `p` (never NULL). */
static void *copy_of (const void *p, size_t bytes) {
  void *q = malloc(bytes > 0 ? bytes : 1);
  if (bytes > 0) memcpy(q, p, bytes);
  return q;
}

static void free_msg (Msg *m) {
  for (size_t i = 0; i < m->ndone; i++) { free(m->done[i].path); free(m->done[i].nodes); }
  if (m->out_whole) out_release(m->out); else free(m->out);
  free(m->meta); free(m->cids); free(m->records); free(m->done); free(m->lengths); free(m->probe);
  if (m->listing != NULL) free_listing(m->listing);
  free(m);
}

/** Hands `m` to the event loop (dropped when closing). */
static void send (Thread *T, Msg *m) {
  if (T->g->closing || napi_call_threadsafe_function(T->g->tsfn, m, napi_tsfn_blocking) != napi_ok) free_msg(m);
}

/** Posts the gathered message (closing the open frame first), after waiting for credit. */
static void post_result (Thread *T) {
  xeno_close_frame(T->h, &T->t);
  size_t nchunks = (size_t)T->st[1];
  if (nchunks == 0 && T->ndone == 0) return;
  size_t out_len = (size_t)T->st[0];
  Shared *g = T->g;
  pthread_mutex_lock(&g->mu);
  while (g->in_flight > g->max_in_flight && !g->closing) pthread_cond_wait(&g->cv, &g->mu);
  g->in_flight += (int64_t)out_len;
  pthread_mutex_unlock(&g->mu);
  Msg *m = calloc(1, sizeof *m);
  m->kind = MSG_RESULT;
  // A mostly full buffer goes with the message (the thread takes another); a mostly empty
  // one is copied out and kept, so credit and memory count real bytes.
  m->out_whole = out_len >= OUT_BYTES / 2;
  if (m->out_whole) { m->out = T->t.out; T->t.out = NULL; } else m->out = copy_of(T->t.out, out_len);
  m->out_len = out_len; m->credit = out_len;
  m->nchunks = nchunks; m->meta = copy_of(T->t.meta, nchunks * CHUNK_FIELDS * sizeof(double));
  m->cid_bytes = (size_t)T->st[2]; m->cids = copy_of(T->t.cids, m->cid_bytes);
  m->nrecords = (size_t)T->st[3]; m->records = copy_of(T->t.records, m->nrecords * RECORD_FIELDS * sizeof(double));
  m->done = T->done; m->ndone = T->ndone;
  T->done = NULL; T->ndone = 0; T->done_cap = 0;
  new_message(T);
  send(T, m);
}

/** Records a chunk, posting the message first whenever it is full. */
static void record_or_post (Thread *T, double file, const uint8_t *cid, const uint8_t *bytes, size_t len, int present) {
  while (xeno_record(T->h, &T->t, file, cid, bytes, len, present) == INGEST_FULL && !T->g->closing) post_result(T);
}

/** Probe mode: asks which staged chunks the store lacks, then records them all with the answer. */
static void flush_stage (Thread *T) {
  if (T->nstaged > 0) {
    Msg *m = calloc(1, sizeof *m);
    m->kind = MSG_PROBE; m->seq = ++T->seq; m->file = T->index; m->nprobe = T->nstaged;
    m->probe = malloc(T->nstaged * CID_BYTES);
    for (size_t i = 0; i < T->nstaged; i++) memcpy(m->probe + i * CID_BYTES, T->staged[i].cid, CID_BYTES);
    send(T, m);
    Shared *g = T->g;
    pthread_mutex_lock(&g->mu);
    while (T->answer_seq != T->seq && !g->closing) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    for (size_t i = 0; i < T->nstaged && !g->closing; i++) {
      Staged *s = &T->staged[i];
      record_or_post(T, s->file, s->cid, T->stage + s->off, s->len, T->answer[i] != 1);
    }
  }
  T->nstaged = 0; T->stage_pos = 0;
  for (size_t i = 0; i < T->nstaged_done; i++) add_done_to(&T->done, &T->ndone, &T->done_cap, T->staged_done[i]);
  T->nstaged_done = 0;
}

/** Probe mode's chunk sink: stage (copy) the chunk; flush the stage when full. */
static int stage_chunk (void *ctx, Target *t, double file, const uint8_t *cid, const uint8_t *bytes, size_t len) {
  (void)t;
  Thread *T = ctx;
  if (T->stage_pos + len > STAGE_BYTES || T->nstaged == MAX_PROBE_CHUNKS) flush_stage(T);
  memcpy(T->stage + T->stage_pos, bytes, len);
  Staged *s = &T->staged[T->nstaged++];
  s->file = file; memcpy(s->cid, cid, CID_BYTES); s->off = T->stage_pos; s->len = len;
  T->stage_pos += len;
  return INGEST_DONE;
}

/** A chunk of a range job: staged (probe) or recorded. */
static void take_chunk (Thread *T, double file, const uint8_t *bytes, size_t len) {
  uint8_t cid[CID_BYTES];
  xeno_raw_cid(bytes, len, cid);
  if (T->probe) stage_chunk(T, &T->t, file, cid, bytes, len);
  else record_or_post(T, file, cid, bytes, len, 0);
}

static void run_file (Thread *T, Job *j) {
  // A walked file's index is built here (the pool has no job of it to build one from).
  T->h->collect = j->walked; T->h->nparts = 0;
  int r = xeno_open_file(T->h, j->path);
  while (r == 0) {
    r = xeno_step_file(T->h, &T->t, j->id);
    if (r == INGEST_FULL) { post_result(T); r = T->g->closing ? -EINTR : 0; continue; }
    break;
  }
  xeno_close_file(T->h);
  T->h->collect = 0;
  Done *d = add_done(T, j, r < 0 ? r : 0);
  if (r >= 0 && j->walked) file_content(T->h, d);
}

/** The chunk lengths of the whole file (no hashing), posted as a cuts message. */
static void run_cuts (Thread *T, Job *j) {
  Ingest *h = T->h;
  int r = xeno_open_file(h, j->path);
  size_t n = 0, cap = 1024, end = 0;
  uint32_t *all = malloc(cap * sizeof *all);
  int eof = 0;
  while (r == 0 && !eof) {
    if (T->g->closing) { r = -EINTR; break; }
    while (!eof && end < h->window_cap) {
      ssize_t got = read(h->fd, h->window + end, h->window_cap - end);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) { r = -errno; break; }
      if (got == 0) eof = 1; else end += (size_t)got;
    }
    if (r != 0) break;
    int64_t start = 0;
    for (;;) {
      int64_t len = cdc_find_boundary(h->window, start, (int64_t)end, eof, h->min, h->avg, h->max, h->small, h->large);
      if (len <= 0) break;
      if (n == cap) { cap *= 2; all = realloc(all, cap * sizeof *all); }
      all[n++] = (uint32_t)len;
      start += len;
    }
    memmove(h->window, h->window + start, end - (size_t)start);
    end -= (size_t)start;
  }
  xeno_close_file(h);
  if (r < 0) { free(all); add_done(T, j, r); return; }
  Msg *m = calloc(1, sizeof *m);
  m->kind = MSG_CUTS; m->file = j->id; m->lengths = all; m->nlengths = n;
  send(T, m);
  add_done(T, j, 0);
}

/** Hashes (and compresses) the chunks `lengths` of the file from `offset` on. */
static void run_range (Thread *T, Job *j) {
  int err = xeno_open_file(T->h, j->path);
  int fd = T->h->fd;
  off_t pos = (off_t)j->offset;
  for (size_t i = 0; i < j->nlengths && err == 0 && !T->g->closing; i++) {
    size_t len = j->lengths[i], got = 0;
    if (len > T->h->window_cap) { err = -EINVAL; break; }
    while (got < len) {
      ssize_t n = pread(fd, T->h->window + got, len - got, pos + (off_t)got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) { err = -errno; break; }
      if (n == 0) { err = ERR_SHRANK; break; }
      got += (size_t)n;
    }
    if (err != 0) break;
    take_chunk(T, j->id, T->h->window, len);
    pos += (off_t)len;
  }
  xeno_close_file(T->h);
  add_done(T, j, err);
}

/** The next queued batch, or NULL when none is queued or the group is closing (caller holds g->mu). */
static Batch *pop_batch (Shared *g) {
  Batch *b = g->closing ? NULL : g->head;
  if (b != NULL) { g->head = b->next; if (g->head == NULL) g->tail = NULL; }
  return b;
}

static void *thread_main (void *arg) {
  Thread *T = arg;
  Shared *g = T->g;
  Batch *b = NULL;
  for (;;) {
    if (b == NULL) {
      pthread_mutex_lock(&g->mu);
      while (g->head == NULL && !g->closing) pthread_cond_wait(&g->cv, &g->mu);
      b = pop_batch(g);
      pthread_mutex_unlock(&g->mu);
      if (b == NULL) break;
    }
    int64_t walked = 0;
    for (size_t i = 0; i < b->n; i++) {
      Job *j = &b->jobs[i];
      walked += j->walked;
      if (!g->closing) {
        if (j->kind == JOB_CUTS) run_cuts(T, j); else if (j->kind == JOB_RANGE) run_range(T, j); else run_file(T, j);
      }
      free(j->path); free(j->lengths);
    }
    free(b->jobs); free(b);
    // While another batch is queued, take it now and go on gathering into the same message and
    // frame (small batches each posted and each closing a frame cost messages and compression).
    // The batch is taken under the same lock that sees it: a thread that only saw one queued and
    // went back to waiting after another thread took it would hold its finished files' results
    // unposted, and an import waiting for them would hang. The walker (waiting above
    // MAX_WALK_AHEAD) learns of the files this batch finished under the same lock.
    pthread_mutex_lock(&g->mu);
    if (walked > 0) { g->walk_ahead -= walked; pthread_cond_broadcast(&g->cv); }
    b = pop_batch(g);
    pthread_mutex_unlock(&g->mu);
    if (b != NULL) continue;
    if (T->probe) flush_stage(T);
    post_result(T);
  }
  return NULL;
}

// ---- the event loop's side

static napi_value array_copy (napi_env env, napi_typedarray_type type, const void *data, size_t bytes, size_t n) {
  void *p; napi_value ab, arr;
  napi_create_arraybuffer(env, bytes, &p, &ab);
  if (bytes > 0) memcpy(p, data, bytes);
  napi_create_typedarray(env, type, n, ab, 0, &arr);
  return arr;
}

/** Finalizer of a message buffer: `hint` non-NULL for a whole one (out_buffer's), which goes back to the pool. */
static void free_external (napi_env env, void *data, void *hint) {
  (void)env;
  if (hint != NULL) out_release(data); else free(data);
}

static napi_value set (napi_env env, napi_value obj, const char *name, napi_value v) { napi_set_named_property(env, obj, name, v); return obj; }
static napi_value num (napi_env env, double d) { napi_value v; napi_create_double(env, d, &v); return v; }
static napi_value str (napi_env env, const char *s) { napi_value v; napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v); return v; }

static napi_value result_object (napi_env env, Msg *m) {
  napi_value o, buffer, done;
  napi_create_object(env, &o);
  set(env, o, "type", str(env, "result"));
  if (m->out_len > 0) { napi_create_external_arraybuffer(env, m->out, m->out_len, free_external, m->out_whole ? &pool_mu : NULL, &buffer); m->out = NULL; }
  else { void *p; napi_create_arraybuffer(env, 0, &p, &buffer); }
  set(env, o, "buffer", buffer);
  set(env, o, "cids", array_copy(env, napi_uint8_array, m->cids, m->cid_bytes, m->cid_bytes));
  set(env, o, "meta", array_copy(env, napi_float64_array, m->meta, m->nchunks * CHUNK_FIELDS * sizeof(double), m->nchunks * CHUNK_FIELDS));
  set(env, o, "records", array_copy(env, napi_float64_array, m->records, m->nrecords * RECORD_FIELDS * sizeof(double), m->nrecords * RECORD_FIELDS));
  napi_create_array_with_length(env, m->ndone, &done);
  for (size_t i = 0; i < m->ndone; i++) {
    napi_value d;
    napi_create_object(env, &d);
    set(env, d, "file", num(env, m->done[i].file));
    int err = m->done[i].err;
    if (err != 0) {
      napi_value e;
      napi_create_object(env, &e);
      if (err == ERR_SHRANK) { set(env, e, "code", str(env, "ESHRANK")); set(env, e, "message", str(env, "file shrank while being read")); }
      else { set(env, e, "errno", num(env, err)); set(env, e, "message", str(env, strerror(-err))); }
      if (m->done[i].path != NULL) set(env, e, "path", str(env, m->done[i].path));
      set(env, d, "error", e);
    } else if (m->done[i].content) {
      napi_value c;
      napi_create_object(env, &c);
      set(env, c, "size", num(env, m->done[i].size));
      if (m->done[i].has_cid) set(env, c, "cid", array_copy(env, napi_uint8_array, m->done[i].cid, CID_BYTES, CID_BYTES));
      if (m->done[i].nodes != NULL) set(env, c, "nodes", array_copy(env, napi_uint8_array, m->done[i].nodes, m->done[i].nodes_len, m->done[i].nodes_len));
      set(env, d, "content", c);
    }
    napi_set_element(env, done, (uint32_t)i, d);
  }
  set(env, o, "done", done);
  set(env, o, "bytes", num(env, (double)m->credit));
  return o;
}

#include "ingest-walk.inc"

static void call_js (napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  Msg *m = data;
  if (env == NULL || callback == NULL) { free_msg(m); return; }
  napi_value o, undefined;
  napi_get_undefined(env, &undefined);
  if (m->kind == MSG_RESULT) {
    o = result_object(env, m);
  } else if (m->kind == MSG_DIR) {
    o = listing_message(env, m->listing);
    m->listing = NULL; // owned by the message's handle now (or freed)
  } else if (m->kind == MSG_CUTS) {
    napi_create_object(env, &o);
    set(env, o, "type", str(env, "cuts"));
    set(env, o, "file", num(env, m->file));
    set(env, o, "lengths", array_copy(env, napi_uint32_array, m->lengths, m->nlengths * sizeof(uint32_t), m->nlengths));
  } else {
    napi_create_object(env, &o);
    set(env, o, "type", str(env, "probe"));
    set(env, o, "seq", num(env, m->seq));
    set(env, o, "thread", num(env, m->file));
    set(env, o, "cids", array_copy(env, napi_uint8_array, m->probe, m->nprobe * CID_BYTES, m->nprobe * CID_BYTES));
    set(env, o, "cidLength", num(env, CID_BYTES));
  }
  free_msg(m);
  napi_call_function(env, undefined, callback, 1, &o, NULL);
}

static Group *group_of (napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) napi_throw_type_error(env, NULL, "ingest: not an ingest thread group");
  return p;
}

static void free_batches (Batch *b) {
  while (b != NULL) {
    Batch *next = b->next;
    for (size_t i = 0; i < b->n; i++) { free(b->jobs[i].path); free(b->jobs[i].lengths); }
    free(b->jobs); free(b);
    b = next;
  }
}

/** Stops the threads (each after the chunk it is on) and frees everything but the group. Idempotent. */
static void close_group (napi_env env, Group *G) {
  Shared *g = &G->g;
  if (g->closed) return;
  g->closed = 1;
  pthread_mutex_lock(&g->mu);
  g->closing = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  walker_join(G);
  for (size_t i = 0; i < G->n; i++) if (G->threads[i].started) pthread_join(G->threads[i].tid, NULL);
  napi_release_threadsafe_function(g->tsfn, napi_tsfn_abort);
  free_batches(g->head);
  g->head = g->tail = NULL;
  for (size_t i = 0; i < G->n; i++) {
    Thread *T = &G->threads[i];
    if (T->h != NULL) xeno_ingest_free(T->h);
    out_release(T->t.out); free(T->t.meta); free(T->t.cids); free(T->t.records);
    free(T->done); free(T->stage); free(T->staged); free(T->staged_done); free(T->answer);
  }
  drop_spares();
  if (g->seen_ref != NULL) { napi_delete_reference(env, g->seen_ref); g->seen_ref = NULL; }
  pthread_mutex_destroy(&g->mu); pthread_cond_destroy(&g->cv);
}

static void finalize_group (napi_env env, void *data, void *hint) {
  (void)hint;
  Group *G = data;
  close_group(env, G);
  free(G->threads);
  free(G);
}

// threadCreate(options, onMessage) -> handle of a group of options.threads threads. options:
// those of ingestCreate, plus threads, probe and maxInFlightBytes (for the whole group).
static napi_value thread_create (napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) { napi_throw_type_error(env, NULL, "threadCreate(options, onMessage)"); return NULL; }
  napi_value v; bool probe = false; double max = 0; uint32_t n = 0;
  napi_get_named_property(env, argv[0], "probe", &v); napi_get_value_bool(env, v, &probe);
  napi_get_named_property(env, argv[0], "maxInFlightBytes", &v); napi_get_value_double(env, v, &max);
  napi_get_named_property(env, argv[0], "threads", &v); napi_get_value_uint32(env, v, &n);
  if (n < 1 || n > 64) { napi_throw_range_error(env, NULL, "threadCreate: 1 to 64 threads"); return NULL; }
  Group *G = calloc(1, sizeof *G);
  G->threads = calloc(n, sizeof *G->threads);
  Shared *g = &G->g;
  for (uint32_t i = 0; i < n; i++) {
    Thread *T = &G->threads[i];
    T->h = xeno_ingest_new(env, argv[0]);
    if (T->h == NULL) {
      for (uint32_t k = 0; k < i; k++) xeno_ingest_free(G->threads[k].h);
      free(G->threads); free(G);
      return NULL;
    }
    G->n = i + 1;
    T->g = g; T->index = (int)i; T->probe = probe;
    if (probe) {
      T->stage = malloc(STAGE_BYTES); T->staged = malloc(MAX_PROBE_CHUNKS * sizeof *T->staged); T->answer = malloc(MAX_PROBE_CHUNKS);
      T->h->on_chunk = stage_chunk; T->h->on_chunk_ctx = T;
    }
    message_arrays(T);
    new_message(T);
  }
  g->max_in_flight = (int64_t)max;
  napi_get_named_property(env, argv[0], "seen", &v);
  napi_create_reference(env, v, 1, &g->seen_ref);
  pthread_mutex_init(&g->mu, NULL); pthread_cond_init(&g->cv, NULL);
  napi_value name;
  napi_create_string_utf8(env, "xeno-ingest", NAPI_AUTO_LENGTH, &name);
  napi_value ext;
  napi_create_external(env, G, finalize_group, NULL, &ext);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &g->tsfn) != napi_ok) {
    g->closed = 1; // nothing started: the finalizer frees the states
    napi_throw_error(env, NULL, "threadCreate: cannot create the thread-safe function");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    Thread *T = &G->threads[i];
    if (pthread_create(&T->tid, NULL, thread_main, T) != 0) { close_group(env, G); napi_throw_error(env, NULL, "threadCreate: cannot start a thread"); return NULL; }
    T->started = 1;
  }
  return ext;
}

// threadPost(handle, jobs: Array<{ id, path, cutsOnly?, offset?, lengths?: Uint32Array }>): one
// batch, taken by the next free thread of the group (a batch led by a cut pass before all
// others); a result message follows its last job.
static napi_value thread_post (napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Group *G = group_of(env, argv[0]);
  uint32_t n = 0;
  if (G == NULL) return NULL;
  if (G->g.closed || napi_get_array_length(env, argv[1], &n) != napi_ok) { napi_throw_type_error(env, NULL, "threadPost: bad jobs or closed"); return NULL; }
  Batch *b = calloc(1, sizeof *b);
  b->jobs = calloc(n > 0 ? n : 1, sizeof *b->jobs); b->n = n;
  for (uint32_t i = 0; i < n; i++) {
    napi_value job, v; Job *j = &b->jobs[i];
    napi_get_element(env, argv[1], i, &job);
    napi_get_named_property(env, job, "id", &v); napi_get_value_double(env, v, &j->id);
    napi_get_named_property(env, job, "path", &v);
    size_t len = 0;
    if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len >= PATH_BYTES) {
      free_batches(b);
      napi_throw_type_error(env, NULL, "threadPost: a job needs a path (native threads take no in-memory data)");
      return NULL;
    }
    j->path = malloc(len + 1);
    napi_get_value_string_utf8(env, v, j->path, len + 1, &len);
    bool cuts = false;
    napi_get_named_property(env, job, "cutsOnly", &v); napi_get_value_bool(env, v, &cuts);
    napi_value lengths; napi_valuetype t;
    napi_get_named_property(env, job, "lengths", &lengths); napi_typeof(env, lengths, &t);
    if (cuts) j->kind = JOB_CUTS;
    else if (t != napi_undefined) {
      void *data; size_t count;
      if (!xeno_typed(env, lengths, napi_uint32_array, &data, &count)) { free_batches(b); return NULL; }
      j->kind = JOB_RANGE;
      j->lengths = malloc((count > 0 ? count : 1) * sizeof(uint32_t)); memcpy(j->lengths, data, count * sizeof(uint32_t)); j->nlengths = count;
      napi_get_named_property(env, job, "offset", &v); napi_get_value_double(env, v, &j->offset);
    } else j->kind = JOB_FILE;
  }
  // A batch that starts with a large file's cut pass goes first: that pass is serial, and
  // the file's ranges (every thread's work) wait for it.
  bool front = n > 0 && b->jobs[0].kind == JOB_CUTS;
  Shared *g = &G->g;
  pthread_mutex_lock(&g->mu);
  if (front) { b->next = g->head; g->head = b; if (g->tail == NULL) g->tail = b; }
  else { if (g->tail != NULL) g->tail->next = b; else g->head = b; g->tail = b; }
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

/**
 * threadFreeBuffer(buffer): detaches a result message's payload buffer once the store has
 * written and indexed every record in it, so its memory goes back to malloc now (the next
 * message reuses those pages) instead of when V8 next collects it.
 */
static napi_value thread_free_buffer (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_ab = false, detached = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab) { napi_throw_type_error(env, NULL, "threadFreeBuffer: not an ArrayBuffer"); return NULL; }
  napi_is_detached_arraybuffer(env, argv[0], &detached);
  if (!detached) napi_detach_arraybuffer(env, argv[0]);
  return NULL;
}

// threadCredit(handle, bytes): payload bytes the pool has stored (threads may post more).
static napi_value thread_credit (napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Group *G = group_of(env, argv[0]);
  double bytes = 0;
  if (G == NULL || G->g.closed) return NULL;
  napi_get_value_double(env, argv[1], &bytes);
  pthread_mutex_lock(&G->g.mu);
  G->g.in_flight -= (int64_t)bytes;
  pthread_cond_broadcast(&G->g.cv);
  pthread_mutex_unlock(&G->g.mu);
  return NULL;
}

// threadAnswer(handle, thread, seq, missing: Uint8Array): the answer to probe `seq` of thread `thread` (1 = missing).
static napi_value thread_answer (napi_env env, napi_callback_info info) {
  size_t argc = 4; napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Group *G = group_of(env, argv[0]);
  uint32_t index, seq; void *flags; size_t n;
  if (G == NULL || G->g.closed) return NULL;
  if (napi_get_value_uint32(env, argv[1], &index) != napi_ok || index >= G->n || napi_get_value_uint32(env, argv[2], &seq) != napi_ok ||
      !xeno_typed(env, argv[3], napi_uint8_array, &flags, &n)) return NULL;
  Thread *T = &G->threads[index];
  if (!T->probe) return NULL;
  pthread_mutex_lock(&G->g.mu);
  memcpy(T->answer, flags, n < MAX_PROBE_CHUNKS ? n : MAX_PROBE_CHUNKS);
  T->answer_seq = seq;
  pthread_cond_broadcast(&G->g.cv);
  pthread_mutex_unlock(&G->g.mu);
  return NULL;
}

// threadClose(handle): stops and joins the threads; messages not yet delivered are dropped.
static napi_value thread_close (napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Group *G = group_of(env, argv[0]);
  if (G != NULL) close_group(env, G);
  return NULL;
}

napi_value xeno_ingest_thread_register (napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "threadCreate", NULL, thread_create, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadPost", NULL, thread_post, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadCredit", NULL, thread_credit, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadFreeBuffer", NULL, thread_free_buffer, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadAnswer", NULL, thread_answer, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadClose", NULL, thread_close, NULL, NULL, NULL, napi_enumerable, NULL },
    { "threadWalk", NULL, thread_walk, NULL, NULL, NULL, napi_enumerable, NULL }
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return xeno_walk_register(env, exports);
}
