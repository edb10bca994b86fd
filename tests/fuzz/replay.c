/* replay.c - a main() for libFuzzer-style targets, for builds without
 * libFuzzer (gcc, make check).  It feeds every file named on the command
 * line, or every file in the directories named there, to
 * LLVMFuzzerTestOneInput and prints one TAP line per input.  With no
 * arguments it replays the target's committed seed corpus,
 * $top_srcdir/tests/fuzz/corpus/<program name>.  A target that crashes,
 * aborts or trips a sanitizer fails the test; a missing or empty corpus
 * is an error too. */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* a target may define it, as with libFuzzer */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int n_run;

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    va_list ap;
    printf("Bail out! ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(99);
}

static void run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f)
        fatal("cannot open %s: %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (!b)
                fatal("out of memory reading %s", path);
            buf = b;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        fatal("cannot read %s: %s", path, strerror(errno));
    fclose(f);
    /* an exact-size copy, so the sanitizers see reads past the end */
    {
        uint8_t *exact = malloc(n ? n : 1);
        if (!exact)
            fatal("out of memory reading %s", path);
        memcpy(exact, buf, n);
        free(buf);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    printf("ok %d - %s (%zu bytes)\n", ++n_run, path, n);
    fflush(stdout);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of a directory, in name order so runs are repeatable. */
static void run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;

    if (!d)
        fatal("cannot open %s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        char **more;
        if (e->d_name[0] == '.')
            continue;
        if (!(more = realloc(names, (n + 1) * sizeof *names)) || !(more[n] = strdup(e->d_name)))
            fatal("out of memory listing %s", dir);
        names = more;
        n++;
    }
    closedir(d);
    if (n == 0)
        fatal("%s holds no inputs", dir);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        run_file(path);
        free(names[i]);
    }
    free(names);
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fatal("cannot find %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        run_dir(path);
    else
        run_file(path);
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_path(argv[i]);
    } else {
        const char *top = getenv("top_srcdir"), *name = strrchr(argv[0], '/');
        char dir[4096];
        if (!top || !*top)
            top = getenv("srcdir");
        if (!top || !*top)
            fatal("give corpus directories or files, or set top_srcdir");
        name = name ? name + 1 : argv[0];
        if (strncmp(name, "lt-", 3) == 0)      /* libtool's wrapper renames the program */
            name += 3;
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top, name);
        run_dir(dir);
    }
    printf("1..%d\n", n_run);
    return 0;
}
