/* scratch.h - throwaway directories for tests and benchmarks: a fresh
 * directory, paths inside it, counting what is in it, and removing it with
 * everything below.  Part of the harness library (libdvharness.la). */
#ifndef DV_TEST_SCRATCH_H
#define DV_TEST_SCRATCH_H

/* A fresh directory under $TMPDIR (or /tmp), searchable by everyone so an
 * unprivileged child can reach what is inside.  A static buffer, overwritten
 * by the next call; NULL if it cannot be made. */
char *dv_scratch_dir(void);

/* dir/name in a rotating set of buffers (enough for a few at a time). */
const char *dv_scratch_join(const char *dir, const char *name);

/* Names in dir (not . and ..), for "nothing was created" checks; -1 if dir
 * cannot be read. */
int dv_scratch_count_entries(const char *dir);

/* Remove dir and everything below it (symbolic links are not followed).
 * NULL is ignored. */
void dv_scratch_rmrf(const char *dir);

#endif
