/* Conversions of spec values from text, shared by both front ends so that
 * the DSL and YAML accept exactly the same forms. Each returns NULL on
 * success or a static error message (not to be freed) describing why the
 * text is not acceptable. */
#ifndef FLOWLB_VALUES_H
#define FLOWLB_VALUES_H 1

#include <stdint.h>
#include "spec.h"

const char *lb_parse_addr(const char *s, struct lb_addr *out);
const char *lb_parse_mac(const char *s, struct lb_mac *out);
/* "500ms", "1s", "2m"; a bare number is an error (units are required). */
const char *lb_parse_duration_ms(const char *s, uint32_t *out);
/* Decimal unsigned integer in [min, max]. */
const char *lb_parse_uint(const char *s, uint32_t min, uint32_t max,
                          uint32_t *out);
const char *lb_parse_proto(const char *s, enum lb_proto *out);
const char *lb_parse_scheduler(const char *s, enum lb_scheduler *out);
const char *lb_parse_check_type(const char *s, enum lb_check_type *out);
/* OpenFlow port: a number 1..0xfffffeff (text starting with a digit is
 * read as a number) or a name of 1-64 chars of [A-Za-z0-9_.-] that is not
 * a reserved port name (in_port, normal, local, ...). */
const char *lb_parse_ofport(const char *s);

/* Formatting into caller buffers (at least 46 / 18 bytes). */
void lb_addr_format(const struct lb_addr *, char *buf, size_t size);
void lb_mac_format(const struct lb_mac *, char *buf, size_t size);
bool lb_addr_equal(const struct lb_addr *, const struct lb_addr *);
bool lb_mac_is_multicast(const struct lb_mac *);
bool lb_mac_is_zero(const struct lb_mac *);

#endif /* FLOWLB_VALUES_H */
