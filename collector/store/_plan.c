/* collector.store._plan: what the ingest plan reads of a report, and the deltas it computes, in C.

   plan.py's per-report work (plan_input.plan_body, counters_of, _deltas and the apps' sums) was
   about half of the store writer process's CPU. report(packed, previous, rebooted) reads the
   report's unframed msgpack itself through the fold's reader (collector/profiles/_window_read.c,
   here with the plan's own layout) and returns the same dicts, lists and ints plan.py's
   reference (plan._figures_of) gives for the same report. Nothing is rounded or formatted here:
   rates, the memory figure and the JSON stay in plan.py, so no float is computed twice in two
   languages.

   Unsupported is raised for anything this does not promise to reproduce exactly (a value of a type
   a validated report does not have, a counter that went down, a sum past int64, msgpack the reader
   does not take, a stored counter that is not an int ...): the caller then runs the reference,
   which decides (the same result, or the same error). */

#include "../profiles/_window_read.h"

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

static PyObject *K_if, *K_st, *empty, *unset;

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

/* A list of n ints as Python ints. */
static PyObject *ints(const long long *v, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    for (Py_ssize_t j = 0; out != NULL && j < n; j++) {
        PyObject *x = PyLong_FromLongLong(v[j]);
        if (x == NULL) Py_CLEAR(out);
        else PyList_SET_ITEM(out, j, x);
    }
    return out;
}

/* plan._deltas of one item: the stored counters `old` (a list of ints) against the new ones. Sets
   *out to a new list; a counter that went down (a wrap or a reset: counter_delta decides) or a
   stored value that is not an int is Unsupported. */
static int delta_of(PyObject *old, const long long *v, Py_ssize_t n, PyObject *values, int rebooted,
                    PyObject **out) {
    if (!PyList_CheckExact(old)) return bail("stored counters that are not a list");
    Py_ssize_t m = PyList_GET_SIZE(old);
    if (rebooted) { /* counted since the reboot: values[: len(old)] */
        *out = PyList_GetSlice(values, 0, m);
        return *out == NULL ? -1 : 0;
    }
    long long d[4];
    Py_ssize_t k = m < n ? m : n;
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *o = PyList_GET_ITEM(old, j);
        if (!PyLong_CheckExact(o)) return bail("a stored counter that is not an int");
        int overflow = 0;
        long long before = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow || (before == -1 && PyErr_Occurred())) return bail("a stored counter past int64");
        if (__builtin_sub_overflow(v[j], before, &d[j])) return bail("a delta past int64");
        if (d[j] < 0) return bail("a counter that went down");
    }
    *out = ints(d, k);
    return *out == NULL ? -1 : 0;
}

/* Put key -> value (stolen) into d. */
static int put(PyObject *d, PyObject *key, PyObject *value) {
    if (value == NULL) return -1;
    int r = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return r;
}

/* -- the result ---------------------------------------------------------------------------------- */

static PyStructSequence_Field figure_fields[] = {
    {"counters", "{'if': {name: [rx, tx]}, 'st': {mac: [rx, tx, retransmissions]}}: the next report's baseline"},
    {"wifi", "stations with a signal"},
    {"weak", "of those, under plan.WEAK_SIGNAL_DBM"},
    {"stations", "station rows"},
    {"if_delta", "per interface: the counters' deltas since `previous`"},
    {"st_delta", "per station: the same"},
    {"apps", "per category: [bytes_down, bytes_up, most active minutes]"},
    {"system", "(cpu_usage_pct, memory_total_kib, memory_available_kib or UNSET, memory_free_kib), or None"},
    {"wan_named", "wan.interface, or None"},
    {"wan_by_role", "the first interface whose role is 'wan', or None"},
    {NULL, NULL},
};
static PyStructSequence_Desc figures_desc = {"collector.store._plan.Figures", NULL, figure_fields, 10};
static PyTypeObject *Figures;

#define MAX_ITEMS 1024 /* interfaces or stations a report may have for this path (the protocol allows fewer) */

static long weak_dbm = -75;

static int read_report(source *src, const field *b, PyObject *previous, int rebooted, PyObject *fig) {
    PyObject *prev_if = NULL, *prev_st = NULL;
    if (previous != NULL && previous != Py_None) {
        if (!PyDict_CheckExact(previous)) return bail("stored counters that are not a dict");
        prev_if = PyDict_GetItemWithError(previous, K_if);
        prev_st = prev_if == NULL && PyErr_Occurred() ? NULL : PyDict_GetItemWithError(previous, K_st);
        if (PyErr_Occurred()) return -1;
        if ((prev_if != NULL && !PyDict_CheckExact(prev_if)) || (prev_st != NULL && !PyDict_CheckExact(prev_st)))
            return bail("stored counters that are not dicts");
    }
    for (int i = P_INTERFACES; i <= P_APPS; i++)
        if (b[i].k != V_ABSENT && b[i].k != V_LIST) return bail("a list of rows that is not a list");
    PyObject *counters = PyDict_New(), *c_if = PyDict_New(), *c_st = PyDict_New();
    PyObject *d_if = PyDict_New(), *d_st = PyDict_New(), *apps = PyDict_New();
    PyStructSequence_SET_ITEM(fig, 0, counters);
    PyStructSequence_SET_ITEM(fig, 4, d_if);
    PyStructSequence_SET_ITEM(fig, 5, d_st);
    PyStructSequence_SET_ITEM(fig, 6, apps);
    if (counters == NULL || c_if == NULL || c_st == NULL || d_if == NULL || d_st == NULL || apps == NULL ||
        put(counters, K_if, Py_NewRef(c_if)) < 0 || put(counters, K_st, Py_NewRef(c_st)) < 0) {
        Py_XDECREF(c_if);
        Py_XDECREF(c_st);
        return -1;
    }
    Py_DECREF(c_if);
    Py_DECREF(c_st); /* held by counters */

    /* interfaces: {name: [rx, tx]}, and the first one whose role is "wan" */
    items it;
    field r[MAX_FIELDS];
    PyObject *by_role = NULL;
    int got;
    if (items_open(src, &b[P_INTERFACES], &it) < 0) return -1;
    while ((got = next_row(&it, &P_INTERFACE, r)) > 0) {
        long long v[2];
        if (r[I_NAME].k != V_STR) return bail("an interface name that is not a str");
        if (counter(&r[I_RX], 0, &v[0]) < 0 || counter(&r[I_TX], 0, &v[1]) < 0) return -1;
        PyObject *name = get_str(src, &r[I_NAME], empty);
        if (name == NULL || put(c_if, name, ints(v, 2)) < 0) return -1;
        if (by_role == NULL && r[I_ROLE].k == V_STR && r[I_ROLE].n == 3 && memcmp(r[I_ROLE].p, "wan", 3) == 0)
            by_role = name;
    }
    if (got < 0) return -1;
    PyStructSequence_SET_ITEM(fig, 9, Py_NewRef(by_role != NULL ? by_role : Py_None));

    /* stations: {mac: [rx, tx, retransmissions]} (`or 0`), and how many on Wi-Fi and weak */
    long wifi = 0, weak = 0, stations = 0;
    if (items_open(src, &b[P_STATIONS], &it) < 0) return -1;
    while ((got = next_row(&it, &P_STATION, r)) > 0) {
        long long v[3];
        stations++;
        if (r[T_MAC].k != V_STR) return bail("a mac that is not a str");
        if (counter(&r[T_RX], 1, &v[0]) < 0 || counter(&r[T_TX], 1, &v[1]) < 0 || counter(&r[T_RETX], 1, &v[2]) < 0)
            return -1;
        double signal;
        int has = get_num(&r[T_SIGNAL], &signal);
        if (has < 0) return -1;
        if (has) {
            wifi++;
            weak += signal < (double)weak_dbm;
        }
        PyObject *mac = get_str(src, &r[T_MAC], empty);
        if (mac == NULL || put(c_st, mac, ints(v, 3)) < 0) return -1;
    }
    if (got < 0) return -1;
    PyStructSequence_SET_ITEM(fig, 1, PyLong_FromLong(wifi));
    PyStructSequence_SET_ITEM(fig, 2, PyLong_FromLong(weak));
    PyStructSequence_SET_ITEM(fig, 3, PyLong_FromLong(stations));
    if (PyErr_Occurred()) return -1;

    /* the deltas, in the order of the new counters (a key seen for the first time has none) */
    PyObject *const parts[2][3] = {{c_if, prev_if, d_if}, {c_st, prev_st, d_st}};
    for (int p = 0; p < 2; p++) {
        PyObject *now = parts[p][0], *before = parts[p][1], *out = parts[p][2], *key, *values;
        if (before == NULL) continue;
        Py_ssize_t at = 0;
        while (PyDict_Next(now, &at, &key, &values)) {
            PyObject *old = PyDict_GetItemWithError(before, key);
            if (old == NULL) {
                if (PyErr_Occurred()) return -1;
                continue;
            }
            long long v[3];
            Py_ssize_t n = PyList_GET_SIZE(values);
            for (Py_ssize_t j = 0; j < n; j++) v[j] = PyLong_AsLongLong(PyList_GET_ITEM(values, j)); /* ours */
            PyObject *delta = NULL;
            if (delta_of(old, v, n, values, rebooted, &delta) < 0 || put(out, key, delta) < 0) return -1;
        }
    }

    /* apps: per category, bytes summed and the most active minutes */
    if (items_open(src, &b[P_APPS], &it) < 0) return -1;
    while ((got = next_row(&it, &P_APP, r)) > 0) {
        long long down, up, minutes;
        if (r[AP_CATEGORY].k != V_STR) return bail("a category that is not a str");
        if (counter(&r[AP_DOWN], 0, &down) < 0 || counter(&r[AP_UP], 0, &up) < 0 ||
            counter(&r[AP_MINUTES], 0, &minutes) < 0)
            return -1;
        PyObject *category = get_str(src, &r[AP_CATEGORY], empty);
        if (category == NULL) return -1;
        PyObject *sums = PyDict_GetItemWithError(apps, category);
        if (sums == NULL) {
            if (PyErr_Occurred()) return -1;
            long long zero[3] = {0, 0, 0};
            if (put(apps, category, ints(zero, 3)) < 0) return -1;
            sums = PyDict_GetItem(apps, category);
        }
        long long had[3], now[3];
        for (int j = 0; j < 3; j++) had[j] = PyLong_AsLongLong(PyList_GET_ITEM(sums, j)); /* ours: int64 */
        if (__builtin_add_overflow(had[0], down, &now[0]) || __builtin_add_overflow(had[1], up, &now[1]))
            return bail("a sum past int64");
        now[2] = minutes > had[2] ? minutes : had[2];
        for (int j = 0; j < 3; j++)
            if (now[j] != had[j]) {
                PyObject *x = PyLong_FromLongLong(now[j]);
                if (x == NULL || PyList_SetItem(sums, j, x) < 0) return -1;
            }
    }
    if (got < 0) return -1;

    /* system (None when absent or None) and wan.interface, as msgspec gives them */
    field s[MAX_FIELDS];
    if (b[P_SYSTEM].k == V_ABSENT || b[P_SYSTEM].k == V_NIL) {
        PyStructSequence_SET_ITEM(fig, 7, Py_NewRef(Py_None));
    } else {
        if (fields_of(src, &b[P_SYSTEM], &P_SYSTEM_ROW, s) < 0) return -1;
        PyObject *system = PyTuple_New(4);
        PyStructSequence_SET_ITEM(fig, 7, system);
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
        named = object_of(src, &s[PW_INTERFACE], Py_None);
        if (named == NULL) return -1;
        PyStructSequence_SET_ITEM(fig, 8, named);
    } else {
        PyStructSequence_SET_ITEM(fig, 8, Py_NewRef(Py_None));
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
    field b[MAX_FIELDS];
    if (fig != NULL && (body_of_packed_as(&src, &PLAN, packed.buf, packed.len, b) < 0 ||
                        read_report(&src, b, previous, rebooted, fig) < 0)) {
        Py_CLEAR(fig); /* its unset items are NULL: the struct sequence's dealloc skips them */
    }
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
    K_if = PyUnicode_InternFromString("if");
    K_st = PyUnicode_InternFromString("st");
    empty = PyUnicode_InternFromString("");
    static schema *const schemas[] = {&P_BODY, &P_SYSTEM_ROW, &P_WAN_ROW, &P_INTERFACE, &P_STATION, &P_APP};
    int ok = Unsupported != NULL && Figures != NULL && K_if != NULL && K_st != NULL && empty != NULL;
    for (size_t i = 0; ok && i < sizeof schemas / sizeof *schemas; i++) ok = schema_init(schemas[i]) == 0;
    if (!ok || PyModule_AddObject(m, "Unsupported", Py_NewRef(Unsupported)) < 0 ||
        PyModule_AddObject(m, "Figures", Py_NewRef((PyObject *)Figures)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
