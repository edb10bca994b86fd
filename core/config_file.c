/* config_file.c - reading drover.conf from disk: a missing file, a
 * directory, an oversized file or one holding a NUL byte get a clear
 * message before the text is parsed. */
#include "core/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE_BYTES (1024 * 1024)

/* Read the whole file: at most MAX_FILE_BYTES, no NUL bytes. */
static int read_file(const char *path, char **text, size_t *len, drover_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int e;

    *text = NULL;
    if (fd < 0) {
        e = errno;
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s: cannot open the configuration file: %s", path, strerror(e));
    }
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s: cannot read the configuration file: %s", path, strerror(EISDIR));
    }
    if (!(buf = malloc(MAX_FILE_BYTES + 2))) {
        close(fd);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_CONFIG, "%s: out of memory", path);
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, MAX_FILE_BYTES + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            e = errno;
            close(fd);
            free(buf);
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                          "%s: cannot read the configuration file: %s", path, strerror(e));
        }
        n += (size_t)r;
        if (r == 0 || n > MAX_FILE_BYTES)
            break;
    }
    close(fd);
    if (n > MAX_FILE_BYTES) {
        free(buf);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s: the configuration file is larger than %d bytes", path, MAX_FILE_BYTES);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

int dv_config_load(const char *path, dv_config **out, drover_error *err)
{
    char *text;
    size_t len = 0;
    const char *nul;
    int rc;

    *out = NULL;
    if (!path || !*path)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "no configuration file named");
    if (read_file(path, &text, &len, err) < 0)
        return -1;
    if ((nul = memchr(text, '\0', len))) {
        int line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        free(text);
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                      "%s:%d: the file contains a NUL byte: it is not a text file", path, line);
    }
    rc = dv_config_load_text(text, len, path, out, err);
    free(text);
    return rc;
}


const char *dv_config_default_path(void)
{
    const char *env = getenv("DROVER_CONF");
    return env && *env ? env : DV_CONFIG_DEFAULT_PATH;
}
