/* test_statedb.c - the controller state db on real SQLite files: members,
 * admin state, claims (two processes racing for the last capacity), file
 * creation, refusing files that are not ours, schema upgrades (the real
 * one from version 1 to 2: migration records). */
#include "core/sqlite.h"
#include "core/statedb.h"
#include "tests/integration/dbtest.h"
#include "tests/tap.h"

#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;

static dv_statedb *open_ok(const char *path)
{
    drover_error err = { 0 };
    dv_statedb *db = NULL;

    if (dv_statedb_open(path, 5000, &db, &err) < 0)
        bail_out("cannot open state db %s: %s", path, err.message);
    return db;
}

static uint32_t header_u32(const dbt_blob *b, size_t off)
{
    const unsigned char *p = b->data + off;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void test_create(void)
{
    const char *path = dv_scratch_join(dir, "create.db");
    dv_statedb *db = open_ok(path);
    dbt_blob b;

    dv_statedb_close(db);
    ok(dbt_snapshot(path, &b) == 0, "the state db file exists after open");
    is_int(b.mode & 07777, 0600, "it is mode 0600");
    is_int(header_u32(&b, 68), DV_APPID_STATE, "application_id marks it a drover state db");
    is_int(header_u32(&b, 60), 2, "user_version is the schema version 2");
    is_int(b.data[18], 2, "journal mode is WAL (header write version 2)");
    dbt_blob_free(&b);
    /* create.db only: no temporary name, -wal or -shm left over */
    is_int(dv_scratch_count_entries(dir), 1, "nothing but the db file is left in the directory");
    db = open_ok(path);
    dv_statedb_close(db);
    ok(1, "an existing state db opens again");
    unlink(path);
}

static void test_members(void)
{
    dv_statedb *db = open_ok(dv_scratch_join(dir, "members.db"));
    drover_error err = { 0 };
    char **hosts;
    size_t n;

    ok(dv_statedb_member_add(db, "compute", "node-b", &err) == 0, "add node-b");
    ok(dv_statedb_member_add(db, "compute", "node-a", &err) == 0, "add node-a");
    ok(dv_statedb_member_add(db, "compute", "node-a", &err) == 0, "adding node-a again is fine");
    ok(dv_statedb_member_add(db, "other", "node-z", &err) == 0, "add node-z to another group");
    ok(dv_statedb_member_list(db, "compute", &hosts, &n, &err) == 0, "list compute");
    is_int(n, 2, "two members in compute");
    if (n == 2) {
        is_str(hosts[0], "node-a", "sorted: node-a first");
        is_str(hosts[1], "node-b", "sorted: node-b second");
    }
    dv_strv_free(hosts, n);
    {
        bool yes = false;
        ok(dv_statedb_member_has(db, "compute", "node-b", &yes, &err) == 0 && yes,
           "member_has: node-b is a member of compute");
        ok(dv_statedb_member_has(db, "other", "node-b", &yes, &err) == 0 && !yes,
           "... but not of other");
        ok(dv_statedb_member_has(db, "compute", "a/b", &yes, &err) < 0 &&
           err.code == DROVER_ERR_INVALID && !yes, "... and a bad name is refused");
    }
    ok(dv_statedb_member_remove(db, "compute", "node-b", &err) == 0, "remove node-b");
    ok(dv_statedb_member_remove(db, "compute", "node-b", &err) < 0, "removing it again fails");
    is_int(err.code, DROVER_ERR_NOT_FOUND, "... with not-found");
    has_str(err.message, "node-b", "... naming the host");
    has_str(err.message, "compute", "... and the group");
    {
        bool yes = true;
        ok(dv_statedb_member_has(db, "compute", "node-b", &yes, &err) == 0 && !yes,
           "member_has: node-b is gone");
    }
    ok(dv_statedb_member_list(db, "empty", &hosts, &n, &err) == 0 && n == 0 && !hosts,
       "an empty group lists nothing");
    ok(dv_statedb_member_add(db, "compute", "../x", &err) < 0 && err.code == DROVER_ERR_INVALID,
       "a host name with '/' is refused");
    ok(dv_statedb_member_add(db, "", "x", &err) < 0 && err.code == DROVER_ERR_INVALID,
       "an empty group name is refused");
    dv_statedb_close(db);
}

static void test_admin(void)
{
    const char *path = dv_scratch_join(dir, "admin.db");
    dv_statedb *db = open_ok(path);
    drover_error err = { 0 };
    dv_admin a, *all;
    size_t n;

    ok(dv_statedb_admin_get(db, "compute", "h1", &a, &err) == 0, "admin state of an unknown host");
    ok(!a.disabled && !a.forced_down && !a.reason, "... is all false and no reason");
    is_str(a.host, "h1", "... and names the host");
    dv_admin_clear(&a);

    ok(dv_statedb_set_disabled(db, "compute", "h1", true, "disk failing", &err) == 0, "disable h1");
    ok(dv_statedb_set_forced_down(db, "compute", "h2", true, &err) == 0, "force h2 down");
    ok(dv_statedb_set_disabled(db, "compute", "h3", false, NULL, &err) == 0, "enable h3 (no-op)");
    dv_statedb_close(db);
    db = open_ok(path);

    ok(dv_statedb_admin_get(db, "compute", "h1", &a, &err) == 0, "read h1 after reopening");
    ok(a.disabled && !a.forced_down, "h1 disabled, not forced down");
    is_str(a.reason, "disk failing", "the reason survived");
    dv_admin_clear(&a);
    ok(dv_statedb_admin_all(db, "compute", &all, &n, &err) == 0, "admin_all");
    is_int(n, 2, "two hosts have admin state set (h3 was only enabled)");
    if (n == 2) {
        is_str(all[0].host, "h1", "h1 first");
        ok(all[1].forced_down && !all[1].disabled && !all[1].reason, "h2 forced down only");
    }
    dv_admins_free(all, n);

    ok(dv_statedb_set_disabled(db, "compute", "h1", false, "ignored", &err) == 0, "enable h1");
    ok(dv_statedb_admin_get(db, "compute", "h1", &a, &err) == 0 && !a.disabled && !a.reason,
       "enabling forgets the reason");
    dv_admin_clear(&a);
    ok(dv_statedb_set_forced_down(db, "compute", "h2", false, &err) == 0, "h2 --off");
    ok(dv_statedb_admin_all(db, "compute", &all, &n, &err) == 0 && n == 0,
       "no admin state left in compute");
    dv_admins_free(all, n);

    ok(dv_statedb_member_add(db, "compute", "h4", &err) == 0 &&
       dv_statedb_set_disabled(db, "compute", "h4", true, NULL, &err) == 0 &&
       dv_statedb_member_remove(db, "compute", "h4", &err) == 0, "disable then remove h4");
    ok(dv_statedb_admin_get(db, "compute", "h4", &a, &err) == 0 && !a.disabled,
       "a removed member's admin state is gone");
    dv_admin_clear(&a);
    dv_statedb_close(db);
}

static void test_claims(void)
{
    dv_statedb *db = open_ok(dv_scratch_join(dir, "claims.db"));
    drover_error err = { 0 };
    int64_t id1, id2, id3;
    uint64_t mib;
    const int64_t t0 = 1700000000000;

    ok(dv_statedb_claim_try(db, "dst", "uuid-1", 600, 1024, t0, 60, &id1, &err) == 0 && id1 > 0,
       "claim 600 of 1024 MiB");
    ok(dv_statedb_claim_try(db, "dst", "uuid-2", 600, 1024, t0, 60, &id2, &err) < 0,
       "600 more do not fit");
    is_int(err.code, DROVER_ERR_CONFLICT, "... conflict");
    has_str(err.message, "600 MiB claimed already", "... saying how much is claimed");
    is_int(id2, 0, "... and no claim id");
    ok(dv_statedb_claim_try(db, "dst", "uuid-3", 424, 1024, t0, 60, &id3, &err) == 0,
       "424 MiB still fit exactly");
    ok(dv_statedb_claimed_mib(db, "dst", t0, &mib, &err) == 0 && mib == 1024, "1024 MiB claimed");
    ok(dv_statedb_claimed_mib(db, "other", t0, &mib, &err) == 0 && mib == 0,
       "another host has nothing claimed");
    ok(dv_statedb_claim_release(db, id1, &err) == 0, "release the first claim");
    ok(dv_statedb_claim_release(db, id1, &err) == 0, "releasing it twice is harmless");
    ok(dv_statedb_claimed_mib(db, "dst", t0, &mib, &err) == 0 && mib == 424, "424 MiB remain");
    ok(dv_statedb_claimed_mib(db, "dst", t0 + 59999, &mib, &err) == 0 && mib == 424,
       "a claim holds until its ttl");
    ok(dv_statedb_claimed_mib(db, "dst", t0 + 60000, &mib, &err) == 0 && mib == 0,
       "and is gone at its ttl");
    ok(dv_statedb_claim_try(db, "dst", "uuid-4", 1024, 1024, t0 + 60000, 60, &id2, &err) == 0,
       "expired claims leave room for a new one");
    ok(dv_statedb_claim_try(db, "dst", "u", 1, 1024, t0, 0, &id2, &err) < 0 &&
       err.code == DROVER_ERR_INVALID, "ttl 0 is refused");
    ok(dv_statedb_claim_try(db, "dst", "u", 2048, 1024, t0, 5, &id2, &err) < 0 &&
       err.code == DROVER_ERR_CONFLICT, "more than the capacity never fits");
    ok(dv_statedb_claim_try(db, "a/b", "u", 1, 1024, t0, 5, &id2, &err) < 0 &&
       err.code == DROVER_ERR_INVALID, "a bad host name is refused");
    dv_statedb_close(db);
}

/* ---- two processes racing claim_try for the last capacity */

#define RACE_ROUNDS 200
struct race { atomic_int arrived; atomic_int failed_open; };

static void race_child(const char *path, struct race *r, int fd)
{
    drover_error err;
    dv_statedb *db = NULL;
    int counts[2] = { 0, 0 };   /* wins, errors other than conflict */
    char host[32];
    int64_t id;

    if (dv_statedb_open(path, 5000, &db, &err) < 0) {
        atomic_fetch_add(&r->failed_open, 1);
        fprintf(stdout, "# child open failed: %s\n", err.message);
        counts[1] = -1;
    }
    for (int round = 0; round < RACE_ROUNDS; round++) {
        /* both children start each round together */
        atomic_fetch_add(&r->arrived, 1);
        while (atomic_load(&r->arrived) < 2 * (round + 1))
            ;
        if (!db)
            continue;
        /* claim 100 MiB slices of 1000 until the host is full */
        snprintf(host, sizeof host, "race-%d", round);
        for (;;) {
            if (dv_statedb_claim_try(db, host, "uuid", 100, 1000, 1000, 60, &id, &err) == 0) {
                counts[0]++;
                continue;
            }
            if (err.code != DROVER_ERR_CONFLICT) {
                counts[1]++;
                fprintf(stdout, "# child error: %s\n", err.message);
            }
            break;
        }
    }
    dv_statedb_close(db);
    if (write(fd, counts, sizeof counts) != sizeof counts)
        _exit(1);
    _exit(0);
}

static void test_race(void)
{
    const char *path = dv_scratch_join(dir, "race.db");
    struct race *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fds[2], wins = 0, errors = 0, all_once = 1;
    pid_t pid[2];
    dv_statedb *db;
    drover_error err;
    uint64_t mib;
    char host[32];

    if (r == MAP_FAILED || pipe(fds) < 0)
        bail_out("mmap/pipe failed");
    atomic_init(&r->arrived, 0);
    atomic_init(&r->failed_open, 0);
    fflush(stdout);
    /* the file does not exist yet: the two children also race to create it */
    for (int i = 0; i < 2; i++) {
        if ((pid[i] = fork()) < 0)
            bail_out("fork failed");
        if (pid[i] == 0) {
            close(fds[0]);
            race_child(path, r, fds[1]);
        }
    }
    close(fds[1]);
    for (int i = 0; i < 2; i++) {
        int counts[2], status;
        if (read(fds[0], counts, sizeof counts) != sizeof counts)
            errors++;
        else {
            wins += counts[0];
            errors += counts[1] < 0 ? 1000 : counts[1];
        }
        waitpid(pid[i], &status, 0);
    }
    close(fds[0]);
    is_int(atomic_load(&r->failed_open), 0, "both racers opened (and one created) the state db");
    is_int(errors, 0, "no racer saw an error other than conflict");
    is_int(wins, 10 * RACE_ROUNDS, "exactly 10 slices of 100 MiB won per 1000 MiB host over %d rounds",
           RACE_ROUNDS);
    db = open_ok(path);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        snprintf(host, sizeof host, "race-%d", round);
        if (dv_statedb_claimed_mib(db, host, 1000, &mib, &err) < 0 || mib != 1000) {
            all_once = 0;
            diag("round %d: %llu MiB claimed", round, (unsigned long long)mib);
        }
    }
    ok(all_once, "every host holds exactly its 1000 MiB capacity in claims, never more");
    dv_statedb_close(db);
    munmap(r, sizeof *r);
}

/* ---- files that are not ours are refused and left untouched */

static const char *const sg_steps[] = { "CREATE TABLE m (x);" };
static const dv_db_kind sg_kind = {
    .what = "servicegroup database", .application_id = DV_APPID_SERVICEGROUP,
    .domain = DROVER_FROM_DB, .steps = sg_steps, .n_steps = 1,
};

static void refused(const char *path, const char *why, const char *needle)
{
    dbt_blob before, after;
    drover_error err = { 0 };
    dv_statedb *db = NULL;
    int entries = dv_scratch_count_entries(dir);

    if (dbt_snapshot(path, &before) < 0)
        bail_out("cannot read %s", path);
    ok(dv_statedb_open(path, 1000, &db, &err) < 0 && !db, "%s: refused", why);
    is_int(err.code, DROVER_ERR_CORRUPT, "%s: corrupt", why);
    has_str(err.message, path, "%s: the message names the path", why);
    has_str(err.message, needle, "%s: and says why", why);
    ok(dbt_snapshot(path, &after) == 0 && dbt_same(&before, &after),
       "%s: the file is byte-for-byte unchanged", why);
    is_int(dv_scratch_count_entries(dir), entries, "%s: no -wal/-shm/journal created", why);
    dbt_blob_free(&before);
    dbt_blob_free(&after);
    dv_statedb_close(db);
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *s;
    if (sqlite3_open(path, &s) != SQLITE_OK || sqlite3_exec(s, sql, NULL, NULL, NULL) != SQLITE_OK)
        bail_out("sqlite3 on %s: %s", path, sqlite3_errmsg(s));
    sqlite3_close(s);
}

static void test_foreign_files(void)
{
    unsigned char junk[8192];
    const char *p;
    dv_sqlite *h;
    drover_error err;

    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 2654435761u >> 13);
    p = dv_scratch_join(dir, "junk.db");
    dbt_write_file(p, junk, sizeof junk);
    refused(p, "random bytes", "not an SQLite database");

    p = dv_scratch_join(dir, "short.db");
    dbt_write_file(p, "SQLite format 3", 16);
    refused(p, "a 16-byte file", "not an SQLite database");

    p = dv_scratch_join(dir, "other-app.db");
    sql_exec(p, "CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('x');");
    refused(p, "another application's db", "another application");

    p = dv_scratch_join(dir, "other-app-wal.db");
    sql_exec(p, "PRAGMA journal_mode=WAL; PRAGMA application_id=7; CREATE TABLE t (a);");
    refused(p, "another application's WAL db", "application_id 0x00000007");

    p = dv_scratch_join(dir, "servicegroup.db");
    if (dv_sqlite_open(p, &sg_kind, 1000, &h, &err) < 0)
        bail_out("cannot make a servicegroup db: %s", err.message);
    dv_sqlite_close(h);
    refused(p, "a drover servicegroup db", "is a drover servicegroup database, not a drover state database");

    p = dv_scratch_join(dir, "newer.db");
    dv_statedb_close(open_ok(p));
    sql_exec(p, "PRAGMA user_version = 99;");
    refused(p, "a newer schema", "schema version 99 is newer");
}

/* ---- directories */

static int open_as_nobody(void *arg, drover_error *err)
{
    dv_statedb *db = NULL;
    int rc = dv_statedb_open(arg, 1000, &db, err);
    dv_statedb_close(db);
    return rc;
}

static void test_dirs(void)
{
    char sub[600];
    drover_error err = { 0 };
    dv_statedb *db = NULL;
    int rc;

    snprintf(sub, sizeof sub, "%s/missing/state.db", dir);
    ok(dv_statedb_open(sub, 1000, &db, &err) < 0 && !db, "a missing directory is an error");
    is_int(err.code, DROVER_ERR_IO, "... io");
    has_str(err.message, "missing", "... naming the directory");
    has_str(err.message, "does not exist", "... and why");

    snprintf(sub, sizeof sub, "%s/ro", dir);
    if (mkdir(sub, 0755) < 0)
        bail_out("mkdir %s", sub);
    strcat(sub, "/state.db");
    rc = dbt_as_nobody(open_as_nobody, sub, &err);
    ok(rc != -2, "a child dropped to uid/gid %d", DBT_NOBODY);
    ok(rc == -1, "as nobody, a state db in a root-owned 0755 directory cannot be opened");
    is_int(err.code, DROVER_ERR_IO, "... io");
    has_str(err.message, "not writable", "... saying the directory is not writable");
    has_str(err.message, "/ro", "... naming it");
    is_int(dv_scratch_count_entries(dv_scratch_join(dir, "ro")), 0, "... and nothing was created there");

    /* an existing db whose directory nobody may write: WAL needs -shm */
    snprintf(sub, sizeof sub, "%s/ro/state.db", dir);
    dv_statedb_close(open_ok(sub));
    chmod(sub, 0666);
    rc = dbt_as_nobody(open_as_nobody, sub, &err);
    ok(rc == -1 && err.code == DROVER_ERR_IO, "as nobody, an existing db in that directory fails");
    has_str(err.message, "not writable", "... saying the directory is not writable");

    /* a writable directory, but a file only root may write */
    snprintf(sub, sizeof sub, "%s/open", dir);
    if (mkdir(sub, 0777) < 0 || chmod(sub, 0777) < 0)
        bail_out("mkdir %s", sub);
    strcat(sub, "/state.db");
    dv_statedb_close(open_ok(sub));
    chmod(sub, 0644);
    {
        dbt_blob before, after;
        dbt_snapshot(sub, &before);
        rc = dbt_as_nobody(open_as_nobody, sub, &err);
        ok(rc == -1 && err.code == DROVER_ERR_IO, "as nobody, a root-owned 0644 state db fails");
        has_str(err.message, "state.db: not writable", "... naming the file and why");
        ok(dbt_snapshot(sub, &after) == 0 && dbt_same(&before, &after), "... and leaves it as it was");
        is_int(dv_scratch_count_entries(dv_scratch_join(dir, "open")), 1, "... creating nothing next to it");
        dbt_blob_free(&before);
        dbt_blob_free(&after);
    }
}

/* ---- the upgrade path */

static const char *const v2_steps[] = {
    "CREATE TABLE member (grp TEXT, host TEXT, joined_ms INTEGER);", "CREATE TABLE extra (x);",
};
static const char *const bad_steps[] = {
    "CREATE TABLE member (grp TEXT, host TEXT, joined_ms INTEGER);", "CREATE TABLE extra2 (x);",
    "THIS IS NOT SQL;",
};

static void test_upgrade(void)
{
    dv_db_kind k = { .what = "state database", .application_id = DV_APPID_STATE,
                     .domain = DROVER_FROM_STATE, .steps = v2_steps, .n_steps = 1 };
    const char *p = dv_scratch_join(dir, "upgrade.db");
    drover_error err = { 0 };
    dv_sqlite *h;
    sqlite3_stmt *st;
    dbt_blob before, after;

    ok(dv_sqlite_open(p, &k, 1000, &h, &err) == 0, "make a version 1 file");
    dv_sqlite_close(h);
    k.n_steps = 2;
    ok(dv_sqlite_open(p, &k, 1000, &h, &err) == 0, "a version 2 build opens it");
    st = dv_sqlite_stmt(h, 0, "SELECT (SELECT user_version FROM pragma_user_version),"
                              " (SELECT count(*) FROM sqlite_master WHERE name = 'extra')", &err);
    ok(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2 &&
       sqlite3_column_int(st, 1) == 1, "it was upgraded to version 2 with step 2 applied");
    dv_sqlite_close(h);

    dv_sqlite_close(NULL);
    k.steps = bad_steps;
    k.n_steps = 3;
    dbt_snapshot(p, &before);
    ok(dv_sqlite_open(p, &k, 1000, &h, &err) < 0, "a failing step 3 fails the open");
    has_str(err.message, "upgrading the schema to version 3", "... saying which step");
    has_str(err.message, "syntax error", "... with SQLite's message");
    k.n_steps = 2;
    ok(dv_sqlite_open(p, &k, 1000, &h, &err) == 0, "the file is still a good version 2 file");
    st = dv_sqlite_stmt(h, 0, "SELECT count(*) FROM sqlite_master WHERE name = 'extra2'", &err);
    ok(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0,
       "the failed upgrade was rolled back as a whole");
    dv_sqlite_close(h);
    ok(dbt_snapshot(p, &after) == 0 && after.len == before.len, "same size as before");
    dbt_blob_free(&before);
    dbt_blob_free(&after);
}

/* A version 1 state db with a claim and a disabled host in it opens with
 * this build: upgraded to version 2 (the migration table), nothing lost. */
static void test_upgrade_1_to_2(void)
{
    dv_db_kind k = dv_statedb_kind;   /* the released version 1: its first step */
    const char *p = dv_scratch_join(dir, "release1.db");
    drover_error err = { 0 };
    dv_sqlite *h;
    dv_statedb *db;
    sqlite3_stmt *st;
    int64_t claim = 0;
    uint64_t mib = 0;
    dv_admin a;

    k.n_steps = 1;
    if (dv_sqlite_open(p, &k, 1000, &h, &err) < 0)
        bail_out("cannot make a version 1 file: %s", err.message);
    st = dv_sqlite_stmt(h, 0, "INSERT INTO claim (host, instance_uuid, memory_mib, created_ms,"
                              " expires_ms) VALUES ('h1', 'u1', 256, 0, 9000000000000)", &err);
    ok(st && dv_sqlite_exec_stmt(h, st, "claim", &err) == 0, "a version 1 file holds a claim");
    st = dv_sqlite_stmt(h, 1, "INSERT INTO admin (grp, host, disabled, reason)"
                              " VALUES ('compute', 'h2', 1, 'old')", &err);
    ok(st && dv_sqlite_exec_stmt(h, st, "admin", &err) == 0, "... and a disabled host");
    dv_sqlite_close(h);

    db = open_ok(p);
    st = dv_sqlite_stmt(dv_statedb_sqlite(db), DV_STATEDB_SLOT_USER + 1,
                        "SELECT user_version FROM pragma_user_version", &err);
    ok(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2,
       "this build upgrades it to version 2");
    if (st)
        sqlite3_reset(st);
    ok(dv_statedb_claimed_mib(db, "h1", 0, &mib, &err) == 0 && mib == 256, "the claim is still there");
    ok(dv_statedb_admin_get(db, "compute", "h2", &a, &err) == 0 && a.disabled && a.reason &&
           !strcmp(a.reason, "old"), "the admin state is still there");
    dv_admin_clear(&a);
    st = dv_sqlite_stmt(dv_statedb_sqlite(db), DV_STATEDB_SLOT_USER,
                        "SELECT count(*) FROM migration", &err);
    ok(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0,
       "the migration table exists, empty");
    if (st)
        sqlite3_reset(st);
    ok(dv_statedb_claim_try(db, "h1", "u2", 1, 1000, 1, 60, &claim, &err) == 0 && claim > 1,
       "claims go on after the upgrade");
    dv_statedb_close(db);
    db = open_ok(p);
    dv_statedb_close(db);
    ok(1, "the upgraded file opens again");
    unlink(p);
}

/* A second handle on a file this process has open already must not drop
 * the first one's locks (POSIX locks go with any close() of the file): the
 * first connection's shared lock is what tells another process, closing
 * last, to leave the WAL alone.  With the locks gone it would checkpoint
 * and delete -wal and -shm under the open connection. */
static void test_second_handle_keeps_locks(void)
{
    const char *path = dv_scratch_join(dir, "twohandles.db");
    char wal[4096];
    dv_statedb *a = open_ok(path), *b;
    drover_error err = { 0 };
    pid_t pid;
    int status = -1;

    snprintf(wal, sizeof wal, "%s-wal", path);
    ok(dv_statedb_member_add(a, "compute", "node-a", &err) == 0, "the first handle writes");
    ok(access(wal, F_OK) == 0, "... and the WAL exists");
    b = open_ok(path);
    dv_statedb_close(b);
    if ((pid = fork()) == 0) {
        sqlite3 *c = NULL;
        int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(c, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
        sqlite3_close(c);
        _exit(rc == SQLITE_OK ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    is_int(status, 0, "another process reads the file and closes");
    ok(access(wal, F_OK) == 0,
       "the WAL is still there: the first handle's lock survived the second handle's open");
    ok(dv_statedb_member_add(a, "compute", "node-b", &err) == 0, "the first handle still writes");
    dv_statedb_close(a);
}

int main(void)
{
    if (!(dir = dv_scratch_dir()))
        bail_out("mkdtemp failed");
    diag("scratch directory %s", dir);
    test_create();
    test_members();
    test_admin();
    test_claims();
    test_race();
    test_foreign_files();
    test_dirs();
    test_upgrade();
    test_upgrade_1_to_2();
    test_second_handle_keeps_locks();
    dv_scratch_rmrf(dir);
    return done_testing();
}
