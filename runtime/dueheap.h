/* A min-heap of due times for the health monitor's timers.
 *
 * Why not libopenvswitch's heap: that one keeps pointers to its nodes and
 * reads each node's priority through them, one cache miss per comparison;
 * at 10,000 targets, moving a target between heaps on every probe made
 * those misses half of the monitor's own CPU. Here the due times sit in
 * the array itself, four children to a node (one cache line of keys, half
 * the depth), and a node is touched only to record its new position.
 */
#ifndef FLOWLB_DUEHEAP_H
#define FLOWLB_DUEHEAP_H 1

#include <stdbool.h>
#include <stddef.h>

/* Embedded in what is scheduled. */
struct dueheap_node {
    size_t idx;                 /* Position in its heap's array. */
};

struct dueheap_entry {
    long long int when;
    struct dueheap_node *node;
};

struct dueheap {
    struct dueheap_entry *a;
    size_t n, allocated;
};

void dueheap_init(struct dueheap *);
void dueheap_destroy(struct dueheap *);
void dueheap_insert(struct dueheap *, struct dueheap_node *,
                    long long int when);
void dueheap_remove(struct dueheap *, struct dueheap_node *);
void dueheap_change(struct dueheap *, struct dueheap_node *,
                    long long int when);

static inline bool
dueheap_is_empty(const struct dueheap *h)
{
    return !h->n;
}

/* The earliest entry; the heap must not be empty. */
static inline struct dueheap_node *
dueheap_min(const struct dueheap *h)
{
    return h->a[0].node;
}

static inline long long int
dueheap_min_when(const struct dueheap *h)
{
    return h->a[0].when;
}

#endif /* FLOWLB_DUEHEAP_H */
