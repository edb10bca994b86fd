/* dbtest.h - helpers for tests on real SQLite files: whole-file snapshots
 * (to prove a file was left unchanged), writing a file whole, and running a
 * step as an unprivileged user (root ignores permission bits).  The scratch
 * directory they work in is tests/harness/scratch.h. */
#ifndef DV_DBTEST_H
#define DV_DBTEST_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drover.h"
#include "tests/harness/scratch.h"

#define DBT_NOBODY 65534

/* Whole contents of a file; NULL if it cannot be read. */
typedef struct dbt_blob {
    unsigned char *data;
    size_t len;
    mode_t mode;
} dbt_blob;

static inline int dbt_snapshot(const char *path, dbt_blob *b)
{
    struct stat st;
    FILE *f = fopen(path, "rb");

    memset(b, 0, sizeof *b);
    if (!f || fstat(fileno(f), &st) < 0) {
        if (f)
            fclose(f);
        return -1;
    }
    b->len = (size_t)st.st_size;
    b->mode = st.st_mode;
    b->data = malloc(b->len + 1);
    if (!b->data || fread(b->data, 1, b->len, f) != b->len) {
        fclose(f);
        free(b->data);
        b->data = NULL;
        return -1;
    }
    fclose(f);
    return 0;
}

static inline int dbt_same(const dbt_blob *a, const dbt_blob *b)
{
    return a->data && b->data && a->len == b->len && a->mode == b->mode &&
           memcmp(a->data, b->data, a->len) == 0;
}

static inline void dbt_blob_free(dbt_blob *b)
{
    free(b->data);
    b->data = NULL;
}

static inline int dbt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

/* Run fn in a child that has dropped to uid/gid nobody; returns fn's result
 * and the error it filled.  -2 if the child could not drop privileges. */
static inline int dbt_as_nobody(int (*fn)(void *arg, drover_error *err), void *arg,
                                drover_error *err)
{
    struct { int rc; drover_error e; } res = { -2, { 0 } };
    int fds[2], status;
    pid_t pid;

    if (pipe(fds) < 0)
        return -2;
    if ((pid = fork()) < 0)
        return -2;
    if (pid == 0) {
        close(fds[0]);
        if (setgroups(0, NULL) == 0 && setgid(DBT_NOBODY) == 0 && setuid(DBT_NOBODY) == 0 &&
            getuid() == DBT_NOBODY)
            res.rc = fn(arg, &res.e);
        if (write(fds[1], &res, sizeof res) != (ssize_t)sizeof res)
            _exit(1);
        _exit(0);
    }
    close(fds[1]);
    if (read(fds[0], &res, sizeof res) != (ssize_t)sizeof res)
        res.rc = -2;
    close(fds[0]);
    waitpid(pid, &status, 0);
    if (err)
        *err = res.e;
    return res.rc;
}

#endif
