/* Growable text buffer. */
#include "ds_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ds_buf_init(struct ds_buf *b)
{
    memset(b, 0, sizeof *b);
}

void
ds_buf_destroy(struct ds_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void
ds_buf_clear(struct ds_buf *b)
{
    b->len = 0;
    if (b->s) {
        b->s[0] = '\0';
    }
}

/* Room for 'n' more bytes and a NUL. */
static void
reserve(struct ds_buf *b, size_t n)
{
    if (b->len + n + 1 > b->allocated) {
        b->allocated = 2 * (b->allocated + n + 64);
        b->s = realloc(b->s, b->allocated);
        if (!b->s) {
            abort();
        }
    }
}

void
ds_buf_printf(struct ds_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list args;
        va_start(args, fmt);
        size_t room = b->allocated - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, args);
        va_end(args);
        if (n < 0) {
            abort();            /* Only on a bad format: a bug. */
        }
        if ((size_t) n < room) {
            b->len += n;
            return;
        }
        reserve(b, n);
    }
}

void
ds_buf_put(struct ds_buf *b, const char *s)
{
    size_t n = strlen(s);
    reserve(b, n);
    memcpy(b->s + b->len, s, n + 1);
    b->len += n;
}

void
ds_buf_put_uint(struct ds_buf *b, unsigned long long x, bool hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned int base = hex ? 16 : 10;
    char tmp[24], *p = tmp + sizeof tmp;
    *--p = '\0';
    do {
        *--p = digits[x % base];
        x /= base;
    } while (x);
    ds_buf_put(b, p);
}
