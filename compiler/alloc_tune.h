#ifndef FLOWLB_ALLOC_TUNE_H
#define FLOWLB_ALLOC_TUNE_H 1

/* Sets glibc malloc up for building large pipelines in several threads
 * (see alloc_tune.c). Call once, first thing in main(). */
void lb_tune_malloc(void);

#endif /* FLOWLB_ALLOC_TUNE_H */
