/* Helpers shared by the importer unit tests (test_import_*.c): finding a
 * diagnostic by position and text, and comparing two spec models field by
 * field (locations aside). Header-only: each test is its own program. */
#ifndef IMPORT_TEST_UTIL_H
#define IMPORT_TEST_UTIL_H 1

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"
#include "import.h"
#include "spec.h"
#include "values.h"

static inline void
dump_diag(const struct diag *d)
{
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        fprintf(stderr, "  %s:%d:%d: %s: %s\n",
                r->loc.file ? r->loc.file : "-", r->loc.line, r->loc.col,
                r->severity == DIAG_ERROR ? "error" : "warning", r->message);
    }
}

/* Asserts that 'd' holds a record of 'sev' at line:col (col 0: any)
 * whose message contains 'text'. */
static inline void
expect_diag(const struct diag *d, enum diag_severity sev, int line, int col,
            const char *text)
{
    for (size_t i = 0; i < d->n_records; i++) {
        const struct diag_record *r = &d->records[i];
        if (r->severity == sev && r->loc.line == line
            && (!col || r->loc.col == col) && strstr(r->message, text)) {
            return;
        }
    }
    fprintf(stderr, "expected %s at %d:%d containing '%s'; got:\n",
            sev == DIAG_ERROR ? "error" : "warning", line, col, text);
    dump_diag(d);
    fail();
}

static inline size_t
count_diag(const struct diag *d, enum diag_severity sev, const char *text)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n_records; i++) {
        n += d->records[i].severity == sev
             && strstr(d->records[i].message, text);
    }
    return n;
}

static inline const struct lb_service *
find_service(const struct lb_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->n_services; i++) {
        if (!strcmp(spec->services[i].name, name)) {
            return &spec->services[i];
        }
    }
    fprintf(stderr, "no service '%s' among:", name);
    for (size_t i = 0; i < spec->n_services; i++) {
        fprintf(stderr, " %s", spec->services[i].name);
    }
    fprintf(stderr, "\n");
    fail();
    return NULL;
}

static inline void
assert_addr(const struct lb_addr *a, const char *text)
{
    char buf[64];
    lb_addr_format(a, buf, sizeof buf);
    assert_string_equal(buf, text);
}

static inline void
assert_mac(const struct lb_mac *m, const char *text)
{
    char buf[20];
    lb_mac_format(m, buf, sizeof buf);
    assert_string_equal(buf, text);
}

static inline void
assert_str_eq_null(const char *a, const char *b)
{
    if (!a || !b) {
        assert_true(!a && !b);
    } else {
        assert_string_equal(a, b);
    }
}

static inline void
assert_real_equal(const struct lb_real *a, const struct lb_real *b)
{
    assert_true(lb_addr_equal(&a->addr, &b->addr));
    assert_int_equal(a->has_mac, b->has_mac);
    if (a->has_mac) {
        assert_memory_equal(&a->mac, &b->mac, sizeof a->mac);
    }
    assert_str_eq_null(a->port, b->port);
    assert_int_equal(a->weight, b->weight);
}

/* Every field of the model but locations. */
static inline void
assert_spec_equal(const struct lb_spec *a, const struct lb_spec *b)
{
    assert_int_equal(a->n_services, b->n_services);
    for (size_t i = 0; i < a->n_services; i++) {
        const struct lb_service *x = &a->services[i], *y = &b->services[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->has_vip, y->has_vip);
        assert_true(lb_addr_equal(&x->vip, &y->vip));
        assert_int_equal(x->proto, y->proto);
        assert_int_equal(x->port, y->port);
        assert_int_equal(x->port_max, y->port_max);
        assert_int_equal(x->vip_prefix_len, y->vip_prefix_len);
        assert_int_equal(x->has_vip_mac, y->has_vip_mac);
        if (x->has_vip_mac) {
            assert_memory_equal(&x->vip_mac, &y->vip_mac, sizeof x->vip_mac);
        }
        assert_int_equal(x->vip_mac_auto, y->vip_mac_auto);
        assert_int_equal(x->scheduler, y->scheduler);
        assert_int_equal(x->n_reals, y->n_reals);
        for (size_t j = 0; j < x->n_reals; j++) {
            assert_real_equal(&x->reals[j], &y->reals[j]);
        }
        const struct lb_check *c = &x->check, *k = &y->check;
        assert_int_equal(c->type, k->type);
        assert_int_equal(c->interval_ms, k->interval_ms);
        assert_int_equal(c->timeout_ms, k->timeout_ms);
        assert_int_equal(c->rise, k->rise);
        assert_int_equal(c->fall, k->fall);
        assert_int_equal(c->port, k->port);
        assert_str_eq_null(c->path, k->path);
        assert_int_equal(c->expect_status, k->expect_status);
        assert_str_eq_null(c->expect_body, k->expect_body);
        assert_str_eq_null(c->command, k->command);
        assert_str_eq_null(c->send, k->send);
        assert_str_eq_null(c->expect_reply, k->expect_reply);
        assert_true(lb_addr_equal(&c->source, &k->source));
        assert_int_equal(x->persistence_s, y->persistence_s);
        assert_int_equal(x->persistence_prefix_len, y->persistence_prefix_len);
        assert_int_equal(x->stickiness, y->stickiness);
        assert_int_equal(x->sticky_idle_s, y->sticky_idle_s);
        assert_int_equal(x->udp_timeout_s, y->udp_timeout_s);
        assert_int_equal(x->has_sorry, y->has_sorry);
        if (x->has_sorry) {
            assert_real_equal(&x->sorry, &y->sorry);
        }
        assert_int_equal(x->quorum, y->quorum);
        assert_int_equal(x->quorum_hysteresis, y->quorum_hysteresis);
        assert_int_equal(x->inhibit_on_failure, y->inhibit_on_failure);
        assert_int_equal(x->expire_nodest_conn, y->expire_nodest_conn);
    }
}

#endif /* IMPORT_TEST_UTIL_H */
