/* A growable, always NUL-terminated text buffer (matches, actions, whole
 * output files). */
#ifndef FLOWLB_DS_BUF_H
#define FLOWLB_DS_BUF_H 1

#include <stdbool.h>
#include <stddef.h>

struct ds_buf {
    char *s;                    /* NULL until something is written. */
    size_t len, allocated;
};

void ds_buf_init(struct ds_buf *);
void ds_buf_destroy(struct ds_buf *);
/* Empties the buffer, keeping its memory. */
void ds_buf_clear(struct ds_buf *);
void ds_buf_printf(struct ds_buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Without printf, for the hot paths (one call per bucket at 320,000). */
void ds_buf_put(struct ds_buf *, const char *);
void ds_buf_put_uint(struct ds_buf *, unsigned long long, bool hex);

#endif /* FLOWLB_DS_BUF_H */
