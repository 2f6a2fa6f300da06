/* protocol._keys: does a msgpack buffer repeat a map key? One pass of C over the bytes.

   msgspec decodes a map that repeats a key by keeping the last value, silently. The
   collector refuses such payloads (two readers could see two different messages), and
   proving there is no repeat used to cost a whole decode into dicts plus a re-encode. This
   walks the bytes once, building nothing.

   unique_keys(buffer) is True when the buffer holds exactly one msgpack object in which
   every map key is a string, no map repeats a key (byte for byte), nothing nests deeper
   than the given depth and no extension type appears; False for anything else. False only
   means "not proven": the caller's full decoder then names the reason. Strings are not
   checked for UTF-8 here; the typed decode that follows does that. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor;

typedef struct {
    const uint8_t *key;
    uint32_t len;
} slot;

#define SMALL_TABLE 128 /* slots on the stack: maps of up to 64 keys need no allocation */

static int walk(cursor *c, int depth);

static inline int has(const cursor *c, size_t n) { return (size_t)(c->end - c->p) >= n; }

static inline uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }

static inline uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Skip n bytes after a header of h bytes; 0 if the buffer is shorter. */
static inline int skip(cursor *c, size_t h, size_t n) {
    if (!has(c, h) || (size_t)(c->end - c->p) - h < n) return 0;
    c->p += h + n;
    return 1;
}

/* A string at the cursor: its bytes in *s, *n; 0 if the next object is not a string. */
static int string(cursor *c, const uint8_t **s, uint32_t *n) {
    uint8_t b;
    size_t h;
    if (!has(c, 1)) return 0;
    b = *c->p;
    if ((b & 0xe0) == 0xa0) {
        *n = b & 0x1f;
        h = 1;
    } else if (b == 0xd9 && has(c, 2)) {
        *n = c->p[1];
        h = 2;
    } else if (b == 0xda && has(c, 3)) {
        *n = be16(c->p + 1);
        h = 3;
    } else if (b == 0xdb && has(c, 5)) {
        *n = be32(c->p + 1);
        h = 5;
    } else {
        return 0;
    }
    *s = c->p + h;
    return skip(c, h, *n);
}

static inline uint32_t hash(const uint8_t *s, uint32_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    return h;
}

/* The pairs of a map whose header said count; depth is what its values may still nest. */
static int map(cursor *c, uint32_t count, int depth) {
    slot stack[SMALL_TABLE];
    slot *table = stack;
    size_t size = 8;
    int ok = 1;
    if (count == 0) return 1;
    /* every pair takes at least two bytes: a count beyond that is a lie, refuse before allocating */
    if ((size_t)(c->end - c->p) / 2 < count) return 0;
    while (size < 2 * (size_t)count) size *= 2;
    if (size > SMALL_TABLE) {
        table = calloc(size, sizeof(slot));
        if (table == NULL) return -1;
    } else {
        memset(stack, 0, size * sizeof(slot));
    }
    for (uint32_t i = 0; i < count && ok == 1; i++) {
        const uint8_t *key;
        uint32_t len;
        size_t at;
        if (!string(c, &key, &len)) {
            ok = 0;
            break;
        }
        at = hash(key, len) & (size - 1);
        while (table[at].key != NULL) {
            if (table[at].len == len && memcmp(table[at].key, key, len) == 0) {
                ok = 0; /* a repeated key */
                break;
            }
            at = (at + 1) & (size - 1);
        }
        if (ok != 1) break;
        table[at].key = key;
        table[at].len = len;
        ok = walk(c, depth);
    }
    if (table != stack) free(table);
    return ok;
}

/* One object at the cursor; depth is how many containers may still open (this one included). */
static int walk(cursor *c, int depth) {
    uint8_t b;
    const uint8_t *s;
    uint32_t n;
    if (!has(c, 1)) return 0;
    b = *c->p;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return skip(c, 1, 0);
    if ((b & 0xe0) == 0xa0 || (b >= 0xd9 && b <= 0xdb)) return string(c, &s, &n);
    if (((b & 0xe0) == 0x80 || b == 0xdc || b == 0xdd || b == 0xde || b == 0xdf) && depth <= 0)
        return 0; /* a container too deep */
    if ((b & 0xf0) == 0x80) {
        c->p += 1;
        return map(c, b & 0x0f, depth - 1);
    }
    if ((b & 0xf0) == 0x90 || b == 0xdc || b == 0xdd) {
        uint32_t count;
        int ok = 1;
        if ((b & 0xf0) == 0x90) {
            count = b & 0x0f;
            c->p += 1;
        } else if (b == 0xdc && has(c, 3)) {
            count = be16(c->p + 1);
            c->p += 3;
        } else if (b == 0xdd && has(c, 5)) {
            count = be32(c->p + 1);
            c->p += 5;
        } else {
            return 0;
        }
        if ((size_t)(c->end - c->p) < count) return 0; /* each item is at least one byte */
        for (uint32_t i = 0; i < count && ok == 1; i++) ok = walk(c, depth - 1);
        return ok;
    }
    switch (b) {
    case 0xde:
        if (!has(c, 3)) return 0;
        n = be16(c->p + 1);
        c->p += 3;
        return map(c, n, depth - 1);
    case 0xdf:
        if (!has(c, 5)) return 0;
        n = be32(c->p + 1);
        c->p += 5;
        return map(c, n, depth - 1);
    case 0xc4: return has(c, 2) && skip(c, 2, c->p[1]);          /* bin 8 */
    case 0xc5: return has(c, 3) && skip(c, 3, be16(c->p + 1));   /* bin 16 */
    case 0xc6: return has(c, 5) && skip(c, 5, be32(c->p + 1));   /* bin 32 */
    case 0xca: return skip(c, 1, 4);                               /* float 32 */
    case 0xcb: return skip(c, 1, 8);                               /* float 64 */
    case 0xcc: case 0xd0: return skip(c, 1, 1);                    /* (u)int 8 */
    case 0xcd: case 0xd1: return skip(c, 1, 2);                    /* (u)int 16 */
    case 0xce: case 0xd2: return skip(c, 1, 4);                    /* (u)int 32 */
    case 0xcf: case 0xd3: return skip(c, 1, 8);                    /* (u)int 64 */
    default: return 0; /* 0xc1 (never used) and the extension types */
    }
}

static PyObject *unique_keys(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer view;
    cursor c;
    int ok;
    long depth;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "unique_keys(buffer, max_depth)");
        return NULL;
    }
    depth = PyLong_AsLong(args[1]);
    if (depth == -1 && PyErr_Occurred()) return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    c.p = view.buf;
    c.end = c.p + view.len;
    /* the GIL is kept: a few microseconds, and giving it up could cost a 5 ms switch interval */
    ok = walk(&c, (int)(depth > 1000 ? 1000 : depth));
    if (ok == 1 && c.p != c.end) ok = 0; /* trailing bytes */
    PyBuffer_Release(&view);
    if (ok < 0) return PyErr_NoMemory();
    return PyBool_FromLong(ok);
}

static PyMethodDef methods[] = {
    {"unique_keys", (PyCFunction)(void (*)(void))unique_keys, METH_FASTCALL,
     "unique_keys(buffer, max_depth) -> bool: one msgpack object, string map keys never repeated."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "protocol._keys", NULL, -1, methods};

PyMODINIT_FUNC PyInit__keys(void) { return PyModule_Create(&module); }
