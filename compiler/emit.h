/* Emitters: an IR pipeline to text. */
#ifndef FLOWLB_EMIT_H
#define FLOWLB_EMIT_H 1

#include <stdbool.h>
#include "diag.h"
#include "ir.h"

struct ds_buf {                 /* Growable byte buffer. */
    char *s;
    size_t len, allocated;
};

/* Writes the "ovs-ofctl -O OpenFlow15 bundle" file for 'p' into 'out':
 * "group add ..." lines, then "flow add ..." lines. Every line is first
 * parsed with libopenvswitch's own parsers; a line OVS would refuse is
 * reported to 'd' as an internal error and false is returned. */
bool emit_ofctl_bundle(const struct ir_pipeline *p, struct ds_buf *out,
                       struct diag *d);

void ds_buf_init(struct ds_buf *);
void ds_buf_destroy(struct ds_buf *);
void ds_buf_printf(struct ds_buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* FLOWLB_EMIT_H */
