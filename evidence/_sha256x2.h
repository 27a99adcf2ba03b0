/* Two SHA-256 digests at once (evidence/_sha256x2.c). Only where sha256x2_usable(). */
#ifndef ASSAY_SHA256X2_H
#define ASSAY_SHA256X2_H

#include <stddef.h>
#include <stdint.h>

#define SHA256X2_DIGEST 32

/* Whether this CPU has the SHA extensions the rest runs on. */
int sha256x2_usable(void);

/* A message being hashed: its state, the bytes short of a block, its length so far. */
typedef struct {
    uint32_t h[8];
    uint8_t pending[64];
    size_t pending_len;
    uint64_t total;
} Sha256Lane;

void sha256_lane_init(Sha256Lane *lane);

/* Add `la` bytes at `pa` to message a and `lb` bytes at `pb` to message b, their blocks
hashed in pairs as far as both go. */
void sha256_lanes_update(Sha256Lane *a, const uint8_t *pa, size_t la, Sha256Lane *b,
                         const uint8_t *pb, size_t lb);

void sha256_lanes_final(Sha256Lane *a, uint8_t a_out[SHA256X2_DIGEST], Sha256Lane *b,
                        uint8_t b_out[SHA256X2_DIGEST]);

/* The SHA-256 of message a (the byte `a_prefix` unless it is negative, then `a_len` bytes
at `a`) into `a_out`, and of message b likewise into `b_out`. */
void sha256x2(const uint8_t *a, size_t a_len, int a_prefix, const uint8_t *b, size_t b_len,
              int b_prefix, uint8_t a_out[SHA256X2_DIGEST], uint8_t b_out[SHA256X2_DIGEST]);

#endif
