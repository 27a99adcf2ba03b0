/* Two SHA-256 digests at once (evidence/_sha256x2.c). Only where sha256x2_usable(). */
#ifndef ASSAY_SHA256X2_H
#define ASSAY_SHA256X2_H

#include <stddef.h>
#include <stdint.h>

#define SHA256X2_DIGEST 32

/* Whether this CPU has the SHA extensions the rest runs on. */
int sha256x2_usable(void);

/* The SHA-256 of message a (the byte `a_prefix` unless it is negative, then `a_len` bytes
at `a`) into `a_out`, and of message b likewise into `b_out`. */
void sha256x2(const uint8_t *a, size_t a_len, int a_prefix, const uint8_t *b, size_t b_len,
              int b_prefix, uint8_t a_out[SHA256X2_DIGEST], uint8_t b_out[SHA256X2_DIGEST]);

#endif
