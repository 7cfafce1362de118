// Shared state and steps of the native ingest loop (ingest-core.c), used by the per-call
// N-API functions of ingest.c and by the ingest threads of ingest-thread.c.
#ifndef XENO_INGEST_H
#define XENO_INGEST_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#define CHUNK_FIELDS 5
#define RECORD_FIELDS 4
#define CHUNK_PRESENT (-1)
#define CHUNK_SEEN (-2)
#define INGEST_DONE 0
#define INGEST_FULL 1
#define CID_BYTES 36
#define PATH_BYTES 4096
#define PART_BYTES (CID_BYTES + 4)

/** The caller's message buffers for one call. */
typedef struct {
  uint8_t *out; size_t out_cap;
  double *meta; size_t meta_cap;
  uint8_t *cids; size_t cids_cap;
  double *records; size_t records_cap;
  double *st;
} Target;

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
  /** When set, xeno_step_file also lists each chunk taken ([CID][u32 length], PART_BYTES each) in parts. */
  int collect; uint8_t *parts; size_t nparts, parts_cap;
  /** Where step_file sends chunks (xeno_record unless set) and its context. */
  int (*on_chunk) (void *ctx, Target *t, double file, const uint8_t *cid, const uint8_t *bytes, size_t len);
  void *on_chunk_ctx;
} Ingest;


/** A typed array's data and length, or 0 (TypeError pending) when `v` is not of type `want`. */
int xeno_typed (napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length);
/** Reads the options object of ingestCreate/threadCreate into a new state; NULL (exception pending) on bad options. */
Ingest *xeno_ingest_new (napi_env env, napi_value options);
/** Frees a state (closes its open file). */
void xeno_ingest_free (Ingest *h);
/** Compresses the open frame into the message as its next record. */
void xeno_close_frame (Ingest *h, Target *t);
/** One chunk into the message (INGEST_FULL, nothing changed, when it cannot take it). */
int xeno_record (Ingest *h, Target *t, double file, const uint8_t *cid, const uint8_t *bytes, size_t len, int present);
/** The binary CIDv1 (raw, BLAKE3-256) of `bytes`. */
void xeno_raw_cid (const uint8_t *bytes, size_t len, uint8_t cid[CID_BYTES]);
/** Opens `path` for the next xeno_step_file calls (O_NOATIME when allowed): 0 or -errno. */
int xeno_open_file (Ingest *h, const char *path);
/**
 * Continues the open file: passes each chunk to h->on_chunk (default: xeno_record), reading
 * and cutting more as needed. DONE at its end, FULL when on_chunk said so (call again after
 * posting: that chunk is offered again), or -errno.
 */
int xeno_step_file (Ingest *h, Target *t, double file);
/** Closes the open file, if any. */
void xeno_close_file (Ingest *h);
#endif
