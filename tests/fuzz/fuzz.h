/* fuzz.h - the entry point every fuzz target defines (libFuzzer's).
 *
 * A target is one file, tests/fuzz/fuzz_<name>.c, defining
 * LLVMFuzzerTestOneInput: it feeds the bytes to one parser of outside
 * input and abort()s when an invariant of the result does not hold (so
 * the fuzzer reports it like a crash).  It must not leak, print, or keep
 * state between calls.  Seeds live in tests/fuzz/corpus/fuzz_<name>/, an
 * optional libFuzzer dictionary in tests/fuzz/fuzz_<name>.dict.  See the
 * fuzz block of Makefile.am for the build and scripts/fuzz.sh to run. */
#ifndef DV_FUZZ_H
#define DV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
