/* test_mig_record.c - migration records on a real SQLite state db: the
 * transitions (a terminal state never changes), requests, the slot rule
 * (max_concurrent per source, first come first served by id, dead owners
 * hold no slot: a pid gone on this machine, a stale heartbeat elsewhere),
 * lookups by id and by instance. */
#include "core/clock.h"
#include "core/sqlite.h"
#include "migrator/record.h"
#include "tests/integration/dbtest.h"
#include "tests/tap.h"

static dv_statedb *db;
static dv_mig_owner self;

static dv_mig_record make(const char *name, const char *source)
{
    dv_mig_record r;
    drover_error err;

    memset(&r, 0, sizeof r);
    snprintf(r.instance_name, sizeof r.instance_name, "%s", name);
    snprintf(r.instance_uuid, sizeof r.instance_uuid, "uuid-%s", name);
    snprintf(r.source, sizeof r.source, "%s", source);
    snprintf(r.policy, sizeof r.policy, "adaptive");
    if (dv_mig_record_create(db, &r, &self, &err) < 0)
        bail_out("create: %s", err.message);
    return r;
}

static void test_transitions(void)
{
    dv_mig_record r = make("t1", "h1"), got;
    drover_error err;

    ok(r.id > 0 && r.state == DV_MIG_QUEUED, "a new record is queued");
    ok(dv_mig_record_set_state(db, &r, DV_MIG_COMPLETED, NULL, &err) < 0 &&
           err.code == DROVER_ERR_CONFLICT, "queued cannot become completed");
    ok(dv_mig_record_set_state(db, &r, DV_MIG_PREPARING, NULL, &err) == 0, "queued -> preparing");
    ok(dv_mig_record_set_state(db, &r, DV_MIG_RUNNING, NULL, &err) == 0 && r.started_ms > 0,
       "preparing -> running sets started");
    ok(dv_mig_record_set_state(db, &r, DV_MIG_POSTCOPY, NULL, &err) == 0, "running -> post-copy");
    ok(dv_mig_record_set_state(db, &r, DV_MIG_CANCELLED, NULL, &err) < 0,
       "post-copy cannot be cancelled");
    ok(dv_mig_record_set_state(db, &r, DV_MIG_COMPLETED, "done", &err) == 0 && r.ended_ms > 0,
       "post-copy -> completed sets ended");
    for (int s = 0; s < DV_MIG_N_STATES; s++)
        ok(dv_mig_record_set_state(db, &r, (dv_mig_state)s, NULL, &err) < 0,
           "completed never becomes %s", dv_mig_state_name((dv_mig_state)s));
    ok(dv_mig_record_get(db, r.id, &got, &err) == 0 && got.state == DV_MIG_COMPLETED &&
           !strcmp(got.message, "done"), "the row says completed, with its message");
    ok(dv_mig_record_get(db, 999999, &got, &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "an unknown id is not found");
    ok(dv_mig_record_find_instance(db, "uuid-t1", &got, &err) == 0 && got.id == r.id,
       "found by UUID");
    ok(dv_mig_record_find_instance(db, "nope", &got, &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "an instance that never migrated is not found");
}

static void test_requests(void)
{
    dv_mig_record r = make("t2", "h2");
    drover_error err;
    dv_mig_state st;
    char req[24];

    ok(dv_mig_record_request(db, r.id, "abort", "me pid 1", &err) == 0, "a request is recorded");
    ok(dv_mig_record_poll(db, r.id, &st, req, sizeof req, &err) == 0 && st == DV_MIG_QUEUED &&
           !strcmp(req, "abort"), "poll reads the state and the request");
    dv_mig_record_set_state(db, &r, DV_MIG_CANCELLED, "by test", NULL);
}

/* A record owned by a process that is gone: fork a child and let it exit. */
static dv_mig_record orphan(const char *name, const char *source)
{
    dv_mig_record r = make(name, source);
    pid_t pid = fork();
    sqlite3_stmt *st;

    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    st = dv_sqlite_stmt(dv_statedb_sqlite(db), DV_STATEDB_SLOT_USER + 15,   /* a slot record.c leaves free */
                        "UPDATE migration SET owner_pid = ?2 WHERE id = ?1", NULL);
    sqlite3_bind_int64(st, 1, r.id);
    sqlite3_bind_int64(st, 2, pid);
    sqlite3_step(st);
    sqlite3_reset(st);
    r.owner_pid = pid;
    return r;
}

static void test_slots(void)
{
    dv_mig_record a = make("s1", "src"), b = make("s2", "src"), c = make("s3", "src");
    dv_mig_record other = make("o1", "elsewhere");
    drover_error err;
    bool got;
    int ahead;
    int64_t blocker;

    ok(dv_mig_record_try_slot(db, &b, 1, &self, 10000, &got, &ahead, &blocker, &err) == 0 &&
           !got && ahead == 1 && blocker == a.id, "the second in line waits behind the first");
    ok(dv_mig_record_try_slot(db, &a, 1, &self, 10000, &got, &ahead, &blocker, &err) == 0 && got &&
           a.state == DV_MIG_PREPARING, "the first takes the slot");
    ok(dv_mig_record_try_slot(db, &other, 1, &self, 10000, &got, &ahead, &blocker, &err) == 0 &&
           got, "another source has its own slots");
    ok(dv_mig_record_try_slot(db, &c, 2, &self, 10000, &got, &ahead, &blocker, &err) == 0 && !got &&
           ahead == 2, "max_concurrent 2: the third waits behind the running one and the second");
    ok(dv_mig_record_try_slot(db, &b, 2, &self, 10000, &got, &ahead, &blocker, &err) == 0 && got,
       "max_concurrent 2: the second runs beside the first");
    dv_mig_record_set_state(db, &a, DV_MIG_FAILED, "x", NULL);
    dv_mig_record_set_state(db, &b, DV_MIG_FAILED, "x", NULL);
    ok(dv_mig_record_try_slot(db, &c, 1, &self, 10000, &got, &ahead, &blocker, &err) == 0 && got,
       "settled records hold no slot");
    dv_mig_record_set_state(db, &c, DV_MIG_FAILED, "x", NULL);
    dv_mig_record_set_state(db, &other, DV_MIG_FAILED, "x", NULL);
    {
        dv_mig_record dead = orphan("d1", "src2"), next = make("d2", "src2");
        dv_mig_owner far = self;
        ok(!dv_mig_owner_alive(&dead, &self, dv_wall_ms(), 10000),
           "a record whose owner pid is gone on this machine has a dead owner");
        ok(dv_mig_record_try_slot(db, &next, 1, &self, 10000, &got, &ahead, &blocker, &err) == 0 &&
               got, "... and holds no slot");
        snprintf(far.host, sizeof far.host, "another-machine");
        ok(dv_mig_owner_alive(&next, &far, dv_wall_ms(), 10000),
           "seen from another machine, a fresh heartbeat is alive");
        ok(!dv_mig_owner_alive(&next, &far, dv_wall_ms() + 20000, 10000),
           "... and a stale one is not");
    }
}

static void test_list(void)
{
    dv_mig_record *v;
    size_t n_all = 0, n_active = 0;
    drover_error err;

    ok(dv_mig_record_list(db, true, &v, &n_all, &err) == 0, "list --all");
    free(v);
    ok(dv_mig_record_list(db, false, &v, &n_active, &err) == 0, "list");
    for (size_t i = 0; i < n_active; i++)
        ok(!dv_mig_state_terminal(v[i].state), "the default list holds no settled record (%s)",
           dv_mig_state_name(v[i].state));
    free(v);
    ok(n_all > n_active, "more records in --all (%zu) than unsettled (%zu)", n_all, n_active);
}

int main(void)
{
    char *dir = dbt_tmpdir();
    drover_error err;

    if (!dir || dv_statedb_open(dbt_join(dir, "state.db"), 5000, &db, &err) < 0)
        bail_out("state db");
    dv_mig_owner_self(&self);
    ok(self.start > 0, "this process's start time is read from /proc");
    test_transitions();
    test_requests();
    test_slots();
    test_list();
    dv_statedb_close(db);
    dbt_rmrf(dir);
    return done_testing();
}
