/* collector.profiles._window: what one report window adds to its home's day, in C.

   The fold's hottest code, run for every report and per station: window.core (Python, the
   reference). This computes the same result (the same dicts, lists and ints, keys in the
   same order) from the same body, with the same floating-point expressions in the same
   order, so the same fixed-point integers come out. Figures added later go to
   rollup._extras (Python, run after either), so this file does not change with the layout.

   window(body, window_start, window_end) -> (c, sparse) reads a decoded body (dicts);
   window_packed(packed, window_start, window_end) -> (c, sparse, has_unclassified) reads the
   report's unframed msgpack itself, building no Python object but the strings the result
   keeps (~4x cheaper than decoding the body first). Both read through _window_read.c's fields,
   so the computation below is written once for both. Either raises Unsupported when the body
   holds anything the reference handles that this does not promise to reproduce bit for bit (a
   type a validated report does not have, an int past 2**53 that the reference divides as an
   exact Python int, a negative window start, msgpack the reader does not take ...): the caller
   then runs the Python reference. configure(layout) must be called once first (rollup.py does,
   with window.compiled_layout(): the positions of collector.profiles.layout; nothing of the
   layout is written here). */

#include "_window_read.h"

#include <math.h>
#include <string.h>

#define MAX_SIZE 4096  /* the vector's positions this build can hold (layout.SIZE is ~330) */
#define MAX_STATIONS 512

/* the result's keys, interned once */
static PyObject *K_None, *K_v, *K_x, *K_c, *zero_obj;

static struct {
    int ready;
    long size, n, online_s, offline_s, bytes_down, bytes_up, engaged, scans, ws, wn, radio, quality, sig,
        sig_buckets, sig_floor, rate_windows, rate_bytes, rate_buckets, rate_floor, background, bg_min, bg_bytes,
        cat_engaged, cat_down, cat_up, cat_up_min, cat_up_bytes, other_at, slot_s, slots_per_day;
    long part_scale, pct_scale, ms_scale, loss_scale;
    double full_default;
    PyObject *full_phy;          /* band -> PHY rate scoring 100 */
    PyObject *bands;             /* band -> index */
    PyObject *cat_at;            /* category -> position of its first field */
    PyObject *quality_targets;   /* target -> index */
    PyObject *terminal_type;     /* (hostname, vendor) -> type */
    PyObject *background_types;  /* frozenset */
    PyObject *foreground;        /* frozenset */
    PyObject *device_categories; /* frozenset */
    PyObject *other;             /* "other" */
    PyObject *empty;             /* "" */
} L;

/* -- the vector: C sums, then a dict of the positions set ------------------------------ */
typedef struct {
    long long v[MAX_SIZE];
    unsigned char set[MAX_SIZE];
    int order[MAX_SIZE];
    int count;
} vec;

static int vadd(vec *w, long i, long long x) {
    if (i < 0 || i >= L.size) {
        PyErr_SetString(Unsupported, "position outside the layout");
        return -1;
    }
    if (!w->set[i]) {
        w->set[i] = 1;
        w->v[i] = 0;
        w->order[w->count++] = (int)i;
    }
    long long r;
    if (__builtin_add_overflow(w->v[i], x, &r) || r > (1LL << 62) || r < -(1LL << 62)) {
        PyErr_SetString(Unsupported, "sum too large");
        return -1;
    }
    w->v[i] = r;
    return 0;
}

static long long vget(vec *w, long i) { return (i >= 0 && i < L.size && w->set[i]) ? w->v[i] : 0; }

static int vset(vec *w, long i, long long x) {
    if (vadd(w, i, 0) < 0) return -1;
    w->v[i] = x;
    return 0;
}

/* -- figures as the reference computes them --------------------------------------------- */

/* Python's round(x) of a float: half to even, as nearbyint in the default rounding mode. */
static int round_ll(double x, long long *out) {
    if (!isfinite(x) || fabs(x) > 4.0e18) return bail("not a finite figure");
    *out = (long long)nearbyint(x);
    return 0;
}

static double clamp(double x) { return x < 0 ? 0.0 : x > 1 ? 1.0 : x; }

static long floordiv(long long a, long long b) {
    long long q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return (long)q;
}

static long sig_bucket(long long signal) {
    long b = floordiv(signal - L.sig_floor, 5);
    return b < 0 ? 0 : b > L.sig_buckets - 1 ? L.sig_buckets - 1 : b;
}

/* layout.rate_bucket: -1 for None. */
static long rate_bucket(double kbps) {
    if (kbps < (double)L.rate_floor) return -1;
    double b = 4 * log2(kbps / (double)L.rate_floor);
    long i = (long)b; /* int() truncates; b >= 0 here */
    return i < L.rate_buckets - 1 ? i : L.rate_buckets - 1;
}

static PyObject *slot_hex(int slot) {
    char text[25];
    memset(text, '0', 24);
    text[24] = 0;
    if (slot >= 0) text[23 - slot / 4] = "1248"[slot % 4];
    return PyUnicode_FromStringAndSize(text, 24);
}

/* -- stations, as the reference keeps them per MAC (first seen order, last row's names) -- */
typedef struct {
    PyObject *mac, *hostname, *vendor, *medium; /* borrowed from the body, or kept by the source */
    PyObject *dhcp_vc, *dhcp_prl;               /* the same; NULL: the row has no DHCP fingerprint */
    long long x[10];
    PyObject *c; /* category -> minutes, created on first use */
    int device;  /* terminal_type(its names) is a background type: 1/0, -1 not asked yet */
} station;

enum { ST_WINDOWS, ST_SIG_N, ST_SIG_SUM, ST_PHY_SUM, ST_Q_N, ST_DELAY, ST_JITTER, ST_LOSS, ST_BW_N, ST_BW_SUM };

typedef struct {
    station *s;
    int n;
    PyObject *index; /* mac -> slot */
} stations;

static int find(stations *st, PyObject *key) {
    PyObject *i = PyDict_GetItemWithError(st->index, key);
    if (i == NULL) return PyErr_Occurred() ? -2 : -1;
    return (int)PyLong_AsLong(i);
}

/* Whether a station's terminal is a device (a background type): the reference asks
   terminal_type for every app row; its answer for one station's names is the same each time,
   so it is asked once per station and window. */
static int is_device(station *t) {
    if (t->device >= 0) return t->device;
    PyObject *type = t->dhcp_vc != NULL ? PyObject_CallFunctionObjArgs(L.terminal_type, t->hostname, t->vendor,
                                                                       t->dhcp_vc, t->dhcp_prl, NULL)
                                        : PyObject_CallFunctionObjArgs(L.terminal_type, t->hostname, t->vendor, NULL);
    if (type == NULL) return -1;
    int device = PySet_Contains(L.background_types, type);
    Py_DECREF(type);
    if (device >= 0) t->device = device;
    return device;
}

static int int_add(PyObject *d, PyObject *key, long long x) {
    /* d[key] = d.get(key, 0) + x, as Python ints */
    PyObject *have = PyDict_GetItemWithError(d, key);
    if (have == NULL && PyErr_Occurred()) return -1;
    PyObject *add = PyLong_FromLongLong(x);
    if (add == NULL) return -1;
    PyObject *sum = have == NULL ? (Py_INCREF(add), add) : PyNumber_Add(have, add);
    Py_DECREF(add);
    if (sum == NULL) return -1;
    int r = PyDict_SetItem(d, key, sum);
    Py_DECREF(sum);
    return r;
}

static int set_new(PyObject *d, const char *key, PyObject *value) {
    /* d[key] = value, stealing value */
    if (value == NULL) return -1;
    int r = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return r;
}

/* Per band index: the airtime and interference parts of its radio (the last row of a band, as the
   reference's dict keyed by band name keeps it; a station's medium finds it by the same index). */
#define MAX_BANDS 16
typedef struct {
    int set[MAX_BANDS];
    long long airtime[MAX_BANDS], interference[MAX_BANDS];
} radio_parts;

static int fold_stations(source *src, const field *list, vec *v, stations *st, const radio_parts *air) {
    items it;
    field s[S_N];
    int row;
    if (items_open(src, list, &it) < 0) return -1;
    while ((row = next_row(&it, &STATION, s)) > 0) {
        if (!present(&s[S_MAC])) continue;
        if (s[S_MAC].k != V_STR) return bail("mac not a str");
        if (str_empty(&s[S_MAC])) continue;
        PyObject *mac = get_str(src, &s[S_MAC], L.empty);
        if (mac == NULL) return -1;
        PyObject *hostname = get_str(src, &s[S_HOSTNAME], L.empty), *vendor = get_str(src, &s[S_VENDOR], L.empty),
                 *medium = get_str(src, &s[S_MEDIUM], L.empty);
        if (hostname == NULL || vendor == NULL || medium == NULL) return -1;
        /* since protocol 1.2: what its DHCP client says (vendor class, request list) */
        PyObject *dhcp_vc = get_str(src, &s[S_DHCP_VC], L.empty), *dhcp_prl = get_str(src, &s[S_DHCP_PRL], L.empty);
        if (dhcp_vc == NULL || dhcp_prl == NULL) return -1;
        int has_dhcp = PyUnicode_GET_LENGTH(dhcp_vc) > 0 || PyUnicode_GET_LENGTH(dhcp_prl) > 0;
        int i = find(st, mac);
        if (i == -2) return -1;
        long long carried[3] = {0, 0, 0};
        if (i >= 0) { /* a MAC listed twice: the last row's probes, every row's Wi-Fi sums */
            carried[0] = st->s[i].x[ST_SIG_N];
            carried[1] = st->s[i].x[ST_SIG_SUM];
            carried[2] = st->s[i].x[ST_PHY_SUM];
        } else {
            if (st->n >= MAX_STATIONS) return bail("too many stations");
            i = st->n++;
            PyObject *at = PyLong_FromLong(i);
            if (at == NULL || PyDict_SetItem(st->index, mac, at) < 0) {
                Py_XDECREF(at);
                return -1;
            }
            Py_DECREF(at);
            st->s[i].c = NULL;
        }
        station *t = &st->s[i];
        t->mac = mac;
        t->hostname = hostname;
        t->vendor = vendor;
        t->medium = medium;
        t->dhcp_vc = has_dhcp ? dhcp_vc : NULL;
        t->dhcp_prl = has_dhcp ? dhcp_prl : NULL;
        t->device = -1;
        memset(t->x, 0, sizeof t->x);
        t->x[ST_WINDOWS] = 1;
        t->x[ST_SIG_N] = carried[0];
        t->x[ST_SIG_SUM] = carried[1];
        t->x[ST_PHY_SUM] = carried[2];
        double delay, loss = 0;
        int got = get_num(&s[S_DELAY_MS], &delay);
        if (got < 0) return -1;
        if (got) {
            long long d, l;
            if (get_num(&s[S_LOSS_PCT], &loss) < 0) return -1;
            if (round_ll(delay * L.ms_scale, &d) < 0 || round_ll(loss * L.loss_scale, &l) < 0) return -1;
            t->x[ST_Q_N] = 1;
            t->x[ST_DELAY] = d;
            t->x[ST_LOSS] = l;
        }
        long long reachable;
        got = get_int(&s[S_REACHABLE_KBPS], &reachable);
        if (got < 0) return -1;
        if (got && reachable) {
            t->x[ST_BW_N] = 1;
            t->x[ST_BW_SUM] = reachable;
        }
        PyObject *band = PyDict_GetItemWithError(L.bands, medium);
        if (band == NULL && PyErr_Occurred()) return -1;
        long long signal;
        got = get_int(&s[S_SIGNAL_DBM], &signal);
        if (got < 0) return -1;
        if (band == NULL || !got) continue;
        if (signal > 1000 || signal < -1000) return bail("signal out of range");
        long b = PyLong_AsLong(band);
        t->x[ST_SIG_N] += 1;
        t->x[ST_SIG_SUM] += signal;
        long long part;
        if (vadd(v, L.sig + b * L.sig_buckets + sig_bucket(signal), 1) < 0) return -1;
        /* signal_part: 100 * clamp((signal + 85) / 30), then * PART_SCALE */
        if (round_ll(100 * clamp((double)(signal + 85) / 30.0) * L.part_scale, &part) < 0) return -1;
        if (vadd(v, L.ws, part) < 0 || vadd(v, L.wn, 1) < 0) return -1;
        long long rate;
        got = get_int(&s[S_TX_RATE_KBPS], &rate);
        if (got < 0) return -1;
        if (got) {
            if (rate > EXACT || rate < -EXACT) return bail("rate past 2**53");
            PyObject *full = PyDict_GetItemWithError(L.full_phy, medium);
            if (full == NULL && PyErr_Occurred()) return -1;
            double f = full == NULL ? L.full_default : PyFloat_AsDouble(full);
            t->x[ST_PHY_SUM] += rate;
            if (round_ll(100 * clamp((double)rate / f) * L.part_scale, &part) < 0) return -1;
            if (vadd(v, L.ws + 1, part) < 0 || vadd(v, L.wn + 1, 1) < 0) return -1;
        }
        long long packets = 0, retransmissions;
        got = get_int(&s[S_PACKETS_SENT], &packets);
        if (got < 0) return -1;
        int got_r = get_int(&s[S_RETRANSMISSIONS], &retransmissions);
        if (got_r < 0) return -1;
        if (got && packets && got_r) {
            if (packets > EXACT || retransmissions > EXACT || packets < 0 || retransmissions < 0)
                return bail("counter past 2**53");
            double q = 1 - (double)retransmissions / (double)(packets > 1 ? packets : 1) / 0.3;
            if (round_ll(100 * clamp(q) * L.part_scale, &part) < 0) return -1;
            if (vadd(v, L.ws + 2, part) < 0 || vadd(v, L.wn + 2, 1) < 0) return -1;
        }
        if (b >= 0 && b < MAX_BANDS && air->set[b]) {
            if (vadd(v, L.ws + 3, air->airtime[b]) < 0 || vadd(v, L.ws + 4, air->interference[b]) < 0 ||
                vadd(v, L.wn + 3, 1) < 0 || vadd(v, L.wn + 4, 1) < 0)
                return -1;
        }
    }
    return row;
}

static int fold_radios(source *src, const field *list, vec *v, radio_parts *air) {
    items it;
    field r[R_N];
    int row;
    if (items_open(src, list, &it) < 0) return -1;
    while ((row = next_row(&it, &RADIO, r)) > 0) {
        PyObject *bandname = get_str(src, &r[R_BAND], L.empty);
        if (bandname == NULL) return -1;
        PyObject *band = PyDict_GetItemWithError(L.bands, bandname);
        if (band == NULL) {
            if (PyErr_Occurred()) return -1;
            continue;
        }
        long b = PyLong_AsLong(band);
        if (b < 0 || b >= MAX_BANDS) return bail("a band past MAX_BANDS");
        double intf = 0, util = 0;
        if (get_num(&r[R_INTERFERENCE_PCT], &intf) < 0 || get_num(&r[R_UTILIZATION_PCT], &util) < 0) return -1;
        long long i1, i2, p1, p2;
        long at = L.radio + 3 * b;
        if (round_ll(intf * L.pct_scale, &i1) < 0 || round_ll(util * L.pct_scale, &i2) < 0) return -1;
        if (vadd(v, at, 1) < 0 || vadd(v, at + 1, i1) < 0 || vadd(v, at + 2, i2) < 0) return -1;
        /* airtime_part, interference_part */
        double free_air = util - 30 > 0.0 ? util - 30 : 0.0;
        if (round_ll(100 * clamp(1 - free_air / 60) * L.part_scale, &p1) < 0) return -1;
        if (round_ll(100 * clamp(1 - intf / 50) * L.part_scale, &p2) < 0) return -1;
        air->set[b] = 1;
        air->airtime[b] = p1;
        air->interference[b] = p2;
    }
    return row;
}

/* An app row's top applications: minutes (at least 1) added per name, under its category. */
static int fold_top_apps(source *src, const field *top, PyObject *names, PyObject *cat, long long minutes) {
    if (!present(top)) return 0;
    if (top->k != V_LIST) return bail("top_apps not a list");
    if (list_len(top) == 0) return 0;
    PyObject *per_cat = PyDict_GetItemWithError(names, cat);
    if (per_cat == NULL) {
        if (PyErr_Occurred()) return -1;
        per_cat = PyDict_New();
        if (per_cat == NULL || PyDict_SetItem(names, cat, per_cat) < 0) {
            Py_XDECREF(per_cat);
            return -1;
        }
        Py_DECREF(per_cat); /* names holds it */
    }
    items it;
    field app;
    int got;
    if (items_open(src, top, &it) < 0) return -1;
    while ((got = next_item(&it, &app)) > 0) {
        if (app.k != V_STR) return bail("an app name not a str");
        PyObject *name = get_str(src, &app, L.empty);
        if (name == NULL || int_add(per_cat, name, minutes > 1 ? minutes : 1) < 0) return -1;
    }
    return got;
}

static int fold_apps(source *src, const field *list, PyObject *c, vec *v, stations *st, long long start,
                     long long length) {
    long long cap_min;
    if (round_ll((double)length / 60.0, &cap_min) < 0) return -1;
    if (cap_min < 1) cap_min = 1;
    PyObject *names = PyDict_New();
    if (names == NULL) return -1;
    long long down_total = 0, up_total = 0, engaged = 0;
    items it;
    field a[A_N];
    int row;
    if (items_open(src, list, &it) < 0) goto fail;
    while ((row = next_row(&it, &APP, a)) > 0) {
        if (present(&a[A_CATEGORY]) && a[A_CATEGORY].k != V_STR) goto unsupported;
        PyObject *cat = !present(&a[A_CATEGORY]) || str_empty(&a[A_CATEGORY]) ? L.other
                                                                              : get_str(src, &a[A_CATEGORY], L.empty);
        if (cat == NULL) goto fail;
        long long down = 0, up = 0, minutes = 0;
        if (get_int(&a[A_BYTES_DOWN], &down) < 0 || get_int(&a[A_BYTES_UP], &up) < 0 ||
            get_int(&a[A_ACTIVE_MINUTES], &minutes) < 0)
            goto fail;
        if (down < 0 || up < 0 || down > EXACT / 16 || up > EXACT / 16) goto unsupported;
        if (minutes > cap_min) minutes = cap_min;
        PyObject *atobj = PyDict_GetItemWithError(L.cat_at, cat);
        if (atobj == NULL && PyErr_Occurred()) goto fail;
        long at = atobj == NULL ? L.other_at : PyLong_AsLong(atobj);
        /* str(row.get("station")): str(None) is "None", which the reference looks up too */
        if (present(&a[A_STATION]) && a[A_STATION].k != V_STR) goto unsupported;
        PyObject *station_key = present(&a[A_STATION]) ? get_str(src, &a[A_STATION], L.empty) : K_None;
        if (station_key == NULL) goto fail;
        int slot = find(st, station_key);
        if (slot == -2) goto fail;
        int device = slot >= 0 ? is_device(&st->s[slot]) : 0;
        if (device < 0) goto fail;
        int device_cat = PySet_Contains(L.device_categories, cat);
        if (device_cat < 0) goto fail;
        long bg = L.background;
        if (device || device_cat) {
            if (minutes > vget(v, bg + L.bg_min) ? vset(v, bg + L.bg_min, minutes) < 0 : vadd(v, bg + L.bg_min, 0) < 0)
                goto fail;
            if (vadd(v, bg + L.bg_bytes, down + up) < 0) goto fail;
        }
        if (!device) {
            long e = at + L.cat_engaged;
            if (minutes > vget(v, e) ? vset(v, e, minutes) < 0 : vadd(v, e, 0) < 0) goto fail;
        }
        if (vadd(v, at + L.cat_down, down) < 0 || vadd(v, at + L.cat_up, up) < 0) goto fail;
        if (up > down && minutes) {
            if (vadd(v, at + L.cat_up_min, minutes) < 0 || vadd(v, at + L.cat_up_bytes, up) < 0) goto fail;
        }
        if (!device && minutes > engaged) {
            int fg = PySet_Contains(L.foreground, cat);
            if (fg < 0) goto fail;
            if (fg) engaged = minutes;
        }
        down_total += down;
        up_total += up;
        long bucket = rate_bucket((double)(down * 8) / (double)(minutes ? minutes * 60 : length) / 1000);
        if (bucket >= 0 && vadd(v, L.rate_bytes + bucket, down) < 0) goto fail;
        if (fold_top_apps(src, &a[A_TOP_APPS], names, cat, minutes) < 0) goto fail;
        if (slot >= 0 && minutes) {
            if (st->s[slot].c == NULL && (st->s[slot].c = PyDict_New()) == NULL) goto fail;
            if (int_add(st->s[slot].c, cat, minutes) < 0) goto fail;
        }
    }
    if (row < 0) goto fail;
    if (down_total > EXACT / 16 || up_total > EXACT / 16) goto unsupported;
    if (vset(v, L.bytes_down, down_total) < 0 || vset(v, L.bytes_up, up_total) < 0 || vset(v, L.engaged, engaged) < 0)
        goto fail;
    long bucket = rate_bucket((double)(down_total * 8) / (double)length / 1000);
    if (bucket >= 0 && vadd(v, L.rate_windows + bucket, 1) < 0) goto fail;
    PyObject *hb = PyList_New(24);
    if (hb == NULL) goto fail;
    for (int h = 0; h < 24; h++) {
        PyObject *x = PyLong_FromLongLong(h == (start / 3600) % 24 ? down_total + up_total : 0);
        if (x == NULL) {
            Py_DECREF(hb);
            goto fail;
        }
        PyList_SET_ITEM(hb, h, x);
    }
    PyObject_GC_UnTrack(hb); /* ints only: see list_of */
    if (PyDict_SetItemString(c, "apps", names) < 0 || set_new(c, "hb", hb) < 0) goto fail;
    Py_DECREF(names);
    return 0;
unsupported:
    bail("an app row the reference must fold");
fail:
    Py_DECREF(names);
    return -1;
}

static int fold_quality(source *src, const field *list, PyObject *c, vec *v, stations *st) {
    items it;
    field q[Q_N];
    int row;
    if (items_open(src, list, &it) < 0) return -1;
    PyObject *worst = PyDict_New();
    if (worst == NULL) return -1;
    while ((row = next_row(&it, &QUALITY, q)) > 0) {
        PyObject *target = get_str(src, &q[Q_TARGET], L.empty);
        if (target == NULL) goto fail;
        double delay, jitter = 0, loss = 0, peak_ms;
        int got = get_num(&q[Q_DELAY_MS], &delay);
        if (got < 0) goto fail;
        if (!got) continue;
        if (get_num(&q[Q_JITTER_MS], &jitter) < 0 || get_num(&q[Q_LOSS_PCT], &loss) < 0) goto fail;
        long long f0, f1, f2;
        if (round_ll(delay * L.ms_scale, &f0) < 0 || round_ll(jitter * L.ms_scale, &f1) < 0 ||
            round_ll(loss * L.loss_scale, &f2) < 0)
            goto fail;
        int slot = find(st, target);
        if (slot == -2) goto fail;
        if (slot >= 0) {
            long long *x = st->s[slot].x;
            x[ST_Q_N] += 1;
            x[ST_DELAY] += f0;
            x[ST_JITTER] += f1;
            x[ST_LOSS] += f2;
            long long bw;
            got = get_int(&q[Q_BANDWIDTH_KBPS], &bw);
            if (got < 0) goto fail;
            if (got && bw) {
                x[ST_BW_N] += 1;
                x[ST_BW_SUM] += bw;
            }
            continue;
        }
        PyObject *index = PyDict_GetItemWithError(L.quality_targets, target);
        if (index == NULL) {
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        long at = L.quality + 4 * PyLong_AsLong(index);
        if (vadd(v, at, 1) < 0 || vadd(v, at + 1, f0) < 0 || vadd(v, at + 2, f1) < 0 || vadd(v, at + 3, f2) < 0) goto fail;
        got = get_num(&q[Q_DELAY_MAX_MS], &peak_ms);
        if (got < 0) goto fail;
        if (!got || peak_ms == 0) peak_ms = delay; /* float(row.get("delay_max_ms") or delay) */
        long long peak;
        if (round_ll(peak_ms * L.ms_scale, &peak) < 0) goto fail;
        PyObject *have = PyDict_GetItemWithError(worst, target);
        if (have == NULL && PyErr_Occurred()) goto fail;
        long long old = have == NULL ? 0 : PyLong_AsLongLong(have);
        if (have == NULL || peak > old) {
            PyObject *value = PyLong_FromLongLong(peak > old ? peak : old);
            if (value == NULL || PyDict_SetItem(worst, target, value) < 0) {
                Py_XDECREF(value);
                goto fail;
            }
            Py_DECREF(value);
        }
    }
    if (row < 0) goto fail;
    if (PyDict_GET_SIZE(worst) && PyDict_SetItemString(c, "qmax", worst) < 0) goto fail;
    Py_DECREF(worst);
    return 0;
fail:
    Py_DECREF(worst);
    return -1;
}

/* A new list of n ints (NULL on failure), untracked: see list_of below. */
static PyObject *int_list(const long long *x, Py_ssize_t n) {
    PyObject *list = PyList_New(n);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyLong_FromLongLong(x[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    PyObject_GC_UnTrack(list);
    return list;
}

static PyObject *competitors(source *src, const field *list) {
    /* op -> [strongest dBm, its SSID, scans per signal bucket]: built in place, operators in
       first-seen order, the first of equal (signal, SSID) pairs kept (the reference's tuple `>`) */
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    items it;
    field nb[N_N];
    int row;
    if (items_open(src, list, &it) < 0) goto fail;
    while ((row = next_row(&it, &NEIGHBOUR, nb)) > 0) {
        long long signal;
        int got = get_int(&nb[N_SIGNAL_DBM], &signal);
        if (got < 0) goto fail;
        if (!present(&nb[N_OPERATOR]) || !got) continue;
        if (nb[N_OPERATOR].k != V_STR) goto unsupported;
        if (str_empty(&nb[N_OPERATOR])) continue;
        PyObject *op = get_str(src, &nb[N_OPERATOR], L.empty), *ssid = get_str(src, &nb[N_SSID], L.empty);
        if (op == NULL || ssid == NULL) goto fail;
        PyObject *have = PyDict_GetItemWithError(out, op);
        if (have == NULL && PyErr_Occurred()) goto fail;
        int better = 1;
        if (have != NULL) {
            long long strongest = PyLong_AsLongLong(PyList_GET_ITEM(have, 0));
            better = signal > strongest;
            if (signal == strongest) {
                int order = PyUnicode_Compare(ssid, PyList_GET_ITEM(have, 1));
                if (order == -1 && PyErr_Occurred()) goto fail;
                better = order > 0;
            }
        }
        if (!better) continue;
        PyObject *dbm = PyLong_FromLongLong(signal);
        PyObject *entry = dbm == NULL ? NULL : PyList_New(3);
        if (entry == NULL) {
            Py_XDECREF(dbm);
            goto fail;
        }
        PyList_SET_ITEM(entry, 0, dbm);
        PyList_SET_ITEM(entry, 1, Py_NewRef(ssid));
        PyList_SET_ITEM(entry, 2, Py_NewRef(Py_None)); /* the counts, below */
        PyObject_GC_UnTrack(entry);                    /* an int, a str, an untracked list: see list_of */
        int r = PyDict_SetItem(out, op, entry);
        Py_DECREF(entry);
        if (r < 0) goto fail;
    }
    if (row < 0) goto fail;
    PyObject *op, *entry;
    Py_ssize_t pos = 0;
    while (PyDict_Next(out, &pos, &op, &entry)) {
        long long signal = PyLong_AsLongLong(PyList_GET_ITEM(entry, 0));
        if (signal > 1000 || signal < -1000) goto unsupported;
        long long counts[64] = {0};
        if (L.sig_buckets > 64) goto unsupported;
        counts[sig_bucket(signal)] = 1;
        PyObject *list = int_list(counts, L.sig_buckets);
        if (list == NULL) goto fail;
        PyList_SetItem(entry, 2, list); /* steals list; the None it replaces is released */
    }
    return out;
unsupported:
    bail("a neighbour the reference must fold");
fail:
    Py_DECREF(out);
    return NULL;
}

/* A new list holding these objects (new references to them; NULL on failure), untracked by the
   cyclic garbage collector. The lists a window adds (a terminal's names, its link sums, a
   competitor's counts, the hourly bytes) hold only ints and strs, and stay so in the days they
   are merged into (merge.fold_into sets ints and strs in them): they can never be part of a
   cycle. Untracked, the collections that run while a folder holds ~1,000 prepared windows and
   its cached days do not walk them (as CPython itself untracks tuples and dicts of atomic
   values): ~8 us of the fold's ~41 per report (bench/fold.py). */
static PyObject *list_of(Py_ssize_t n, PyObject *const *items) {
    PyObject *list = PyList_New(n);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) PyList_SET_ITEM(list, i, Py_NewRef(items[i]));
    PyObject_GC_UnTrack(list);
    return list;
}

/* The contribution's terminals (tm) and per-terminal link sums (sx), in first-seen order. The
   lists and dicts are built directly (not with Py_BuildValue, which parses its format and makes
   the "x"/"c" keys again for every terminal of every report). */
static int terminals(PyObject *c, PyObject *end_obj, stations *st) {
    PyObject *tm = PyDict_New(), *sx = PyDict_New();
    if (set_new(c, "tm", tm) < 0 || set_new(c, "sx", sx) < 0) return -1;
    PyObject *one = PyLong_FromLong(1); /* a small int: cached, never fails */
    for (int i = 0; i < st->n; i++) {
        station *t = &st->s[i];
        PyObject *names[8] = {end_obj, t->hostname, t->vendor, t->medium, one, t->dhcp_vc, t->dhcp_prl, end_obj};
        PyObject *entry = list_of(t->dhcp_vc != NULL ? 8 : 5, names);
        int r = entry == NULL ? -1 : PyDict_SetItem(tm, t->mac, entry);
        Py_XDECREF(entry);
        if (r < 0) return -1;
        if (t->c == NULL && (t->c = PyDict_New()) == NULL) return -1;
        PyObject *x = int_list(t->x, 10), *link = x == NULL ? NULL : PyDict_New();
        r = link == NULL || PyDict_SetItem(link, K_x, x) < 0 || PyDict_SetItem(link, K_c, t->c) < 0 ||
                    PyDict_SetItem(sx, t->mac, link) < 0
                ? -1
                : 0;
        Py_XDECREF(x);
        Py_XDECREF(link);
        if (r < 0) return -1;
    }
    return 0;
}

/* The contribution's dicts untracked too (see list_of): they hold ints, strs, the untracked lists
   and dicts of them, nothing that can reach back. CPython tracks a dict again by itself as soon as
   a container is put in it (merge.py's, _extras'), so this stays true of what is untracked. */
static void untrack_parts(PyObject *c) {
    PyObject *key, *part, *mac, *link;
    Py_ssize_t pos = 0;
    while (PyDict_Next(c, &pos, &key, &part)) {
        if (!PyDict_CheckExact(part)) continue;
        Py_ssize_t at = 0;
        while (PyDict_Next(part, &at, &mac, &link)) /* sx: {"x": [...], "c": {...}} per terminal */
            if (PyDict_CheckExact(link)) PyObject_GC_UnTrack(link);
        PyObject_GC_UnTrack(part);
    }
    PyObject_GC_UnTrack(c);
}

/* What the window adds, from the body's fields (b, of either source): (c, sparse). */
static PyObject *compute(source *src, const field *b, PyObject *start_obj, PyObject *end_obj) {
    if (!L.ready) {
        PyErr_SetString(Unsupported, "configure() first");
        return NULL;
    }
    if (!PyLong_CheckExact(start_obj) || !PyLong_CheckExact(end_obj)) {
        PyErr_SetString(Unsupported, "window bounds not ints");
        return NULL;
    }
    long long start = PyLong_AsLongLong(start_obj), end = PyLong_AsLongLong(end_obj);
    if (PyErr_Occurred() || start < 0 || end < 0 || start > (1LL << 40) || end > (1LL << 40)) {
        PyErr_Clear();
        PyErr_SetString(Unsupported, "window out of range");
        return NULL;
    }
    vec *v = PyMem_Malloc(sizeof(vec));
    station *slots = PyMem_Malloc(sizeof(station) * MAX_STATIONS);
    stations st = {slots, 0, PyDict_New()};
    PyObject *c = NULL, *result = NULL;
    radio_parts air;
    memset(&air, 0, sizeof air);
    field wan[W_N];
    if (v == NULL || slots == NULL || st.index == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    v->count = 0;
    memset(v->set, 0, (size_t)L.size);
    long long length = end - start > 1 ? end - start : 1;
    int slot = (int)((start / L.slot_s) % L.slots_per_day);
    if (vset(v, L.n, 1) < 0) goto done;
    if (fields_of(src, &b[B_WAN], &WAN, wan) < 0) goto done;
    long long offline = 0, online = 0, plan = 0;
    if (get_int(&wan[W_OFFLINE_S], &offline) < 0 || get_int(&wan[W_ONLINE_S], &online) < 0 ||
        get_int(&wan[W_PLAN_DOWN_KBPS], &plan) < 0)
        goto done;
    if (vset(v, L.online_s, online) < 0 || vset(v, L.offline_s, offline) < 0) goto done;
    c = PyDict_New();
    if (c == NULL) goto done;
    if (PyDict_SetItemString(c, "first", start_obj) < 0 || PyDict_SetItemString(c, "last", end_obj) < 0 ||
        set_new(c, "slots", slot_hex(slot)) < 0 || set_new(c, "off", slot_hex(offline * 2 > length ? slot : -1)) < 0)
        goto done;
    if (plan && set_new(c, "plan", PyLong_FromLongLong(plan)) < 0) goto done;
    if (fold_radios(src, &b[B_RADIOS], v, &air) < 0) goto done;
    if (fold_stations(src, &b[B_STATIONS], v, &st, &air) < 0) goto done;
    if (fold_apps(src, &b[B_APPS], c, v, &st, start, length) < 0) goto done;
    if (fold_quality(src, &b[B_QUALITY], c, v, &st) < 0) goto done;
    if (b[B_NEIGHBOURS].k != V_ABSENT) { /* "neighbours" in body, even as None */
        if (present(&b[B_NEIGHBOURS]) && b[B_NEIGHBOURS].k != V_LIST) {
            bail("neighbours not a list");
            goto done;
        }
        if (vset(v, L.scans, 1) < 0 || set_new(c, "comp", competitors(src, &b[B_NEIGHBOURS])) < 0) goto done;
    }
    if (present(&b[B_TOPOLOGY])) {
        if (b[B_TOPOLOGY].k != V_LIST) {
            bail("topology not a list");
            goto done;
        }
        Py_ssize_t mesh = list_len(&b[B_TOPOLOGY]);
        if (mesh && set_new(c, "mesh", PyLong_FromSsize_t(mesh)) < 0) goto done;
    }
    if (terminals(c, end_obj, &st) < 0) goto done;
    PyObject *sparse = PyDict_New();
    if (sparse == NULL) goto done;
    for (int k = 0; k < v->count; k++) {
        PyObject *key = PyLong_FromLong(v->order[k]), *val = PyLong_FromLongLong(v->v[v->order[k]]);
        if (key == NULL || val == NULL || PyDict_SetItem(sparse, key, val) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(val);
            Py_DECREF(sparse);
            goto done;
        }
        Py_DECREF(key);
        Py_DECREF(val);
    }
    untrack_parts(c);
    result = PyTuple_Pack(2, c, sparse);
    Py_DECREF(sparse);
done:
    if (slots != NULL)
        for (int i = 0; i < st.n; i++) Py_XDECREF(slots[i].c);
    Py_XDECREF(c);
    Py_XDECREF(st.index);
    PyMem_Free(slots);
    PyMem_Free(v);
    return result;
}

static PyObject *window(PyObject *self, PyObject *args) {
    PyObject *body, *start_obj, *end_obj;
    if (!PyArg_ParseTuple(args, "O!OO", &PyDict_Type, &body, &start_obj, &end_obj)) return NULL;
    if (!PyDict_CheckExact(body)) {
        PyErr_SetString(Unsupported, "not a plain body");
        return NULL;
    }
    source src = {0};
    field b[B_N];
    if (body_of_dict(body, b) < 0) return NULL;
    return compute(&src, b, start_obj, end_obj);
}

static PyObject *window_packed(PyObject *self, PyObject *args) {
    Py_buffer packed;
    PyObject *start_obj, *end_obj, *result = NULL;
    if (!PyArg_ParseTuple(args, "y*OO", &packed, &start_obj, &end_obj)) return NULL;
    source src = {0};
    field b[B_N];
    if (body_of_packed(&src, packed.buf, packed.len, b) == 0) {
        /* the body's unclassified rows are the caller's to read (dpi/recount.py, unclassified.py) */
        const field *rows = &b[B_UNCLASSIFIED];
        if (present(rows) && rows->k != V_LIST) bail("unclassified not a list");
        else {
            PyObject *parts = compute(&src, b, start_obj, end_obj);
            if (parts != NULL) {
                result = Py_BuildValue("(OOO)", PyTuple_GET_ITEM(parts, 0), PyTuple_GET_ITEM(parts, 1),
                                       list_len(rows) ? Py_True : Py_False);
                Py_DECREF(parts);
            }
        }
    }
    source_done(&src);
    PyBuffer_Release(&packed);
    return result;
}

static long item(PyObject *layout, const char *name, int *ok) {
    PyObject *x = PyDict_GetItemString(layout, name);
    if (x == NULL || !PyLong_Check(x)) {
        if (*ok) PyErr_Format(PyExc_KeyError, "configure: %s missing or not an int", name);
        *ok = 0;
        return 0;
    }
    return PyLong_AsLong(x);
}

static PyObject *object(PyObject *layout, const char *name, int *ok) {
    PyObject *x = PyDict_GetItemString(layout, name);
    if (x == NULL) {
        if (*ok) PyErr_Format(PyExc_KeyError, "configure: %s missing", name);
        *ok = 0;
        return NULL;
    }
    Py_INCREF(x);
    return x;
}

static PyObject *configure(PyObject *self, PyObject *layout) {
    if (!PyDict_Check(layout)) {
        PyErr_SetString(PyExc_TypeError, "configure(dict)");
        return NULL;
    }
    int ok = 1;
#define I(field) L.field = item(layout, #field, &ok)
    I(size); I(n); I(online_s); I(offline_s); I(bytes_down); I(bytes_up); I(engaged); I(scans); I(ws); I(wn);
    I(radio); I(quality); I(sig); I(sig_buckets); I(sig_floor); I(rate_windows); I(rate_bytes); I(rate_buckets);
    I(rate_floor); I(background); I(bg_min); I(bg_bytes); I(cat_engaged); I(cat_down); I(cat_up); I(cat_up_min);
    I(cat_up_bytes); I(other_at); I(slot_s); I(slots_per_day); I(part_scale); I(pct_scale); I(ms_scale);
    I(loss_scale);
#undef I
    L.full_default = (double)item(layout, "full_default", &ok);
#define O(field) Py_XSETREF(L.field, object(layout, #field, &ok))
    O(full_phy); O(bands); O(cat_at); O(quality_targets); O(terminal_type); O(background_types); O(foreground);
    O(device_categories);
#undef O
    if (!ok) return NULL;
    if (L.size <= 0 || L.size > MAX_SIZE || L.slots_per_day != 96) {
        PyErr_SetString(PyExc_ValueError, "configure: a layout this build cannot hold");
        return NULL;
    }
    /* FULL_PHY_KBPS as floats, once (the reference divides an int by an int: the same double) */
    PyObject *full = PyDict_New(), *k, *val;
    Py_ssize_t pos = 0;
    if (full == NULL) return NULL;
    while (PyDict_Next(L.full_phy, &pos, &k, &val)) {
        PyObject *f = PyNumber_Float(val);
        if (f == NULL || PyDict_SetItem(full, k, f) < 0) {
            Py_XDECREF(f);
            Py_DECREF(full);
            return NULL;
        }
        Py_DECREF(f);
    }
    Py_SETREF(L.full_phy, full);
    L.ready = 1;
    Py_RETURN_NONE;
}


/* -- add(day, c, sparse): rollup.add_window, i.e. the vector then merge.fold_into(owned=True) --
   Generic object operations in the reference's order (so a stored day of an unexpected shape
   fails, or not, as the reference would); Unsupported only before anything is changed. */
static PyObject *merge_other; /* (key, mine, value) -> merged: merge.MERGERS for the other keys */
static PyObject *trim_apps;   /* dict -> dict: merge._apps' cut to MAX_APPS */
static long max_apps;

/* Untrack a list of ints and strs (see list_of): the copies a day keeps of a window's lists. */
static void untrack_atomic(PyObject *list) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *x = PyList_GET_ITEM(list, i);
        if (!PyLong_CheckExact(x) && !PyUnicode_CheckExact(x)) return;
    }
    PyObject_GC_UnTrack(list);
}

static int add_into(PyObject *seq, Py_ssize_t i, PyObject *x) {
    /* seq[i] += x (a list's item directly; anything else through the sequence protocol) */
    if (PyList_CheckExact(seq) && i >= 0 && i < PyList_GET_SIZE(seq)) {
        PyObject *sum = PyNumber_InPlaceAdd(PyList_GET_ITEM(seq, i), x);
        return sum == NULL ? -1 : PyList_SetItem(seq, i, sum); /* steals sum */
    }
    PyObject *have = PySequence_GetItem(seq, i);
    if (have == NULL) return -1;
    PyObject *sum = PyNumber_InPlaceAdd(have, x);
    Py_DECREF(have);
    if (sum == NULL) return -1;
    int r = PySequence_SetItem(seq, i, sum);
    Py_DECREF(sum);
    return r;
}

static int add_lists(PyObject *mine, PyObject *value, int truthy_only) {
    /* the "v"/"hb" and link "x" merges: element-wise sums, a shorter stored list padded */
    Py_ssize_t n = PySequence_Size(value), have = PySequence_Size(mine);
    if (n < 0 || have < 0) return -1;
    if (have == n && n <= 64 && PyList_CheckExact(mine) && PyList_CheckExact(value)) {
        /* mine[:] = map(add, mine, value) for two lists: every sum first (a failed one changes
           nothing), then set in place */
        PyObject *sums[64];
        for (Py_ssize_t i = 0; i < n; i++) {
            sums[i] = PyNumber_Add(PyList_GET_ITEM(mine, i), PyList_GET_ITEM(value, i));
            if (sums[i] == NULL) {
                while (i-- > 0) Py_DECREF(sums[i]);
                return -1;
            }
        }
        for (Py_ssize_t i = 0; i < n; i++) PyList_SetItem(mine, i, sums[i]); /* steals */
        return 0;
    }
    if (have == n) {
        PyObject *sums = PyList_New(n);
        if (sums == NULL) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *a = PySequence_GetItem(mine, i), *b = a == NULL ? NULL : PySequence_GetItem(value, i);
            PyObject *sum = b == NULL ? NULL : PyNumber_Add(a, b);
            Py_XDECREF(a);
            Py_XDECREF(b);
            if (sum == NULL) {
                Py_DECREF(sums);
                return -1;
            }
            PyList_SET_ITEM(sums, i, sum);
        }
        int r = PySequence_SetSlice(mine, 0, n, sums);
        Py_DECREF(sums);
        return r;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PySequence_GetItem(value, i);
        if (x == NULL) return -1;
        int truth = PyObject_IsTrue(x);
        int r = truth < 0 ? -1 : (truth || !truthy_only) ? add_into(mine, i, x) : 0;
        Py_DECREF(x);
        if (r < 0) return -1;
    }
    return 0;
}

static int pad(PyObject *mine, Py_ssize_t n) {
    /* mine.extend([0] * (n - len(mine))) when shorter */
    Py_ssize_t have = PySequence_Size(mine);
    if (have < 0) return -1;
    if (have >= n) return 0;
    PyObject *zeros = PyList_New(n - have);
    if (zeros == NULL) return -1;
    for (Py_ssize_t i = 0; i < n - have; i++) {
        PyObject *zero = PyLong_FromLong(0);
        PyList_SET_ITEM(zeros, i, zero);
    }
    PyObject *r = PyObject_CallMethod(mine, "extend", "O", zeros);
    Py_DECREF(zeros);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *dhcp_key(PyObject *entry) {
    /* merge._dhcp_key: (entry[7], entry[5], entry[6]) */
    PyObject *a = PySequence_GetItem(entry, 7), *b = a == NULL ? NULL : PySequence_GetItem(entry, 5);
    PyObject *c = b == NULL ? NULL : PySequence_GetItem(entry, 6);
    PyObject *key = c == NULL ? NULL : PyTuple_Pack(3, a, b, c);
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    return key;
}

static int merge_tm(PyObject *mine, PyObject *value) {
    PyObject *mac, *entry;
    Py_ssize_t pos = 0;
    while (PyDict_Next(value, &pos, &mac, &entry)) {
        PyObject *have = PyDict_GetItemWithError(mine, mac);
        if (have == Py_None) have = NULL; /* mine.get(mac) is None */
        if (have == NULL) {
            if (PyErr_Occurred()) return -1;
            PyObject *copy = PySequence_List(entry);
            if (copy != NULL) untrack_atomic(copy);
            if (copy == NULL || PyDict_SetItem(mine, mac, copy) < 0) {
                Py_XDECREF(copy);
                return -1;
            }
            Py_DECREF(copy);
            continue;
        }
        /* windows = have[4] + entry[4], taken before the tail and the names move */
        PyObject *ew = PySequence_GetItem(entry, 4), *hw = ew == NULL ? NULL : PySequence_GetItem(have, 4);
        PyObject *windows = hw == NULL ? NULL : PyNumber_Add(hw, ew);
        Py_XDECREF(ew);
        Py_XDECREF(hw);
        if (windows == NULL) return -1;
        /* the newest DHCP fingerprint: (its window, vendor class, request list) compared, as merge._dhcp_key */
        Py_ssize_t elen = PySequence_Size(entry), hlen = elen < 0 ? -1 : PySequence_Size(have);
        int newer_dhcp = hlen < 0 ? -1 : 0;
        if (elen > 5 && hlen >= 0) {
            if (hlen <= 5) newer_dhcp = 1;
            else {
                PyObject *ek = dhcp_key(entry), *hk = ek == NULL ? NULL : dhcp_key(have);
                newer_dhcp = hk == NULL ? -1 : PyObject_RichCompareBool(ek, hk, Py_GT);
                Py_XDECREF(ek);
                Py_XDECREF(hk);
            }
        }
        if (newer_dhcp > 0) {
            PyObject *tail = PySequence_GetSlice(entry, 5, 8);
            newer_dhcp = tail == NULL ? -1 : PySequence_SetSlice(have, 5, PY_SSIZE_T_MAX, tail);
            Py_XDECREF(tail);
        }
        if (newer_dhcp < 0) {
            Py_DECREF(windows);
            return -1;
        }
        /* the newest window's names: max(have[:4], entry[:4]) without the slices */
        PyObject *t = PySequence_GetItem(entry, 0), *t_have = t == NULL ? NULL : PySequence_GetItem(have, 0);
        int newer = t_have == NULL ? -1 : PyObject_RichCompareBool(t, t_have, Py_GT);
        if (newer == 0) {
            int same = PyObject_RichCompareBool(t, t_have, Py_EQ);
            if (same < 0) newer = -1;
            else if (same) {
                PyObject *e4 = PySequence_GetSlice(entry, 0, 4), *h4 = e4 == NULL ? NULL : PySequence_GetSlice(have, 0, 4);
                newer = h4 == NULL ? -1 : PyObject_RichCompareBool(e4, h4, Py_GT);
                Py_XDECREF(e4);
                Py_XDECREF(h4);
            }
        }
        Py_XDECREF(t);
        Py_XDECREF(t_have);
        if (newer > 0 && PyList_CheckExact(entry) && PyList_CheckExact(have) && PyList_GET_SIZE(entry) >= 4 &&
            PyList_GET_SIZE(have) >= 4) { /* have[:4] = entry[:4], item by item */
            for (Py_ssize_t i = 0; i < 4; i++) PyList_SetItem(have, i, Py_NewRef(PyList_GET_ITEM(entry, i)));
        } else if (newer > 0) {
            PyObject *e4 = PySequence_GetSlice(entry, 0, 4);
            newer = e4 == NULL ? -1 : PySequence_SetSlice(have, 0, 4, e4);
            Py_XDECREF(e4);
        }
        int r = newer < 0 ? -1 : PySequence_SetItem(have, 4, windows);
        Py_DECREF(windows);
        if (r < 0) return -1;
    }
    return 0;
}

static int merge_sx(PyObject *mine, PyObject *value) {
    PyObject *mac, *link;
    Py_ssize_t pos = 0;
    while (PyDict_Next(value, &pos, &mac, &link)) {
        PyObject *have = PyDict_GetItemWithError(mine, mac);
        if (have == Py_None) have = NULL;
        PyObject *lx = PyObject_GetItem(link, K_x), *lc = lx == NULL ? NULL : PyObject_GetItem(link, K_c);
        if (lc == NULL) {
            Py_XDECREF(lx);
            return -1;
        }
        int r = 0;
        if (have == NULL) {
            if (PyErr_Occurred()) r = -1;
            else {
                /* {"x": list(link["x"]), "c": dict(link["c"])} */
                PyObject *x = PySequence_List(lx), *c = x == NULL ? NULL : PyDict_Copy(lc);
                PyObject *entry = c == NULL ? NULL : PyDict_New();
                if (x != NULL) untrack_atomic(x);
                r = entry == NULL || PyDict_SetItem(entry, K_x, x) < 0 || PyDict_SetItem(entry, K_c, c) < 0
                        ? -1
                        : PyDict_SetItem(mine, mac, entry);
                Py_XDECREF(x);
                Py_XDECREF(c);
                Py_XDECREF(entry);
            }
        } else {
            PyObject *hx = PyObject_GetItem(have, K_x);
            r = hx == NULL ? -1 : add_lists(hx, lx, 0);
            Py_XDECREF(hx);
            int any = r < 0 ? -1 : PyObject_IsTrue(lc);
            if (any < 0) r = -1;
            else if (any) {
                PyObject *hc = PyObject_GetItem(have, K_c);
                PyObject *cat, *minutes;
                Py_ssize_t cpos = 0;
                if (hc == NULL) r = -1;
                else if (!PyDict_Check(lc) || !PyDict_Check(hc)) {
                    PyErr_SetString(PyExc_TypeError, "link minutes are not dicts");
                    r = -1;
                }
                while (r == 0 && PyDict_Next(lc, &cpos, &cat, &minutes)) {
                    PyObject *old = PyDict_GetItemWithError(hc, cat);
                    PyObject *sum = old != NULL ? PyNumber_Add(old, minutes) : PyErr_Occurred() ? NULL : PyNumber_Add(zero_obj, minutes);
                    r = sum == NULL ? -1 : PyDict_SetItem(hc, cat, sum);
                    Py_XDECREF(sum);
                }
                Py_XDECREF(hc);
            }
        }
        Py_DECREF(lx);
        Py_DECREF(lc);
        if (r < 0) return -1;
    }
    return 0;
}

static int merge_apps(PyObject *mine, PyObject *value) {
    PyObject *cat, *apps;
    Py_ssize_t pos = 0;
    while (PyDict_Next(value, &pos, &cat, &apps)) {
        PyObject *have = PyDict_GetItemWithError(mine, cat);
        if (have == Py_None) have = NULL;
        if (have == NULL) {
            if (PyErr_Occurred()) return -1;
            PyObject *copy = PyDict_Copy(apps);
            int r = copy == NULL ? -1 : PyDict_SetItem(mine, cat, copy);
            Py_XDECREF(copy);
            if (r < 0) return -1;
            continue;
        }
        if (!PyDict_Check(have) || !PyDict_Check(apps)) {
            PyErr_SetString(PyExc_TypeError, "apps of a category are not a dict");
            return -1;
        }
        PyObject *app, *minutes;
        Py_ssize_t apos = 0;
        while (PyDict_Next(apps, &apos, &app, &minutes)) {
            PyObject *old = PyDict_GetItemWithError(have, app);
            if (old == NULL && PyErr_Occurred()) return -1;
            PyObject *sum = old != NULL ? PyNumber_Add(old, minutes) : (Py_INCREF(minutes), minutes);
            int r = sum == NULL ? -1 : PyDict_SetItem(have, app, sum);
            Py_XDECREF(sum);
            if (r < 0) return -1;
        }
        if (PyDict_GET_SIZE(have) > max_apps) {
            PyObject *cut = PyObject_CallFunctionObjArgs(trim_apps, have, NULL);
            int r = cut == NULL ? -1 : PyDict_SetItem(mine, cat, cut);
            Py_XDECREF(cut);
            if (r < 0) return -1;
        }
    }
    return 0;
}

static int hex_digit(Py_UCS1 c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static PyObject *slots_or(PyObject *a, PyObject *b) {
    /* merge._or: the union of two fixed-width hex bitmaps, f"{int(a, 16) | int(b, 16):024x}". Two
       bitmaps as written (24 lowercase hex digits each) are or-ed digit by digit: the same text */
    if (PyUnicode_IS_ASCII(a) && PyUnicode_IS_ASCII(b) && PyUnicode_GET_LENGTH(a) == 24 &&
        PyUnicode_GET_LENGTH(b) == 24) {
        const Py_UCS1 *x = PyUnicode_1BYTE_DATA(a), *y = PyUnicode_1BYTE_DATA(b);
        char out[24];
        int i = 0;
        for (; i < 24; i++) {
            int dx = hex_digit(x[i]), dy = hex_digit(y[i]);
            if (dx < 0 || dy < 0) break;
            out[i] = "0123456789abcdef"[dx | dy];
        }
        if (i == 24) return PyUnicode_FromStringAndSize(out, 24);
    }
    PyObject *x = PyLong_FromUnicodeObject(a, 16), *y = x == NULL ? NULL : PyLong_FromUnicodeObject(b, 16);
    PyObject *bits = y == NULL ? NULL : PyNumber_Or(x, y), *out = NULL;
    if (bits != NULL) {
        PyObject *spec = PyUnicode_FromString("024x");
        out = spec == NULL ? NULL : PyObject_Format(bits, spec);
        Py_XDECREF(spec);
    }
    Py_XDECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(bits);
    return out;
}

/* merge._maxima([mine, value]) of two dicts: a copy of mine, each key of value at its maximum. */
static PyObject *maxima(PyObject *mine, PyObject *value) {
    PyObject *out = PyDict_Copy(mine), *k, *x;
    Py_ssize_t pos = 0;
    while (out != NULL && PyDict_Next(value, &pos, &k, &x)) {
        PyObject *have = PyDict_GetItemWithError(out, k);
        int more = have == NULL ? (PyErr_Occurred() ? -1 : 1) : PyObject_RichCompareBool(x, have, Py_GT);
        if (more < 0 || (more && PyDict_SetItem(out, k, x) < 0)) Py_CLEAR(out);
    }
    return out;
}

/* merge._competitor([m, v]) of two [dBm, SSID, counts] lists whose counts are lists of ints:
   the stronger (dBm, then SSID; the first of equals), the counts summed. NULL without an error:
   a shape this does not take (merge.py then merges). */
static PyObject *competitor(PyObject *m, PyObject *v) {
    if (!PyList_CheckExact(m) || !PyList_CheckExact(v) || PyList_GET_SIZE(m) != 3 || PyList_GET_SIZE(v) != 3)
        return NULL;
    PyObject *mc = PyList_GET_ITEM(m, 2), *vc = PyList_GET_ITEM(v, 2);
    if (!PyList_CheckExact(mc) || !PyList_CheckExact(vc) || PyList_GET_SIZE(mc) != PyList_GET_SIZE(vc)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(mc);
    for (Py_ssize_t i = 0; i < n; i++) /* sum((a, b)) is 0 + a + b: the same as a + b for ints only */
        if (!PyLong_CheckExact(PyList_GET_ITEM(mc, i)) || !PyLong_CheckExact(PyList_GET_ITEM(vc, i))) return NULL;
    int stronger = PyObject_RichCompareBool(PyList_GET_ITEM(v, 0), PyList_GET_ITEM(m, 0), Py_GT);
    if (stronger == 0) {
        int same = PyObject_RichCompareBool(PyList_GET_ITEM(v, 0), PyList_GET_ITEM(m, 0), Py_EQ);
        stronger = same <= 0 ? same : PyObject_RichCompareBool(PyList_GET_ITEM(v, 1), PyList_GET_ITEM(m, 1), Py_GT);
    }
    if (stronger < 0) return NULL;
    PyObject *strongest = stronger ? v : m, *counts = PyList_New(n), *out = NULL;
    for (Py_ssize_t i = 0; counts != NULL && i < n; i++) {
        PyObject *sum = PyNumber_Add(PyList_GET_ITEM(mc, i), PyList_GET_ITEM(vc, i));
        if (sum == NULL) Py_CLEAR(counts);
        else PyList_SET_ITEM(counts, i, sum);
    }
    if (counts != NULL) {
        PyObject *items[3] = {PyList_GET_ITEM(strongest, 0), PyList_GET_ITEM(strongest, 1), counts};
        out = list_of(3, items); /* its counts untracked too: ints only */
        PyObject_GC_UnTrack(counts);
        Py_DECREF(counts);
    }
    return out;
}

/* merge._keyed(merge._competitor)([mine, value]) of two dicts: mine's operators in order (merged
   where value has them too), then value's others. NULL without an error: a shape for merge.py. */
static PyObject *competitors_merged(PyObject *mine, PyObject *value) {
    PyObject *out = PyDict_New(), *op, *entry;
    Py_ssize_t pos = 0;
    while (out != NULL && PyDict_Next(mine, &pos, &op, &entry)) {
        PyObject *other = PyDict_GetItemWithError(value, op);
        PyObject *merged = other == NULL ? (PyErr_Occurred() ? NULL : Py_NewRef(entry)) : competitor(entry, other);
        if (merged == NULL || PyDict_SetItem(out, op, merged) < 0) Py_CLEAR(out);
        Py_XDECREF(merged);
    }
    pos = 0;
    while (out != NULL && PyDict_Next(value, &pos, &op, &entry)) {
        int known = PyDict_Contains(mine, op);
        if (known < 0 || (!known && PyDict_SetItem(out, op, entry) < 0)) Py_CLEAR(out);
    }
    return out;
}

/* The day's keys add() merges itself; a key found by identity first (a contribution's keys are
   interned: PyDict_SetItemString), then by value. */
enum { KEY_OTHER, KEY_V, KEY_HB, KEY_TM, KEY_SX, KEY_APPS, KEY_SLOTS, KEY_OFF, KEY_FIRST, KEY_LAST, KEY_MESH,
       KEY_PLAN, KEY_QMAX, KEY_COMP, KEY_N };
static const char *const KEY_NAMES[KEY_N] = {"", "v", "hb", "tm", "sx", "apps", "slots", "off", "first", "last",
                                             "mesh", "plan", "qmax", "comp"};
static PyObject *KEYS[KEY_N];

static int key_code(PyObject *key) {
    for (int i = 1; i < KEY_N; i++)
        if (key == KEYS[i]) return i;
    if (!PyUnicode_Check(key)) return KEY_OTHER;
    for (int i = 1; i < KEY_N; i++)
        if (PyUnicode_CompareWithASCIIString(key, KEY_NAMES[i]) == 0) return i;
    return KEY_OTHER;
}

static PyObject *add(PyObject *self, PyObject *args) {
    PyObject *day, *c, *sparse;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyDict_Type, &day, &PyDict_Type, &c, &PyDict_Type, &sparse)) return NULL;
    if (!L.ready || merge_other == NULL) {
        PyErr_SetString(Unsupported, "configure() first");
        return NULL;
    }
    PyObject *v = PyDict_GetItemWithError(day, K_v);
    if (v == NULL && PyErr_Occurred()) return NULL;
    if (v != NULL && !PyList_CheckExact(v)) {
        PyErr_SetString(Unsupported, "a stored vector that is not a list"); /* nothing changed yet */
        return NULL;
    }
    if (v == NULL) {
        PyObject *zeros = PyList_New(L.size);
        if (zeros == NULL) return NULL;
        for (long i = 0; i < L.size; i++) PyList_SET_ITEM(zeros, i, PyLong_FromLong(0));
        int r = PyDict_SetItem(day, K_v, zeros);
        Py_DECREF(zeros);
        if (r < 0) return NULL;
        v = zeros; /* borrowed from day */
    } else if (pad(v, L.size) < 0) return NULL;
    PyObject *key, *x;
    Py_ssize_t pos = 0;
    while (PyDict_Next(sparse, &pos, &key, &x)) {
        Py_ssize_t i = PyLong_AsSsize_t(key);
        if (i == -1 && PyErr_Occurred()) return NULL;
        if (add_into(v, i, x) < 0) return NULL;
    }
    PyObject *value;
    pos = 0;
    while (PyDict_Next(c, &pos, &key, &value)) {
        PyObject *mine = PyDict_GetItemWithError(day, key);
        if (mine == NULL) {
            if (PyErr_Occurred() || PyDict_SetItem(day, key, value) < 0) return NULL;
            continue;
        }
        Py_INCREF(mine);
        int r = 0;
        PyObject *merged = NULL;
        int which = key_code(key);
        if (which == KEY_V || which == KEY_HB) {
            Py_ssize_t n = PySequence_Size(value);
            r = n < 0 ? -1 : pad(mine, n);
            if (r == 0) r = add_lists(mine, value, 1);
        } else if (which == KEY_TM) {
            r = PyDict_Check(mine) && PyDict_Check(value) ? merge_tm(mine, value) : -2;
        } else if (which == KEY_SX) {
            r = PyDict_Check(mine) && PyDict_Check(value) ? merge_sx(mine, value) : -2;
        } else if (which == KEY_APPS) {
            r = PyDict_Check(mine) && PyDict_Check(value) ? merge_apps(mine, value) : -2;
        } else if ((which == KEY_SLOTS || which == KEY_OFF) && PyUnicode_Check(mine) && PyUnicode_Check(value)) {
            merged = slots_or(mine, value);
        } else if (which == KEY_FIRST) {
            int less = PyObject_RichCompareBool(value, mine, Py_LT); /* min([mine, value]) */
            merged = less < 0 ? NULL : less ? value : mine;
            Py_XINCREF(merged);
        } else if (which == KEY_LAST || which == KEY_MESH || which == KEY_PLAN) {
            int more = PyObject_RichCompareBool(value, mine, Py_GT); /* max([mine, value]) */
            merged = more < 0 ? NULL : more ? value : mine;
            Py_XINCREF(merged);
        } else if (which == KEY_QMAX && PyDict_CheckExact(mine) && PyDict_CheckExact(value)) {
            merged = maxima(mine, value);
        } else if (which == KEY_COMP && PyDict_CheckExact(mine) && PyDict_CheckExact(value) &&
                   ((merged = competitors_merged(mine, value)) != NULL || PyErr_Occurred())) {
            /* merged, or the error merge.py would raise too */
        } else {
            merged = PyObject_CallFunctionObjArgs(merge_other, key, mine, value, NULL);
        }
        Py_DECREF(mine);
        if (r == -2) {
            PyErr_SetString(PyExc_TypeError, "a stored day part that is not a dict");
            return NULL;
        }
        if (r < 0) return NULL;
        if (merged != NULL) {
            r = PyDict_SetItem(day, key, merged);
            Py_DECREF(merged);
            if (r < 0) return NULL;
        } else if (PyErr_Occurred()) {
            return NULL;
        }
    }
    Py_INCREF(day);
    return day;
}

static PyObject *configure_merge(PyObject *self, PyObject *args) {
    PyObject *other, *trim;
    long most;
    if (!PyArg_ParseTuple(args, "OOl", &other, &trim, &most)) return NULL;
    Py_XSETREF(merge_other, Py_NewRef(other));
    Py_XSETREF(trim_apps, Py_NewRef(trim));
    max_apps = most;
    Py_RETURN_NONE;
}

static PyObject *reads(PyObject *self, PyObject *unused);

static PyMethodDef methods[] = {
    {"window", window, METH_VARARGS,
     "window(body, window_start, window_end) -> (contribution without its vector, the vector's set positions)"},
    {"window_packed", window_packed, METH_VARARGS,
     "window_packed(packed, window_start, window_end) -> (c, sparse, has_unclassified): window() of a report's "
     "unframed msgpack"},
    {"packed_reads", reads, METH_NOARGS, "packed_reads() -> the key paths window_packed reads (WindowBody's form)"},
    {"configure", configure, METH_O, "configure(layout): the positions and tables window.compiled_layout computes"},
    {"add", add, METH_VARARGS, "add(day, c, sparse) -> day: rollup.add_window (merge.fold_into, owned)"},
    {"configure_merge", configure_merge, METH_VARARGS,
     "configure_merge(merge_other, trim_apps, max_apps): what add() leaves to merge.py"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_window", NULL, -1, methods};

static PyObject *reads(PyObject *self, PyObject *unused) { return packed_reads(); }

PyMODINIT_FUNC PyInit__window(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Unsupported = PyErr_NewException("collector.profiles._window.Unsupported", PyExc_ValueError, NULL);
    K_None = PyUnicode_InternFromString("None");
    K_v = PyUnicode_InternFromString("v");
    K_x = PyUnicode_InternFromString("x");
    K_c = PyUnicode_InternFromString("c");
    zero_obj = PyLong_FromLong(0);
    for (int i = 1; i < KEY_N; i++)
        if ((KEYS[i] = PyUnicode_InternFromString(KEY_NAMES[i])) == NULL) {
            Py_DECREF(m);
            return NULL;
        }
    L.other = PyUnicode_InternFromString("other");
    L.empty = PyUnicode_InternFromString("");
    if (Unsupported == NULL || K_None == NULL || K_v == NULL || K_x == NULL || K_c == NULL || zero_obj == NULL ||
        L.other == NULL || L.empty == NULL || read_init() < 0 || PyModule_AddObject(m, "Unsupported", Unsupported) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(Unsupported);
    return m;
}
