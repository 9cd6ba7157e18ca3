/* Semantic checks of a loaded spec (after either front end). */
#ifndef FLOWLB_CHECK_H
#define FLOWLB_CHECK_H 1

#include <stdbool.h>
#include "spec.h"

/* Checks 'spec' as a whole: duplicate names, VIP/protocol/port clashes,
 * address families, MACs, required fields, a real used with different MACs
 * in different services, ... Reports to 'd'. Returns true if no error. */
bool lb_check(const struct lb_spec *spec, struct diag *d);

#endif /* FLOWLB_CHECK_H */
