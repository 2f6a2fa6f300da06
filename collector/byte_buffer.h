/* A growing byte buffer for the C passes that write: the JSON the ingest plan stores
   (collector/store/_plan.c) and a report's rewritten msgpack (collector/privacy/_scrub.c).
   PyMem memory, freed by the caller; a failed growth sets MemoryError and returns -1. Static
   inline, included by each: the extensions are separate modules. */
#ifndef HOMESCOPE_BYTE_BUFFER_H
#define HOMESCOPE_BYTE_BUFFER_H

#include <Python.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t len, cap;
} byte_buffer;

/* Room for `more` bytes after what is written (doubling, from 256 bytes). */
static inline int buffer_grow(byte_buffer *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) cap *= 2;
    char *grown = PyMem_Realloc(b->buf, cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->buf = grown;
    b->cap = cap;
    return 0;
}

static inline int buffer_put(byte_buffer *b, const void *s, size_t n) {
    if (buffer_grow(b, n) < 0) return -1;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    return 0;
}

#endif
