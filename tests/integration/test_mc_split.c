/* test_mc_split.c - the mc driver when agents and readers do not share a
 * state database, as in a real deployment (droverd on the compute hosts,
 * the controller and `drover service list` elsewhere), on real memcached
 * servers started by tests/harness/memcached.sh.
 *
 *  1. an agent process with its own state.path, a reader with another: the
 *     reader lists the agent's member UP (joined, or only heartbeating), sees
 *     it DOWN after its heartbeats stop and gone after it leaves; admin state
 *     set by the reader does not stop the agent's heartbeats.
 *  2. memcached killed and relaunched: the reader still lists the member
 *     (UNKNOWN, then UP), never DOWN while it heartbeats; a second reader
 *     with an empty state database learns the member from memcached after
 *     the agent's next heartbeat.
 *  3. 1,000 members over two servers, joined through one handle, listed
 *     exactly by a reader with its own state database; 100 leave.
 *  4. the index of a member that joins and leaves over and over is
 *     compacted by readers (memcached's byte count falls), and with a
 *     small item size limit (-I) writers compact it themselves.
 */
#include "core/clock.h"
#include "core/config.h"
#include "drivers/servicegroup.h"
#include "tests/harness/agentproc.h"
#include "tests/harness/harness.h"
#include "tests/harness/scratch.h"
#include "tests/tap.h"
#include "tests/integration/mctest.h"  /* uses bail_out */

#include <errno.h>
#include <libmemcached/memcached.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define GROUP "compute"
#define REPORT_INTERVAL 1
#define DOWN_TIME 3
#define FLEET 1000

static char *dir;

static dv_config *make_cfg(const char *const *addrs, size_t n, const char *state_name)
{
    return mct_config(dir, addrs, n, state_name, REPORT_INTERVAL, DOWN_TIME, 500, 1);
}

#define open_sg mct_open

/* ---------------------------------------------------------------- agents */

/* A child process with its own driver handle (and so its own state
 * database): joins host if asked, then heartbeats every report_interval
 * (tests/harness/agentproc.h). */
typedef dv_agentproc agent;

static void agent_start(agent *a, const dv_config *cfg, const char *host, bool join)
{
    char *hosts[] = { (char *)host };
    dv_agentproc_spec spec = { .cfg = cfg, .group = GROUP, .hosts = hosts, .n_hosts = 1,
                               .report = "{}", .join = join, .interval_s = REPORT_INTERVAL };
    if (dv_agentproc_start(a, &spec) < 0)
        bail_out("the agent for %s did not start", host);
}

#define agent_stop dv_agentproc_free

/* `host` leaves through a fresh process with cfg's state database; its
 * exit status is 0 when the leave worked. */
static int leave_in_child(const dv_config *cfg, const char *host)
{
    int status;
    pid_t pid;

    fflush(stdout);
    if ((pid = fork()) < 0)
        bail_out("fork: %s", strerror(errno));
    if (pid == 0) {
        drover_error err;
        dv_sg *sg;
        if (dv_sg_open(cfg, &sg, &err) < 0 || dv_sg_leave(sg, GROUP, host, &err) < 0) {
            fprintf(stderr, "leave %s: %s\n", host, err.message);
            _exit(1);
        }
        dv_sg_close(sg);
        _exit(0);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* host's state in a get_all by sg: a drover_liveness, or -1 when absent,
 * -2 when get_all failed. */
static int listed(dv_sg *sg, const char *host, size_t *n_out)
{
    drover_member *m;
    drover_error err;
    size_t n;
    int st = -1;

    if (dv_sg_get_all(sg, GROUP, &m, &n, &err) < 0) {
        diag("get_all: %s", err.message);
        return -2;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].host, host) == 0)
            st = (int)m[i].state;
    if (n_out)
        *n_out = n;
    drover_members_free(m, n);
    return st;
}

/* ---------------------------------------------------------------- 1. split */

static void test_split(void)
{
    dv_mc_server mc;
    dv_config *acfg, *rcfg, *r3cfg;
    dv_sg *reader, *reader3;
    agent a = { 0 }, b = { 0 };
    drover_error err = { 0 };
    drover_liveness s;
    size_t n = 0;
    int64_t last, t, down_at = 0, beat_before;

    diag("--- agent and reader with different state databases");
    if (dv_mc_start(&mc, NULL, NULL, NULL) < 0)
        bail_out("cannot start memcached");
    acfg = make_cfg((const char *[]){ mc.addr }, 1, "agent.db");
    rcfg = make_cfg((const char *[]){ mc.addr }, 1, "reader.db");
    r3cfg = make_cfg((const char *[]){ mc.addr }, 1, "reader3.db");
    reader = open_sg(rcfg);
    ok(dv_sg_is_up(reader, GROUP, "node-a", &s, &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "before the agent starts: node-a is not a member");

    agent_start(&a, acfg, "node-a", true);
    agent_start(&b, acfg, "node-b", false);        /* heartbeats, never joins */
    is_int(listed(reader, "node-a", &n), DROVER_UP, "the reader lists node-a (joined elsewhere) UP");
    is_int(listed(reader, "node-b", &n), DROVER_UP, "... and node-b (only heartbeats) UP");
    is_int(n, 2, "... two members");
    ok(dv_sg_is_up(reader, GROUP, "node-a", &s, &err) == 0 && s == DROVER_UP, "is_up node-a: UP");

    /* admin state lives in the reader's database; the agent needs none of it */
    ok(dv_sg_set_forced_down(reader, GROUP, "node-b", true, &err) == 0, "the reader forces node-b down");
    /* its next round is waited for: a loaded machine may delay a tick */
    beat_before = *b.beat;
    for (t = dv_mono_ms(); *b.beat <= beat_before && dv_mono_ms() - t < 10000;)
        dv_sleep_ms(50);
    ok(*b.beat > beat_before, "node-b's agent keeps heartbeating");
    is_int(listed(reader, "node-b", NULL), DROVER_DOWN, "... and the reader says DOWN (forced)");
    ok(dv_sg_set_forced_down(reader, GROUP, "node-b", false, &err) == 0 &&
       listed(reader, "node-b", NULL) == DROVER_UP, "forcing stopped: UP again");

    agent_stop(&b);
    last = dv_wall_ms();
    while (dv_wall_ms() < last + (DOWN_TIME + 3) * 1000 && !down_at) {
        int st = listed(reader, "node-b", NULL);
        if (st == DROVER_DOWN)
            down_at = dv_wall_ms();
        else if (st != DROVER_UP)
            diag("node-b is %d", st);
        dv_sleep_ms(100);
    }
    ok(down_at && down_at - last >= DOWN_TIME * 1000 - 1100,
       "node-b's agent killed: the reader sees it DOWN, %lld ms later",
       (long long)(down_at ? down_at - last : -1));

    agent_stop(&a);
    is_int(leave_in_child(acfg, "node-a"), 0, "node-a leaves through the agent's handle");
    is_int(listed(reader, "node-a", &n), -1, "the reader no longer lists node-a");
    is_int(n, 1, "... only node-b");
    ok(dv_sg_is_up(reader, GROUP, "node-a", &s, &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "is_up node-a: NOT_FOUND");

    reader3 = open_sg(r3cfg);
    is_int(listed(reader3, "node-b", &n), DROVER_DOWN, "a reader with a new database lists node-b DOWN");
    is_int(n, 1, "... and not node-a, which left");
    ok(dv_sg_leave(reader, GROUP, "node-b", &err) == 0, "the first reader makes node-b leave");
    is_int(listed(reader3, "node-b", &n), -1, "... the other reader forgets it too");
    is_int(n, 0, "... nothing left");
    t = dv_mono_ms();
    ok(dv_sg_leave(reader3, GROUP, "node-b", &err) < 0 && err.code == DROVER_ERR_NOT_FOUND,
       "leaving again: NOT_FOUND (%lld ms)", (long long)(dv_mono_ms() - t));

    dv_sg_close(reader);
    dv_sg_close(reader3);
    dv_config_free(acfg);
    dv_config_free(rcfg);
    dv_config_free(r3cfg);
    dv_mc_stop(&mc);
}

/* ---------------------------------------------------------------- 2. restart */

static void test_restart(void)
{
    dv_mc_server mc;
    dv_config *acfg, *rcfg, *r2cfg;
    dv_sg *reader, *reader2;
    agent a = { 0 };
    int64_t t_back, stop_at, learned_at = 0, up_again_at = 0, beat_back = 0;
    int sweeps = 0, absent = 0, down = 0, unknown = 0, st;

    diag("--- memcached killed and relaunched under a split deployment");
    if (dv_mc_start(&mc, NULL, NULL, NULL) < 0)
        bail_out("cannot start memcached");
    acfg = make_cfg((const char *[]){ mc.addr }, 1, "r-agent.db");
    rcfg = make_cfg((const char *[]){ mc.addr }, 1, "r-reader.db");
    r2cfg = make_cfg((const char *[]){ mc.addr }, 1, "r-reader2.db");
    reader = open_sg(rcfg);
    agent_start(&a, acfg, "node-r", true);
    is_int(listed(reader, "node-r", NULL), DROVER_UP, "the reader lists node-r UP");

    if (dv_mc_kill(&mc) < 0)
        bail_out("cannot kill memcached");
    is_int(listed(reader, "node-r", NULL), DROVER_UNKNOWN, "memcached killed: still listed, UNKNOWN");
    dv_sleep_ms(500);
    if (dv_mc_relaunch(&mc) < 0)
        bail_out("cannot relaunch memcached");
    t_back = dv_wall_ms();
    reader2 = open_sg(r2cfg);
    stop_at = t_back + (DOWN_TIME + 3) * 1000;
    while (dv_wall_ms() < stop_at) {
        st = listed(reader, "node-r", NULL);
        sweeps++;
        absent += st == -1;
        down += st == DROVER_DOWN;
        unknown += st == DROVER_UNKNOWN;
        if (st == DROVER_UP && !up_again_at)
            up_again_at = dv_wall_ms();
        if (!learned_at && listed(reader2, "node-r", NULL) == DROVER_UP)
            learned_at = dv_wall_ms();
        if (!beat_back && *a.beat >= t_back)
            beat_back = *a.beat;
        dv_sleep_ms(50);
    }
    diag("%d sweeps after the relaunch: %d UNKNOWN", sweeps, unknown);
    is_int(absent, 0, "relaunched: the reader never dropped node-r");
    is_int(down, 0, "... never said DOWN while it heartbeats");
    ok(unknown > 0 && up_again_at, "... UNKNOWN first, then UP %lld ms after the relaunch",
       (long long)(up_again_at ? up_again_at - t_back : -1));
    /* measured from the agent's first heartbeat to the relaunched server (when
     * that comes is the scheduler's business, not the driver's) */
    ok(learned_at && beat_back && learned_at - beat_back <= 1000,
       "a reader with an empty database learned node-r, UP, %lld ms after the relaunch, "
       "%lld ms after the agent's first heartbeat to it",
       (long long)(learned_at ? learned_at - t_back : -1),
       (long long)(learned_at && beat_back ? learned_at - beat_back : -1));

    agent_stop(&a);
    dv_sg_close(reader);
    dv_sg_close(reader2);
    dv_config_free(acfg);
    dv_config_free(rcfg);
    dv_config_free(r2cfg);
    dv_mc_stop(&mc);
}

/* ---------------------------------------------------------------- 3. fleet */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char names[FLEET][48];

/* Which of the two servers holds key: 0, 1, or -1 (neither or both). */
static int holder(const dv_mc_server *mc, const char *key)
{
    int where = -1, found = 0;

    for (int k = 0; k < 2; k++) {
        memcached_st *raw = memcached_create(NULL);
        memcached_return_t rc;
        size_t vl;
        uint32_t fl;
        char *v;

        if (!raw || memcached_server_add(raw, "127.0.0.1", (in_port_t)mc[k].port) != MEMCACHED_SUCCESS)
            bail_out("libmemcached");
        memcached_behavior_set(raw, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
        if ((v = memcached_get(raw, key, strlen(key), &vl, &fl, &rc))) {
            where = k;
            found++;
        }
        free(v);
        memcached_free(raw);
    }
    return found == 1 ? where : -1;
}

/* Over two servers: each summary key sits on its member key's server, and
 * the reader's get_summaries says what its get_all says. */
static void check_summaries(dv_sg *writer, dv_sg *reader, const dv_mc_server *mc, size_t n_expect)
{
    drover_error err = { 0 };
    drover_member *all = NULL;
    dv_summary_list l = { 0 };
    size_t n = 0;
    int misplaced = 0, fails = 0, differ = 0, reports = 0;
    char key[96], skey[96];

    for (int i = 1; i < FLEET && i <= 60; i++) {
        char json[160];
        snprintf(json, sizeof json, "{\"schema\":1,\"host\":\"%s\",\"generated_ms\":%d}",
                 names[i], i);
        if (i % 10 && dv_sg_heartbeat(writer, GROUP, names[i], json, &err) < 0 && fails++ < 3)
            diag("heartbeat: %s", err.message);
    }
    is_int(fails, 0, "some members heartbeat with reports");
    for (int i = 1; i <= 200; i++) {
        if (!(i % 10))
            continue;
        snprintf(key, sizeof key, "drover:" GROUP ":%s", names[i]);
        snprintf(skey, sizeof skey, "dvsum:" GROUP ":%s", names[i]);
        if ((holder(mc, key) < 0 || holder(mc, key) != holder(mc, skey)) && misplaced++ < 3)
            diag("%s: its summary is not on its member key's server", names[i]);
    }
    is_int(misplaced, 0, "every summary key sits on its member key's server");
    ok(dv_sg_get_all(reader, GROUP, &all, &n, &err) == 0 &&
       dv_sg_get_summaries(reader, GROUP, true, &l, &err) == 0 && n == n_expect && l.n == n,
       "get_all and get_summaries list the %zu members", n_expect);
    for (size_t i = 0; i < n && i < l.n; i++) {
        bool same = strcmp(all[i].host, l.members[i].host) == 0 &&
                    all[i].state == l.members[i].state &&
                    l.sums[i].stored == (all[i].report_json != NULL);
        reports += l.sums[i].stored;
        if (!same && differ++ < 3)
            diag("%s differs", all[i].host);
    }
    is_int(differ, 0, "every member the same either way");
    is_int(reports, 54, "with the reports of those that sent one");
    drover_members_free(all, n);
    dv_summary_list_free(&l);
}

static void test_fleet(void)
{
    dv_mc_server mc[2];
    char *expect[FLEET];
    dv_config *wcfg, *rcfg;
    dv_sg *writer, *reader;
    drover_error err = { 0 };
    drover_member *m;
    size_t n, n_expect = 0;
    int fails = 0, wrong = 0, not_up = 0;
    int64_t t;

    diag("--- %d members over two servers, a reader with its own database", FLEET);
    if (dv_mc_start(&mc[0], NULL, NULL, NULL) < 0 || dv_mc_start(&mc[1], NULL, NULL, NULL) < 0)
        bail_out("cannot start two memcached servers");
    wcfg = make_cfg((const char *[]){ mc[0].addr, mc[1].addr }, 2, "f-writer.db");
    rcfg = make_cfg((const char *[]){ mc[1].addr, mc[0].addr }, 2, "f-reader.db");
    writer = open_sg(wcfg);
    for (int i = 0; i < FLEET; i++) {
        snprintf(names[i], sizeof names[i], "cn-%04d.rack%d", (i * 7919) % 10007, i % 7);
        if (dv_sg_join(writer, GROUP, names[i], &err) < 0 && fails++ < 3)
            diag("join: %s", err.message);
    }
    is_int(fails, 0, "%d members joined through the writer's handle", FLEET);
    for (int i = 0; i < FLEET; i += 10)
        if (dv_sg_leave(writer, GROUP, names[i], &err) < 0 && fails++ < 3)
            diag("leave: %s", err.message);
    is_int(fails, 0, "%d of them left", FLEET / 10);
    for (int i = 0; i < FLEET; i++)
        if (i % 10)
            expect[n_expect++] = names[i];
    qsort(expect, n_expect, sizeof *expect, cmp_str);

    reader = open_sg(rcfg);      /* the servers listed in the other order */
    t = dv_mono_ms();
    ok(dv_sg_get_all(reader, GROUP, &m, &n, &err) == 0, "the reader's first get_all (%lld ms)",
       (long long)(dv_mono_ms() - t));
    is_int(n, n_expect, "exactly %zu members", n_expect);
    for (size_t i = 0; i < n && i < n_expect; i++) {
        if (strcmp(m[i].host, expect[i]) != 0 && wrong++ < 3)
            diag("position %zu: %s, expected %s", i, m[i].host, expect[i]);
        not_up += m[i].state != DROVER_UP;
    }
    is_int(wrong, 0, "every one, sorted, each once");
    is_int(not_up, 0, "all UP");
    drover_members_free(m, n);
    t = dv_mono_ms();
    ok(dv_sg_get_states(reader, GROUP, &m, &n, &err) == 0 && n == n_expect,
       "get_states: the same %zu (%lld ms)", n, (long long)(dv_mono_ms() - t));
    drover_members_free(m, n);
    check_summaries(writer, reader, mc, n_expect);

    dv_sg_close(writer);
    dv_sg_close(reader);
    dv_config_free(wcfg);
    dv_config_free(rcfg);
    dv_mc_stop(&mc[0]);
    dv_mc_stop(&mc[1]);
}

/* ---------------------------------------------------------------- 4. compaction */

static uint64_t mc_bytes(const dv_mc_server *s)
{
    memcached_st *raw = memcached_create(NULL);
    memcached_stat_st *st;
    memcached_return_t rc;
    uint64_t bytes = 0;

    if (!raw || memcached_server_add(raw, "127.0.0.1", (in_port_t)s->port) != MEMCACHED_SUCCESS)
        bail_out("libmemcached");
    st = memcached_stat(raw, NULL, &rc);
    if (!st || rc != MEMCACHED_SUCCESS)
        bail_out("memcached stats: %s", memcached_strerror(raw, rc));
    bytes = st[0].bytes;
    memcached_stat_free(raw, st);
    memcached_free(raw);
    return bytes;
}

/* A 250-byte host name ending in c. */
static void long_name(char *buf, char c)
{
    memset(buf, 'h', 249);
    buf[249] = c;
    buf[250] = '\0';
}

static void test_compaction(void)
{
    dv_mc_server mc, small;
    static const char *const small_args[] = { "-I", "64k", "-o", "slab_chunk_max=32768", NULL };
    char host[256], other[256];
    dv_config *wcfg, *rcfg;
    dv_sg *writer, *reader;
    drover_error err = { 0 };
    uint64_t before, after;
    size_t n;
    int fails = 0;

    diag("--- compaction of a churning member's index shard");
    long_name(host, 'x');
    long_name(other, 'y');
    if (dv_mc_start(&mc, NULL, NULL, NULL) < 0)
        bail_out("cannot start memcached");
    wcfg = make_cfg((const char *[]){ mc.addr }, 1, "c-writer.db");
    rcfg = make_cfg((const char *[]){ mc.addr }, 1, "c-reader.db");
    writer = open_sg(wcfg);
    reader = open_sg(rcfg);
    for (int i = 0; i < 300; i++)
        if ((dv_sg_join(writer, GROUP, host, &err) < 0 || dv_sg_leave(writer, GROUP, host, &err) < 0) &&
            fails++ < 3)
            diag("%s", err.message);
    if (dv_sg_join(writer, GROUP, host, &err) < 0 || dv_sg_join(writer, GROUP, other, &err) < 0)
        fails++;
    is_int(fails, 0, "a member joined and left 300 times, then joined with another");
    before = mc_bytes(&mc);
    is_int(listed(reader, host, &n), DROVER_UP, "a reader lists it UP");
    is_int(n, 2, "... with the other one");
    after = mc_bytes(&mc);
    diag("memcached holds %llu bytes before the reader's sweep, %llu after",
         (unsigned long long)before, (unsigned long long)after);
    ok(before > 150000 && after < before / 4, "the reader compacted the index (%llu -> %llu bytes)",
       (unsigned long long)before, (unsigned long long)after);
    ok(dv_sg_leave(writer, GROUP, host, &err) == 0 && listed(reader, host, &n) == -1 && n == 1,
       "compacted, a leave is still seen");
    dv_sg_close(writer);
    dv_sg_close(reader);
    dv_config_free(wcfg);
    dv_config_free(rcfg);
    dv_mc_stop(&mc);

    /* items of at most 64 KiB: the churn alone would overflow the shard */
    if (dv_mc_start(&small, NULL, NULL, small_args) < 0)
        bail_out("cannot start memcached -I 64k");
    wcfg = make_cfg((const char *[]){ small.addr }, 1, "c2-writer.db");
    rcfg = make_cfg((const char *[]){ small.addr }, 1, "c2-reader.db");
    writer = open_sg(wcfg);
    fails = 0;
    for (int i = 0; i < 300; i++)
        if ((dv_sg_join(writer, GROUP, host, &err) < 0 || dv_sg_leave(writer, GROUP, host, &err) < 0) &&
            fails++ < 3)
            diag("%s", err.message);
    is_int(fails, 0, "memcached -I 64k: 300 joins and leaves (150 KB of entries) all succeed");
    ok(dv_sg_join(writer, GROUP, other, &err) == 0, "... and a join after them");
    reader = open_sg(rcfg);
    is_int(listed(reader, other, &n), DROVER_UP, "a reader lists the last member UP");
    is_int(n, 1, "... and not the one that left");
    dv_sg_close(writer);
    dv_sg_close(reader);
    dv_config_free(wcfg);
    dv_config_free(rcfg);
    dv_mc_stop(&small);
}

int main(void)
{
    if (!(dir = dv_scratch_dir()))
        bail_out("cannot make a temporary directory");
    test_split();
    test_restart();
    test_fleet();
    test_compaction();
    dv_scratch_rmrf(dir);
    return done_testing();
}
