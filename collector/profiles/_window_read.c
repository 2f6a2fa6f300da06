/* The two sources of what _window.c reads (see _window_read.h): a decoded body, or the report's
   msgpack.

   The msgpack reader walks the message once: the envelope to its "body" (every read
   bounds-checked, nothing after the envelope), the body's lists of rows (stations, apps, radios,
   quality, neighbours; wan's map) read row by row into arrays of fields, a fixed field per key the
   fold declares (no node tree, no Python object: strings become Python strs only when the
   computation keeps or looks one up, through a small cache of recent ones). What it does not
   declare is skipped (structure only, as msgspec skips it); what it declares is checked as
   msgspec decodes it (strings UTF-8), read or not.

   msgspec (rollup.decode_window_body) is stricter and looser in places: it skips what it does not
   declare without looking inside (bad UTF-8 there passes), and keeps the last of a repeated key.
   This reader is never looser: a repeated key the fold reads, a non-string key, float32, an
   extension type, anything nested past MAX_DEPTH, truncated or trailing bytes are Unsupported,
   and the caller's decode decides (the same result, or the same refusal). */

#include "_window_read.h"

#include <string.h>

#include "../msgpack_bytes.h"

#define MAX_DEPTH 32   /* containers deep (triage allows 16): deeper is Unsupported */
#define CACHE 1024    /* recent strings kept as Python strs (a power of 2) */
#define CACHED_LEN 48 /* longer strings are made each time (MACs, names, categories are shorter) */

PyObject *Unsupported;

/* -- the keys ---------------------------------------------------------------------------------- */

static const char *const body_names[] = {"wan", "stations", "apps", "radios", "quality", "neighbours", "topology",
                                         "unclassified"};
static const char *const wan_names[] = {"online_s", "offline_s", "plan_down_kbps"};
static const char *const station_names[] = {"mac", "hostname", "vendor", "medium", "signal_dbm", "tx_rate_kbps",
                                            "packets_sent", "retransmissions", "delay_ms", "loss_pct",
                                            "reachable_kbps", "dhcp_vc", "dhcp_prl"};
static const char *const app_names[] = {"station", "category", "bytes_down", "bytes_up", "active_minutes",
                                        "top_apps"};
static const char *const radio_names[] = {"band", "interference_pct", "utilization_pct"};
static const char *const quality_names[] = {"target", "delay_ms", "delay_max_ms", "jitter_ms", "loss_pct",
                                            "bandwidth_kbps"};
static const char *const neighbour_names[] = {"operator", "ssid", "signal_dbm"};
static PyObject *body_keys[B_N], *wan_keys[W_N], *station_keys[S_N], *app_keys[A_N], *radio_keys[R_N],
    *quality_keys[Q_N], *neighbour_keys[N_N];

schema BODY = {"", B_N, body_names, body_keys, {0}};
schema WAN = {"wan.", W_N, wan_names, wan_keys, {0}, 1};
schema STATION = {"stations[].", S_N, station_names, station_keys, {0}};
schema APP = {"apps[].", A_N, app_names, app_keys, {0}};
schema RADIO = {"radios[].", R_N, radio_names, radio_keys, {0}};
schema QUALITY = {"quality[].", Q_N, quality_names, quality_keys, {0}};
schema NEIGHBOUR = {"neighbours[].", N_N, neighbour_names, neighbour_keys, {0}};
static schema *const SCHEMAS[] = {&BODY, &WAN, &STATION, &APP, &RADIO, &QUALITY, &NEIGHBOUR};

static PyObject *cache[CACHE]; /* recent strings by hash (a slot's newest wins) */

int schema_init(schema *sc) {
    if (sc->n > MAX_FIELDS) return bail("a schema past MAX_FIELDS");
    for (int i = 0; i < sc->n; i++) {
        sc->lens[i] = (uint32_t)strlen(sc->names[i]);
        if ((sc->keys[i] = PyUnicode_InternFromString(sc->names[i])) == NULL) return -1;
    }
    return 0;
}

int read_init(void) {
    for (size_t s = 0; s < sizeof SCHEMAS / sizeof *SCHEMAS; s++)
        if (schema_init(SCHEMAS[s]) < 0) return -1;
    return 0;
}

PyObject *packed_reads(void) {
    PyObject *out = PySet_New(NULL);
    for (size_t s = 0; out != NULL && s < sizeof SCHEMAS / sizeof *SCHEMAS; s++)
        for (int i = 0; i < SCHEMAS[s]->n; i++) {
            PyObject *path = PyUnicode_FromFormat("%s%s", SCHEMAS[s]->section, SCHEMAS[s]->names[i]);
            if (path == NULL || PySet_Add(out, path) < 0) {
                Py_XDECREF(path);
                Py_CLEAR(out);
                break;
            }
            Py_DECREF(path);
        }
    return out;
}

/* -- the decoded source ------------------------------------------------------------------------ */

static void field_of_object(PyObject *v, field *f) {
    f->obj = v;
    f->p = NULL;
    f->n = 0;
    f->rows = NULL;
    if (v == NULL) f->k = V_ABSENT;
    else if (v == Py_None) f->k = V_NIL;
    else if (PyLong_CheckExact(v)) { /* not bool: the reference's int() of True is 1, here Unsupported */
        int overflow = 0;
        f->i = PyLong_AsLongLongAndOverflow(v, &overflow);
        f->k = overflow ? V_OTHER : V_INT;
    } else if (PyFloat_CheckExact(v)) {
        f->k = V_FLOAT;
        f->f = PyFloat_AS_DOUBLE(v);
    } else if (PyUnicode_CheckExact(v)) f->k = V_STR;
    else if (PyList_CheckExact(v)) f->k = V_LIST;
    else if (PyDict_CheckExact(v)) f->k = V_MAP;
    else f->k = V_OTHER;
}

static int fields_of_dict(PyObject *d, const schema *sc, field *out) {
    for (int i = 0; i < sc->n; i++) {
        PyObject *v = PyDict_GetItemWithError(d, sc->keys[i]); /* str keys: never raises */
        if (v == NULL && PyErr_Occurred()) return -1;
        field_of_object(v, &out[i]);
    }
    return 0;
}

int body_of_dict(PyObject *body, field *out) { return fields_of_dict(body, &BODY, out); }

/* -- the packed source ------------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p, *end;
} cursor;

static inline size_t left(const cursor *c) { return (size_t)(c->end - c->p); }



/* Whether n bytes at s are a key's name (n its length): two overlapping words from 8 bytes on. */
static inline int same_name(const uint8_t *s, const char *name, uint32_t n) {
    if (n >= 8) {
        uint64_t a, b, x, y;
        memcpy(&a, s, 8);
        memcpy(&b, name, 8);
        memcpy(&x, s + n - 8, 8);
        memcpy(&y, name + n - 8, 8);
        return a == b && x == y && (n <= 16 || memcmp(s + 8, name + 8, n - 16) == 0);
    }
    for (uint32_t i = 0; i < n; i++)
        if (s[i] != (uint8_t)name[i]) return 0;
    return 1;
}

/* A string, array or map header at the cursor: its kind, count (bytes for a string) and the
   cursor past the header; 0 (cursor unmoved) if the next object is none of these. Counts are
   checked against the bytes left (a string's must fit; an array's items take a byte each at
   least, a map's pairs two), so a lying count cannot make a reader loop long. */
static inline __attribute__((always_inline)) int header(cursor *c, kind *k, uint32_t *n) {
    if (left(c) < 1) return bail("truncated");
    uint8_t b = *c->p;
    size_t h;
    if ((b & 0xe0) == 0xa0) *k = V_STR, *n = b & 0x1f, h = 1;
    else if ((b & 0xf0) == 0x90) *k = V_LIST, *n = b & 0x0f, h = 1;
    else if ((b & 0xf0) == 0x80) *k = V_MAP, *n = b & 0x0f, h = 1;
    else if (b == 0xd9) *k = V_STR, h = 2;
    else if (b == 0xda || b == 0xdc || b == 0xde) *k = b == 0xda ? V_STR : b == 0xdc ? V_LIST : V_MAP, h = 3;
    else if (b == 0xdb || b == 0xdd || b == 0xdf) *k = b == 0xdb ? V_STR : b == 0xdd ? V_LIST : V_MAP, h = 5;
    else return 0;
    if (left(c) < h) return bail("truncated");
    if (h == 2) *n = c->p[1];
    else if (h == 3) *n = be16(c->p + 1);
    else if (h == 5) *n = be32(c->p + 1);
    c->p += h;
    if ((*k == V_MAP ? left(c) / 2 : left(c)) < *n) return bail("truncated");
    return 1;
}

/* Skip `count` objects at the cursor, structure only (bounds-checked, no recursion): what msgspec
   skips unread. With `strings` set, every string is checked as UTF-8 and extension types are
   Unsupported: a value msgspec decodes (as Any), whether the fold reads it or not. */
static int skip(cursor *c, uint64_t count, int strings) {
    uint64_t pending[MAX_DEPTH]; /* objects left at each depth (no recursion, no stack overflow) */
    int top = 0;
    pending[0] = count;
    while (top >= 0) {
        if (pending[top] == 0) {
            top--;
            continue;
        }
        pending[top]--;
        if (left(c) < 1) return bail("truncated");
        uint8_t first = *c->p;
        if (first <= 0x7f || first >= 0xe0 || first == 0xc0 || first == 0xc2 || first == 0xc3) {
            c->p += 1; /* fixints, nil, booleans: most of what is skipped */
            continue;
        }
        kind k;
        uint32_t n;
        int got = header(c, &k, &n);
        if (got < 0) return -1;
        if (got) {
            if (k == V_STR) {
                if (strings && !utf8(c->p, n)) return bail("a string that is not UTF-8");
                c->p += n;
            } else if (n) {
                if (top + 1 >= MAX_DEPTH) return bail("nested too deep");
                pending[++top] = k == V_MAP ? 2 * (uint64_t)n : n;
            }
            continue;
        }
        uint8_t b = *c->p;
        size_t size;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            c->p += 1;
            continue;
        }
        switch (b) {
        case 0xc4: case 0xc5: case 0xc6: { /* bin */
            size_t h = b == 0xc4 ? 2 : b == 0xc5 ? 3 : 5;
            if (left(c) < h) return bail("truncated");
            size = h + (h == 2 ? c->p[1] : h == 3 ? be16(c->p + 1) : be32(c->p + 1));
            break;
        }
        case 0xc7: case 0xc8: case 0xc9: { /* ext 8/16/32: a type byte after the length */
            size_t h = b == 0xc7 ? 2 : b == 0xc8 ? 3 : 5;
            if (strings) return bail("an extension type");
            if (left(c) < h) return bail("truncated");
            size = h + 1 + (h == 2 ? c->p[1] : h == 3 ? be16(c->p + 1) : be32(c->p + 1));
            break;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: /* fixext 1..16 */
            if (strings) return bail("an extension type");
            size = 2 + ((size_t)1 << (b - 0xd4));
            break;
        case 0xca: case 0xce: case 0xd2: size = 5; break;
        case 0xcb: case 0xcf: case 0xd3: size = 9; break;
        case 0xcc: case 0xd0: size = 2; break;
        case 0xcd: case 0xd1: size = 3; break;
        default: return bail("an unused byte");
        }
        if (left(c) < size) return bail("truncated");
        c->p += size;
    }
    return 0;
}

/* A map key at the cursor: a string (msgspec's TypedDicts take no other; an unknown key is not
   decoded, so it need not be UTF-8, and a known one is ASCII). */
static inline int key_at(cursor *c, const uint8_t **s, uint32_t *n) {
    kind k;
    int got = header(c, &k, n);
    if (got < 0) return -1;
    if (!got || k != V_STR) return bail("a key that is not a string");
    *s = c->p;
    c->p += *n;
    return 0;
}

/* One value of a key the fold declares into f, the cursor past it. msgspec decodes such a value
   whole (as Any), so all of it is checked as msgspec would (strings UTF-8; stricter: no extension
   types); a container is noted (where its items start, how many) and read again when asked. With
   `shallow`, a container's contents are only skipped: a body key's value read as no rows (topology,
   msgspec.Raw items msgspec does not check either; unclassified, decoded by the caller when it has
   rows; a value of the wrong type, which the computation refuses). */
static int value_at(cursor *c, field *f, int shallow) {
    kind k;
    uint32_t n;
    f->obj = NULL;
    f->rows = NULL;
    int got = header(c, &k, &n);
    if (got < 0) return -1;
    if (got) {
        f->k = k;
        f->p = c->p;
        f->n = n;
        if (k == V_STR) {
            c->p += n;
            return utf8(f->p, n) ? 0 : bail("a string that is not UTF-8");
        }
        return skip(c, k == V_MAP ? 2 * (uint64_t)n : n, !shallow);
    }
    uint8_t b = *c->p;
    if (b <= 0x7f || b >= 0xe0) { /* fixints */
        f->k = V_INT;
        f->i = (int8_t)b;
        c->p += 1;
        return 0;
    }
    size_t size;
    switch (b) {
    case 0xc0: f->k = V_NIL; c->p += 1; return 0;
    case 0xcb: case 0xcf: case 0xd3: size = 8; break;
    case 0xcc: case 0xd0: size = 1; break;
    case 0xcd: case 0xd1: size = 2; break;
    case 0xce: case 0xd2: size = 4; break;
    case 0xc2: case 0xc3: case 0xc4: case 0xc5: case 0xc6: /* bool, bin: not read */
        f->k = V_OTHER;
        return skip(c, 1, 1);
    default: return bail("float32, an extension type or an unused byte");
    }
    if (left(c) < 1 + size) return bail("truncated");
    const uint8_t *x = c->p + 1;
    f->k = V_INT;
    switch (b) {
    case 0xcb: {
        uint64_t bits = be64(x);
        f->k = V_FLOAT;
        memcpy(&f->f, &bits, 8);
        break;
    }
    case 0xcc: f->i = x[0]; break;
    case 0xcd: f->i = be16(x); break;
    case 0xce: f->i = be32(x); break;
    case 0xcf: {
        uint64_t u = be64(x);
        if (u > (uint64_t)INT64_MAX) f->k = V_OTHER; /* the reference's exact Python int */
        else f->i = (long long)u;
        break;
    }
    case 0xd0: f->i = (int8_t)x[0]; break;
    case 0xd1: f->i = (int16_t)be16(x); break;
    case 0xd2: f->i = (int32_t)be32(x); break;
    case 0xd3: f->i = (long long)(int64_t)be64(x); break;
    }
    c->p += 1 + size;
    return 0;
}

/* The pairs of a map whose header was read (a row): the values of `sc`'s keys into out (absent
   unless there), every other value skipped; a key of `sc` twice is Unsupported (msgspec keeps the
   last). */
static int pairs_at(cursor *c, uint32_t count, const schema *sc, field *out) {
    for (int i = 0; i < sc->n; i++) out[i].k = V_ABSENT, out[i].obj = NULL, out[i].rows = NULL;
    for (uint32_t j = 0; j < count; j++) {
        const uint8_t *s;
        uint32_t n;
        if (key_at(c, &s, &n) < 0) return -1;
        int i = 0;
        if (n > 0)
            for (; i < sc->n; i++)
                if (sc->lens[i] == n && same_name(s, sc->names[i], n)) break;
        if (n == 0 || i == sc->n) {
            if (skip(c, 1, 0) < 0) return -1;
            continue;
        }
        if (out[i].k != V_ABSENT) return bail("a map repeats a key");
        if (value_at(c, &out[i], 0) < 0) return -1;
    }
    return 0;
}

/* The rows each of the body's keys holds (wan: its one map), read in the body's walk. */
static const schema *const ROWS_OF[B_N] = {
    [B_WAN] = &WAN, [B_STATIONS] = &STATION, [B_APPS] = &APP, [B_RADIOS] = &RADIO, [B_QUALITY] = &QUALITY,
    [B_NEIGHBOURS] = &NEIGHBOUR,
};
const layout WINDOW = {&BODY, ROWS_OF};

/* A body key's value into f: a list of maps (or wan's map) read row by row into fields the
   source owns, anything else as value_at (the computation then says what it makes of it). */
static int rows_at(source *src, const layout *lay, cursor *c, int key, field *f) {
    const schema *sc = lay->rows_of[key];
    uint8_t b = left(c) ? *c->p : 0;
    int list = (b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd, map = (b & 0xf0) == 0x80 || b == 0xde || b == 0xdf;
    if (sc == NULL || !(sc->map ? map : list)) return value_at(c, f, 1);
    kind k;
    uint32_t n = 0, count = 1;
    const uint8_t *start = c->p;
    if (header(c, &k, &n) < 0) return -1;
    if (list) count = n;
    field *rows = PyMem_Malloc(((size_t)count * sc->n + 1) * sizeof(field));
    if (rows == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    src->rows[key] = rows;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t pairs = n;
        if (list) {
            int got = header(c, &k, &pairs);
            if (got < 0) return -1;
            if (!got || k != V_MAP) return bail("a row that is not a map");
        }
        if (pairs_at(c, pairs, sc, rows + (size_t)i * sc->n) < 0) return -1;
    }
    f->k = list ? V_LIST : V_MAP;
    f->obj = NULL;
    f->p = start;
    f->n = n;
    f->rows = rows;
    f->rows_of = sc;
    return 0;
}

/* The body's pairs, after its map header: the keys the fold declares into out. */
static int body_pairs(source *src, const layout *lay, cursor *c, uint32_t count, field *out) {
    const schema *body = lay->body;
    for (int i = 0; i < body->n; i++) out[i].k = V_ABSENT, out[i].obj = NULL, out[i].rows = NULL;
    for (uint32_t j = 0; j < count; j++) {
        const uint8_t *s;
        uint32_t n;
        if (key_at(c, &s, &n) < 0) return -1;
        int i = 0;
        for (; i < body->n; i++)
            if (body->lens[i] == n && same_name(s, body->names[i], n)) break;
        if (i == body->n) {
            if (skip(c, 1, 0) < 0) return -1;
            continue;
        }
        if (out[i].k != V_ABSENT) return bail("a map repeats a key");
        if (rows_at(src, lay, c, i, &out[i]) < 0) return -1;
    }
    return 0;
}

int body_of_packed(source *src, const uint8_t *data, Py_ssize_t size, field *out) {
    return body_of_packed_as(src, &WINDOW, data, size, out);
}

int body_of_packed_as(source *src, const layout *lay, const uint8_t *data, Py_ssize_t size, field *out) {
    cursor c = {data, data + size};
    src->packed = 1;
    src->end = c.end;
    kind k;
    uint32_t n;
    int got = header(&c, &k, &n), seen = 0;
    if (got < 0) return -1;
    if (!got || k != V_MAP) return bail("an envelope that is not a map");
    for (uint32_t j = 0; j < n; j++) {
        const uint8_t *s;
        uint32_t len, count;
        if (key_at(&c, &s, &len) < 0) return -1;
        if (len != 4 || memcmp(s, "body", 4) != 0) {
            if (skip(&c, 1, 0) < 0) return -1;
            continue;
        }
        if (seen++) return bail("a map repeats a key");
        got = header(&c, &k, &count);
        if (got < 0) return -1;
        if (!got || k != V_MAP) return bail("a body that is not a map");
        if (body_pairs(src, lay, &c, count, out) < 0) return -1;
    }
    if (c.p != c.end) return bail("trailing bytes");
    return seen ? 0 : bail("no body");
}

/* -- lists and rows ---------------------------------------------------------------------------- */

int fields_of(source *src, const field *map, const schema *sc, field *out) {
    if (!present(map)) {
        for (int i = 0; i < sc->n; i++) out[i].k = V_ABSENT, out[i].obj = NULL;
        return 0;
    }
    if (map->k != V_MAP) return bail("not a map");
    if (!src->packed) return fields_of_dict(map->obj, sc, out);
    if (map->rows != NULL) {
        if (map->rows_of != sc) return bail("read as another kind of row");
        memcpy(out, map->rows, (size_t)sc->n * sizeof(field));
        return 0;
    }
    cursor c = {map->p, src->end};
    return pairs_at(&c, map->n, sc, out);
}

int items_open(source *src, const field *list, items *it) {
    it->src = src;
    it->list = list;
    it->k = 0;
    it->n = 0;
    it->p = NULL;
    if (!present(list)) return 0;
    if (list->k != V_LIST) return bail("not a list");
    if (src->packed) {
        it->n = list->n;
        it->p = list->p;
    } else {
        it->n = (uint32_t)PyList_GET_SIZE(list->obj);
    }
    return 0;
}

int next_item(items *it, field *out) {
    if (it->k >= it->n) return 0;
    if (!it->src->packed) {
        if ((Py_ssize_t)it->k >= PyList_GET_SIZE(it->list->obj)) return 0; /* a list shortened meanwhile */
        field_of_object(PyList_GET_ITEM(it->list->obj, it->k++), out);
        return 1;
    }
    cursor c = {it->p, it->src->end};
    if (value_at(&c, out, 0) < 0) return -1;
    it->p = c.p;
    it->k++;
    return 1;
}

int next_row(items *it, const schema *sc, field *out) {
    if (it->k >= it->n) return 0;
    if (!it->src->packed) {
        if ((Py_ssize_t)it->k >= PyList_GET_SIZE(it->list->obj)) return 0;
        PyObject *row = PyList_GET_ITEM(it->list->obj, it->k++);
        if (!PyDict_CheckExact(row)) return bail("a row that is not a dict");
        return fields_of_dict(row, sc, out) < 0 ? -1 : 1;
    }
    if (it->list->rows != NULL) { /* read with the body */
        if (it->list->rows_of != sc) return bail("read as another kind of row");
        memcpy(out, it->list->rows + (size_t)it->k++ * sc->n, (size_t)sc->n * sizeof(field));
        return 1;
    }
    cursor c = {it->p, it->src->end};
    kind k;
    uint32_t n;
    int got = header(&c, &k, &n);
    if (got < 0) return -1;
    if (!got || k != V_MAP) return bail("a row that is not a map");
    if (pairs_at(&c, n, sc, out) < 0) return -1;
    it->p = c.p;
    it->k++;
    return 1;
}

/* -- strings ----------------------------------------------------------------------------------- */

static int keep(source *src, PyObject *s) {
    /* the call owns what it made until source_done (a cache slot may be taken meanwhile) */
    if (src->n_made == src->cap_made) {
        Py_ssize_t cap = src->cap_made ? 2 * src->cap_made : 64;
        PyObject **grown = PyMem_Realloc(src->made, (size_t)cap * sizeof(PyObject *));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        src->made = grown;
        src->cap_made = cap;
    }
    src->made[src->n_made++] = s;
    return 0;
}

PyObject *get_str(source *src, const field *f, PyObject *empty) {
    if (!present(f)) return empty;
    if (f->k != V_STR) {
        bail("not a str");
        return NULL;
    }
    if (f->obj != NULL) return f->obj;
    PyObject *s = NULL;
    uint32_t slot = 0;
    if (f->n <= CACHED_LEN) {
        slot = hash_of(f->p, f->n) & (CACHE - 1);
        PyObject *have = cache[slot];
        Py_ssize_t len = 0;
        const char *text = have == NULL                     ? NULL
                           : PyUnicode_IS_COMPACT_ASCII(have) ? (len = PyUnicode_GET_LENGTH(have), PyUnicode_DATA(have))
                                                              : PyUnicode_AsUTF8AndSize(have, &len);
        if (text != NULL && (uint32_t)len == f->n && memcmp(text, f->p, f->n) == 0) s = Py_NewRef(have);
    }
    if (s == NULL) {
        s = PyUnicode_DecodeUTF8((const char *)f->p, f->n, "strict");
        if (s == NULL) return NULL;
        if (f->n <= CACHED_LEN) Py_XSETREF(cache[slot], Py_NewRef(s));
    }
    if (keep(src, s) < 0) {
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

void source_done(source *src) {
    for (int i = 0; i < MAX_FIELDS; i++) {
        PyMem_Free(src->rows[i]);
        src->rows[i] = NULL;
    }
    for (Py_ssize_t i = 0; i < src->n_made; i++) Py_DECREF(src->made[i]);
    PyMem_Free(src->made);
    src->made = NULL;
    src->n_made = src->cap_made = 0;
}
