/* scratch.c - throwaway directories for tests and benchmarks (scratch.h). */
#include "tests/harness/scratch.h"

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *dv_scratch_dir(void)
{
    const char *base = getenv("TMPDIR");
    static char dir[512];

    snprintf(dir, sizeof dir, "%s/drover-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
        return NULL;
    return dir;
}

const char *dv_scratch_join(const char *dir, const char *name)
{
    static char buf[8][600];
    static int next;
    char *b = buf[next++ % 8];

    snprintf(b, sizeof buf[0], "%s/%s", dir, name);
    return b;
}

int dv_scratch_count_entries(const char *dir)
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

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

void dv_scratch_rmrf(const char *dir)
{
    if (dir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
