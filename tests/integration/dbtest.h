/* dbtest.h - helpers for tests on real SQLite files: a scratch directory,
 * whole-file snapshots (to prove a file was left unchanged), and running a
 * step as an unprivileged user (root ignores permission bits). */
#ifndef DV_DBTEST_H
#define DV_DBTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drover.h"

#define DBT_NOBODY 65534

/* A fresh directory under $TMPDIR (or /tmp), searchable by everyone so an
 * unprivileged child can reach what is inside. */
static inline char *dbt_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    static char dir[512];

    snprintf(dir, sizeof dir, "%s/drover-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
        return NULL;
    return dir;
}

/* dir/name in a rotating set of buffers (enough for a few at a time). */
static inline const char *dbt_join(const char *dir, const char *name)
{
    static char buf[8][600];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

static inline int dbt_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static inline void dbt_rmrf(const char *dir)
{
    if (dir)
        nftw(dir, dbt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

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

/* Names in dir (not . and ..), for "nothing was created" checks. */
static inline int dbt_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
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
