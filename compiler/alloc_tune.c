/* glibc malloc for large pipelines built in several threads.
 *
 * A thread's arena grows its heap by mprotect() in steps of M_TOP_PAD
 * (128 KiB by default) and gives memory back as soon as M_TRIM_THRESHOLD
 * of it is free at the top. Decoding a 10,000-service pipeline in two
 * threads then made 40,700 mprotect() calls, each taking the process's
 * mmap lock that the other thread's page faults also need. Steps of
 * 64 MiB make that a few dozen. Untouched pages of the pad cost no
 * memory; trimming still happens, only later. */
#include "alloc_tune.h"

#include <stdlib.h>         /* Defines __GLIBC__ with glibc. */
#ifdef __GLIBC__
#include <malloc.h>
#endif

void
lb_tune_malloc(void)
{
#ifdef __GLIBC__
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}
