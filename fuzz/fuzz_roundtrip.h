/* Shared oracle of the importer fuzz targets: an imported spec is written
 * out (DSL and YAML), read back, written again, and both writings must be
 * the same text (spec_print.h promises the text reads back into the same
 * model). Then the import is checked and, if valid, compiled like
 * `flowlb compile` would. Aborts on a broken promise. */
#ifndef FLOWLB_FUZZ_ROUNDTRIP_H
#define FLOWLB_FUZZ_ROUNDTRIP_H 1

struct lb_spec;

void fuzz_roundtrip(const struct lb_spec *imported);

#endif /* FLOWLB_FUZZ_ROUNDTRIP_H */
