/* What _window.c reads of a report body, from either of its two sources (_window_read.c).

   The fold's computation (_window.c) is written once, against `field`s: the values of the keys a
   body's rows declare (rollup.WindowBody), read from

     - a decoded body (dicts, lists, strs ... as msgspec built them: rollup.decode_window_body),
       the source window() reads; or
     - the report's unframed msgpack itself (SpooledMessage.packed), the source window_packed()
       reads: no Python object is built but the strings the result keeps.

   Both sources give the same field for the same value, so the computation cannot tell them apart.
   The packed reader accepts only what it can give exactly as msgspec would decode it (canonical or
   not: msgpack's ints, float64, nil, UTF-8 strings, arrays and maps with string keys, no key of a
   read map repeated, nothing truncated or trailing); anything else is Unsupported, and the caller
   decodes the body the reference way, which decides. */

#ifndef HOMESCOPE_WINDOW_READ_H
#define HOMESCOPE_WINDOW_READ_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

extern PyObject *Unsupported;

/* Unsupported: the caller runs the reference (always -1, so the compiler sees every bail fail). */
static inline int bail(const char *why) {
    PyErr_SetString(Unsupported, why);
    return -1;
}

/* What a value is. ABSENT and NIL both read as absent (`d.get(k)` is None); only `k in d` tells
   them apart. OTHER is a value of a type the fold does not read (bool, bytes, ext, a map where a
   list is read ...): reading it is Unsupported, skipping it is not. */
typedef enum { V_ABSENT, V_NIL, V_INT, V_FLOAT, V_STR, V_LIST, V_MAP, V_OTHER } kind;

typedef struct field_s {
    kind k;
    long long i;      /* V_INT (an int past int64 is V_OTHER) */
    double f;         /* V_FLOAT */
    PyObject *obj;    /* decoded source: the value (borrowed from the body) */
    const uint8_t *p; /* packed source: a string's bytes, a container's first item */
    uint32_t n;       /* packed source: a string's length, a container's item count */
    /* packed source, the body's lists of rows (and its wan map): their fields, read in the one
       walk over the body (rows_of's fields per row) */
    const struct field_s *rows;
    const struct schema_s *rows_of;
} field;

static inline int present(const field *f) { return f->k != V_ABSENT && f->k != V_NIL; }

#define MAX_FIELDS 16

/* The keys a kind of row declares, in the order of its fields' indexes (names below). */
typedef struct schema_s {
    const char *section; /* its path in rollup.WindowBody ("stations[]"), for packed_reads() */
    int n;
    const char *const *names;
    PyObject **keys; /* interned once (schema_init) */
    uint32_t lens[MAX_FIELDS]; /* the names' lengths (schema_init) */
    int map; /* as a body key's rows: one map (wan), not a list of them */
} schema;

/* What a reader reads of a body: its keys, and for each the schema of its rows (NULL: a value). */
typedef struct {
    const schema *body;
    const schema *const *rows_of; /* indexed as body's keys */
} layout;

enum { B_WAN, B_STATIONS, B_APPS, B_RADIOS, B_QUALITY, B_NEIGHBOURS, B_TOPOLOGY, B_UNCLASSIFIED, B_N };
enum { W_ONLINE_S, W_OFFLINE_S, W_PLAN_DOWN_KBPS, W_N };
enum {
    S_MAC, S_HOSTNAME, S_VENDOR, S_MEDIUM, S_SIGNAL_DBM, S_TX_RATE_KBPS, S_PACKETS_SENT, S_RETRANSMISSIONS,
    S_DELAY_MS, S_LOSS_PCT, S_REACHABLE_KBPS, S_DHCP_VC, S_DHCP_PRL, S_N
};
enum { A_STATION, A_CATEGORY, A_BYTES_DOWN, A_BYTES_UP, A_ACTIVE_MINUTES, A_TOP_APPS, A_N };
enum { R_BAND, R_INTERFERENCE_PCT, R_UTILIZATION_PCT, R_N };
enum { Q_TARGET, Q_DELAY_MS, Q_DELAY_MAX_MS, Q_JITTER_MS, Q_LOSS_PCT, Q_BANDWIDTH_KBPS, Q_N };
enum { N_OPERATOR, N_SSID, N_SIGNAL_DBM, N_N };

extern schema BODY, WAN, STATION, APP, RADIO, QUALITY, NEIGHBOUR;
extern const layout WINDOW; /* the fold's */

/* One call's source: which one, and the strings made from the packed one (owned until done). */
typedef struct {
    int packed;
    const uint8_t *end; /* packed: the message's end */
    field *rows[MAX_FIELDS]; /* packed: the fields of the body's rows (owned) */
    PyObject **made;
    Py_ssize_t n_made, cap_made;
} source;

/* The body's fields: from a decoded body (a dict) or from a report's msgpack (its "body"). */
int body_of_dict(PyObject *body, field *out);
int body_of_packed(source *src, const uint8_t *data, Py_ssize_t size, field *out);
/* The same for another reader's layout (collector/store/_plan.c): out has a field per body key. */
int body_of_packed_as(source *src, const layout *lay, const uint8_t *data, Py_ssize_t size, field *out);
void source_done(source *src);

/* A map's fields (all absent when it is absent or None; Unsupported when it is not a map). */
int fields_of(source *src, const field *map, const schema *sc, field *out);

/* A list's length (0 when absent or None; only for a V_LIST otherwise). */
static inline Py_ssize_t list_len(const field *f) {
    return !present(f) ? 0 : f->obj != NULL ? PyList_GET_SIZE(f->obj) : (Py_ssize_t)f->n;
}

/* A list's items: absent or nil has none; anything but a list is Unsupported. */
typedef struct {
    source *src;
    const field *list;
    uint32_t k, n;
    const uint8_t *p; /* packed: the next item */
} items;

int items_open(source *src, const field *list, items *it);
/* The next item, a row (a map) of `sc`'s fields (1), or the end (0), or -1 (not a map ...). */
int next_row(items *it, const schema *sc, field *out);
/* The next item as a field (1), or the end (0), or -1. */
int next_item(items *it, field *out);

/* -- reading a field as the reference reads it ------------------------------------------------- */


/* An int: 1 present, 0 absent/None, -1 Unsupported (a float, a bool, past int64 ...). */
static inline int get_int(const field *f, long long *out) {
    if (!present(f)) return 0;
    if (f->k != V_INT) return bail("not an int");
    *out = f->i;
    return 1;
}

#define EXACT (1LL << 53) /* ints up to this convert to double exactly */

/* A number as the reference's float(x) sees it: ints only where they convert exactly. */
static inline int get_num(const field *f, double *out) {
    if (!present(f)) return 0;
    if (f->k == V_FLOAT) {
        *out = f->f;
        return 1;
    }
    if (f->k != V_INT) return bail("not a number");
    if (f->i > EXACT || f->i < -EXACT) return bail("int past 2**53");
    *out = (double)f->i;
    return 1;
}

/* A str's length in code points is 0 exactly when its UTF-8 is: whether `x or ""` is "". */
static inline int str_empty(const field *f) {
    return f->obj != NULL ? PyUnicode_GET_LENGTH(f->obj) == 0 : f->n == 0;
}

/* A str value as a Python str (borrowed: the body's, or one this call keeps); "" (the reference's
   `x or ""`) when absent or None; NULL with Unsupported for other types. */
PyObject *get_str(source *src, const field *f, PyObject *empty);

/* The paths of every key the packed reader reads (rollup.WindowBody's form: "stations[].mac"). */
PyObject *packed_reads(void);
/* Intern a schema's keys and note their lengths (once, before it is read with). */
int schema_init(schema *sc);
int read_init(void);

#endif
