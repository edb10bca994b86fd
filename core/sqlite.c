/* sqlite.c - open, check, create and migrate drover's SQLite files. */
#include "core/sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dv_sqlite {
    sqlite3 *db;
    char *path;
    dev_t dev;                     /* the file, while registered as open (open_files) */
    ino_t ino;
    bool registered;
    const dv_db_kind *kind;
    int busy_timeout_ms;
    sqlite3_stmt *slot[DV_SQLITE_SLOTS];
    sqlite3_stmt *begin_deferred, *begin_immediate, *commit;
};

/* The SQLite file header: magic, then big-endian fields at fixed offsets. */
#define HEADER_SIZE 100
#define HEADER_USER_VERSION 60
#define HEADER_APPLICATION_ID 68
static const char sqlite_magic[16] = "SQLite format 3";

/* ---------------------------------------------------------------- errors */

int dv_sqlite_fail(dv_sqlite *h, int rc, const char *what, drover_error *err)
{
    int base = rc & 0xff;
    const char *msg = h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc);

    switch (base) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return dv_err(err, DROVER_ERR_UNREACHABLE, h->kind->domain,
                      "%s %s: %s: %s (still locked by another connection after busy_timeout %d ms)",
                      h->kind->what, h->path, what, msg, h->busy_timeout_ms);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return dv_err(err, DROVER_ERR_CORRUPT, h->kind->domain, "%s %s: %s: %s",
                      h->kind->what, h->path, what, msg);
    case SQLITE_NOMEM:
        return dv_err(err, DROVER_ERR_NOMEM, h->kind->domain, "%s %s: %s: out of memory",
                      h->kind->what, h->path, what);
    default:
        return dv_err(err, DROVER_ERR_IO, h->kind->domain, "%s %s: %s: %s",
                      h->kind->what, h->path, what, msg);
    }
}

/* ---------------------------------------------------------------- statements */

sqlite3_stmt *dv_sqlite_stmt(dv_sqlite *h, unsigned slot, const char *sql, drover_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (slot >= DV_SQLITE_SLOTS) {
        dv_err(err, DROVER_ERR_INTERNAL, h->kind->domain, "statement slot %u out of range", slot);
        return NULL;
    }
    if ((st = h->slot[slot])) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    rc = sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        dv_sqlite_fail(h, rc, "preparing a statement", err);
        return NULL;
    }
    h->slot[slot] = st;
    return st;
}

int dv_sqlite_exec_stmt(dv_sqlite *h, sqlite3_stmt *st, const char *what, drover_error *err)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        dv_sqlite_fail(h, rc, what, err);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int dv_sqlite_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int prepare_once(dv_sqlite *h, sqlite3_stmt **st, const char *sql, drover_error *err)
{
    int rc;

    if (*st) {
        sqlite3_reset(*st);
        return 0;
    }
    rc = sqlite3_prepare_v3(h->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? 0 : dv_sqlite_fail(h, rc, "preparing a statement", err);
}

int dv_sqlite_begin(dv_sqlite *h, bool immediate, drover_error *err)
{
    sqlite3_stmt **st = immediate ? &h->begin_immediate : &h->begin_deferred;

    if (prepare_once(h, st, immediate ? "BEGIN IMMEDIATE" : "BEGIN", err) < 0)
        return -1;
    return dv_sqlite_exec_stmt(h, *st, "starting a transaction", err);
}

int dv_sqlite_commit(dv_sqlite *h, drover_error *err)
{
    if (prepare_once(h, &h->commit, "COMMIT", err) < 0 ||
        dv_sqlite_exec_stmt(h, h->commit, "committing", err) < 0) {
        dv_sqlite_rollback(h);
        return -1;
    }
    return 0;
}

void dv_sqlite_rollback(dv_sqlite *h)
{
    /* ROLLBACK of a transaction SQLite already rolled back is harmless. */
    if (!sqlite3_get_autocommit(h->db))
        sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
}

const char *dv_sqlite_path(const dv_sqlite *h)
{
    return h->path;
}

sqlite3 *dv_sqlite_db(dv_sqlite *h)
{
    return h->db;
}

/* ---------------------------------------------------------------- checks */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *kind_name_of(uint32_t appid)
{
    switch (appid) {
    case DV_APPID_STATE: return "state database";
    case DV_APPID_SERVICEGROUP: return "servicegroup database";
    }
    return NULL;
}

/* Look at an existing file with plain read(2), before SQLite opens it (SQLite
 * may write to a file it opens: WAL recovery, hot journals).  *found is 0 when
 * there is no file, 1 when it is empty (to be initialised), 2 when it carries
 * a header that is ours. */
static int check_header(const char *path, const dv_db_kind *kind, int *found, drover_error *err)
{
    unsigned char hdr[HEADER_SIZE];
    struct stat st;
    uint32_t appid, version;
    const char *other;
    ssize_t got;
    int fd;

    *found = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0)
        return dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: cannot open: %s",
                      kind->what, path, strerror(errno));
    /* SQLite would quietly open a write-protected file read-only */
    if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) < 0) {
        int e = errno;
        close(fd);
        return dv_err(err, DROVER_ERR_IO, kind->domain,
                      "%s %s: not writable by this process: %s", kind->what, path, strerror(e));
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: not a regular file",
                      kind->what, path);
    }
    if (st.st_size == 0) {
        close(fd);
        *found = 1;
        return 0;
    }
    got = pread(fd, hdr, sizeof hdr, 0);
    close(fd);
    if (got != (ssize_t)sizeof hdr || memcmp(hdr, sqlite_magic, sizeof sqlite_magic) != 0)
        return dv_err(err, DROVER_ERR_CORRUPT, kind->domain,
                      "%s is not a drover %s: it is not an SQLite database (no SQLite header); "
                      "left untouched", path, kind->what);
    appid = be32(hdr + HEADER_APPLICATION_ID);
    version = be32(hdr + HEADER_USER_VERSION);
    if (appid != (uint32_t)kind->application_id) {
        if ((other = kind_name_of(appid)))
            return dv_err(err, DROVER_ERR_CORRUPT, kind->domain,
                          "%s is a drover %s, not a drover %s; left untouched", path, other,
                          kind->what);
        return dv_err(err, DROVER_ERR_CORRUPT, kind->domain,
                      "%s is not a drover %s: it is the SQLite database of another application "
                      "(application_id 0x%08" PRIx32 ", drover's is 0x%08" PRIx32 "); left untouched",
                      path, kind->what, appid, (uint32_t)kind->application_id);
    }
    if (version > (uint32_t)kind->n_steps)
        return dv_err(err, DROVER_ERR_CORRUPT, kind->domain,
                      "%s: schema version %" PRIu32 " is newer than this build of drover knows "
                      "(%d); use a newer drover. Left untouched", path, version, kind->n_steps);
    *found = 2;
    return 0;
}

/* The directory must exist and be writable: WAL keeps -wal and -shm files
 * next to the database. */
static int check_dir(const char *path, const dv_db_kind *kind, drover_error *err)
{
    char *copy = strdup(path), *dir;
    struct stat st;
    int rc = 0;

    if (!copy)
        return dv_err(err, DROVER_ERR_NOMEM, kind->domain, "out of memory");
    dir = dirname(copy);
    if (stat(dir, &st) < 0)
        rc = dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: directory %s: %s",
                    kind->what, path, dir,
                    errno == ENOENT ? "does not exist (create it first)" : strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: %s is not a directory",
                    kind->what, path, dir);
    else if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) < 0)
        rc = dv_err(err, DROVER_ERR_IO, kind->domain,
                    "%s %s: directory %s is not writable by this process: %s",
                    kind->what, path, dir, strerror(errno));
    free(copy);
    return rc;
}

/* ---------------------------------------------------------------- open */

static int query_int(dv_sqlite *h, const char *sql, int64_t *v, drover_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h->db, sql, -1, &st, NULL);

    if (rc != SQLITE_OK)
        return dv_sqlite_fail(h, rc, sql, err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *v = sqlite3_column_int64(st, 0);
    else
        dv_sqlite_fail(h, rc, sql, err);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int set_pragma_int(dv_sqlite *h, const char *pragma, int64_t v, drover_error *err)
{
    /* PRAGMA values cannot be bound; v is an integer of ours, not input. */
    char sql[96];
    int rc;

    snprintf(sql, sizeof sql, "PRAGMA %s = %" PRId64, pragma, v);
    rc = sqlite3_exec(h->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : dv_sqlite_fail(h, rc, sql, err);
}

/* Apply the migration steps from the file's version up to this build's, in
 * one IMMEDIATE transaction, so concurrent openers migrate exactly once.
 * fresh: the file is empty and gets its application_id too. */
static int migrate(dv_sqlite *h, bool fresh, drover_error *err)
{
    const dv_db_kind *k = h->kind;
    int64_t appid, version, objects;
    int rc;

    if (dv_sqlite_begin(h, true, err) < 0)
        return -1;
    if (query_int(h, "PRAGMA application_id", &appid, err) < 0 ||
        query_int(h, "PRAGMA user_version", &version, err) < 0 ||
        query_int(h, "SELECT count(*) FROM sqlite_master", &objects, err) < 0)
        goto fail;
    if (fresh && appid == 0 && objects == 0 && version == 0) {
        if (set_pragma_int(h, "application_id", k->application_id, err) < 0)
            goto fail;
    } else if (appid != k->application_id) {
        dv_err(err, DROVER_ERR_CORRUPT, k->domain,
               "%s is not a drover %s (application_id 0x%08" PRIx32 "); left untouched",
               h->path, k->what, (uint32_t)appid);
        goto fail;
    }
    if (version > k->n_steps) {
        dv_err(err, DROVER_ERR_CORRUPT, k->domain,
               "%s: schema version %" PRId64 " is newer than this build of drover knows (%d); "
               "use a newer drover. Left untouched", h->path, version, k->n_steps);
        goto fail;
    }
    for (int64_t v = version; v < k->n_steps; v++) {
        /* fixed DDL of ours, several statements per step: sqlite3_exec */
        rc = sqlite3_exec(h->db, k->steps[v], NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "upgrading the schema to version %" PRId64, v + 1);
            dv_sqlite_fail(h, rc, what, err);
            goto fail;
        }
    }
    if (version < k->n_steps && set_pragma_int(h, "user_version", k->n_steps, err) < 0)
        goto fail;
    return dv_sqlite_commit(h, err);
fail:
    dv_sqlite_rollback(h);
    return -1;
}

static int use_wal(dv_sqlite *h, drover_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    bool wal = false;

    if (rc != SQLITE_OK)
        return dv_sqlite_fail(h, rc, "setting WAL journal mode", err);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        wal = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    else
        dv_sqlite_fail(h, rc, "setting WAL journal mode", err);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW && !wal)
        return dv_err(err, DROVER_ERR_IO, h->kind->domain,
                      "%s %s: the file system does not support WAL journal mode",
                      h->kind->what, h->path);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Open path (which exists) with SQLite, check it, set it up, migrate. */
static int open_existing(dv_sqlite *h, bool fresh, drover_error *err)
{
    int64_t version, appid;
    int rc;

    rc = sqlite3_open_v2(h->path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return dv_sqlite_fail(h, rc, "opening", err);
    sqlite3_extended_result_codes(h->db, 1);
    if (sqlite3_db_readonly(h->db, "main") == 1)
        return dv_err(err, DROVER_ERR_IO, h->kind->domain,
                      "%s %s: SQLite could only open it read-only", h->kind->what, h->path);
    if (sqlite3_busy_timeout(h->db, h->busy_timeout_ms) != SQLITE_OK ||
        set_pragma_int(h, "synchronous", 1 /* NORMAL */, err) < 0 ||
        set_pragma_int(h, "foreign_keys", 1, err) < 0)
        return -1;
    /* the header said ours; ask SQLite too before anything writes */
    if (query_int(h, "PRAGMA application_id", &appid, err) < 0 ||
        query_int(h, "PRAGMA user_version", &version, err) < 0)
        return -1;
    if (!fresh && appid != h->kind->application_id)
        return dv_err(err, DROVER_ERR_CORRUPT, h->kind->domain,
                      "%s is not a drover %s (application_id 0x%08" PRIx32 "); left untouched",
                      h->path, h->kind->what, (uint32_t)appid);
    if (version > h->kind->n_steps)
        return dv_err(err, DROVER_ERR_CORRUPT, h->kind->domain,
                      "%s: schema version %" PRId64 " is newer than this build of drover knows "
                      "(%d); use a newer drover. Left untouched", h->path, version,
                      h->kind->n_steps);
    if ((fresh || version < h->kind->n_steps) && migrate(h, fresh, err) < 0)
        return -1;
    return use_wal(h, err);
}

static void finalize_all(dv_sqlite *h)
{
    for (unsigned i = 0; i < DV_SQLITE_SLOTS; i++)
        sqlite3_finalize(h->slot[i]);
    sqlite3_finalize(h->begin_deferred);
    sqlite3_finalize(h->begin_immediate);
    sqlite3_finalize(h->commit);
    memset(h->slot, 0, sizeof h->slot);
    h->begin_deferred = h->begin_immediate = h->commit = NULL;
}

/* Make a complete new file under a temporary name in the same directory and
 * link it into place: the final name appears fully initialised or not at all.
 * Losing the race to another creator is fine: its file is then used. */
static int create_new(const char *path, const dv_db_kind *kind, int busy_timeout_ms,
                      drover_error *err)
{
    dv_sqlite tmp = { .kind = kind, .busy_timeout_ms = busy_timeout_ms };
    size_t len = strlen(path) + 16;
    int fd, rc = -1;

    if (!(tmp.path = malloc(len)))
        return dv_err(err, DROVER_ERR_NOMEM, kind->domain, "out of memory");
    snprintf(tmp.path, len, "%s.new-XXXXXX", path);
    fd = mkostemp(tmp.path, O_CLOEXEC);
    if (fd < 0) {
        dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: cannot create it: %s",
               kind->what, path, strerror(errno));
        free(tmp.path);
        return -1;
    }
    if (fchmod(fd, 0600) < 0) {
        dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: chmod 0600: %s", kind->what,
               tmp.path, strerror(errno));
        close(fd);
        goto out;
    }
    close(fd);
    if (open_existing(&tmp, true, err) < 0)
        goto out;
    finalize_all(&tmp);
    /* close checkpoints the WAL into the file and removes -wal and -shm */
    if ((rc = sqlite3_close(tmp.db)) != SQLITE_OK) {
        rc = dv_sqlite_fail(&tmp, rc, "closing the new file", err);
        goto out;
    }
    tmp.db = NULL;
    rc = 0;
    if (link(tmp.path, path) < 0 && errno != EEXIST)
        rc = dv_err(err, DROVER_ERR_IO, kind->domain, "%s %s: cannot create it: %s",
                    kind->what, path, strerror(errno));
out:
    if (tmp.db) {
        finalize_all(&tmp);
        sqlite3_close(tmp.db);
    }
    unlink(tmp.path);
    free(tmp.path);
    return rc;
}

/* The files this process has open through dv_sqlite handles.  Closing any
 * descriptor of a file drops every POSIX lock the process holds on it, the
 * locks SQLite's other connections rely on; so once a file is open here,
 * check_header (open, read, close) is not run on it again: it was checked
 * when it was first opened. */
#define OPEN_FILES_MAX 64
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct open_file {
    dev_t dev;
    ino_t ino;
    int n;
} open_files[OPEN_FILES_MAX];

static bool open_here(const char *path)
{
    struct stat st;
    bool yes = false;

    if (stat(path, &st) < 0)
        return false;
    pthread_mutex_lock(&open_mu);
    for (int i = 0; i < OPEN_FILES_MAX && !yes; i++)
        yes = open_files[i].n > 0 && open_files[i].dev == st.st_dev &&
              open_files[i].ino == st.st_ino;
    pthread_mutex_unlock(&open_mu);
    return yes;
}

static void register_open(dv_sqlite *h)
{
    struct stat st;
    int free_slot = -1;

    if (stat(h->path, &st) < 0)
        return;
    pthread_mutex_lock(&open_mu);
    for (int i = 0; i < OPEN_FILES_MAX; i++) {
        if (open_files[i].n > 0 && open_files[i].dev == st.st_dev &&
            open_files[i].ino == st.st_ino) {
            free_slot = i;
            break;
        }
        if (open_files[i].n == 0 && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        open_files[free_slot].dev = st.st_dev;
        open_files[free_slot].ino = st.st_ino;
        open_files[free_slot].n++;
        h->dev = st.st_dev;
        h->ino = st.st_ino;
        h->registered = true;
    }
    pthread_mutex_unlock(&open_mu);
}

static void unregister_open(dv_sqlite *h)
{
    if (!h->registered)
        return;
    pthread_mutex_lock(&open_mu);
    for (int i = 0; i < OPEN_FILES_MAX; i++)
        if (open_files[i].n > 0 && open_files[i].dev == h->dev && open_files[i].ino == h->ino) {
            open_files[i].n--;
            break;
        }
    pthread_mutex_unlock(&open_mu);
}

int dv_sqlite_open(const char *path, const dv_db_kind *kind, int busy_timeout_ms,
                   dv_sqlite **out, drover_error *err)
{
    dv_sqlite *h;
    int found = 2;

    *out = NULL;
    if (!path || !*path)
        return dv_err(err, DROVER_ERR_INVALID, kind->domain, "%s: no path given", kind->what);
    if (busy_timeout_ms < 0)
        return dv_err(err, DROVER_ERR_INVALID, kind->domain,
                      "%s %s: busy_timeout_ms %d is negative", kind->what, path, busy_timeout_ms);
    if (check_dir(path, kind, err) < 0 ||
        (!open_here(path) && check_header(path, kind, &found, err) < 0))
        return -1;
    if (found == 0 && create_new(path, kind, busy_timeout_ms, err) < 0)
        return -1;
    if (!(h = calloc(1, sizeof *h)) || !(h->path = strdup(path))) {
        free(h);
        return dv_err(err, DROVER_ERR_NOMEM, kind->domain, "out of memory");
    }
    h->kind = kind;
    h->busy_timeout_ms = busy_timeout_ms;
    /* found == 0: another process may have won the race to create the
     * file; check what is there now like any existing file */
    if ((found == 0 && check_header(path, kind, &found, err) < 0) ||
        open_existing(h, found == 1, err) < 0) {
        dv_sqlite_close(h);
        return -1;
    }
    register_open(h);
    *out = h;
    return 0;
}

void dv_sqlite_close(dv_sqlite *h)
{
    if (!h)
        return;
    finalize_all(h);
    sqlite3_close(h->db);
    unregister_open(h);
    free(h->path);
    free(h);
}
