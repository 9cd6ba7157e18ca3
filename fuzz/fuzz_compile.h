/* Shared body of the compiler fuzz targets: one front end, then the same
 * path as `flowlb compile` (check, lower, emit) when the front end accepts
 * the input. */
#ifndef FLOWLB_FUZZ_COMPILE_H
#define FLOWLB_FUZZ_COMPILE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lb_spec;
struct diag;

typedef bool fuzz_front_end(const char *file, const char *text, size_t len,
                            struct lb_spec *, struct diag *);

/* 'data' copied into a NUL-terminated buffer (malloc'd), as lb_spec_load
 * hands a file's text to a front end. */
char *fuzz_text(const uint8_t *data, size_t size);

/* Runs 'parse' over 'data' (copied into a NUL-terminated buffer, as
 * lb_spec_load hands it over) and, if that succeeds, the rest of the
 * compiler. Aborts if the compiler's own contracts are broken: a failure
 * without an error, or errors without a location. */
void fuzz_compile(fuzz_front_end *parse, const char *file,
                  const uint8_t *data, size_t size);

#endif /* FLOWLB_FUZZ_COMPILE_H */
