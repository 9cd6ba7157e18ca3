/* dueheap: random inserts, removals and changes, checked after each step
 * against the heap property, every node's recorded position and a
 * brute-force minimum. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "dueheap.h"

#define N 300

struct item {
    struct dueheap_node node;
    long long int when;
    int in;
};

static void
check(const struct dueheap *h, const struct item *items)
{
    size_t n_in = 0;
    long long int min = 0;

    for (size_t i = 0; i < h->n; i++) {
        assert_int_equal(h->a[i].node->idx, i);
        if (i) {
            assert_true(h->a[(i - 1) / 4].when <= h->a[i].when);
        }
    }
    for (int i = 0; i < N; i++) {
        if (items[i].in) {
            assert_int_equal(h->a[items[i].node.idx].when, items[i].when);
            min = n_in++ ? (items[i].when < min ? items[i].when : min)
                         : items[i].when;
        }
    }
    assert_int_equal(h->n, n_in);
    assert_int_equal(dueheap_is_empty(h), !n_in);
    if (n_in) {
        assert_int_equal(dueheap_min_when(h), min);
    }
}

static void
test_dueheap_random(void **state)
{
    static struct item items[N];
    struct dueheap h;

    srand(12345);
    dueheap_init(&h);
    for (int step = 0; step < 20000; step++) {
        struct item *it = &items[rand() % N];
        long long int when = rand() % 1000;   /* Many equal keys too. */

        if (!it->in) {
            dueheap_insert(&h, &it->node, when);
            it->in = 1;
            it->when = when;
        } else if (rand() % 3) {
            dueheap_change(&h, &it->node, when);
            it->when = when;
        } else {
            dueheap_remove(&h, &it->node);
            it->in = 0;
        }
        check(&h, items);
    }
    /* Drain in order. */
    for (long long int last = -1; !dueheap_is_empty(&h); ) {
        struct dueheap_node *node = dueheap_min(&h);
        struct item *it = (struct item *) node;

        assert_true(dueheap_min_when(&h) >= last);
        last = dueheap_min_when(&h);
        dueheap_remove(&h, node);
        it->in = 0;
        check(&h, items);
    }
    dueheap_destroy(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dueheap_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
