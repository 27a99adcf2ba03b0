/* The verifier's per-record work for a batch of stored records, in one pass each.

`scan` answers one question for a batch: does every record pass every per-record check
(`verify.walk`'s, in the same terms)? The batch comes as one buffer of lines, each a
record's stored hash (32 bytes, where one is stored) and body, ended by a newline (the
last one's may be left off), as a ledger reads a batch in one query and a bundle holds its
records.jsonl: no object per record until the answer. It hashes each body, checks the
stored hash, checks that the body is the canonical (RFC 8785, float-free profile)
encoding of a JSON object and that its v, seq and prev are the expected ones, and computes
the Merkle leaves (and, for a full aligned batch, the nodes above them). When it cannot
vouch for every record it returns None and `verify.walk` goes through the batch one record
at a time in Python, which names the first bad one. So it may refuse what is valid (a key
outside ASCII, an object nested deeper than MAX_DEPTH), but must never accept what the
Python checks reject; tests/evidence/test_scan.py holds it to that.

The bytes come from whoever handed over the ledger or bundle, so every read is bounded
by the buffer's end.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "_sha256x2.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define DIGEST 32
#define MAX_DEPTH 64
#define MAX_SAFE_INT 9007199254740991LL

static EVP_MD *SHA256_MD;
/* Whether hashes go two at a time through the CPU's SHA extensions (`sha256x2`) instead of
one at a time through OpenSSL: where the CPU has them, unless ASSAY_SHA_EXTENSIONS=0. */
static int SHA_X2;
/* The bytes a string holds as themselves with nothing more to check: printable ASCII
but the quote and the backslash. Most of a record is such runs. */
static unsigned char PLAIN[256];

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
} Cursor;

typedef struct {
    const unsigned char *at;
    Py_ssize_t len;
} Span;

/* What the walk reads from a record's top level. A span's `at` is NULL when the key is
absent (or, for `observed_at`, holds no string: `observed_at_present` says it is there);
spans are of strings with no escape. */
typedef struct {
    int has_v, has_seq;
    long long v, seq;
    Span prev, kind, observed_at, at;
    int observed_at_present;
} Fields;

static int parse_value(Cursor *c);

/* A string at c->p (the opening quote), as RFC 8785 writes it: `"` and `\` escaped, the
controls below 0x20 as \b \t \n \f \r or \u00xx in lower-case hex, everything else as
itself in well-formed UTF-8. On success *plain says it held no escape and only ASCII. */
static inline int parse_string(Cursor *c, Span *content, int *plain) {
    const unsigned char *p = c->p + 1, *end = c->end;
    int simple = 1;
    for (;;) {
        /* To the next byte that is not plain. */
#if defined(__SSE2__)
        /* Sixteen bytes at a time while sixteen are left: a quote, a backslash, or (as a
        signed byte) one below the space, which takes in every byte above 0x7F. */
        for (;;) {
            if (end - p < 16) {
                while (p < end && PLAIN[*p]) p++;
                break;
            }
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            __m128i other = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            int mask = _mm_movemask_epi8(other);
            if (mask != 0) {
                p += __builtin_ctz((unsigned)mask);
                break;
            }
            p += 16;
        }
#else
        while (p < end && PLAIN[*p]) p++;
#endif
        if (p >= end) return 0;
        unsigned char b = *p;
        if (b == '"') {
            content->at = c->p + 1;
            content->len = p - (c->p + 1);
            *plain = simple;
            c->p = p + 1;
            return 1;
        }
        if (b == '\\') {
            simple = 0;
            if (p + 1 >= end) return 0;
            unsigned char e = p[1];
            if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                p += 2;
                continue;
            }
            if (e != 'u' || p + 6 > end || p[2] != '0' || p[3] != '0') return 0;
            unsigned char hi = p[4], lo = p[5];
            if (hi != '0' && hi != '1') return 0;
            int low;
            if (lo >= '0' && lo <= '9') low = lo - '0';
            else if (lo >= 'a' && lo <= 'f') low = lo - 'a' + 10;
            else return 0;
            int code = (hi - '0') * 16 + low;
            /* These five have a short form, which is the canonical one. */
            if (code == 0x08 || code == 0x09 || code == 0x0a || code == 0x0c || code == 0x0d)
                return 0;
            p += 6;
            continue;
        }
        if (b < 0x80) return 0; /* a raw control character */
        simple = 0;
        /* Well-formed UTF-8 (RFC 3629): no overlong form, no surrogate, nothing past U+10FFFF. */
        unsigned char lo = 0x80, hi = 0xBF;
        int more;
        if (b >= 0xC2 && b <= 0xDF) more = 1;
        else if (b == 0xE0) { more = 2; lo = 0xA0; }
        else if (b == 0xED) { more = 2; hi = 0x9F; }
        else if (b >= 0xE1 && b <= 0xEF) more = 2;
        else if (b == 0xF0) { more = 3; lo = 0x90; }
        else if (b >= 0xF1 && b <= 0xF3) more = 3;
        else if (b == 0xF4) { more = 3; hi = 0x8F; }
        else return 0;
        if (end - p <= more) return 0;
        if (p[1] < lo || p[1] > hi) return 0;
        for (int i = 2; i <= more; i++)
            if (p[i] < 0x80 || p[i] > 0xBF) return 0;
        p += more + 1;
    }
}

/* An integer as RFC 8785 writes it (no fraction, exponent, plus sign, leading zero or
negative zero) within the profile's +-(2**53-1). */
static int parse_integer(Cursor *c, long long *out) {
    const unsigned char *p = c->p, *end = c->end;
    int negative = 0;
    if (*p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') return 0;
    long long value = 0;
    if (*p == '0') {
        if (negative) return 0;
        p++;
    } else {
        int digits = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (++digits > 16) return 0;
            value = value * 10 + (*p - '0');
            p++;
        }
        if (value > MAX_SAFE_INT) return 0;
    }
    if (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))) return 0;
    *out = negative ? -value : value;
    c->p = p;
    return 1;
}

static int parse_word(Cursor *c, const char *word, Py_ssize_t len) {
    if (c->end - c->p < len || memcmp(c->p, word, len) != 0) return 0;
    c->p += len;
    return 1;
}

/* The top-level keys the walk reads. */
enum { OTHER, V, SEQ, PREV, KIND, OBSERVED_AT, AT };

static int field_of(Span key) {
    switch (key.len) {
    case 1:
        return key.at[0] == 'v' ? V : OTHER;
    case 2:
        return memcmp(key.at, "at", 2) == 0 ? AT : OTHER;
    case 3:
        return memcmp(key.at, "seq", 3) == 0 ? SEQ : OTHER;
    case 4:
        if (memcmp(key.at, "prev", 4) == 0) return PREV;
        return memcmp(key.at, "kind", 4) == 0 ? KIND : OTHER;
    case 11:
        return memcmp(key.at, "observed_at", 11) == 0 ? OBSERVED_AT : OTHER;
    default:
        return OTHER;
    }
}

/* Step into the container whose opening bracket is at c->p. 1: it closed at once
(empty); 0: members follow; -1: nested deeper than MAX_DEPTH. */
static int enter(Cursor *c, unsigned char closer) {
    if (++c->depth > MAX_DEPTH) return -1;
    c->p++;
    if (c->p < c->end && *c->p == closer) {
        c->p++;
        c->depth--;
        return 1;
    }
    return 0;
}

/* After a member. 1: the container closed; 0: a comma, and another member follows;
-1: neither. */
static int next_member(Cursor *c, unsigned char closer) {
    if (c->p >= c->end) return -1;
    if (*c->p == ',') {
        c->p++;
        return 0;
    }
    if (*c->p != closer) return -1;
    c->p++;
    c->depth--;
    return 1;
}

/* Whether `key` sorts strictly after `last`. Keys are short: a loop beats a call to memcmp. */
static inline int ascending(Span last, Span key) {
    Py_ssize_t common = last.len < key.len ? last.len : key.len;
    for (Py_ssize_t i = 0; i < common; i++)
        if (last.at[i] != key.at[i]) return last.at[i] < key.at[i];
    return last.len < key.len;
}

/* An object whose keys are plain and strictly ascending: in ASCII, byte order is RFC
8785's UTF-16 order, and strictly ascending means no key repeats. With `fields`, the
top level's keys the walk reads are noted. */
static int parse_object(Cursor *c, Fields *fields) {
    int state = enter(c, '}');
    Span last = {NULL, 0};
    while (state == 0) {
        if (c->p >= c->end || *c->p != '"') return 0;
        Span key;
        int plain;
        if (!parse_string(c, &key, &plain) || !plain) return 0;
        if (last.at != NULL && !ascending(last, key)) return 0;
        last = key;
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        if (c->p >= c->end) return 0;
        int field = fields == NULL ? OTHER : field_of(key);
        unsigned char first = *c->p;
        if ((field == V || field == SEQ) && (first == '-' || (first >= '0' && first <= '9'))) {
            long long value;
            if (!parse_integer(c, &value)) return 0;
            if (field == V) {
                fields->has_v = 1;
                fields->v = value;
            } else {
                fields->has_seq = 1;
                fields->seq = value;
            }
        } else if (field >= PREV && first == '"') {
            Span text;
            int simple;
            if (!parse_string(c, &text, &simple)) return 0;
            /* Escaped text is rare here; the Python checks decide it. */
            if (!simple) return 0;
            if (field == PREV) fields->prev = text;
            else if (field == KIND) fields->kind = text;
            else if (field == AT) fields->at = text;
            else fields->observed_at = text;
        } else if (!parse_value(c)) {
            return 0;
        }
        if (field == OBSERVED_AT) fields->observed_at_present = 1;
        state = next_member(c, '}');
    }
    return state == 1;
}

static int parse_array(Cursor *c) {
    int state = enter(c, ']');
    while (state == 0) {
        if (!parse_value(c)) return 0;
        state = next_member(c, ']');
    }
    return state == 1;
}

static int parse_value(Cursor *c) {
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{':
        return parse_object(c, NULL);
    case '[':
        return parse_array(c);
    case '"': {
        Span ignored;
        int plain;
        return parse_string(c, &ignored, &plain);
    }
    case 't':
        return parse_word(c, "true", 4);
    case 'f':
        return parse_word(c, "false", 5);
    case 'n':
        return parse_word(c, "null", 4);
    default: {
        long long ignored;
        return parse_integer(c, &ignored);
    }
    }
}

/* One record at p: a canonical object, then the end of the line (a newline, or the
buffer's end). A newline cannot be inside a canonical object, so the parse stops at it
and the line is exactly what the one-record-at-a-time walk would split there. */
static int parse_line(const unsigned char *p, const unsigned char *end, Fields *fields,
                      const unsigned char **line_end) {
    memset(fields, 0, sizeof(*fields));
    Cursor c = {p, end, 0};
    if (p >= end || *p != '{') return 0;
    if (!parse_object(&c, fields) || (c.p < end && *c.p != '\n')) return 0;
    *line_end = c.p;
    return 1;
}

static const unsigned char LEAF[] = {0x00}, NODE[] = {0x01};

/* SHA-256 of `prefix` (prefix_len bytes, maybe 0) and `data`. The low-level calls,
where this OpenSSL still has them, skip the provider dispatch of EVP: for a body of a
few hundred bytes that is a third of the hash's cost. */
static int sha256(EVP_MD_CTX *ctx, const unsigned char *prefix, size_t prefix_len,
                  const unsigned char *data, Py_ssize_t len, unsigned char out[DIGEST]) {
#if defined(OPENSSL_NO_DEPRECATED_3_0)
    return EVP_DigestInit_ex(ctx, SHA256_MD, NULL) &&
           EVP_DigestUpdate(ctx, prefix, prefix_len) &&
           EVP_DigestUpdate(ctx, data, (size_t)len) && EVP_DigestFinal_ex(ctx, out, NULL);
#else
    (void)ctx;
    SHA256_CTX c;
    return SHA256_Init(&c) && SHA256_Update(&c, prefix, prefix_len) &&
           SHA256_Update(&c, data, (size_t)len) && SHA256_Final(out, &c);
#endif
}

/* A body's SHA-256 and its Merkle leaf (the SHA-256 of 0x00 then the body). */
static int digest_and_leaf(EVP_MD_CTX *ctx, const unsigned char *body, Py_ssize_t len,
                           unsigned char digest[DIGEST], unsigned char leaf[DIGEST]) {
    if (SHA_X2) {
        sha256x2(body, (size_t)len, -1, body, (size_t)len, LEAF[0], digest, leaf);
        return 1;
    }
    return sha256(ctx, NULL, 0, body, len, digest) && sha256(ctx, LEAF, 1, body, len, leaf);
}

static void to_hex(const unsigned char digest[DIGEST], char out[2 * DIGEST]) {
    static const char HEX[] = "0123456789abcdef";
    for (int i = 0; i < DIGEST; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
}

static int span_equals(Span span, const char *text, Py_ssize_t len) {
    return span.at != NULL && span.len == len && memcmp(span.at, text, len) == 0;
}

/* The claimed time `TimeBounds.check` reads: observed_at when the key is there (None
unless a string), else at. */
static PyObject *claimed_time(const Fields *f) {
    Span span = f->observed_at_present ? f->observed_at : f->at;
    if (span.at == NULL) Py_RETURN_NONE;
    return PyUnicode_DecodeASCII((const char *)span.at, span.len, NULL);
}

/* Each level's nodes over the one below, while a level has more than one node: `levels`
holds the leaves, concatenated; each level above is appended the same way. */
static int upper_levels(EVP_MD_CTX *ctx, PyObject *levels) {
    PyObject *level = PyList_GET_ITEM(levels, 0);
    while (PyBytes_GET_SIZE(level) > DIGEST) {
        Py_ssize_t count = PyBytes_GET_SIZE(level) / (2 * DIGEST);
        PyObject *next = PyBytes_FromStringAndSize(NULL, count * DIGEST);
        if (next == NULL) return -1;
        const unsigned char *below = (const unsigned char *)PyBytes_AS_STRING(level);
        unsigned char *nodes = (unsigned char *)PyBytes_AS_STRING(next);
        for (Py_ssize_t i = 0; i < count; i++) {
            const unsigned char *pair = below + 2 * i * DIGEST;
            if (SHA_X2 && i + 1 < count) {
                sha256x2(pair, 2 * DIGEST, NODE[0], pair + 2 * DIGEST, 2 * DIGEST, NODE[0],
                         nodes + i * DIGEST, nodes + (i + 1) * DIGEST);
                i++;
                continue;
            }
            if (!sha256(ctx, NODE, 1, pair, 2 * DIGEST, nodes + i * DIGEST)) {
                Py_DECREF(next);
                PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed");
                return -1;
            }
        }
        int appended = PyList_Append(levels, next);
        Py_DECREF(next);
        if (appended < 0) return -1;
        level = next;
    }
    return 0;
}

typedef struct {
    Py_buffer data;
    Py_ssize_t count;
    long long first;
    const char *prev;
    Py_ssize_t prev_len;
    int hashed, times, subtree;
    long long version;
    PyObject *kinds;
} Request;

/* 1: every record passed (`*out` is the answer); 0: not all did; -1: a Python error. */
static int scan_lines(const Request *r, EVP_MD_CTX *ctx, PyObject **out) {
    Py_ssize_t count = r->count;
    Py_ssize_t kind_count = PyTuple_GET_SIZE(r->kinds);
    const unsigned char *p = r->data.buf, *end = p + r->data.len;
    char hex[2 * DIGEST];
    const char *expected_prev = r->prev;
    Py_ssize_t expected_len = r->prev_len;
    if (count <= 0) return 0;
    PyObject *leaves = PyBytes_FromStringAndSize(NULL, count * DIGEST);
    PyObject *marked = PyList_New(0);
    PyObject *claimed = r->times ? PyList_New(count) : Py_NewRef(Py_None);
    PyObject *levels = NULL;
    int status = -1;
    if (leaves == NULL || marked == NULL || claimed == NULL) goto done;
    unsigned char *leaf = (unsigned char *)PyBytes_AS_STRING(leaves);
    for (Py_ssize_t i = 0; i < count; i++, leaf += DIGEST) {
        long long position = r->first + i;
        const unsigned char *stored = p;
        if (r->hashed) {
            if (end - p < DIGEST) goto refuse;
            p += DIGEST;
        }
        Fields f;
        const unsigned char *line_end;
        if (!parse_line(p, end, &f, &line_end)) goto refuse;
        Py_ssize_t len = line_end - p;
        unsigned char digest[DIGEST];
        if (!digest_and_leaf(ctx, p, len, digest, leaf)) {
            PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed");
            goto done;
        }
        if (r->hashed && memcmp(stored, digest, DIGEST) != 0) goto refuse;
        if (!f.has_v || f.v != r->version || !f.has_seq || f.seq != position) goto refuse;
        if (!span_equals(f.prev, expected_prev, expected_len)) goto refuse;
        for (Py_ssize_t k = 0; k < kind_count; k++) {
            PyObject *name = PyTuple_GET_ITEM(r->kinds, k);
            if (span_equals(f.kind, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))) {
                PyObject *index = PyLong_FromSsize_t(i);
                if (index == NULL) goto done;
                int appended = PyList_Append(marked, index);
                Py_DECREF(index);
                if (appended < 0) goto done;
            }
        }
        if (r->times) {
            PyObject *time = claimed_time(&f);
            if (time == NULL) goto done;
            PyList_SET_ITEM(claimed, i, time);
        }
        to_hex(digest, hex);
        expected_prev = hex;
        expected_len = 2 * DIGEST;
        /* The next line starts after the newline; the last may end the buffer instead. */
        p = line_end < end ? line_end + 1 : line_end;
        if (i + 1 < count && line_end == end) goto refuse;
    }
    if (p != end) goto refuse; /* more lines than records */
    levels = PyList_New(1);
    if (levels == NULL) goto done;
    PyList_SET_ITEM(levels, 0, Py_NewRef(leaves));
    if (r->subtree && upper_levels(ctx, levels) < 0) goto done;
    PyObject *head = PyUnicode_DecodeASCII(expected_prev, expected_len, NULL);
    if (head == NULL) goto done;
    *out = PyTuple_Pack(4, levels, head, marked, claimed);
    Py_DECREF(head);
    status = *out == NULL ? -1 : 1;
    goto done;
refuse:
    status = 0;
done:
    Py_XDECREF(leaves);
    Py_XDECREF(marked);
    Py_XDECREF(claimed);
    Py_XDECREF(levels);
    return status;
}

static PyObject *scan(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs) {
    static char *names[] = {"data", "count", "first", "prev", "hashed", "times",
                            "subtree", "version", "kinds", NULL};
    Request r;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*nLy#pppLO!:scan", names, &r.data,
                                     &r.count, &r.first, &r.prev, &r.prev_len, &r.hashed,
                                     &r.times, &r.subtree, &r.version, &PyTuple_Type,
                                     &r.kinds))
        return NULL;
    PyObject *out = NULL;
    EVP_MD_CTX *ctx = NULL;
    int status = -1;
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(r.kinds); k++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(r.kinds, k))) {
            PyErr_SetString(PyExc_TypeError, "kinds must be a tuple of bytes");
            goto done;
        }
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    status = scan_lines(&r, ctx, &out);
done:
    EVP_MD_CTX_free(ctx);
    PyBuffer_Release(&r.data);
    if (status < 0) return NULL;
    if (status == 0) Py_RETURN_NONE;
    return out;
}

/* Lines of a records.jsonl, counted and cut where a bundle is read: memchr finds a newline
some times faster than bytes.count and bytes.find do, and a bundle's reading is the one
process all of its records pass through. */
static PyObject *count_lines(PyObject *Py_UNUSED(module), PyObject *arg) {
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) return NULL;
    const char *p = data.buf, *end = p + data.len;
    Py_ssize_t count = 0;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        count++;
        p++;
    }
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(count);
}

static PyObject *line_end(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer data;
    Py_ssize_t start, lines;
    if (!PyArg_ParseTuple(args, "y*nn:line_end", &data, &start, &lines)) return NULL;
    if (start < 0 || start > data.len || lines < 1) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "start must be within the data, and lines at least 1");
        return NULL;
    }
    const char *base = data.buf, *p = base + start, *end = base + data.len;
    Py_ssize_t at = -1;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        if (--lines == 0) {
            at = p - base;
            break;
        }
    }
    PyBuffer_Release(&data);
    return PyLong_FromSsize_t(at);
}

PyDoc_STRVAR(count_lines_doc,
"count_lines(data)\n--\n\nHow many newlines `data` (a bytes-like object) holds.");

PyDoc_STRVAR(line_end_doc,
"line_end(data, start, lines)\n--\n\n"
"Where the `lines`-th line from `start` ends in `data`: the position just after its\n"
"newline, or -1 when fewer newlines follow.");

PyDoc_STRVAR(scan_doc,
"scan(data, count, first, prev, hashed, times, subtree, version, kinds)\n--\n\n"
"Check a batch of `count` records from seq `first`: `data` holds a line for each, its\n"
"stored hash (32 bytes, with `hashed`) and body, ended by a newline (the last one's may\n"
"be left off). The first body's prev must be `prev` (bytes). None unless every record\n"
"passes every per-record check; else `(levels, head, marked, claimed)`: the Merkle leaves,\n"
"concatenated (and with `subtree` each level above the same way, to the root of a\n"
"power-of-two batch), the hex hash of the last body, the indexes of records whose kind is\n"
"one of `kinds`, and with `times` each record's claimed time (observed_at, else at; None\n"
"unless a string), else None.");

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_VARARGS | METH_KEYWORDS, scan_doc},
    {"count_lines", count_lines, METH_O, count_lines_doc},
    {"line_end", line_end, METH_VARARGS, line_end_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "The verifier's per-record checks, a batch at a time.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    for (int b = 0x20; b < 0x80; b++) PLAIN[b] = b != '"' && b != '\\';
    if (SHA256_MD == NULL) {
        /* Fetched once: an implicit fetch on every digest costs as much as a short hash. */
        SHA256_MD = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (SHA256_MD == NULL) {
            PyErr_SetString(PyExc_ImportError, "OpenSSL has no SHA-256");
            return NULL;
        }
    }
    const char *extensions = getenv("ASSAY_SHA_EXTENSIONS");
    SHA_X2 = sha256x2_usable() && !(extensions != NULL && strcmp(extensions, "0") == 0);
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "SHA_EXTENSIONS", SHA_X2) < 0) Py_CLEAR(m);
    return m;
}
