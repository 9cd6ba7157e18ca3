/* The match-action IR: construction, ordering, printing. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

static void *
grow(void *array, size_t *allocated, size_t n, size_t elem)
{
    if (n < *allocated) {
        return array;
    }
    *allocated = *allocated ? 2 * *allocated : 16;
    array = realloc(array, *allocated * elem);
    if (!array) {
        abort();
    }
    return array;
}

static char *
xstrdup(const char *s)
{
    char *copy = strdup(s ? s : "");
    if (!copy) {
        abort();
    }
    return copy;
}

void
ir_init(struct ir_pipeline *p)
{
    memset(p, 0, sizeof *p);
}

/* Frees what a flow owns. */
static void
flow_free(struct ir_flow *f)
{
    free(f->match);
    free(f->actions);
    free(f->shared_by);
}

void
ir_destroy(struct ir_pipeline *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n_flows; i++) {
        flow_free(&p->flows[i]);
    }
    for (size_t i = 0; i < p->n_groups; i++) {
        struct ir_group *g = &p->groups[i];
        for (size_t j = 0; j < g->n_buckets; j++) {
            free(g->buckets[j].actions);
        }
        free(g->buckets);
        free(g->selection);
    }
    free(p->flows);
    free(p->groups);
    free(p->tables);
    memset(p, 0, sizeof *p);
}

void
ir_add_table(struct ir_pipeline *p, uint8_t id, const char *name)
{
    p->tables = grow(p->tables, &p->allocated_tables, p->n_tables,
                     sizeof *p->tables);
    p->tables[p->n_tables++] = (struct ir_table) { .id = id, .name = name };
}

struct ir_flow *
ir_add_flow(struct ir_pipeline *p, uint8_t table, uint16_t priority,
            uint64_t cookie, enum ir_flow_role role, const char *match,
            const char *actions)
{
    p->flows = grow(p->flows, &p->allocated_flows, p->n_flows,
                    sizeof *p->flows);
    struct ir_flow *f = &p->flows[p->n_flows++];
    memset(f, 0, sizeof *f);
    f->table = table;
    f->priority = priority;
    f->cookie = cookie;
    f->role = role;
    f->match = xstrdup(match);
    f->actions = xstrdup(actions);
    return f;
}

struct ir_group *
ir_add_group(struct ir_pipeline *p, uint32_t group_id, const char *selection)
{
    p->groups = grow(p->groups, &p->allocated_groups, p->n_groups,
                     sizeof *p->groups);
    struct ir_group *g = &p->groups[p->n_groups++];
    memset(g, 0, sizeof *g);
    g->group_id = group_id;
    g->selection = xstrdup(selection);
    return g;
}

struct ir_bucket *
ir_group_add_bucket(struct ir_group *g, uint32_t bucket_id, uint16_t weight,
                    const char *actions)
{
    g->buckets = grow(g->buckets, &g->allocated_buckets, g->n_buckets,
                      sizeof *g->buckets);
    struct ir_bucket *b = &g->buckets[g->n_buckets++];
    memset(b, 0, sizeof *b);
    b->bucket_id = bucket_id;
    b->weight = weight;
    b->actions = xstrdup(actions);
    return b;
}

struct ir_flow *
ir_copy_flow(struct ir_pipeline *p, const struct ir_flow *src,
             const char *service, const char *file, int line_delta)
{
    p->flows = grow(p->flows, &p->allocated_flows, p->n_flows,
                    sizeof *p->flows);
    struct ir_flow *f = &p->flows[p->n_flows++];
    *f = *src;
    f->match = xstrdup(src->match);
    f->actions = xstrdup(src->actions);
    f->service = service;
    f->shared_by = NULL;        /* Names in another spec: not copied. */
    f->n_shared_by = 0;
    location_move(&f->loc, file, line_delta);
    return f;
}

struct ir_group *
ir_copy_group(struct ir_pipeline *p, const struct ir_group *src,
              const char *service, const char *file, int line_delta)
{
    p->groups = grow(p->groups, &p->allocated_groups, p->n_groups,
                     sizeof *p->groups);
    struct ir_group *g = &p->groups[p->n_groups++];
    *g = *src;
    g->selection = xstrdup(src->selection);
    g->service = service;
    location_move(&g->loc, file, line_delta);
    g->allocated_buckets = src->n_buckets ? src->n_buckets : 1;
    g->buckets = malloc(g->allocated_buckets * sizeof *g->buckets);
    if (!g->buckets) {
        abort();
    }
    for (size_t i = 0; i < src->n_buckets; i++) {
        struct ir_bucket *b = &g->buckets[i];
        *b = src->buckets[i];
        b->actions = xstrdup(src->buckets[i].actions);
        location_move(&b->loc, file, line_delta);
    }
    return g;
}

static int
compare_flows(const void *a_, const void *b_)
{
    const struct ir_flow *a = a_, *b = b_;
    if (a->table != b->table) {
        return a->table < b->table ? -1 : 1;
    }
    if (a->priority != b->priority) {
        return a->priority > b->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

static int
compare_groups(const void *a_, const void *b_)
{
    const struct ir_group *a = a_, *b = b_;
    return a->group_id < b->group_id ? -1 : a->group_id > b->group_id;
}

static int
compare_tables(const void *a_, const void *b_)
{
    const struct ir_table *a = a_, *b = b_;
    return a->id < b->id ? -1 : a->id > b->id;
}

void
ir_sort(struct ir_pipeline *p)
{
    if (p->n_flows) {
        qsort(p->flows, p->n_flows, sizeof *p->flows, compare_flows);
    }
    if (p->n_groups) {
        qsort(p->groups, p->n_groups, sizeof *p->groups, compare_groups);
    }
    if (p->n_tables) {
        qsort(p->tables, p->n_tables, sizeof *p->tables, compare_tables);
    }
}

bool
ir_flow_is_own(const struct ir_flow *f, uint64_t cookie)
{
    return (f->cookie == cookie
            && (f->role == IR_ROLE_CLASSIFY || f->role == IR_ROLE_REPLY
                || f->role == IR_ROLE_DISPATCH || f->role == IR_ROLE_LOOKUP
                || f->role == IR_ROLE_ASSIGN));
}

/* Room for 'n' elements in '*array' (capacity '*allocated'), with an
 * eighth more so that a run of small insertions grows it rarely. */
static void
reserve(void **array, size_t *allocated, size_t n, size_t elem)
{
    if (n > *allocated) {
        *allocated = n + n / 8;
        *array = realloc(*array, *allocated * elem);
        if (!*array) {
            abort();
        }
    }
}

/* Inserts the 'n_add' sorted elements of 'add' into the '*n' sorted
 * elements of '*array' (capacity '*allocated', grown as needed), in place:
 * from the end, each added element's place among the old ones, the old
 * ones after it moved up once (a memmove per added element, not a copy of
 * the array). '*aux' (if 'aux' is nonnull), a value per element, is
 * reallocated and moves the same way; the added elements get 'add_aux'
 * (0 if NULL). Equal elements: the added one first. */
static void
insert_sorted(void **array, size_t *n, size_t *allocated, const void *add,
              size_t n_add, size_t elem,
              int (*compare)(const void *, const void *), uint64_t **aux,
              const uint64_t *add_aux)
{
    reserve(array, allocated, *n + n_add + 1, elem);
    if (aux) {
        *aux = realloc(*aux, (*n + n_add + 1) * sizeof **aux);
        if (!*aux) {
            abort();
        }
    }
    char *a = *array;
    const char *b = add;
    uint64_t *x = aux ? *aux : NULL;
    size_t end = *n;            /* Old elements [0, end) not moved yet. */
    for (size_t j = n_add; j-- > 0; ) {
        size_t lo = 0, hi = end;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (compare(a + mid * elem, b + j * elem) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        memmove(a + (lo + j + 1) * elem, a + lo * elem, (end - lo) * elem);
        memcpy(a + (lo + j) * elem, b + j * elem, elem);
        if (x) {
            memmove(&x[lo + j + 1], &x[lo], (end - lo) * sizeof *x);
            x[lo + j] = add_aux ? add_aux[j] : 0;
        }
        end = lo;
    }
    *n += n_add;
}

void
ir_splice_flows(struct ir_pipeline *p, const size_t *gone, size_t n_gone,
                struct ir_pipeline *add, uint64_t **aux,
                const uint64_t *add_aux)
{
    if (!n_gone) {
        void *flows = p->flows;
        insert_sorted(&flows, &p->n_flows, &p->allocated_flows, add->flows,
                      add->n_flows, sizeof *p->flows, compare_flows, aux,
                      add_aux);
        p->flows = flows;
        add->n_flows = 0;       /* Its flows moved. */
        return;
    }
    size_t n = p->n_flows - n_gone + add->n_flows;
    struct ir_flow *flows = malloc((n + 1) * sizeof *flows);
    uint64_t *fps = aux ? malloc((n + 1) * sizeof *fps) : NULL;
    if (!flows || (aux && !fps)) {
        abort();
    }
    size_t i = 0, j = 0, k = 0, g = 0;
    while (i < p->n_flows || j < add->n_flows) {
        if (i < p->n_flows && g < n_gone && gone[g] == i) {
            flow_free(&p->flows[i]);
            i++;
            g++;
            continue;
        }
        bool take_old = (j == add->n_flows
                         || (i < p->n_flows
                             && compare_flows(&p->flows[i],
                                              &add->flows[j]) < 0));
        if (take_old) {
            if (fps) {
                fps[k] = (*aux)[i];
            }
            flows[k++] = p->flows[i++];
        } else {
            if (fps) {
                fps[k] = add_aux ? add_aux[j] : 0;
            }
            flows[k++] = add->flows[j++];
        }
    }
    free(p->flows);
    p->flows = flows;
    p->n_flows = p->allocated_flows = n;
    add->n_flows = 0;           /* Its flows moved. */
    if (aux) {
        free(*aux);
        *aux = fps;
    }
}

void
ir_merge_groups(struct ir_pipeline *p, struct ir_pipeline *add,
                uint64_t **aux, const uint64_t *add_aux)
{
    void *groups = p->groups;
    insert_sorted(&groups, &p->n_groups, &p->allocated_groups, add->groups,
                  add->n_groups, sizeof *p->groups, compare_groups, aux,
                  add_aux);
    p->groups = groups;
    add->n_groups = 0;          /* Its groups moved. */
}

size_t
ir_find_flow(const struct ir_pipeline *p, uint8_t table, uint16_t priority,
             const char *match)
{
    struct ir_flow key = {
        .table = table, .priority = priority, .match = (char *) match,
    };
    size_t lo = 0, hi = p->n_flows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = compare_flows(&p->flows[mid], &key);
        if (!r) {
            return mid;
        } else if (r < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return SIZE_MAX;
}

void
ir_flow_add_sharer(struct ir_flow *f, const char *name)
{
    for (size_t i = 0; i < f->n_shared_by; i++) {
        if (!strcmp(f->shared_by[i], name)) {
            return;
        }
    }
    f->shared_by = realloc(f->shared_by,
                           (f->n_shared_by + 1) * sizeof *f->shared_by);
    if (!f->shared_by) {
        abort();
    }
    f->shared_by[f->n_shared_by++] = name;
}

const char *
ir_role_name(enum ir_flow_role role)
{
    switch (role) {
    case IR_ROLE_RESPONDER: return "responder";
    case IR_ROLE_CLASSIFY: return "classify";
    case IR_ROLE_REPLY: return "reply";
    case IR_ROLE_DISPATCH: return "dispatch";
    case IR_ROLE_FORWARD: return "forward";
    case IR_ROLE_DEFAULT: return "default";
    case IR_ROLE_LOOKUP: return "lookup";
    case IR_ROLE_ASSIGN: return "assign";
    }
    return "?";
}

void
ir_print(const struct ir_pipeline *p, FILE *out)
{
    fprintf(out, "# flowlb IR: %zu tables, %zu flows, %zu groups\n",
            p->n_tables, p->n_flows, p->n_groups);
    if (p->udp_timeout_s) {
        fprintf(out, "# conntrack zone %u: UDP timeout %us, applied by the "
                "agent (ovs-vsctl add-zone-tp netdev zone=%u udp_first=%u "
                "udp_single=%u udp_multiple=%u)\n", p->ct_zone,
                p->udp_timeout_s, p->ct_zone, p->udp_timeout_s,
                p->udp_timeout_s, p->udp_timeout_s);
    }
    for (size_t t = 0; t < p->n_tables; t++) {
        uint8_t id = p->tables[t].id;
        fprintf(out, "\ntable %u (%s)\n", id, p->tables[t].name);
        for (size_t i = 0; i < p->n_flows; i++) {
            const struct ir_flow *f = &p->flows[i];
            if (f->table != id) {
                continue;
            }
            fprintf(out, "  [%u] %-9s %s%s%s\n", f->priority,
                    ir_role_name(f->role), *f->match ? f->match : "*",
                    f->service ? "  # service " : "",
                    f->service ? f->service : "");
            fprintf(out, "        => %s\n", f->actions);
        }
    }
    for (size_t i = 0; i < p->n_groups; i++) {
        const struct ir_group *g = &p->groups[i];
        fprintf(out, "\ngroup 0x%08x (select, %s)%s%s\n", g->group_id,
                g->selection, g->service ? "  # service " : "",
                g->service ? g->service : "");
        if (g->failover) {
            fprintf(out, "  failover: only the highest-weight live real(s) "
                    "in the group\n");
        }
        if (g->persistence_s) {
            fprintf(out, "  persistence: %us idle, service id %u\n",
                    g->persistence_s, g->service_id);
        }
        if (g->learn_mode) {
            fprintf(out, "  stickiness learn: %us idle, service id %u\n",
                    g->sticky_idle_s, g->service_id);
        }
        size_t n_active = 0;
        for (size_t j = 0; j < g->n_buckets; j++) {
            n_active += !g->buckets[j].standby;
        }
        if (!n_active) {
            fprintf(out, "  (no buckets: new connections are dropped)\n");
        }
        for (size_t j = 0; j < g->n_buckets; j++) {
            const struct ir_bucket *b = &g->buckets[j];
            fprintf(out, "  bucket %u weight %u  # real %s%s\n", b->bucket_id,
                    b->weight, b->real[0] ? b->real : "?",
                    b->sorry ? " (sorry, standby)"
                    : b->standby ? " (standby)" : "");
            fprintf(out, "        => %s\n", b->actions);
        }
    }
}

char *
ir_flow_to_ofctl(const struct ir_flow *f)
{
    char *s;
    if (asprintf(&s, "table=%u,priority=%u,cookie=0x%llx%s%s,actions=%s",
                 f->table, f->priority, (unsigned long long) f->cookie,
                 *f->match ? "," : "", f->match, f->actions) < 0) {
        abort();
    }
    return s;
}

char *
ir_group_to_ofctl(const struct ir_group *g)
{
    size_t len = 128 + strlen(g->selection);
    for (size_t i = 0; i < g->n_buckets; i++) {
        len += 64 + strlen(g->buckets[i].actions);
    }
    char *s = malloc(len);
    if (!s) {
        abort();
    }
    size_t n = snprintf(s, len, "group_id=%u,type=select,%s", g->group_id,
                        g->selection);
    for (size_t i = 0; i < g->n_buckets; i++) {
        const struct ir_bucket *b = &g->buckets[i];
        if (b->standby) {
            continue;           /* The agent inserts it when needed. */
        }
        n += snprintf(s + n, len - n, ",bucket=bucket_id:%u,weight:%u,"
                      "actions=%s", b->bucket_id, b->weight, b->actions);
    }
    return s;
}

static int
compare_group_id(const void *key_, const void *g_)
{
    uint32_t key = *(const uint32_t *) key_;
    const struct ir_group *g = g_;
    return (key > g->group_id) - (key < g->group_id);
}

const struct ir_group *
ir_find_group(const struct ir_pipeline *p, uint32_t group_id)
{
    return bsearch(&group_id, p->groups, p->n_groups, sizeof *p->groups,
                   compare_group_id);
}

static bool
same_text(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool
same_loc(const struct location *a, const struct location *b)
{
    return (a->line == b->line && a->col == b->col
            && (!a->line || same_text(a->file, b->file)));
}

static bool
flow_equal(const struct ir_flow *x, const struct ir_flow *y)
{
    if (x->table != y->table || x->priority != y->priority
        || x->cookie != y->cookie || strcmp(x->match, y->match)
        || strcmp(x->actions, y->actions) || x->role != y->role
        || !same_text(x->service, y->service) || !same_loc(&x->loc, &y->loc)
        || x->vip_answer != y->vip_answer
        || x->n_shared_by != y->n_shared_by || x->mark != y->mark) {
        return false;
    }
    for (size_t i = 0; i < x->n_shared_by; i++) {
        if (!same_text(x->shared_by[i], y->shared_by[i])) {
            return false;
        }
    }
    return true;
}

static bool
bucket_equal(const struct ir_bucket *p, const struct ir_bucket *q)
{
    return (p->bucket_id == q->bucket_id && p->weight == q->weight
            && !strcmp(p->actions, q->actions) && !strcmp(p->real, q->real)
            && same_loc(&p->loc, &q->loc) && p->mark == q->mark
            && p->spec_weight == q->spec_weight && p->standby == q->standby
            && p->sorry == q->sorry);
}

static bool
group_equal(const struct ir_group *x, const struct ir_group *y)
{
    if (x->group_id != y->group_id || strcmp(x->selection, y->selection)
        || !same_text(x->service, y->service) || !same_loc(&x->loc, &y->loc)
        || x->service_id != y->service_id || x->cookie != y->cookie
        || x->failover != y->failover || x->has_sorry != y->has_sorry
        || x->persistence_s != y->persistence_s
        || x->learn_mode != y->learn_mode
        || x->sticky_idle_s != y->sticky_idle_s
        || x->n_buckets != y->n_buckets) {
        return false;
    }
    for (size_t i = 0; i < x->n_buckets; i++) {
        if (!bucket_equal(&x->buckets[i], &y->buckets[i])) {
            return false;
        }
    }
    return true;
}

bool
ir_pipeline_equal(const struct ir_pipeline *a, const struct ir_pipeline *b)
{
    if (a->n_tables != b->n_tables || a->n_flows != b->n_flows
        || a->n_groups != b->n_groups || a->ct_zone != b->ct_zone
        || a->udp_timeout_s != b->udp_timeout_s) {
        return false;
    }
    for (size_t i = 0; i < a->n_tables; i++) {
        if (a->tables[i].id != b->tables[i].id
            || !same_text(a->tables[i].name, b->tables[i].name)) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_flows; i++) {
        if (!flow_equal(&a->flows[i], &b->flows[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_groups; i++) {
        if (!group_equal(&a->groups[i], &b->groups[i])) {
            return false;
        }
    }
    return true;
}
