/* Reading msgpack's bytes: what the C passes over a report's msgpack share
   (collector/privacy/_scrub.c, the privacy rewrite; collector/profiles/_window_read.c, the fold's
   reader). Static inline, included by each: the extensions are separate modules. */
#ifndef HOMESCOPE_MSGPACK_BYTES_H
#define HOMESCOPE_MSGPACK_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* msgpack's lengths and numbers are big-endian */
static inline uint32_t be16(const uint8_t *p) { return ((uint32_t)p[0] << 8) | p[1]; }
static inline uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

/* Only ASCII bytes: keys and nearly every value (utf8's fast way). */
static inline int ascii(const uint8_t *s, size_t n) {
    /* word by word, the last word overlapping: no branch per byte, no read past the string */
    if (n >= 8) {
        uint64_t acc = 0, w;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&w, s + i, 8);
            acc |= w;
        }
        memcpy(&w, s + n - 8, 8);
        return ((acc | w) & 0x8080808080808080ULL) == 0;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        return ((a | b) & 0x80808080u) == 0;
    }
    return n == 0 || ((s[0] | s[n / 2] | s[n - 1]) & 0x80) == 0;
}

/* Strictly valid UTF-8, as Python's decoder (and so msgspec) accepts it: no overlong forms,
   no surrogates, nothing past U+10FFFF. */
static inline int utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    if (ascii(s, n)) return 1; /* keys and nearly every value */
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t b = s[i];
        if (b < 0x80) {
            i += 1;
        } else if (b >= 0xc2 && b <= 0xdf) {
            if (n - i < 2 || (s[i + 1] & 0xc0) != 0x80) return 0;
            i += 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            if (n - i < 3 || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80) return 0;
            if ((b == 0xe0 && s[i + 1] < 0xa0) || (b == 0xed && s[i + 1] >= 0xa0)) return 0;
            i += 3;
        } else if (b >= 0xf0 && b <= 0xf4) {
            if (n - i < 4 || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 || (s[i + 3] & 0xc0) != 0x80)
                return 0;
            if ((b == 0xf0 && s[i + 1] < 0x90) || (b == 0xf4 && s[i + 1] >= 0x90)) return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* A string's hash from its length and its first and last 8 bytes (keys, MACs, names and categories
   differ there; a collision only costs a comparison or a cache miss). */
static inline uint32_t hash_of(const uint8_t *s, uint32_t n) {
    uint64_t head, tail = 0;
    if (n >= 8) { /* loads that stay inside the key, in registers (a short memcpy into a word stalls) */
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        head = a | ((uint64_t)b << 32);
    } else {
        head = n ? s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16 : 0;
    }
    uint64_t h = (head ^ (tail * 0x9e3779b97f4a7c15ULL) ^ n) * 0xff51afd7ed558ccdULL;
    return (uint32_t)(h >> 32);
}

#endif
