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
        b->allocated = 2 * (b->allocated + n + 64);
        b->s = realloc(b->s, b->allocated);
        if (!b->s) {
            abort();
        }
    }
}
