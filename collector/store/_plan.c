/* collector.store._plan: what the ingest plan reads of a report, and the deltas it computes, in C.

   plan.py's per-report work (plan_input.plan_body, counters_of, _deltas, the apps' sums and
   their JSON) was about half of the store writer process's CPU. report(packed, previous,
   rebooted) reads the report's unframed msgpack itself through the fold's reader
   (collector/profiles/_window_read.c, here with the plan's own layout), reads the gateway's
   stored counters from their JSON text (`previous`), and returns what plan.py's reference
   (plan._figures_of) gives for the same report: the counters and the deltas and apps as the JSON
   msgspec writes, the interfaces' deltas as a dict too. Nothing with a float is computed here:
   rates and the memory figure stay in plan.py, so no float is rounded twice in two languages.

   Unsupported is raised for anything this does not promise to reproduce exactly (a value of a type
   a validated report does not have, a counter that went down, a sum past int64, msgpack the reader
   does not take, a stored counter that is not an int ...): the caller then runs the reference,
   which decides (the same result, or the same error). */

#include "../profiles/_window_read.h"

#include "../byte_buffer.h"
#include "../msgpack_bytes.h"

#include <limits.h>
#include <string.h>

/* -- the plan's layout --------------------------------------------------------------------------- */

enum { P_SYSTEM, P_WAN, P_INTERFACES, P_STATIONS, P_APPS, P_N };
enum { Y_CPU, Y_TOTAL, Y_AVAILABLE, Y_FREE, Y_N };
enum { PW_INTERFACE, PW_N };
enum { I_NAME, I_ROLE, I_RX, I_TX, I_N };
enum { T_MAC, T_RX, T_TX, T_RETX, T_SIGNAL, T_N };
enum { AP_CATEGORY, AP_DOWN, AP_UP, AP_MINUTES, AP_N };

static const char *const body_names[] = {"system", "wan", "interfaces", "stations", "apps"};
static const char *const system_names[] = {"cpu_usage_pct", "memory_total_kib", "memory_available_kib",
                                           "memory_free_kib"};
static const char *const wan_names[] = {"interface"};
static const char *const interface_names[] = {"name", "role", "bytes_received", "bytes_sent"};
static const char *const station_names[] = {"mac", "bytes_received", "bytes_sent", "retransmissions", "signal_dbm"};
static const char *const app_names[] = {"category", "bytes_down", "bytes_up", "active_minutes"};
static PyObject *body_keys[P_N], *system_keys[Y_N], *wan_keys[PW_N], *interface_keys[I_N], *station_keys[T_N],
    *app_keys[AP_N];

static schema P_BODY = {"", P_N, body_names, body_keys, {0}, 0};
static schema P_SYSTEM_ROW = {"system.", Y_N, system_names, system_keys, {0}, 1};
static schema P_WAN_ROW = {"wan.", PW_N, wan_names, wan_keys, {0}, 1};
static schema P_INTERFACE = {"interfaces[].", I_N, interface_names, interface_keys, {0}, 0};
static schema P_STATION = {"stations[].", T_N, station_names, station_keys, {0}, 0};
static schema P_APP = {"apps[].", AP_N, app_names, app_keys, {0}, 0};
static const schema *const ROWS[P_N] = {
    [P_SYSTEM] = &P_SYSTEM_ROW, [P_WAN] = &P_WAN_ROW, [P_INTERFACES] = &P_INTERFACE, [P_STATIONS] = &P_STATION,
    [P_APPS] = &P_APP,
};
static const layout PLAN = {&P_BODY, ROWS};

static PyObject *empty, *unset;

/* -- values as msgspec decodes them (Any) -------------------------------------------------------- */

/* A field as a new reference: ints, floats, None and strs (absent: `absent`); anything else Unsupported. */
static PyObject *object_of(source *src, const field *f, PyObject *absent) {
    switch (f->k) {
    case V_ABSENT: return Py_NewRef(absent);
    case V_NIL: Py_RETURN_NONE;
    case V_INT: return PyLong_FromLongLong(f->i);
    case V_FLOAT: return PyFloat_FromDouble(f->f);
    case V_STR: {
        PyObject *s = get_str(src, f, empty);
        return s == NULL ? NULL : Py_NewRef(s);
    }
    default: bail("a value of another type"); return NULL;
    }
}

/* A counter: an int, 0 when absent (the Struct's default); `or_zero` also reads None as 0 (`x or 0`). */
static int counter(const field *f, int or_zero, long long *out) {
    if (f->k == V_ABSENT || (or_zero && f->k == V_NIL)) {
        *out = 0;
        return 0;
    }
    if (f->k != V_INT) return bail("a counter that is not an int");
    *out = f->i;
    return 0;
}

/* -- keyed items: a dict of lists of ints, in first-seen order, the last value of a repeated key -- */

#define WIDTH 4 /* ints per item at most (interfaces 2, stations and apps 3) */

typedef struct {
    const uint8_t *key; /* UTF-8, not NUL-terminated */
    uint32_t len, hash;
    int n;
    long long v[WIDTH];
} item;

typedef struct {
    item *at;
    int n, cap;
    int *slots; /* open addressing over `at` (index + 1; 0 empty) */
    int mask;
} items_of;

static int set_open(items_of *s, int most) {
    s->n = 0;
    s->cap = most > 0 ? most : 1;
    int size = 8;
    while (size < 2 * s->cap) size *= 2;
    s->mask = size - 1;
    s->at = PyMem_Malloc((size_t)s->cap * sizeof(item));
    s->slots = PyMem_Calloc((size_t)size, sizeof(int));
    if (s->at == NULL || s->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void set_close(items_of *s) {
    PyMem_Free(s->at);
    PyMem_Free(s->slots);
    s->at = NULL;
    s->slots = NULL;
}

/* The item of key, or NULL (with `add`: a new one at the end, its values unset; n counts items). */
static item *set_find(items_of *s, const uint8_t *key, uint32_t len, int add) {
    uint32_t h = hash_of(key, len);
    for (int i = (int)(h & (uint32_t)s->mask);; i = (i + 1) & s->mask) {
        int k = s->slots[i];
        if (k == 0) {
            if (!add || s->n >= s->cap) return NULL;
            item *it = &s->at[s->n++];
            s->slots[i] = s->n;
            it->key = key;
            it->len = len;
            it->hash = h;
            it->n = 0;
            return it;
        }
        item *it = &s->at[k - 1];
        if (it->hash == h && it->len == len && memcmp(it->key, key, len) == 0) return it;
    }
}

/* -- JSON as msgspec writes it (compact; strs as UTF-8, only ", \ and control characters escaped) -- */

typedef byte_buffer text;  /* ../byte_buffer.h */

static int put_int(text *t, long long v) {
    char tmp[24];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10); while ((u /= 10) != 0);
    if (v < 0) tmp[sizeof tmp - 1 - n++] = '-';
    return buffer_put(t, tmp + sizeof tmp - n, (size_t)n);
}

/* A key needing no escape (else Unsupported: the reference writes it). */
static int put_key(text *t, const item *it) {
    for (uint32_t j = 0; j < it->len; j++) {
        uint8_t b = it->key[j];
        if (b < 0x20 || b == '"' || b == '\\') return bail("a key JSON escapes");
    }
    if (buffer_grow(t, it->len + 3) < 0) return -1;
    t->buf[t->len++] = '"';
    memcpy(t->buf + t->len, it->key, it->len);
    t->len += it->len;
    t->buf[t->len++] = '"';
    t->buf[t->len++] = ':';
    return 0;
}

static int put_values(text *t, const long long *v, int n) {
    if (buffer_put(t, "[", 1) < 0) return -1;
    for (int j = 0; j < n; j++)
        if ((j && buffer_put(t, ",", 1) < 0) || put_int(t, v[j]) < 0) return -1;
    return buffer_put(t, "]", 1);
}

/* {key:[ints],...} of a set's items in order. */
static int put_items(text *t, const items_of *s) {
    if (buffer_put(t, "{", 1) < 0) return -1;
    for (int i = 0; i < s->n; i++)
        if ((i && buffer_put(t, ",", 1) < 0) || put_key(t, &s->at[i]) < 0 || put_values(t, s->at[i].v, s->at[i].n) < 0)
            return -1;
    return buffer_put(t, "}", 1);
}

static PyObject *str_of(const text *t) {
    return PyUnicode_DecodeUTF8(t->buf != NULL ? t->buf : "", (Py_ssize_t)t->len, "strict");
}

/* -- the stored counters' JSON, as this module (or msgspec) wrote it: {"if":{..},"st":{..}} ------ */

typedef struct {
    const uint8_t *p, *end;
} reader;

static int ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')) r->p++;
    return r->p < r->end;
}

static int expect(reader *r, char ch) {
    if (!ws(r) || *r->p != (uint8_t)ch) return bail("stored counters this does not read");
    r->p++;
    return 0;
}

static int json_key(reader *r, const uint8_t **s, uint32_t *n) {
    if (expect(r, '"') < 0) return -1;
    const uint8_t *start = r->p;
    while (r->p < r->end && *r->p != '"') {
        if (*r->p == '\\') return bail("a stored key with an escape");
        r->p++;
    }
    if (r->p >= r->end) return bail("stored counters cut short");
    *s = start;
    *n = (uint32_t)(r->p - start);
    r->p++;
    return expect(r, ':');
}

static int json_int(reader *r, long long *out) {
    if (!ws(r)) return bail("stored counters cut short");
    int neg = *r->p == '-';
    r->p += neg;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9') return bail("a stored counter that is not an int");
    unsigned long long u = 0;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        if (u > (ULLONG_MAX - 9) / 10) return bail("a stored counter past int64");
        u = u * 10 + (unsigned long long)(*r->p++ - '0');
    }
    if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E')) return bail("a stored counter that is not an int");
    if (u > (unsigned long long)LLONG_MAX) return bail("a stored counter past int64");
    *out = neg ? -(long long)u : (long long)u;
    return 0;
}

/* {"key":[ints],...} into s (a repeated key: the last one, as json.loads and msgspec keep). */
static int json_items(reader *r, items_of *s) {
    if (expect(r, '{') < 0) return -1;
    if (ws(r) && *r->p == '}') return r->p++, 0;
    for (;;) {
        const uint8_t *key;
        uint32_t len;
        if (json_key(r, &key, &len) < 0 || expect(r, '[') < 0) return -1;
        item *it = set_find(s, key, len, 1);
        if (it == NULL) return bail("more stored counters than expected");
        it->n = 0;
        if (ws(r) && *r->p == ']') {
            r->p++;
        } else {
            for (;;) {
                if (it->n >= WIDTH) return bail("a stored item with too many counters");
                if (json_int(r, &it->v[it->n++]) < 0) return -1;
                if (!ws(r)) return bail("stored counters cut short");
                if (*r->p == ',') { r->p++; continue; }
                if (expect(r, ']') < 0) return -1;
                break;
            }
        }
        if (!ws(r)) return bail("stored counters cut short");
        if (*r->p == ',') { r->p++; continue; }
        return expect(r, '}');
    }
}

/* How many "key":[ entries a JSON object text could hold at most (a bound for the set's size). */
static int json_bound(const uint8_t *p, const uint8_t *end) {
    int n = 0;
    for (; p < end; p++) n += *p == '[';
    return n;
}

static int read_previous(PyObject *previous, items_of *was_if, items_of *was_st) {
    Py_ssize_t size;
    const char *s = PyUnicode_AsUTF8AndSize(previous, &size);
    if (s == NULL) return -1;
    reader r = {(const uint8_t *)s, (const uint8_t *)s + size};
    int bound = json_bound(r.p, r.end);
    if (set_open(was_if, bound) < 0 || set_open(was_st, bound) < 0) return -1;
    if (expect(&r, '{') < 0) return -1;
    if (ws(&r) && *r.p == '}') return r.p++, 0; /* {} */
    int seen_if = 0, seen_st = 0;
    for (;;) {
        const uint8_t *key;
        uint32_t len;
        if (json_key(&r, &key, &len) < 0) return -1;
        int is_if = len == 2 && memcmp(key, "if", 2) == 0, is_st = len == 2 && memcmp(key, "st", 2) == 0;
        if (!(is_if ? !seen_if++ : is_st ? !seen_st++ : 0)) return bail("stored counters with other keys");
        if (json_items(&r, is_if ? was_if : was_st) < 0) return -1;
        if (!ws(&r)) return bail("stored counters cut short");
        if (*r.p == ',') { r.p++; continue; }
        if (expect(&r, '}') < 0) return -1;
        break;
    }
    if (ws(&r)) return bail("bytes after the stored counters");
    return 0;
}

/* plan._deltas of one part as JSON (and, for interfaces, as a dict for the rates): the new
   counters against the stored ones, in the new counters' order; a key seen for the first time has
   none; a counter that went down is Unsupported (counter_delta decides, in the reference). */
static int put_deltas(text *t, const items_of *now, const items_of *was, int rebooted, PyObject *as_dict) {
    int first = 1;
    if (buffer_put(t, "{", 1) < 0) return -1;
    for (int i = 0; was != NULL && i < now->n; i++) {
        const item *cur = &now->at[i];
        const item *old = set_find((items_of *)was, cur->key, cur->len, 0);
        if (old == NULL) continue;
        long long d[WIDTH];
        int k = old->n < cur->n ? old->n : cur->n;
        for (int j = 0; j < k; j++) {
            if (rebooted) { /* counted since the reboot: values[: len(old)] */
                d[j] = cur->v[j];
            } else {
                if (__builtin_sub_overflow(cur->v[j], old->v[j], &d[j])) return bail("a delta past int64");
                if (d[j] < 0) return bail("a counter that went down");
            }
        }
        if ((!first && buffer_put(t, ",", 1) < 0) || put_key(t, cur) < 0 || put_values(t, d, k) < 0) return -1;
        first = 0;
        if (as_dict != NULL) {
            PyObject *key = PyUnicode_DecodeUTF8((const char *)cur->key, cur->len, "strict"), *values = PyList_New(k);
            for (int j = 0; values != NULL && j < k; j++) {
                PyObject *x = PyLong_FromLongLong(d[j]);
                if (x == NULL) Py_CLEAR(values);
                else PyList_SET_ITEM(values, j, x);
            }
            int r = key == NULL || values == NULL ? -1 : PyDict_SetItem(as_dict, key, values);
            Py_XDECREF(key);
            Py_XDECREF(values);
            if (r < 0) return -1;
        }
    }
    return buffer_put(t, "}", 1);
}

/* -- the result ---------------------------------------------------------------------------------- */

static PyStructSequence_Field figure_fields[] = {
    {"counters", "the next report's baseline, as stored: {\"if\": {name: [rx, tx]}, \"st\": {mac: [rx, tx, retx]}}"},
    {"wifi", "stations with a signal"},
    {"weak", "of those, under plan.WEAK_SIGNAL_DBM"},
    {"stations", "station rows"},
    {"if_delta", "per interface: the counters' deltas since `previous` (a dict)"},
    {"if_deltas", "the same as JSON"},
    {"st_deltas", "per station: the same, as JSON"},
    {"apps", "per category: [bytes_down, bytes_up, most active minutes], as JSON"},
    {"system", "(cpu_usage_pct, memory_total_kib, memory_available_kib or UNSET, memory_free_kib), or None"},
    {"wan_named", "wan.interface, or None"},
    {"wan_by_role", "the first interface whose role is 'wan', or None"},
    {NULL, NULL},
};
static PyStructSequence_Desc figures_desc = {"collector.store._plan.Figures", NULL, figure_fields, 11};
static PyTypeObject *Figures;

static long weak_dbm = -75;

typedef struct {
    items_of now_if, now_st, apps, was_if, was_st;
    text out;
} work;

static void work_done(work *w) {
    set_close(&w->now_if);
    set_close(&w->now_st);
    set_close(&w->apps);
    set_close(&w->was_if);
    set_close(&w->was_st);
    PyMem_Free(w->out.buf);
}

/* Set item i of fig to the text written so far (a new str), and start the next one. */
static int take_text(work *w, PyObject *fig, int i) {
    PyObject *s = str_of(&w->out);
    w->out.len = 0;
    if (s == NULL) return -1;
    PyStructSequence_SET_ITEM(fig, i, s);
    return 0;
}

static int read_report(source *src, const field *b, PyObject *previous, int rebooted, PyObject *fig, work *w) {
    for (int i = P_INTERFACES; i <= P_APPS; i++)
        if (b[i].k != V_ABSENT && b[i].k != V_LIST) return bail("a list of rows that is not a list");
    if (previous != Py_None && !PyUnicode_Check(previous)) return bail("stored counters that are not a str");
    if (set_open(&w->now_if, (int)list_len(&b[P_INTERFACES])) < 0 || set_open(&w->now_st, (int)list_len(&b[P_STATIONS])) < 0 ||
        set_open(&w->apps, (int)list_len(&b[P_APPS])) < 0)
        return -1;

    /* interfaces: {name: [rx, tx]}, and the first one whose role is "wan" */
    items it;
    field r[MAX_FIELDS];
    PyObject *by_role = Py_None;
    int got;
    if (items_open(src, &b[P_INTERFACES], &it) < 0) return -1;
    while ((got = next_row(&it, &P_INTERFACE, r)) > 0) {
        if (r[I_NAME].k != V_STR) return bail("an interface name that is not a str");
        item *x = set_find(&w->now_if, r[I_NAME].p, r[I_NAME].n, 1);
        if (x == NULL) return bail("more interfaces than rows");
        x->n = 2;
        if (counter(&r[I_RX], 0, &x->v[0]) < 0 || counter(&r[I_TX], 0, &x->v[1]) < 0) return -1;
        if (by_role == Py_None && r[I_ROLE].k == V_STR && r[I_ROLE].n == 3 && memcmp(r[I_ROLE].p, "wan", 3) == 0)
            if ((by_role = get_str(src, &r[I_NAME], empty)) == NULL) return -1;
    }
    if (got < 0) return -1;
    PyStructSequence_SET_ITEM(fig, 10, Py_NewRef(by_role));

    /* stations: {mac: [rx, tx, retransmissions]} (`or 0`), and how many on Wi-Fi and weak */
    long wifi = 0, weak = 0, stations = 0;
    if (items_open(src, &b[P_STATIONS], &it) < 0) return -1;
    while ((got = next_row(&it, &P_STATION, r)) > 0) {
        stations++;
        if (r[T_MAC].k != V_STR) return bail("a mac that is not a str");
        item *x = set_find(&w->now_st, r[T_MAC].p, r[T_MAC].n, 1);
        if (x == NULL) return bail("more stations than rows");
        x->n = 3;
        if (counter(&r[T_RX], 1, &x->v[0]) < 0 || counter(&r[T_TX], 1, &x->v[1]) < 0 ||
            counter(&r[T_RETX], 1, &x->v[2]) < 0)
            return -1;
        double signal;
        int has = get_num(&r[T_SIGNAL], &signal);
        if (has < 0) return -1;
        if (has) {
            wifi++;
            weak += signal < (double)weak_dbm;
        }
    }
    if (got < 0) return -1;
    PyStructSequence_SET_ITEM(fig, 1, PyLong_FromLong(wifi));
    PyStructSequence_SET_ITEM(fig, 2, PyLong_FromLong(weak));
    PyStructSequence_SET_ITEM(fig, 3, PyLong_FromLong(stations));
    if (PyErr_Occurred()) return -1;

    /* the counters as stored, then the deltas against the stored ones */
    if (buffer_put(&w->out, "{\"if\":", 6) < 0 || put_items(&w->out, &w->now_if) < 0 || buffer_put(&w->out, ",\"st\":", 6) < 0 ||
        put_items(&w->out, &w->now_st) < 0 || buffer_put(&w->out, "}", 1) < 0 || take_text(w, fig, 0) < 0)
        return -1;
    int have = previous != Py_None;
    if (have && read_previous(previous, &w->was_if, &w->was_st) < 0) return -1;
    PyObject *if_delta = PyDict_New();
    PyStructSequence_SET_ITEM(fig, 4, if_delta);
    if (if_delta == NULL || put_deltas(&w->out, &w->now_if, have ? &w->was_if : NULL, rebooted, if_delta) < 0 ||
        take_text(w, fig, 5) < 0 || put_deltas(&w->out, &w->now_st, have ? &w->was_st : NULL, rebooted, NULL) < 0 ||
        take_text(w, fig, 6) < 0)
        return -1;

    /* apps: per category, bytes summed and the most active minutes */
    if (items_open(src, &b[P_APPS], &it) < 0) return -1;
    while ((got = next_row(&it, &P_APP, r)) > 0) {
        long long down, up, minutes;
        if (r[AP_CATEGORY].k != V_STR) return bail("a category that is not a str");
        if (counter(&r[AP_DOWN], 0, &down) < 0 || counter(&r[AP_UP], 0, &up) < 0 ||
            counter(&r[AP_MINUTES], 0, &minutes) < 0)
            return -1;
        item *x = set_find(&w->apps, r[AP_CATEGORY].p, r[AP_CATEGORY].n, 1);
        if (x == NULL) return bail("more categories than rows");
        if (x->n == 0) {
            x->n = 3;
            x->v[0] = x->v[1] = x->v[2] = 0;
        }
        if (__builtin_add_overflow(x->v[0], down, &x->v[0]) || __builtin_add_overflow(x->v[1], up, &x->v[1]))
            return bail("a sum past int64");
        if (minutes > x->v[2]) x->v[2] = minutes;
    }
    if (got < 0 || put_items(&w->out, &w->apps) < 0 || take_text(w, fig, 7) < 0) return -1;

    /* system (None when absent or None) and wan.interface, as msgspec gives them */
    field s[MAX_FIELDS];
    if (b[P_SYSTEM].k == V_ABSENT || b[P_SYSTEM].k == V_NIL) {
        PyStructSequence_SET_ITEM(fig, 8, Py_NewRef(Py_None));
    } else {
        if (fields_of(src, &b[P_SYSTEM], &P_SYSTEM_ROW, s) < 0) return -1;
        PyObject *system = PyTuple_New(4);
        PyStructSequence_SET_ITEM(fig, 8, system);
        if (system == NULL) return -1;
        for (int j = 0; j < Y_N; j++) {
            PyObject *x = object_of(src, &s[j], j == Y_AVAILABLE ? unset : Py_None);
            if (x == NULL) return -1;
            PyTuple_SET_ITEM(system, j, x);
        }
    }
    PyObject *named = Py_None;
    if (b[P_WAN].k != V_ABSENT && b[P_WAN].k != V_NIL) {
        if (fields_of(src, &b[P_WAN], &P_WAN_ROW, s) < 0) return -1;
        if ((named = object_of(src, &s[PW_INTERFACE], Py_None)) == NULL) return -1;
        PyStructSequence_SET_ITEM(fig, 9, named);
    } else {
        PyStructSequence_SET_ITEM(fig, 9, Py_NewRef(Py_None));
    }
    return 0;
}

static PyObject *report(PyObject *self, PyObject *args) {
    Py_buffer packed;
    PyObject *previous;
    int rebooted;
    if (unset == NULL) return PyErr_Format(Unsupported, "configure() first");
    if (!PyArg_ParseTuple(args, "y*Op", &packed, &previous, &rebooted)) return NULL;
    PyObject *fig = PyStructSequence_New(Figures);
    source src = {0};
    work w = {0};
    field b[MAX_FIELDS];
    if (fig != NULL && (body_of_packed_as(&src, &PLAN, packed.buf, packed.len, b) < 0 ||
                        read_report(&src, b, previous, rebooted, fig, &w) < 0)) {
        Py_CLEAR(fig); /* its unset items are NULL: the struct sequence's dealloc skips them */
    }
    work_done(&w);
    source_done(&src);
    PyBuffer_Release(&packed);
    return fig;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *unset_obj;
    if (!PyArg_ParseTuple(args, "Ol", &unset_obj, &weak_dbm)) return NULL;
    Py_XSETREF(unset, Py_NewRef(unset_obj));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"report", report, METH_VARARGS,
     "report(packed, previous, rebooted) -> Figures: what plan.py reads of a report's unframed msgpack, with the "
     "deltas against `previous` (a gateway's stored counters, or None for none)"},
    {"configure", configure, METH_VARARGS,
     "configure(unset, weak_signal_dbm): the absent memory_available_kib, and the weak signal's bound"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_plan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__plan(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Unsupported = PyErr_NewException("collector.store._plan.Unsupported", PyExc_ValueError, NULL);
    Figures = PyStructSequence_NewType(&figures_desc);
    empty = PyUnicode_InternFromString("");
    static schema *const schemas[] = {&P_BODY, &P_SYSTEM_ROW, &P_WAN_ROW, &P_INTERFACE, &P_STATION, &P_APP};
    int ok = Unsupported != NULL && Figures != NULL && empty != NULL;
    for (size_t i = 0; ok && i < sizeof schemas / sizeof *schemas; i++) ok = schema_init(schemas[i]) == 0;
    if (!ok || PyModule_AddObject(m, "Unsupported", Py_NewRef(Unsupported)) < 0 ||
        PyModule_AddObject(m, "Figures", Py_NewRef((PyObject *)Figures)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
