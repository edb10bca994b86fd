/* defs.c - the definitions directory.  See defs.h. */
#include "evacuator/defs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFS_MAX (4 * 1024 * 1024)     /* a domain XML larger than this is not ours */

static int io(drover_error *err, const char *what, const char *path)
{
    return dv_err(err, DROVER_ERR_IO, DROVER_FROM_AGENT, "%s %s: %s", what, path,
                  strerror(errno));
}

static int check_uuid(const char *uuid, drover_error *err)
{
    size_t n = strlen(uuid);
    if (n != DV_UUID_LEN || strspn(uuid, "0123456789abcdefABCDEF-") != n)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_AGENT, "not a UUID: %.60s", uuid);
    return 0;
}

int dv_defs_read(const char *dir, const char *uuid, char **xml, drover_error *err)
{
    char path[4096];
    struct stat sb;
    char *buf;
    ssize_t got;
    size_t off = 0;
    int fd;

    *xml = NULL;
    if (check_uuid(uuid, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.xml", dir, uuid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            return dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_AGENT,
                          "no definition of guest %s in %s", uuid, dir);
        return io(err, "cannot open", path);
    }
    if (fstat(fd, &sb) < 0 || sb.st_size > DEFS_MAX) {
        close(fd);
        return dv_err(err, DROVER_ERR_CORRUPT, DROVER_FROM_AGENT, "%s: unreadable or too large",
                      path);
    }
    if (!(buf = malloc((size_t)sb.st_size + 1))) {
        close(fd);
        return dv_err(err, DROVER_ERR_NOMEM, DROVER_FROM_AGENT, "out of memory");
    }
    while (off < (size_t)sb.st_size && (got = read(fd, buf + off, (size_t)sb.st_size - off)) > 0)
        off += (size_t)got;
    close(fd);
    buf[off] = '\0';
    *xml = buf;
    return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The temporary file, written and synced, then renamed over path. */
static int replace(const char *dir, const char *path, const char *xml, drover_error *err)
{
    char tmp[4096];
    int fd, dfd;

    snprintf(tmp, sizeof tmp, "%s/.dvdef.XXXXXX", dir);
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
        return io(err, "cannot create a file in", dir);
    if (fchmod(fd, 0600) < 0 || write_all(fd, xml, strlen(xml)) < 0 || fsync(fd) < 0) {
        io(err, "cannot write", tmp);
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        io(err, "cannot rename into", path);
        unlink(tmp);
        return -1;
    }
    /* the rename itself must survive a power cut, or the old file comes back */
    if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        int rc = fsync(dfd);
        close(dfd);
        if (rc < 0)
            return io(err, "cannot sync", dir);
    }
    return 0;
}

int dv_defs_write(const char *dir, const char *uuid, const char *xml, bool *written,
                  drover_error *err)
{
    char path[4096];
    char *old = NULL;
    drover_error e;

    *written = false;
    if (check_uuid(uuid, err) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.xml", dir, uuid);
    if (dv_defs_read(dir, uuid, &old, &e) == 0 && strcmp(old, xml) == 0) {
        free(old);
        return 0;
    }
    free(old);
    if (replace(dir, path, xml, err) < 0)
        return -1;
    *written = true;
    return 0;
}

int dv_defs_sync(const char *dir, const dv_virt_dom *doms, size_t n, size_t *n_written,
                 drover_error *err)
{
    *n_written = 0;
    for (size_t i = 0; i < n; i++) {
        bool w;
        if (!doms[i].persistent || !doms[i].xml)
            continue;
        if (dv_defs_write(dir, doms[i].uuid, doms[i].xml, &w, err) < 0)
            return -1;
        *n_written += w;
    }
    return 0;
}
