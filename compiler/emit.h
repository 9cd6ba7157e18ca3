/* Emitters: an IR pipeline to text. */
#ifndef FLOWLB_EMIT_H
#define FLOWLB_EMIT_H 1

#include <stdbool.h>
#include "diag.h"
#include "ds_buf.h"
#include "ir.h"

/* Writes the "ovs-ofctl -O OpenFlow15 bundle" file for 'p' into 'out':
 * "group add ..." lines, then "flow add ..." lines. Every line is first
 * parsed with libopenvswitch's own parsers; a line OVS would refuse is
 * reported to 'd' as an internal error and false is returned. */
bool emit_ofctl_bundle(const struct ir_pipeline *p, struct ds_buf *out,
                       struct diag *d);

#endif /* FLOWLB_EMIT_H */
