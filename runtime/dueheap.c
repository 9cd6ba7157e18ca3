/* A 4-ary min-heap of due times; see dueheap.h. */
#include <config.h>
#include "dueheap.h"

#include <stdlib.h>

#include "util.h"

#define ARITY 4

void
dueheap_init(struct dueheap *h)
{
    h->a = NULL;
    h->n = h->allocated = 0;
}

void
dueheap_destroy(struct dueheap *h)
{
    free(h->a);
    dueheap_init(h);
}

static void
put(struct dueheap *h, size_t i, struct dueheap_entry e)
{
    h->a[i] = e;
    e.node->idx = i;
}

/* Moves 'e' from the hole at 'i' towards the root as far as it goes. */
static size_t
sift_up(struct dueheap *h, size_t i, struct dueheap_entry e)
{
    while (i) {
        size_t parent = (i - 1) / ARITY;

        if (h->a[parent].when <= e.when) {
            break;
        }
        put(h, i, h->a[parent]);
        i = parent;
    }
    put(h, i, e);
    return i;
}

/* Moves 'e' from the hole at 'i' towards the leaves as far as it goes. */
static void
sift_down(struct dueheap *h, size_t i, struct dueheap_entry e)
{
    for (;;) {
        size_t first = i * ARITY + 1, best = i, end;
        long long int best_when = e.when;

        if (first >= h->n) {
            break;
        }
        end = MIN(first + ARITY, h->n);
        for (size_t c = first; c < end; c++) {
            if (h->a[c].when < best_when) {
                best = c;
                best_when = h->a[c].when;
            }
        }
        if (best == i) {
            break;
        }
        put(h, i, h->a[best]);
        i = best;
    }
    put(h, i, e);
}

/* Puts 'e' into the hole at 'i', wherever it belongs. */
static void
place(struct dueheap *h, size_t i, struct dueheap_entry e)
{
    if (sift_up(h, i, e) == i) {
        sift_down(h, i, e);
    }
}

void
dueheap_insert(struct dueheap *h, struct dueheap_node *node,
               long long int when)
{
    if (h->n >= h->allocated) {
        h->a = x2nrealloc(h->a, &h->allocated, sizeof *h->a);
    }
    sift_up(h, h->n++, (struct dueheap_entry) { when, node });
}

void
dueheap_remove(struct dueheap *h, struct dueheap_node *node)
{
    size_t i = node->idx;
    struct dueheap_entry last = h->a[--h->n];

    if (i < h->n) {
        place(h, i, last);
    }
}

void
dueheap_change(struct dueheap *h, struct dueheap_node *node,
               long long int when)
{
    place(h, node->idx, (struct dueheap_entry) { when, node });
}
