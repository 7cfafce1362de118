// The FastCDC cut rule of src/cas/chunker/cdc.ts findBoundary, shared by posix.c (cdcCuts)
// and ingest.c. The gear table is loaded once by cdcInit (the same for every thread).
#ifndef XENO_CDC_H
#define XENO_CDC_H
#include <stdint.h>
extern uint32_t xeno_gear[256];
extern int xeno_gear_ready;

/** Masks of the normalised chunking for an average size `avg` (a power of two). */
static inline void cdc_masks (uint32_t avg, uint32_t *small, uint32_t *large) {
  int bits = 0; while ((1u << bits) < avg) bits++;
  *small = 0xffffffffu << (32 - (bits + 2));
  *large = 0xffffffffu << (32 - (bits - 2));
}

/** Length of the chunk starting at `start`, or -1 when more data is needed (not `final`). */
static inline int64_t cdc_find_boundary (const uint8_t *d, int64_t start, int64_t end, int final,
                                         uint32_t min, uint32_t avg, uint32_t max, uint32_t small, uint32_t large) {
  int64_t available = end - start;
  if (available <= min) return final ? available : -1;
  int64_t normal_end = start + (available < avg ? available : avg);
  int64_t hard_end = start + (available < max ? available : max);
  uint32_t hash = 0;
  int64_t i = start + min;
  for (; i < normal_end; i++) { hash = (hash << 1) + xeno_gear[d[i]]; if ((hash & small) == 0) return i + 1 - start; }
  for (; i < hard_end; i++) { hash = (hash << 1) + xeno_gear[d[i]]; if ((hash & large) == 0) return i + 1 - start; }
  if (available >= max) return max;
  return final ? available : -1;
}
#endif
