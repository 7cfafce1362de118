// BLAKE3-256 of `len` bytes at `in` (unkeyed hash mode): native/blake3.c.
#ifndef XENO_BLAKE3_H
#define XENO_BLAKE3_H
#include <stddef.h>
#include <stdint.h>
void xeno_blake3 (const uint8_t *in, size_t len, uint8_t out[32]);
#endif
