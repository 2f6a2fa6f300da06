/* collector.privacy._scrub: a report's privacy rewrite in one pass of C over its msgpack.

   Scrubber.message (scrub.py, the reference) decodes a report's envelope and body as
   dict[str, msgspec.Raw], decodes four parts (stations, apps, quality, neighbours) into
   Python objects, rewrites them (Scrubber.body) and encodes the envelope again. That costs
   ~90 us per report on the ingest event loop, most of it building and encoding objects
   nobody keeps. This walks the bytes once and writes what the reference writes: every byte
   range that does not change is copied, and only what Scrubber.body rewrites is rewritten,
   with the values asked of Python, so the rules stay in scrub.py:

     - mac(text) -> pseudonym (Scrubber.mac; its memo dict is read first, a miss calls it,
       and it fills the memo) for a station's "mac", an app row's
       "station", a quality row's "target" and, unless neighbour names are kept, a neighbour's
       "bssid" (string values only, as the reference);
     - names(hostname | None, dhcp_vc | None) -> (hostname | None, dhcp_vc | None) for a
       station whose hostname or dhcp_vc is a string (scrub.terminal_names); a dhcp_vc that
       comes back "" is dropped, and the station's map header says one pair fewer;
     - a neighbour's "ssid" is dropped (unless neighbour names are kept).

   The output decodes to exactly the reference's object and is byte for byte the reference's
   encoding, because everything the reference decodes and re-encodes (the four parts) is only
   accepted here in msgspec's own canonical form (shortest headers and ints, float64, UTF-8
   strings, string keys never repeated), and the headers this writes are the shortest ones.

   report(packed, memo, mac, names, keep_neighbour_names) -> bytes, or raises Unsupported for
   anything it does not promise to reproduce (a body with a static view, non-string or
   repeated keys, extension types, float32, non-canonical encodings in the rewritten parts,
   items that are not maps, truncated or damaged msgpack, trailing bytes ...): the caller then
   runs the Python reference, which decides (and refuses what it refuses). The output is
   built in a private buffer, so nothing is returned unless the whole input was understood.
   Every read is bounds-checked: the input is a gateway's, validated by triage or not. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../byte_buffer.h"
#include "../msgpack_bytes.h"

#define MAX_DEPTH 32    /* containers deep (triage allows 16): deeper is Unsupported, not a stack overflow */
#define SMALL 32        /* keys or pairs of a map held on the stack; more are allocated */

static PyObject *Unsupported;

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor;

typedef byte_buffer output;  /* ../byte_buffer.h */

typedef struct {
    const uint8_t *s;
    uint32_t n;
} span;

typedef struct {
    span key;
    const uint8_t *start; /* the pair: key's header .. value's end */
    const uint8_t *value;
    const uint8_t *end;
} pair;

enum part { STATIONS, APPS, QUALITY, NEIGHBOURS };

typedef struct {
    PyObject *memo; /* dict: MAC -> pseudonym, read before calling mac (which fills it) */
    PyObject *mac;
    PyObject *names;
    int keep_names;
    output out;
} context;

static int unsupported(const char *why) {
    PyErr_SetString(Unsupported, why);
    return -1;
}

static inline int has(const cursor *c, size_t n) { return (size_t)(c->end - c->p) >= n; }

/* -- output ---------------------------------------------------------------------------- */

/* The shortest header of a string, array or map of n (as msgspec writes it). */
static int put_header(output *o, uint8_t fix, uint32_t fixmax, uint8_t h8, uint8_t h16, uint32_t n) {
    uint8_t b[5];
    size_t len;
    if (n <= fixmax) {
        b[0] = (uint8_t)(fix | n);
        len = 1;
    } else if (h8 && n <= 0xff) {
        b[0] = h8;
        b[1] = (uint8_t)n;
        len = 2;
    } else if (n <= 0xffff) {
        b[0] = h16;
        b[1] = (uint8_t)(n >> 8);
        b[2] = (uint8_t)n;
        len = 3;
    } else {
        b[0] = (uint8_t)(h16 + 1);
        b[1] = (uint8_t)(n >> 24);
        b[2] = (uint8_t)(n >> 16);
        b[3] = (uint8_t)(n >> 8);
        b[4] = (uint8_t)n;
        len = 5;
    }
    return buffer_put(o, b, len);
}
#define put_map(o, n) put_header(o, 0x80, 15, 0, 0xde, n)
#define put_array(o, n) put_header(o, 0x90, 15, 0, 0xdc, n)
#define put_str_header(o, n) put_header(o, 0xa0, 31, 0xd9, 0xda, n)

static int put_text(output *o, PyObject *text) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL) return -1;
    if ((uint64_t)n > 0xffffffffu) return unsupported("a rewritten value too long");
    if (put_str_header(o, (uint32_t)n) < 0) return -1;
    return buffer_put(o, s, (size_t)n);
}

/* -- reading --------------------------------------------------------------------------- */

static inline int is_str(uint8_t b) { return (b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb); }

/* A string at the cursor (any header; canonical: only the shortest), its UTF-8 checked. */
static int read_str(cursor *c, span *out, int canonical) {
    uint8_t b;
    size_t h;
    uint32_t n;
    if (!has(c, 1)) return unsupported("truncated");
    b = *c->p;
    if ((b & 0xe0) == 0xa0) {
        n = b & 0x1f;
        h = 1;
    } else if (b == 0xd9 && has(c, 2)) {
        n = c->p[1];
        h = 2;
        if (canonical && n < 32) return unsupported("a long header for a short string");
    } else if (b == 0xda && has(c, 3)) {
        n = be16(c->p + 1);
        h = 3;
        if (canonical && n < 256) return unsupported("a long header for a short string");
    } else if (b == 0xdb && has(c, 5)) {
        n = be32(c->p + 1);
        h = 5;
        if (canonical && n < 65536) return unsupported("a long header for a short string");
    } else {
        return unsupported(is_str(b) ? "truncated" : "a key that is not a string");
    }
    if ((size_t)(c->end - c->p) - h < n) return unsupported("truncated");
    out->s = c->p + h;
    out->n = n;
    c->p += h + n;
    return utf8(out->s, n) ? 0 : unsupported("a string that is not UTF-8");
}

/* A container's count at the cursor (map: 1, array: 0); -1 if the next object is not one. */
static int container(cursor *c, int map, uint32_t *count, int canonical) {
    uint8_t b, fix = map ? 0x80 : 0x90, h16 = map ? 0xde : 0xdc;
    if (!has(c, 1)) return unsupported("truncated");
    b = *c->p;
    if ((b & 0xf0) == fix) {
        *count = b & 0x0f;
        c->p += 1;
    } else if (b == h16 && has(c, 3)) {
        *count = be16(c->p + 1);
        c->p += 3;
        if (canonical && *count < 16) return unsupported("a long header for a short container");
    } else if (b == h16 + 1 && has(c, 5)) {
        *count = be32(c->p + 1);
        c->p += 5;
        if (canonical && *count < 65536) return unsupported("a long header for a short container");
    } else {
        return unsupported(map ? "not a map" : "not an array");
    }
    /* an array's items take a byte each at least, a map's pairs two: a larger count is a lie */
    if ((size_t)(c->end - c->p) / (map ? 2 : 1) < *count) return unsupported("truncated");
    return 0;
}


/* Whether no key repeats (decoding keeps the last of a repeated key: the reference would
   write one pair where the bytes hold two). */
static int unique(const span *keys, size_t stride, uint32_t n) {
#define KEY(i) ((const span *)((const char *)keys + (size_t)(i) * stride))
    if (n <= 64) { /* a 256-bit filter: a key is compared only with the keys that share its bit */
        uint64_t seen[4] = {0, 0, 0, 0};
        for (uint32_t i = 0; i < n; i++) {
            const span *k = KEY(i);
            uint32_t bit = hash_of(k->s, k->n) >> 24;
            if (seen[bit >> 6] & (1ULL << (bit & 63))) {
                for (uint32_t j = 0; j < i; j++)
                    if (KEY(j)->n == k->n && memcmp(KEY(j)->s, k->s, k->n) == 0)
                        return unsupported("a map repeats a key");
            }
            seen[bit >> 6] |= 1ULL << (bit & 63);
        }
        return 0;
    }
    const span *stack[4 * SMALL]; /* maps of up to 2 * SMALL keys need no allocation */
    size_t size = 16;
    while (size < 2 * (size_t)n) size *= 2;
    const span **table = stack;
    if (size > 4 * SMALL) {
        table = PyMem_Calloc(size, sizeof(*table));
        if (table == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    } else {
        memset(stack, 0, size * sizeof(*table));
    }
    int ok = 0;
    for (uint32_t i = 0; i < n && ok == 0; i++) {
        const span *k = KEY(i);
        size_t at = hash_of(k->s, k->n) & (size - 1);
        while (table[at] != NULL) {
            if (table[at]->n == k->n && memcmp(table[at]->s, k->s, k->n) == 0) {
                ok = unsupported("a map repeats a key");
                break;
            }
            at = (at + 1) & (size - 1);
        }
        table[at] = k;
    }
    if (table != stack) PyMem_Free(table);
    return ok;
#undef KEY
}

/* Skip one object of a part copied as it came (the reference copies it as msgspec.Raw):
   structure only, bounds-checked, no extension types. */
static int skip(cursor *c, int depth) {
    uint8_t b;
    uint32_t n, count;
    if (!has(c, 1)) return unsupported("truncated");
    b = *c->p;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        c->p += 1;
        return 0;
    }
    if (is_str(b)) { /* as read_str without the UTF-8 check (msgspec.Raw does not check it either) */
        size_t h = (b & 0xe0) == 0xa0 ? 1 : b == 0xd9 ? 2 : b == 0xda ? 3 : 5;
        if (!has(c, h)) return unsupported("truncated");
        n = h == 1 ? (b & 0x1f) : h == 2 ? c->p[1] : h == 3 ? be16(c->p + 1) : be32(c->p + 1);
        if ((size_t)(c->end - c->p) - h < n) return unsupported("truncated");
        c->p += h + n;
        return 0;
    }
    if ((b & 0xe0) == 0x80 || (b >= 0xdc && b <= 0xdf)) {
        int map = (b & 0xf0) == 0x80 || b >= 0xde;
        if (depth <= 0) return unsupported("nested too deep");
        if (container(c, map, &count, 0) < 0) return -1;
        for (uint32_t i = 0; i < count; i++) {
            if (map && (!has(c, 1) || !is_str(*c->p))) return unsupported("a key that is not a string");
            if ((map && skip(c, depth - 1) < 0) || skip(c, depth - 1) < 0) return -1;
        }
        return 0;
    }
    switch (b) {
    case 0xc4: case 0xc5: case 0xc6: { /* bin */
        size_t h = b == 0xc4 ? 2 : b == 0xc5 ? 3 : 5;
        if (!has(c, h)) break;
        n = h == 2 ? c->p[1] : h == 3 ? be16(c->p + 1) : be32(c->p + 1);
        if (!has(c, h + (size_t)n)) break;
        c->p += h + n;
        return 0;
    }
    case 0xca: case 0xce: case 0xd2: n = 4; goto fixed;
    case 0xcb: case 0xcf: case 0xd3: n = 8; goto fixed;
    case 0xcc: case 0xd0: n = 1; goto fixed;
    case 0xcd: case 0xd1: n = 2; goto fixed;
    default: return unsupported("an extension type or an unused byte");
    }
    return unsupported("truncated");
fixed:
    if (!has(c, 1 + (size_t)n)) return unsupported("truncated");
    c->p += 1 + n;
    return 0;
}

static int check(cursor *c, int depth);

/* The pairs of a map whose header was read (canonical keys, never repeated), each value
   checked; into pairs (count of them) when given. */
static int pairs_of(cursor *c, uint32_t count, int depth, pair *pairs) {
    span stack[SMALL];
    span *keys = pairs != NULL ? NULL : count <= SMALL ? stack : PyMem_Malloc(count * sizeof(span));
    size_t stride = pairs != NULL ? sizeof(pair) : sizeof(span);
    int ok = 0;
    if (pairs == NULL && keys == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t i = 0; i < count && ok == 0; i++) {
        const uint8_t *start = c->p;
        span *key = pairs != NULL ? &pairs[i].key : &keys[i];
        ok = read_str(c, key, 1);
        if (ok == 0 && pairs != NULL) {
            pairs[i].start = start;
            pairs[i].value = c->p;
        }
        if (ok == 0) ok = check(c, depth);
        if (ok == 0 && pairs != NULL) pairs[i].end = c->p;
    }
    if (ok == 0 && count > 1) ok = unique(pairs != NULL ? &pairs[0].key : keys, stride, count);
    if (keys != NULL && keys != stack) PyMem_Free(keys);
    return ok;
}

/* One object of a rewritten part: accepted only in the form msgspec writes it (so copying it
   is byte for byte what the reference's decode and encode write). */
static int check(cursor *c, int depth) {
    uint8_t b;
    uint32_t count;
    span s;
    if (!has(c, 1)) return unsupported("truncated");
    b = *c->p;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        c->p += 1;
        return 0;
    }
    if (is_str(b)) return read_str(c, &s, 1);
    if ((b & 0xe0) == 0x80 || (b >= 0xdc && b <= 0xdf)) {
        int map = (b & 0xf0) == 0x80 || b >= 0xde;
        if (depth <= 0) return unsupported("nested too deep");
        if (container(c, map, &count, 1) < 0) return -1;
        if (map) return pairs_of(c, count, depth - 1, NULL);
        for (uint32_t i = 0; i < count; i++)
            if (check(c, depth - 1) < 0) return -1;
        return 0;
    }
    size_t n;
    int shortest;
    switch (b) {
    case 0xc4: case 0xc5: case 0xc6: { /* bin */
        size_t h = b == 0xc4 ? 2 : b == 0xc5 ? 3 : 5;
        if (!has(c, h)) return unsupported("truncated");
        n = h == 2 ? c->p[1] : h == 3 ? be16(c->p + 1) : be32(c->p + 1);
        if ((h == 3 && n < 256) || (h == 5 && n < 65536)) return unsupported("a long header for short bytes");
        if (!has(c, h + n)) return unsupported("truncated");
        c->p += h + n;
        return 0;
    }
    case 0xcb: n = 8; shortest = 1; break;
    case 0xcc: n = 1; shortest = has(c, 2) && c->p[1] >= 0x80; break;
    case 0xcd: n = 2; shortest = has(c, 3) && be16(c->p + 1) > 0xff; break;
    case 0xce: n = 4; shortest = has(c, 5) && be32(c->p + 1) > 0xffff; break;
    case 0xcf: n = 8; shortest = has(c, 9) && be64(c->p + 1) > 0xffffffffu; break;
    case 0xd0: n = 1; shortest = has(c, 2) && (int8_t)c->p[1] < -32; break;
    case 0xd1: n = 2; shortest = has(c, 3) && (int16_t)be16(c->p + 1) < -128; break;
    case 0xd2: n = 4; shortest = has(c, 5) && (int32_t)be32(c->p + 1) < -32768; break;
    case 0xd3: n = 8; shortest = has(c, 9) && (int64_t)be64(c->p + 1) < -2147483648LL; break;
    default: return unsupported("float32, an extension type or an unused byte");
    }
    if (!has(c, 1 + n)) return unsupported("truncated");
    if (!shortest) return unsupported("an int in a longer form than msgspec writes");
    c->p += 1 + n;
    return 0;
}

/* -- the rewrite ----------------------------------------------------------------------- */

static inline int named(const span *k, const char *name, uint32_t n) {
    return k->n == n && memcmp(k->s, name, n) == 0;
}
#define NAMED(k, lit) named(k, lit, sizeof(lit) - 1)

/* The string value of a pair as a Python str; NULL (no error) if it is not a string. */
static PyObject *text_of(const pair *p, int *failed) {
    cursor c = {p->value, p->end};
    span s;
    *failed = 0;
    if (!is_str(*p->value)) return NULL;
    if (read_str(&c, &s, 0) < 0) { /* checked already: cannot fail */
        *failed = 1;
        return NULL;
    }
    PyObject *out = PyUnicode_DecodeUTF8((const char *)s.s, s.n, "strict");
    if (out == NULL) *failed = 1;
    return out;
}

static int new_text(PyObject *got, const char *what) {
    if (got != NULL && !PyUnicode_Check(got)) {
        PyErr_Format(PyExc_TypeError, "%s returned %.80s, not str", what, Py_TYPE(got)->tp_name);
        return -1;
    }
    return got == NULL ? -1 : 0;
}

/* The pseudonym of a pair's string value (a new reference), NULL with *failed = 0 if the
   value is not a string. */
static PyObject *pseudonym(context *x, const pair *p, int *failed) {
    PyObject *text = text_of(p, failed);
    if (text == NULL) return NULL;
    PyObject *got = PyDict_GetItemWithError(x->memo, text); /* borrowed; mac's own memo */
    if (got != NULL && PyUnicode_CheckExact(got)) {
        Py_DECREF(text);
        return Py_NewRef(got);
    }
    got = PyErr_Occurred() ? NULL : PyObject_CallOneArg(x->mac, text);
    Py_DECREF(text);
    if (new_text(got, "mac") < 0) {
        Py_XDECREF(got);
        *failed = 1;
        return NULL;
    }
    return got;
}

/* One item of a part: a map, written with the part's rewrite. */
static int item(context *x, cursor *c, enum part part) {
    pair stack[SMALL];
    pair *pairs = stack;
    uint32_t count;
    PyObject *values[3] = {NULL, NULL, NULL}; /* new texts, by the pair they replace */
    int at[3] = {-1, -1, -1}, drop = -1, failed = 0, ok = -1;
    if (container(c, 1, &count, 0) < 0) return -1; /* not a map: the reference fails on it */
    if (count > SMALL && (pairs = PyMem_Malloc(count * sizeof(pair))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (pairs_of(c, count, MAX_DEPTH - 3, pairs) < 0) goto done;
    if (part == STATIONS) {
        int host = -1, vc = -1;
        PyObject *h = NULL, *v = NULL;
        for (uint32_t i = 0; i < count; i++) {
            const span *k = &pairs[i].key;
            if (NAMED(k, "mac")) at[0] = (int)i;
            else if (NAMED(k, "hostname")) host = (int)i;
            else if (NAMED(k, "dhcp_vc")) vc = (int)i;
        }
        if (at[0] >= 0 && (values[0] = pseudonym(x, &pairs[at[0]], &failed)) == NULL && failed) goto done;
        if (host >= 0 && (h = text_of(&pairs[host], &failed)) == NULL && failed) goto done;
        if (vc >= 0 && (v = text_of(&pairs[vc], &failed)) == NULL && failed) {
            Py_XDECREF(h);
            goto done;
        }
        if (h != NULL || v != NULL) { /* scrub.terminal_names: the rules for both, in Python */
            PyObject *args[2] = {h != NULL ? h : Py_None, v != NULL ? v : Py_None};
            PyObject *got = PyObject_Vectorcall(x->names, args, 2, NULL);
            Py_XDECREF(h);
            Py_XDECREF(v);
            if (got == NULL) goto done;
            if (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) != 2) {
                Py_DECREF(got);
                PyErr_SetString(PyExc_TypeError, "names must return (hostname, dhcp_vc)");
                goto done;
            }
            PyObject *nh = PyTuple_GET_ITEM(got, 0), *nv = PyTuple_GET_ITEM(got, 1);
            if ((h != NULL && !PyUnicode_Check(nh)) || (v != NULL && !PyUnicode_Check(nv))) {
                Py_DECREF(got);
                PyErr_SetString(PyExc_TypeError, "names must return a str for each str given");
                goto done;
            }
            if (h != NULL) {
                at[1] = host;
                values[1] = Py_NewRef(nh);
            }
            if (v != NULL) {
                if (PyUnicode_GET_LENGTH(nv) == 0) {
                    drop = vc;
                } else {
                    at[2] = vc;
                    values[2] = Py_NewRef(nv);
                }
            }
            Py_DECREF(got);
        }
    } else {
        for (uint32_t i = 0; i < count; i++) {
            const span *k = &pairs[i].key;
            if (part == APPS ? NAMED(k, "station") : part == QUALITY ? NAMED(k, "target") : NAMED(k, "bssid")) {
                at[0] = (int)i;
                if ((values[0] = pseudonym(x, &pairs[i], &failed)) == NULL && failed) goto done;
            } else if (part == NEIGHBOURS && NAMED(k, "ssid")) {
                drop = (int)i;
            }
        }
    }
    if (put_map(&x->out, count - (drop >= 0)) < 0) goto done;
    const uint8_t *run = count ? pairs[0].start : c->p; /* unchanged pairs are copied in one piece */
    for (uint32_t i = 0; i < count; i++) {
        const pair *p = &pairs[i];
        PyObject *value = NULL;
        if ((int)i == drop) {
            if (buffer_put(&x->out, run, (size_t)(p->start - run)) < 0) goto done;
            run = p->end;
            continue;
        }
        for (int j = 0; j < 3; j++)
            if (at[j] == (int)i) value = values[j];
        if (value != NULL) {
            if (buffer_put(&x->out, run, (size_t)(p->value - run)) < 0 || put_text(&x->out, value) < 0) goto done;
            run = p->end;
        }
    }
    if (buffer_put(&x->out, run, (size_t)(c->p - run)) < 0) goto done;
    ok = 0;
done:
    for (int j = 0; j < 3; j++) Py_XDECREF(values[j]);
    if (pairs != stack) PyMem_Free(pairs);
    return ok;
}

/* A rewritten part's value: nil, or an array of maps. */
static int part(context *x, cursor *c, enum part which) {
    uint32_t count;
    if (!has(c, 1)) return unsupported("truncated");
    if (*c->p == 0xc0) {
        c->p += 1;
        return buffer_put(&x->out, "\xc0", 1);
    }
    if (container(c, 0, &count, 0) < 0) return -1;
    if (put_array(&x->out, count) < 0) return -1;
    for (uint32_t i = 0; i < count; i++)
        if (item(x, c, which) < 0) return -1;
    return 0;
}

/* Which rewritten part a body key names (-1: copied as it came). */
static int part_named(const context *x, const span *k) {
    if (NAMED(k, "stations")) return STATIONS;
    if (NAMED(k, "apps")) return APPS;
    if (NAMED(k, "quality")) return QUALITY;
    if (NAMED(k, "neighbours") && !x->keep_names) return NEIGHBOURS;
    return -1;
}

/* The envelope (body: 0) or its body (1): a map of string keys, written with the shortest
   headers (as the reference's encode writes it), its values copied or rewritten. */
static int map_of(context *x, cursor *c, int body) {
    span stack[SMALL];
    uint32_t count;
    int found = 0;
    if (container(c, 1, &count, 0) < 0) return -1;
    if (count > SMALL) return unsupported("an envelope or body of more than 32 keys");
    if (put_map(&x->out, count) < 0) return -1;
    for (uint32_t i = 0; i < count; i++) {
        span *k = &stack[i];
        const uint8_t *value;
        int which = -1;
        if (read_str(c, k, 0) < 0) return -1;
        if (body && NAMED(k, "view")) return unsupported("a compact report's static view");
        if (put_str_header(&x->out, k->n) < 0 || buffer_put(&x->out, k->s, k->n) < 0) return -1;
        if (!body && NAMED(k, "body")) {
            if (map_of(x, c, 1) < 0) return -1;
            found = 1;
            continue;
        }
        if (body && (which = part_named(x, k)) >= 0) {
            if (part(x, c, (enum part)which) < 0) return -1;
            continue;
        }
        value = c->p;
        if (skip(c, MAX_DEPTH - 2) < 0 || buffer_put(&x->out, value, (size_t)(c->p - value)) < 0) return -1;
    }
    if (!body && !found) return unsupported("no body");
    return unique(stack, sizeof(span), count);
}

static PyObject *report(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer view;
    context x;
    cursor c;
    PyObject *out = NULL;
    int keep;
    if (nargs != 5 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "report(packed, memo: dict, mac, names, keep_neighbour_names)");
        return NULL;
    }
    if ((keep = PyObject_IsTrue(args[4])) < 0) return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    x.memo = args[1];
    x.mac = args[2];
    x.names = args[3];
    x.keep_names = keep;
    x.out.len = 0;
    x.out.cap = (size_t)view.len + (size_t)view.len / 8 + 64; /* pseudonyms may be longer than MACs */
    x.out.buf = PyMem_Malloc(x.out.cap);
    if (x.out.buf == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    c.p = view.buf;
    c.end = c.p + view.len;
    if (map_of(&x, &c, 0) == 0) {
        if (c.p != c.end) unsupported("trailing bytes");
        else out = PyBytes_FromStringAndSize(x.out.buf, (Py_ssize_t)x.out.len);
    }
    PyMem_Free(x.out.buf);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"report", (PyCFunction)(void (*)(void))report, METH_FASTCALL,
     "report(packed, memo, mac, names, keep_neighbour_names) -> bytes: the report's msgpack rewritten "
     "as Scrubber.body rewrites it; raises Unsupported for anything it does not promise to reproduce."},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module) {
    Unsupported = PyErr_NewExceptionWithDoc("collector.privacy._scrub.Unsupported",
                                            "The input is not one this rewrite reproduces: run the reference.",
                                            PyExc_ValueError, NULL);
    if (Unsupported == NULL) return -1;
    return PyModule_AddObjectRef(module, "Unsupported", Unsupported);
}

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "collector.privacy._scrub", NULL, -1, methods};

PyMODINIT_FUNC PyInit__scrub(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && exec_module(m) < 0) Py_CLEAR(m);
    return m;
}
