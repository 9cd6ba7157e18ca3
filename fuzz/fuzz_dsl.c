/* libFuzzer target: the DSL front end, then check, lower and emit. */
#include <stddef.h>
#include <stdint.h>
#include "fuzz_compile.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_compile(lb_dsl_parse, ".lb", data, size);
    return 0;
}
