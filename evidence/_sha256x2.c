/* Two SHA-256 digests at once, with the x86 SHA extensions.

The verifier hashes every record twice (its hash, and its Merkle leaf: the same body after
a 0x00 byte) and every Merkle node once. One SHA-256 is a chain of dependent rounds, and on
the CPUs that have these instructions a round's latency is about twice its throughput: one
message alone leaves half of the unit idle. Two independent messages, their rounds
interleaved, fill it, which nearly halves the time of the pair. `_scan.c` uses this where
`sha256x2_usable` says the CPU has the instructions, and OpenSSL otherwise;
tests/evidence/test_scan.py checks both against hashlib.
*/
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_sha256x2.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

int sha256x2_usable(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSSE3) || !(c & bit_SSE4_1)) return 0;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}

/* The state as the SHA rounds take it: words ABEF in one register, CDGH in the other. */
typedef struct {
    __m128i abef, cdgh;
} State;

SHA_TARGET static inline __m128i byte_swap(__m128i words) {
    return _mm_shuffle_epi8(words, _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL));
}

SHA_TARGET static State initial(void) {
    static const uint32_t H[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    __m128i cdab = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&H[0]), 0xB1);
    __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&H[4]), 0x1B);
    State s = {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
    return s;
}

SHA_TARGET static void digest_of(State s, uint8_t out[SHA256X2_DIGEST]) {
    __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
    __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
    _mm_storeu_si128((__m128i *)out, byte_swap(_mm_blend_epi16(feba, dchg, 0xF0)));
    _mm_storeu_si128((__m128i *)(out + 16), byte_swap(_mm_alignr_epi8(dchg, feba, 8)));
}

/* Four rounds, k-th of 16, with the message words `m` (W[4k..4k+3]). */
#define ROUNDS(s, m, k)                                                                    \
    do {                                                                                   \
        __m128i t_ = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *)&K[4 * (k)]));     \
        (s).cdgh = _mm_sha256rnds2_epu32((s).cdgh, (s).abef, t_);                          \
        (s).abef = _mm_sha256rnds2_epu32((s).abef, (s).cdgh, _mm_shuffle_epi32(t_, 0x0E)); \
    } while (0)

/* W[4k..4k+3] from the four groups before it, in place of W[4k-16..4k-13] (m[k % 4]). */
#define SCHEDULE(m, k)                                                                   \
    ((m)[(k) & 3] = _mm_sha256msg2_epu32(                                                \
         _mm_add_epi32(_mm_sha256msg1_epu32((m)[(k) & 3], (m)[((k) + 1) & 3]),            \
                       _mm_alignr_epi8((m)[((k) + 3) & 3], (m)[((k) + 2) & 3], 4)),       \
         (m)[((k) + 3) & 3]))

SHA_TARGET static void load(__m128i m[4], const uint8_t *block) {
    for (int i = 0; i < 4; i++) m[i] = byte_swap(_mm_loadu_si128((const __m128i *)(block + 16 * i)));
}

SHA_TARGET static void compress1(State *s, const uint8_t *p) {
    State a = *s;
    __m128i m[4];
    load(m, p);
    /* Unrolled, so the message groups stay in registers (m[k & 3] with k known). */
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) {
        if (k >= 4) SCHEDULE(m, k);
        ROUNDS(a, m[k & 3], k);
    }
    s->abef = _mm_add_epi32(s->abef, a.abef);
    s->cdgh = _mm_add_epi32(s->cdgh, a.cdgh);
}

/* A block into each of two states, the rounds of one beside the other's. */
SHA_TARGET static void compress2(State *s, const uint8_t *p, State *t, const uint8_t *q) {
    State a = *s, b = *t;
    __m128i m[4], n[4];
    load(m, p);
    load(n, q);
    /* Unrolled, so the message groups stay in registers (m[k & 3] with k known). */
#pragma GCC unroll 16
    for (int k = 0; k < 16; k++) {
        if (k >= 4) {
            SCHEDULE(m, k);
            SCHEDULE(n, k);
        }
        ROUNDS(a, m[k & 3], k);
        ROUNDS(b, n[k & 3], k);
    }
    s->abef = _mm_add_epi32(s->abef, a.abef);
    s->cdgh = _mm_add_epi32(s->cdgh, a.cdgh);
    t->abef = _mm_add_epi32(t->abef, b.abef);
    t->cdgh = _mm_add_epi32(t->cdgh, b.cdgh);
}

/* A message (an optional prefix byte, then `len` bytes at `data`) as 64-byte blocks: the
`whole` ones read in place (the first copied when a prefix shifts it), then the padded
end, one or two blocks, copied. */
typedef struct {
    const uint8_t *data;
    size_t whole, total;
    int shift; /* 1 with a prefix: block i (i >= 1) starts at data + 64 i - 1 */
    uint8_t first[64];
    uint8_t tail[128];
} Blocks;

static void split(Blocks *b, const uint8_t *data, size_t len, int prefix) {
    size_t total = len + (prefix >= 0);
    b->data = data;
    b->shift = prefix >= 0;
    b->whole = total / 64;
    size_t rest = total - 64 * b->whole;
    memset(b->tail, 0, sizeof b->tail);
    if (b->shift && b->whole == 0) {
        b->tail[0] = (uint8_t)prefix;
        memcpy(b->tail + 1, data, len);
    } else {
        if (b->shift) {
            b->first[0] = (uint8_t)prefix;
            memcpy(b->first + 1, data, 63);
        }
        memcpy(b->tail, data + 64 * b->whole - b->shift, rest);
    }
    b->tail[rest] = 0x80;
    size_t end = rest + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)total * 8;
    for (int i = 0; i < 8; i++) b->tail[end - 1 - i] = (uint8_t)(bits >> (8 * i));
    b->total = b->whole + end / 64;
}

static const uint8_t *block(const Blocks *b, size_t i) {
    if (i >= b->whole) return b->tail + 64 * (i - b->whole);
    if (b->shift) return i == 0 ? b->first : b->data + 64 * i - 1;
    return b->data + 64 * i;
}

SHA_TARGET void sha256x2(const uint8_t *a, size_t a_len, int a_prefix, const uint8_t *b,
                         size_t b_len, int b_prefix, uint8_t a_out[SHA256X2_DIGEST],
                         uint8_t b_out[SHA256X2_DIGEST]) {
    Blocks x, y;
    split(&x, a, a_len, a_prefix);
    split(&y, b, b_len, b_prefix);
    State s = initial(), t = initial();
    size_t i = 0;
    for (; i < x.total && i < y.total; i++) compress2(&s, block(&x, i), &t, block(&y, i));
    for (size_t j = i; j < x.total; j++) compress1(&s, block(&x, j));
    for (size_t j = i; j < y.total; j++) compress1(&t, block(&y, j));
    digest_of(s, a_out);
    digest_of(t, b_out);
}

#else

int sha256x2_usable(void) { return 0; }

void sha256x2(const uint8_t *a, size_t a_len, int a_prefix, const uint8_t *b, size_t b_len,
              int b_prefix, uint8_t a_out[SHA256X2_DIGEST], uint8_t b_out[SHA256X2_DIGEST]) {
    /* Never called: sha256x2_usable() is 0 here. */
    (void)a, (void)a_len, (void)a_prefix, (void)b, (void)b_len, (void)b_prefix;
    memset(a_out, 0, SHA256X2_DIGEST);
    memset(b_out, 0, SHA256X2_DIGEST);
}

#endif
