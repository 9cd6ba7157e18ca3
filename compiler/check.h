/* Semantic checks of a loaded spec (after either front end). */
#ifndef FLOWLB_CHECK_H
#define FLOWLB_CHECK_H 1

#include <stdbool.h>
#include "spec.h"

/* Checks 'spec' as a whole: duplicate names, VIP/protocol/port clashes,
 * address families, MACs, required fields, a real used with different MACs
 * in different services, ... Reports to 'd'. Returns true if no error. */
bool lb_check(const struct lb_spec *spec, struct diag *d);

/* Services appended to a checked spec (a reload that adds services) are
 * checked alone with lb_check() and against the spec's names and VIPs
 * through an index kept with it, instead of checking the longer spec
 * whole. A real shared with the spec is the lowering's to compare (its
 * forward flow must be the same: lower_services_appended()). */
struct lb_spec_index;

/* An index of the names and VIPs of 'spec' (a pass over its services). */
struct lb_spec_index *lb_spec_index_create(const struct lb_spec *spec);
void lb_spec_index_destroy(struct lb_spec_index *);       /* NULL ok. */
/* Adds service 'i' of 'spec' (appended since the index was made; 'spec'
 * may have moved: the index holds service numbers, not pointers). */
void lb_spec_index_add(struct lb_spec_index *, const struct lb_spec *spec,
                       size_t i);

/* Whether 'svc', which passed lb_check() alone, passes it appended to the
 * checked 'spec' (indexed in the index) as far as its name, VIP and
 * vip-mac go: a new name, on a single-address VIP whose services use other
 * ports or protocols and the same vip-mac, with no prefix VIP in 'spec'.
 * False also when unsure (a prefix): check the whole spec then. */
bool lb_check_appendable(const struct lb_spec_index *,
                         const struct lb_spec *spec,
                         const struct lb_service *svc);

#endif /* FLOWLB_CHECK_H */
