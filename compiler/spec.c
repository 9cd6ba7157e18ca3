/* The spec model: construction, defaults, destruction. */
#include "spec.h"

#include <stdlib.h>
#include <string.h>

static void *
grow(void *array, size_t *allocated, size_t n, size_t elem)
{
    if (n < *allocated) {
        return array;
    }
    *allocated = *allocated ? 2 * *allocated : 4;
    array = realloc(array, *allocated * elem);
    if (!array) {
        abort();
    }
    return array;
}

void
lb_spec_init(struct lb_spec *spec)
{
    memset(spec, 0, sizeof *spec);
}

static void
lb_check_destroy(struct lb_check *c)
{
    free(c->path);
    free(c->expect_body);
    free(c->command);
    free(c->send);
    free(c->expect_reply);
}

void
lb_service_destroy(struct lb_service *svc)
{
    free(svc->name);
    for (size_t j = 0; j < svc->n_reals; j++) {
        free(svc->reals[j].port);
    }
    free(svc->sorry.port);
    free(svc->reals);
    lb_check_destroy(&svc->check);
}

void
lb_spec_destroy(struct lb_spec *spec)
{
    if (!spec) {
        return;
    }
    for (size_t i = 0; i < spec->n_services; i++) {
        lb_service_destroy(&spec->services[i]);
    }
    free(spec->services);
    memset(spec, 0, sizeof *spec);
}

struct lb_service *
lb_spec_add_service(struct lb_spec *spec)
{
    spec->services = grow(spec->services, &spec->allocated_services,
                          spec->n_services, sizeof *spec->services);
    struct lb_service *svc = &spec->services[spec->n_services++];
    memset(svc, 0, sizeof *svc);
    svc->proto = LB_PROTO_TCP;
    svc->scheduler = LB_SCHED_WRR;
    svc->check.type = LB_CHECK_NONE;
    svc->check.interval_ms = 1000;
    svc->check.timeout_ms = 1000;
    svc->check.rise = 2;
    svc->check.fall = 3;
    svc->check.expect_status = 200;
    svc->sticky_idle_s = 300;
    /* vip_prefix_len, port_max and persistence_prefix_len stay 0 until the
     * front end sets the VIP: 0 means "single address / single port /
     * whole address" and lowering reads them that way. */
    return svc;
}

struct lb_real *
lb_service_add_real(struct lb_service *svc)
{
    svc->reals = grow(svc->reals, &svc->allocated_reals, svc->n_reals,
                      sizeof *svc->reals);
    struct lb_real *real = &svc->reals[svc->n_reals++];
    memset(real, 0, sizeof *real);
    real->weight = 1;
    return real;
}

const char *
lb_proto_name(enum lb_proto proto)
{
    return proto == LB_PROTO_UDP ? "udp" : "tcp";
}

const char *
lb_scheduler_name(enum lb_scheduler s)
{
    switch (s) {
    case LB_SCHED_WRR: return "wrr";
    case LB_SCHED_SH: return "sh";
    case LB_SCHED_DH: return "dh";
    case LB_SCHED_MH: return "mh";
    case LB_SCHED_RR: return "rr";
    case LB_SCHED_LC: return "lc";
    case LB_SCHED_WLC: return "wlc";
    case LB_SCHED_FO: return "fo";
    }
    return "?";
}

const char *
lb_check_type_name(enum lb_check_type t)
{
    switch (t) {
    case LB_CHECK_NONE: return "none";
    case LB_CHECK_TCP: return "tcp";
    case LB_CHECK_HTTP: return "http";
    case LB_CHECK_HTTPS: return "https";
    case LB_CHECK_EXEC: return "exec";
    case LB_CHECK_UDP: return "udp";
    case LB_CHECK_TCP_HALF_OPEN: return "tcp-half-open";
    }
    return "?";
}

static char *
dup_or_null(const char *s)
{
    if (!s) {
        return NULL;
    }
    char *copy = strdup(s);
    if (!copy) {
        abort();
    }
    return copy;
}

static void
clone_real(struct lb_real *dst, const struct lb_real *src, const char *file,
           int line_delta)
{
    memcpy(dst, src, sizeof *dst);  /* Padding too: see lb_service_equal. */
    dst->port = dup_or_null(src->port);
    location_move(&dst->loc, file, line_delta);
    location_move(&dst->addr_loc, file, line_delta);
    location_move(&dst->mac_loc, file, line_delta);
    location_move(&dst->port_loc, file, line_delta);
    location_move(&dst->weight_loc, file, line_delta);
}

void
lb_service_clone(struct lb_service *dst, const struct lb_service *src,
                 const char *file, int line_delta)
{
    memcpy(dst, src, sizeof *dst);
    dst->name = dup_or_null(src->name);
    dst->reals = malloc((src->n_reals ? src->n_reals : 1)
                        * sizeof *dst->reals);
    if (!dst->reals) {
        abort();
    }
    dst->allocated_reals = src->n_reals ? src->n_reals : 1;
    for (size_t i = 0; i < src->n_reals; i++) {
        clone_real(&dst->reals[i], &src->reals[i], file, line_delta);
    }
    clone_real(&dst->sorry, &src->sorry, file, line_delta);

    struct lb_check *c = &dst->check;
    c->path = dup_or_null(src->check.path);
    c->expect_body = dup_or_null(src->check.expect_body);
    c->command = dup_or_null(src->check.command);
    c->send = dup_or_null(src->check.send);
    c->expect_reply = dup_or_null(src->check.expect_reply);
    location_move(&c->loc, file, line_delta);
    location_move(&c->source_loc, file, line_delta);

    struct location *locs[] = {
        &dst->loc, &dst->vip_loc, &dst->vip_mac_loc, &dst->scheduler_loc,
        &dst->persistence_loc, &dst->persistence_prefix_loc,
        &dst->stickiness_loc, &dst->sticky_idle_loc, &dst->udp_timeout_loc,
        &dst->quorum_loc, &dst->hysteresis_loc, &dst->inhibit_loc,
        &dst->expire_nodest_loc,
    };
    for (size_t i = 0; i < sizeof locs / sizeof *locs; i++) {
        location_move(locs[i], file, line_delta);
    }
}

static bool
same_string(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The real with its owned pointer set aside (compared by the caller). */
static struct lb_real
bare_real(const struct lb_real *r)
{
    struct lb_real x;
    memcpy(&x, r, sizeof x);    /* Padding included: memcmp'd below. */
    x.port = NULL;
    return x;
}

static bool
real_equal(const struct lb_real *a, const struct lb_real *b)
{
    struct lb_real x = bare_real(a), y = bare_real(b);
    return same_string(a->port, b->port) && !memcmp(&x, &y, sizeof x);
}

bool
lb_service_equal_but_weights(const struct lb_service *a,
                             const struct lb_service *b)
{
    if (a->n_reals != b->n_reals) {
        return false;
    }
    struct lb_service y = *b;
    y.reals = malloc((b->n_reals + 1) * sizeof *y.reals);
    if (!y.reals) {
        abort();
    }
    for (size_t i = 0; i < b->n_reals; i++) {
        y.reals[i] = b->reals[i];
        y.reals[i].weight = a->reals[i].weight;
        y.reals[i].weight_loc = a->reals[i].weight_loc;
    }
    bool equal = lb_service_equal(a, &y);
    free(y.reals);
    return equal;
}

bool
lb_service_equal(const struct lb_service *a, const struct lb_service *b)
{
    if (!same_string(a->name, b->name) || a->n_reals != b->n_reals
        || !real_equal(&a->sorry, &b->sorry)
        || !same_string(a->check.path, b->check.path)
        || !same_string(a->check.expect_body, b->check.expect_body)
        || !same_string(a->check.command, b->check.command)
        || !same_string(a->check.send, b->check.send)
        || !same_string(a->check.expect_reply, b->check.expect_reply)) {
        return false;
    }
    for (size_t i = 0; i < a->n_reals; i++) {
        if (!real_equal(&a->reals[i], &b->reals[i])) {
            return false;
        }
    }
    /* Everything else, byte for byte, with the pointers set aside. */
    struct lb_service x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    struct lb_service *both[] = { &x, &y };
    for (size_t i = 0; i < 2; i++) {
        struct lb_service *s = both[i];
        s->name = NULL;
        s->reals = NULL;
        s->allocated_reals = 0;
        s->sorry.port = NULL;
        s->check.path = s->check.expect_body = s->check.command = NULL;
        s->check.send = s->check.expect_reply = NULL;
    }
    return !memcmp(&x, &y, sizeof x);
}
