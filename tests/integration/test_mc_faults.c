/* test_mc_faults.c - the mc driver when memcached fails, on real memcached
 * servers started by tests/harness/memcached.sh.
 *
 *  1. killed: is_up fails UNREACHABLE (state UNKNOWN), get_all lists every
 *     member UNKNOWN, `drover service is-up` exits 3 and `drover service
 *     list` says UNKNOWN; relaunched (all keys gone): sampled all the way
 *     through, no member whose agent keeps heartbeating is ever DOWN, and a
 *     member whose agent was killed during the outage is DOWN soon after.
 *  2. two servers (consistent hashing), one killed: its members UNKNOWN,
 *     the other server's members keep their true state (a dead one DOWN).
 *  3. SASL: right credentials work; wrong or missing ones give
 *     DROVER_ERR_AUTH naming the user, never the password.
 *  4. a hung server (SIGSTOP): no call waits much past the poll timeout.
 */
#include "core/clock.h"
#include "core/config.h"
#include "drivers/servicegroup.h"
#include "tests/harness/agentproc.h"
#include "tests/harness/harness.h"
#include "tests/harness/scratch.h"
#include "tests/harness/fleet.h"
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
#define POLL_MS 500
#define RETRY_S 1
#define N_LIVE 20

static char *dir;

/* ---------------------------------------------------------------- config */

static dv_config *make_cfg(const char *const *addrs, size_t n, const char *state_name)
{
    return mct_config(dir, addrs, n, state_name, REPORT_INTERVAL, DOWN_TIME, POLL_MS, RETRY_S);
}

#define open_sg mct_open

/* One memcached of the harness's, a config pointing at it (its state db
 * named state_name) and the group open on it. */
typedef struct one_mc {
    dv_mc_server mc;
    dv_config *cfg;
    dv_sg *sg;
} one_mc;

static void one_mc_start(one_mc *o, const char *state_name)
{
    if (dv_mc_start(&o->mc, NULL, NULL, NULL) < 0)
        bail_out("cannot start memcached");
    o->cfg = make_cfg((const char *[]){ o->mc.addr }, 1, state_name);
    o->sg = open_sg(o->cfg);
}

static void one_mc_stop(one_mc *o)
{
    dv_sg_close(o->sg);
    dv_config_free(o->cfg);
    dv_mc_stop(&o->mc);
}

/* The same settings as a drover.conf, for the drover command. */
static const char *write_conf(const char *name, const dv_config *cfg)
{
    const char *path = dv_scratch_join(dir, name);
    FILE *f = fopen(path, "w");

    if (!f)
        bail_out("cannot write %s", path);
    fprintf(f, "servicegroup = {\n  driver = \"mc\";\n  report_interval = %d;\n"
               "  service_down_time = %d;\n  mc = {\n    servers = [ ",
            cfg->servicegroup.report_interval, cfg->servicegroup.service_down_time);
    for (size_t i = 0; i < cfg->servicegroup.mc.servers.n; i++)
        fprintf(f, "%s\"%s\"", i ? ", " : "", cfg->servicegroup.mc.servers.v[i]);
    fprintf(f, " ];\n    poll_timeout_ms = %d;\n    retry_timeout_s = %d;\n  };\n};\n"
               "agent = { group = \"%s\"; };\nstate = { path = \"%s\"; };\n",
            cfg->servicegroup.mc.poll_timeout_ms, cfg->servicegroup.mc.retry_timeout_s, GROUP,
            cfg->state.path);
    fclose(f);
    return path;
}

/* Run `drover -c conf ARGS...`; returns its exit status, stdout in out. */
static int drover(const char *conf, char *out, size_t outsz, const char *a1, const char *a2,
                  const char *a3)
{
    static char prog[1024];
    const char *top = getenv("top_builddir");
    const char *argv[] = { prog, "-c", conf, a1, a2, a3, NULL };

    snprintf(prog, sizeof prog, "%s/cmd/drover", top && *top ? top : ".");
    return dv_run(argv, NULL, out, outsz);
}

/* The STATE column of host's line in `drover service list` output. */
static const char *listed_state(const char *out, const char *host)
{
    static char state[16];
    size_t hl = strlen(host);

    for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, host, hl) == 0 && l[hl] == ' ') {
            if (sscanf(l + hl, " %15s", state) == 1)
                return state;
        }
    }
    return "(absent)";
}

/* ---------------------------------------------------------------- agents */

/* A child process heartbeating hosts every report_interval through its own
 * handle, as droverd's agent does (one process stands in for many hosts);
 * tests/harness/agentproc.h. */
typedef dv_agentproc agent;

static void agent_start(agent *a, const dv_config *cfg, char **hosts, size_t n)
{
    dv_agentproc_spec spec = { .cfg = cfg, .group = GROUP, .hosts = hosts, .n_hosts = n,
                               .interval_s = REPORT_INTERVAL };
    if (dv_agentproc_start(a, &spec) < 0)
        bail_out("an agent did not start");
}

#define agent_stop dv_agentproc_free

static char **host_names(const char *prefix, size_t n)
{
    char **v = calloc(n, sizeof *v);

    for (size_t i = 0; v && i < n; i++) {
        char b[64];
        snprintf(b, sizeof b, "%s-%02zu", prefix, i);
        if (!(v[i] = strdup(b)))
            bail_out("out of memory");
    }
    if (!v)
        bail_out("out of memory");
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static bool in_list(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* ---------------------------------------------------------------- 1. restart */

typedef struct tally {
    int sweeps, live_down, live_unknown, live_up, dead_down, other;
    int64_t dead_down_at;       /* wall ms of the first DOWN of the dead member */
    int64_t all_live_up_at;     /* first sweep with every live member UP */
} tally;

/* One get_all, counted. */
static void sweep(dv_sg *sg, char **live, size_t n_live, const char *dead, tally *t)
{
    drover_member *m;
    drover_error err;
    size_t n;
    int up = 0;

    if (dv_sg_get_all(sg, GROUP, &m, &n, &err) < 0) {
        diag("get_all: %s", err.message);
        t->other++;
        return;
    }
    t->sweeps++;
    for (size_t i = 0; i < n; i++) {
        if (in_list(live, n_live, m[i].host)) {
            if (m[i].state == DROVER_DOWN) {
                if (t->live_down++ < 5)
                    diag("FALSE DOWN: %s", m[i].host);
            }
            t->live_unknown += m[i].state == DROVER_UNKNOWN;
            up += m[i].state == DROVER_UP;
        } else if (dead && strcmp(m[i].host, dead) == 0 && m[i].state == DROVER_DOWN) {
            t->dead_down++;
            if (!t->dead_down_at)
                t->dead_down_at = dv_wall_ms();
        }
    }
    if (up == (int)n_live && !t->all_live_up_at)
        t->all_live_up_at = dv_wall_ms();
    t->live_up += up;
    drover_members_free(m, n);
}

/* get_all of test_restart's fleet: it works and lists every member
 * (listed), each in the state others but "forced", which is DOWN (states). */
static void check_restart_states(dv_sg *sg, drover_liveness others, const char *listed,
                                 const char *states)
{
    drover_member *m = NULL;
    drover_error err = { 0 };
    size_t n = 0;
    int bad = 0;

    ok(dv_sg_get_all(sg, GROUP, &m, &n, &err) == 0 && n == N_LIVE + 2, "%s", listed);
    for (size_t i = 0; i < n; i++)
        bad += m[i].state != (strcmp(m[i].host, "forced") == 0 ? DROVER_DOWN : others);
    is_int(bad, 0, "%s", states);
    drover_members_free(m, n);
}

static void test_restart(void)
{
    one_mc o;
    char **live = host_names("live", N_LIVE), *dead[] = { "dead-00" }, out[16384];
    char *beat_hosts[N_LIVE + 1], listed[32];
    const char *conf;
    agent a_live = { 0 }, a_dead = { 0 };
    drover_error err = { 0 };
    drover_liveness s;
    int64_t t, t_kill, t_back, stop_at;
    tally during = { 0 }, after = { 0 };
    int bad = 0, cli_calls = 0, cli_down = 0;

    diag("--- memcached killed and relaunched");
    one_mc_start(&o, "restart.db");
    conf = write_conf("restart.conf", o.cfg);

    /* the live agents also heartbeat "forced", which is forced down */
    memcpy(beat_hosts, live, N_LIVE * sizeof *live);
    beat_hosts[N_LIVE] = "forced";
    agent_start(&a_live, o.cfg, beat_hosts, N_LIVE + 1);
    agent_start(&a_dead, o.cfg, dead, 1);
    if (dv_sg_set_forced_down(o.sg, GROUP, "forced", true, &err) < 0)
        bail_out("force down: %s", err.message);
    dv_sleep_ms(1200);
    snprintf(listed, sizeof listed, "%d members listed", N_LIVE + 2);
    check_restart_states(o.sg, DROVER_UP, listed, "all UP but the forced-down one");
    is_int(drover(conf, out, sizeof out, "service", "is-up", "live-00"), 0,
           "drover service is-up live-00: exit 0 while memcached runs");
    has_str(out, "UP", "... printing UP");

    if (dv_mc_kill(&o.mc) < 0)
        bail_out("cannot kill memcached");
    t_kill = dv_wall_ms();

    t = dv_mono_ms();
    s = DROVER_UP;
    ok(dv_sg_is_up(o.sg, GROUP, "live-00", &s, &err) < 0 && err.code == DROVER_ERR_UNREACHABLE,
       "memcached killed: is_up fails with DROVER_ERR_UNREACHABLE (%lld ms)",
       (long long)(dv_mono_ms() - t));
    is_int(s, DROVER_UNKNOWN, "... and the state is UNKNOWN");
    has_str(err.message, o.mc.addr, "... naming the server");
    diag("%s", err.message);
    t = dv_mono_ms();
    ok(dv_sg_is_up(o.sg, GROUP, "live-01", &s, &err) < 0 && err.code == DROVER_ERR_UNREACHABLE &&
       dv_mono_ms() - t < 2000, "the next call too, quickly (%lld ms)", (long long)(dv_mono_ms() - t));
    ok(dv_sg_is_up(o.sg, GROUP, "forced", &s, &err) == 0 && s == DROVER_DOWN,
       "a forced-down member is still DOWN (admin state is kept locally)");
    check_restart_states(o.sg, DROVER_UNKNOWN, "get_all still lists every member",
                         "... all UNKNOWN (the forced-down one DOWN)");

    is_int(drover(conf, out, sizeof out, "service", "is-up", "live-00"), 3,
           "drover service is-up live-00: exit 3");
    has_str(out, "UNKNOWN", "... printing UNKNOWN");
    is_int(drover(conf, out, sizeof out, "service", "list", NULL), 0, "drover service list: exit 0");
    bad = 0;
    for (int i = 0; i < N_LIVE; i++)
        bad += strcmp(listed_state(out, live[i]), "UNKNOWN") != 0;
    bad += strcmp(listed_state(out, "dead-00"), "UNKNOWN") != 0;
    is_int(bad, 0, "... every member marked UNKNOWN");
    is_str(listed_state(out, "forced"), "DOWN", "... but the forced-down one, DOWN");
    if (bad)
        diag("%s", out);

    /* the dead member's agent dies during the outage */
    dv_sleep_ms(300);
    agent_stop(&a_dead);
    stop_at = dv_wall_ms() + 1500;
    while (dv_wall_ms() < stop_at) {
        sweep(o.sg, live, N_LIVE, "dead-00", &during);
        dv_sleep_ms(100);
    }
    is_int(during.live_down + during.dead_down, 0,
           "during the outage: no member DOWN in %d sweeps", during.sweeps);
    is_int(during.live_up, 0, "... and none UP: every one UNKNOWN");

    if (dv_mc_relaunch(&o.mc) < 0)
        bail_out("cannot relaunch memcached");
    t_back = dv_wall_ms();
    diag("memcached relaunched after %lld ms, empty", (long long)(t_back - t_kill));
    stop_at = t_back + DOWN_TIME * 1000 + 8000;
    while (dv_wall_ms() < stop_at) {
        int k = after.sweeps % N_LIVE;
        sweep(o.sg, live, N_LIVE, "dead-00", &after);
        if (dv_sg_is_up(o.sg, GROUP, live[k], &s, &err) == 0 && s == DROVER_DOWN && after.live_down++ < 5)
            diag("FALSE DOWN from is_up: %s", live[k]);
        if (after.sweeps % 5 == 0) {
            cli_calls++;
            if (drover(conf, out, sizeof out, "service", "is-up", live[k]) == 1) {
                cli_down++;
                diag("FALSE DOWN from drover service is-up %s", live[k]);
            }
        }
        /* go on for 2 s after the dead member is DOWN */
        if (after.dead_down_at && dv_wall_ms() > after.dead_down_at + 2000)
            break;
        dv_sleep_ms(100);
    }
    diag("after the relaunch: %d sweeps, %d drover is-up calls", after.sweeps, cli_calls);
    is_int(after.live_down, 0, "no member that kept heartbeating was ever DOWN (get_all and is_up)");
    is_int(cli_down, 0, "... nor by `drover service is-up`");
    ok(after.all_live_up_at != 0, "every live member UP again, %lld ms after the relaunch",
       (long long)(after.all_live_up_at ? after.all_live_up_at - t_back : -1));
    ok(after.dead_down_at != 0, "the member whose agent died in the outage is DOWN, %lld ms after "
       "the relaunch (service_down_time %d s)",
       (long long)(after.dead_down_at ? after.dead_down_at - t_back : -1), DOWN_TIME);
    ok(after.dead_down_at && after.dead_down_at - t_back <= (DOWN_TIME + 1 + REPORT_INTERVAL + 1) * 1000,
       "... within service_down_time + 1 s (TTL rounding) + report_interval + 1 s (sampling)");
    is_int(after.other, 0, "get_all never failed");
    ok(dv_sg_is_up(o.sg, GROUP, "live-00", &s, &err) == 0 && s == DROVER_UP, "live-00 UP at the end");

    agent_stop(&a_live);
    one_mc_stop(&o);
    free_names(live, N_LIVE);
}

/* ---------------------------------------------------------------- 2. two servers */

static void test_two_servers(void)
{
    dv_mc_server mc[2];
    char **live = host_names("l", 60), **dead = host_names("d", 30);
    dv_config *cfg;
    dv_sg *sg;
    agent a = { 0 };
    drover_error err = { 0 };
    drover_member *m;
    size_t n;
    int unknown_live = 0, unknown_dead = 0, down_dead = 0, up_live = 0, wrong = 0;
    int sweeps = 0, live_down = 0;
    bool all_up = false, all_down = false;
    int64_t stop_at;

    diag("--- two servers, one killed");
    if (dv_mc_start(&mc[0], NULL, NULL, NULL) < 0 || dv_mc_start(&mc[1], NULL, NULL, NULL) < 0)
        bail_out("cannot start two memcached servers");
    cfg = make_cfg((const char *[]){ mc[0].addr, mc[1].addr }, 2, "two.db");
    sg = open_sg(cfg);
    for (int i = 0; i < 30; i++)
        if (dv_sg_join(sg, GROUP, dead[i], &err) < 0)
            bail_out("join: %s", err.message);
    agent_start(&a, cfg, live, 60);
    dv_sleep_ms((DOWN_TIME + 1) * 1000 + 200);    /* the dead ones expire */
    ok(dv_sg_get_all(sg, GROUP, &m, &n, &err) == 0 && n == 90, "90 members over two servers");
    for (size_t i = 0; i < n; i++)
        wrong += m[i].state != (m[i].host[0] == 'l' ? DROVER_UP : DROVER_DOWN);
    is_int(wrong, 0, "live ones UP, silent ones DOWN");
    drover_members_free(m, n);

    if (dv_mc_kill(&mc[1]) < 0)
        bail_out("cannot kill memcached");
    ok(dv_sg_get_all(sg, GROUP, &m, &n, &err) == 0 && n == 90, "second server killed: get_all works");
    for (size_t i = 0; i < n; i++) {
        bool is_live = m[i].host[0] == 'l';
        if (m[i].state == DROVER_UNKNOWN)
            is_live ? unknown_live++ : unknown_dead++;
        else if (is_live)
            up_live += m[i].state == DROVER_UP;
        else
            down_dead += m[i].state == DROVER_DOWN;
    }
    drover_members_free(m, n);
    diag("live: %d UP, %d UNKNOWN; silent: %d DOWN, %d UNKNOWN", up_live, unknown_live, down_dead,
         unknown_dead);
    ok(unknown_live > 0 && up_live > 0, "the keys are spread: some live members UNKNOWN, some UP");
    is_int(up_live + unknown_live, 60, "... no live member DOWN");
    ok(down_dead > 0, "silent members on the surviving server are still DOWN");
    is_int(down_dead + unknown_dead, 30, "... and those on the killed one UNKNOWN, none UP");

    if (dv_mc_relaunch(&mc[1]) < 0)
        bail_out("cannot relaunch memcached");
    stop_at = dv_wall_ms() + DOWN_TIME * 1000 + 6000;
    while (dv_wall_ms() < stop_at && !(all_up && all_down)) {
        int up = 0, down = 0;
        if (dv_sg_get_all(sg, GROUP, &m, &n, &err) < 0) {
            diag("get_all: %s", err.message);
            continue;
        }
        sweeps++;
        for (size_t i = 0; i < n; i++) {
            if (m[i].host[0] == 'l') {
                up += m[i].state == DROVER_UP;
                if (m[i].state == DROVER_DOWN && live_down++ < 5)
                    diag("FALSE DOWN: %s", m[i].host);
            } else {
                down += m[i].state == DROVER_DOWN;
            }
        }
        drover_members_free(m, n);
        all_up = up == 60;
        all_down = down == 30;
        dv_sleep_ms(100);
    }
    is_int(live_down, 0, "relaunched: no live member DOWN in %d sweeps", sweeps);
    ok(all_up, "all live members UP again");
    ok(all_down, "all silent members DOWN again");

    agent_stop(&a);
    dv_sg_close(sg);
    dv_config_free(cfg);
    dv_mc_stop(&mc[0]);
    dv_mc_stop(&mc[1]);
    free_names(live, 60);
    free_names(dead, 30);
}

/* ---------------------------------------------------------------- 3. SASL */

#define SASL_USER "drover-agent"
#define SASL_PASS "c0rrect-h0rse"
#define WRONG_PASS "Tr0ub4dor-3"

static void test_sasl(void)
{
    dv_mc_server mc;
    dv_config *cfg;
    dv_sg *sg;
    drover_error err = { 0 };
    drover_liveness s;
    drover_member *m;
    size_t n;
    const char *conf;
    char out[4096];
    drover_error e2;

    diag("--- SASL");
    if (dv_mc_start(&mc, SASL_USER, SASL_PASS, NULL) < 0)
        bail_out("cannot start memcached with SASL");
    cfg = make_cfg((const char *[]){ mc.addr }, 1, "sasl.db");
    dv_config_set_string(&cfg->servicegroup.mc.username, SASL_USER, &err);
    dv_config_set_string(&cfg->servicegroup.mc.password, SASL_PASS, &err);
    sg = open_sg(cfg);
    ok(dv_sg_join(sg, GROUP, "s1", &err) == 0, "right credentials: join");
    if (err.code)
        diag("%s", err.message);
    ok(dv_sg_is_up(sg, GROUP, "s1", &s, &err) == 0 && s == DROVER_UP, "... is_up UP");
    ok(dv_sg_get_all(sg, GROUP, &m, &n, &err) == 0 && n == 1 && m[0].state == DROVER_UP,
       "... get_all");
    drover_members_free(m, n);
    dv_sg_close(sg);

    dv_config_set_string(&cfg->servicegroup.mc.password, WRONG_PASS, &err);
    sg = open_sg(cfg);
    ok(dv_sg_is_up(sg, GROUP, "s1", &s, &err) < 0 && err.code == DROVER_ERR_AUTH,
       "wrong password: is_up fails with DROVER_ERR_AUTH");
    is_int(s, DROVER_UNKNOWN, "... state UNKNOWN, not DOWN");
    has_str(err.message, "authentication failed for user \"" SASL_USER "\"", "... saying so, naming the user");
    has_str(err.message, mc.addr, "... and the server");
    ok(!strstr(err.message, WRONG_PASS) && !strstr(err.message, SASL_PASS), "... never a password");
    diag("%s", err.message);
    ok(dv_sg_is_up(sg, GROUP, "s1", &s, &e2) < 0 && e2.code == DROVER_ERR_AUTH,
       "asked again: still DROVER_ERR_AUTH (not a vague \"server disabled\")");
    ok(dv_sg_heartbeat(sg, GROUP, "s1", NULL, &err) < 0 && err.code == DROVER_ERR_AUTH,
       "heartbeat: DROVER_ERR_AUTH");
    has_str(err.message, "authentication failed", "... saying so");
    ok(dv_sg_get_all(sg, GROUP, &m, &n, &err) < 0 && err.code == DROVER_ERR_AUTH,
       "get_all: DROVER_ERR_AUTH");
    ok(dv_sg_get(sg, GROUP, "s1", &(drover_member){ 0 }, &err) < 0 && err.code == DROVER_ERR_AUTH,
       "get: DROVER_ERR_AUTH");
    dv_sg_close(sg);

    /* the command line, with the wrong password in its config */
    {
        FILE *f;
        int rc;
        conf = dv_scratch_join(dir, "sasl.conf");
        if (!(f = fopen(conf, "w")))
            bail_out("cannot write %s", conf);
        fprintf(f, "servicegroup = { driver = \"mc\"; report_interval = 1; service_down_time = 3;\n"
                   "  mc = { servers = [ \"%s\" ]; username = \"%s\"; password = \"%s\";\n"
                   "         poll_timeout_ms = %d; retry_timeout_s = %d; }; };\n"
                   "agent = { group = \"%s\"; };\nstate = { path = \"%s\"; };\n",
                mc.addr, SASL_USER, WRONG_PASS, POLL_MS, RETRY_S, GROUP, cfg->state.path);
        fclose(f);
        rc = drover(conf, out, sizeof out, "service", "is-up", "s1");
        /* the message is on stderr (in this test's log) */
        is_int(rc, 2, "drover service is-up with the wrong password: exit 2 (credentials, like a config error)");
        ok(!strstr(out, "UP") && !strstr(out, "DOWN"), "... printing no state");
        ok(!strstr(out, WRONG_PASS), "... and no password");
    }

    dv_config_set_string(&cfg->servicegroup.mc.username, "", &err);
    dv_config_set_string(&cfg->servicegroup.mc.password, "", &err);
    sg = open_sg(cfg);
    ok(dv_sg_is_up(sg, GROUP, "s1", &s, &err) < 0 && err.code == DROVER_ERR_AUTH,
       "no credentials for a SASL server: DROVER_ERR_AUTH");
    has_str(err.message, "requires SASL authentication", "... saying what is missing");
    diag("%s", err.message);
    dv_sg_close(sg);

    dv_config_free(cfg);
    dv_mc_stop(&mc);
}

/* ---------------------------------------------------------------- 4. hung */

static void test_hung(void)
{
    one_mc o;
    drover_error err = { 0 };
    drover_liveness s;
    drover_member *m;
    size_t n;
    int64_t t, worst = 0, el;
    int slow = 0, unknown_all = 1;

    diag("--- a hung server (SIGSTOP)");
    one_mc_start(&o, "hung.db");
    for (int i = 0; i < 1000; i++) {
        char h[32];
        snprintf(h, sizeof h, "hung-%04d", i);
        if (dv_sg_join(o.sg, GROUP, h, &err) < 0)
            bail_out("join: %s", err.message);
    }
    if (dv_mc_pause(&o.mc) < 0)
        bail_out("cannot stop memcached");
    for (int round = 0; round < 3; round++) {
        t = dv_mono_ms();
        ok(dv_sg_is_up(o.sg, GROUP, "hung-0001", &s, &err) < 0 && err.code == DROVER_ERR_UNREACHABLE &&
           s == DROVER_UNKNOWN, "hung server, round %d: is_up UNKNOWN", round + 1);
        el = dv_mono_ms() - t;
        diag("is_up took %lld ms (%s)", (long long)el, err.message);
        worst = el > worst ? el : worst;
        slow += el >= 2000;

        t = dv_mono_ms();
        if (dv_sg_get_all(o.sg, GROUP, &m, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++)
                unknown_all &= m[i].state == DROVER_UNKNOWN;
            drover_members_free(m, n);
        } else {
            unknown_all = 0;
        }
        el = dv_mono_ms() - t;
        diag("get_all of 1000 took %lld ms", (long long)el);
        worst = el > worst ? el : worst;
        slow += el >= 2000;

        t = dv_mono_ms();
        ok(dv_sg_heartbeat(o.sg, GROUP, "hung-0002", "{}", &err) < 0 &&
           err.code == DROVER_ERR_UNREACHABLE, "heartbeat fails UNREACHABLE");
        el = dv_mono_ms() - t;
        diag("heartbeat took %lld ms", (long long)el);
        worst = el > worst ? el : worst;
        slow += el >= 2000;
    }
    ok(unknown_all, "get_all lists all 1000 UNKNOWN each time");
    is_int(slow, 0, "no call took 2 s or more (poll timeout %d ms; slowest %lld ms)", POLL_MS,
           (long long)worst);
    if (dv_mc_resume(&o.mc) < 0)
        bail_out("cannot continue memcached");
    t = dv_mono_ms();
    while (dv_mono_ms() - t < 5000 && dv_sg_heartbeat(o.sg, GROUP, "hung-0001", NULL, &err) < 0)
        dv_sleep_ms(100);
    ok(dv_sg_is_up(o.sg, GROUP, "hung-0001", &s, &err) == 0 && s == DROVER_UP,
       "continued: heartbeats land and the member is UP (%lld ms)", (long long)(dv_mono_ms() - t));
    one_mc_stop(&o);
}

/* ---------------------------------------------------------------- 5. flush_all */

/* memcached flushed (no restart): a live member is never DOWN, a silent
 * one is UNKNOWN for service_down_time, then DOWN. */
static void test_flush(void)
{
    one_mc o;
    char **live = host_names("fl", 5);
    agent a = { 0 };
    drover_error err = { 0 };
    memcached_st *raw;
    int64_t t_flush, silent_down_at = 0, stop_at;
    int live_down = 0, silent_unknown = 0, sweeps = 0;

    diag("--- flush_all");
    one_mc_start(&o, "flush.db");
    if (dv_sg_join(o.sg, GROUP, "silent", &err) < 0)
        bail_out("join: %s", err.message);
    agent_start(&a, o.cfg, live, 5);
    dv_sleep_ms((DOWN_TIME + 1) * 1000 + 200);
    {
        drover_liveness st = DROVER_UNKNOWN;
        ok(dv_sg_is_up(o.sg, GROUP, "silent", &st, &err) == 0 && st == DROVER_DOWN,
           "a member that stopped heartbeating is answered: DOWN");
    }
    if (!(raw = memcached_create(NULL)) || memcached_server_add(raw, "127.0.0.1", (in_port_t)o.mc.port) ||
        memcached_flush(raw, 0) != MEMCACHED_SUCCESS)
        bail_out("cannot flush memcached");
    memcached_free(raw);
    t_flush = dv_wall_ms();
    stop_at = t_flush + (DOWN_TIME + 4) * 1000;
    while (dv_wall_ms() < stop_at && !silent_down_at) {
        drover_member *m;
        size_t n;
        if (dv_sg_get_all(o.sg, GROUP, &m, &n, &err) < 0)
            bail_out("get_all: %s", err.message);
        sweeps++;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(m[i].host, "silent") == 0) {
                silent_unknown += m[i].state == DROVER_UNKNOWN;
                if (m[i].state == DROVER_DOWN)
                    silent_down_at = dv_wall_ms();
            } else if (m[i].state == DROVER_DOWN) {
                live_down++;
            }
        }
        drover_members_free(m, n);
        dv_sleep_ms(50);
    }
    is_int(live_down, 0, "after flush_all: no live member DOWN (%d sweeps)", sweeps);
    ok(silent_unknown > 0, "the silent member UNKNOWN first (%d sweeps)", silent_unknown);
    ok(silent_down_at && silent_down_at - t_flush >= DOWN_TIME * 1000 - 100 &&
       silent_down_at - t_flush <= (DOWN_TIME + 2) * 1000,
       "... then DOWN %lld ms after the flush (service_down_time %d s)",
       (long long)(silent_down_at ? silent_down_at - t_flush : -1), DOWN_TIME);
    agent_stop(&a);
    one_mc_stop(&o);
    free_names(live, 5);
}

/* ---------------------------------------------------------------- 6. foreign data */

/* A value under a member's key that drover did not write (or written for
 * another member) is not a heartbeat. */
static void test_foreign_value(void)
{
    one_mc o;
    drover_error err = { 0 };
    drover_liveness s;
    drover_member mb;
    memcached_st *raw;
    static const char *const bad[] = { "garbage", "dv1 ", "dv1 12 compute other\n{}",
                                       "dv1 x compute f1\n", "dv1 12 compute f1", "" };

    diag("--- values drover did not write");
    one_mc_start(&o, "foreign.db");
    if (dv_sg_join(o.sg, GROUP, "f1", &err) < 0)
        bail_out("join: %s", err.message);
    /* a server drover just found empty reads missing keys as UNKNOWN for
     * service_down_time: let that pass */
    dv_sleep_ms((DOWN_TIME + 1) * 1000 + 200);
    if (!(raw = memcached_create(NULL)) || memcached_server_add(raw, "127.0.0.1", (in_port_t)o.mc.port))
        bail_out("libmemcached");
    memcached_behavior_set(raw, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (memcached_set(raw, "drover:" GROUP ":f1", strlen("drover:" GROUP ":f1"), bad[i],
                          strlen(bad[i]), 60, 0) != MEMCACHED_SUCCESS)
            bail_out("cannot write a foreign value");
        ok(dv_sg_is_up(o.sg, GROUP, "f1", &s, &err) == 0 && s == DROVER_DOWN,
           "foreign value #%zu under f1's key: not a heartbeat (DOWN)", i);
        ok(dv_sg_get(o.sg, GROUP, "f1", &mb, &err) == 0 && !mb.report_json && mb.last_seen_ms == 0,
           "... get reads no report and no time from it");
        drover_member_clear(&mb);
    }
    memcached_free(raw);
    ok(dv_sg_heartbeat(o.sg, GROUP, "f1", "{}", &err) == 0 && dv_sg_is_up(o.sg, GROUP, "f1", &s, &err) == 0 &&
       s == DROVER_UP, "a real heartbeat replaces it: UP");
    one_mc_stop(&o);
}

/* ---------------------------------------------------------------- 6b. summaries */


static void raw_put(memcached_st *raw, const char *key, const char *v)
{
    memcached_return_t rc = v ? memcached_set(raw, key, strlen(key), v, strlen(v), 60, 0)
                              : memcached_delete(raw, key, strlen(key), 0);

    if (rc != MEMCACHED_SUCCESS)
        bail_out("cannot write %s: %s", key, memcached_strerror(raw, rc));
}

/* get_summaries reads the summary keys, and the member key of a member
 * whose summary is missing (an agent of the earlier version), does not
 * read, or is not drover's; its answer is get_all's. */
static void test_summaries(void)
{
    static const char *const hosts[] = { "m-bad", "m-foreign", "m-gone", "m-new", "m-old" };
    one_mc o;
    drover_error err = { 0 };
    drover_member *all = NULL;
    dv_summary_list l = { 0 };
    memcached_st *raw;
    char *json[5], bad[128];
    size_t n = 0;
    int fails = 0;

    diag("--- summaries: missing, corrupt and foreign summary keys");
    one_mc_start(&o, "summaries.db");
    for (int i = 0; i < 5; i++)
        if (dv_sg_join(o.sg, GROUP, hosts[i], &err) < 0)
            bail_out("join: %s", err.message);
    /* past the fresh marker's life: a missing key is DOWN, not UNKNOWN */
    dv_sleep_ms((DOWN_TIME + 1) * 1000 + 200);
    for (int i = 0; i < 5; i++) {
        if (!(json[i] = dv_fleet_small_report(hosts[i], 1000 + (uint64_t)i)))
            bail_out("cannot encode a report");
        fails += dv_sg_heartbeat(o.sg, GROUP, hosts[i], json[i], &err) < 0;
    }
    is_int(fails, 0, "five members heartbeat with reports");
    if (!(raw = memcached_create(NULL)) || memcached_server_add(raw, "127.0.0.1", (in_port_t)o.mc.port))
        bail_out("libmemcached");
    memcached_behavior_set(raw, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    {
        size_t vl;
        uint32_t fl;
        memcached_return_t rc;
        char *v = memcached_get(raw, "dvsum:" GROUP ":m-new", strlen("dvsum:" GROUP ":m-new"), &vl,
                                &fl, &rc);
        ok(v && vl > 30 && strncmp(v, "dv1 ", 4) == 0 && memmem(v, vl, "\nDS1 ", 5) &&
           !memmem(v, vl, "<cpu/>", 6), "the summary key holds the summary, not the CPU XML");
        free(v);
    }
    raw_put(raw, "dvsum:" GROUP ":m-old", NULL);   /* as an agent of the earlier version */
    snprintf(bad, sizeof bad, "dv1 %lld " GROUP " m-bad\nDS1 7 garbage", (long long)dv_wall_ms());
    raw_put(raw, "dvsum:" GROUP ":m-bad", bad);
    raw_put(raw, "dvsum:" GROUP ":m-foreign", "not drover's");
    raw_put(raw, "dvsum:" GROUP ":m-gone", NULL);
    raw_put(raw, "drover:" GROUP ":m-gone", NULL);
    memcached_free(raw);
    ok(dv_sg_get_all(o.sg, GROUP, &all, &n, &err) == 0 && n == 5, "get_all lists five (%s)", err.message);
    ok(dv_sg_get_summaries(o.sg, GROUP, true, &l, &err) == 0 && l.n == 5, "get_summaries too (%s)",
       err.message);
    for (size_t i = 0; i < n && i < l.n; i++) {
        const drover_report *q = l.sums[i].report, *r = all[i].report;
        bool gone = strcmp(hosts[i], "m-gone") == 0;
        is_str(l.members[i].host, hosts[i], "member %zu is %s", i, hosts[i]);
        is_int(l.members[i].state, gone ? DROVER_DOWN : DROVER_UP, "%s: %s in the summaries",
               hosts[i], gone ? "DOWN" : "UP");
        is_int(all[i].state, l.members[i].state, "%s: and in get_all", hosts[i]);
        if (gone) {
            ok(!l.sums[i].stored && !q && !r, "%s: no report either way", hosts[i]);
            continue;
        }
        ok(l.sums[i].stored && q && r && q->memory_free_mib == 1000 + i &&
           r->memory_free_mib == 1000 + i && strcmp(q->host, hosts[i]) == 0 &&
           q->n_instances == 2 && strcmp(q->instances[1].name, "db-1") == 0 &&
           l.sums[i].memory_used_mib == 6144 && llabs(l.members[i].last_seen_ms - all[i].last_seen_ms) < 1000,
           "%s: the summary says what the report says", hosts[i]);
    }
    drover_members_free(all, n);
    dv_summary_list_free(&l);
    for (int i = 0; i < 5; i++)
        free(json[i]);
    one_mc_stop(&o);
}

/* ---------------------------------------------------------------- 7. bad config */

static void test_bad_config(void)
{
    static const char *const bad[] = { "", "host:", ":11211", "h:0", "h:65536", "h:12x",
                                       "[::1", "[::1]x", "::1:11211", "[]:11211" };
    static const char *const good[] = { "localhost", "127.0.0.1", "[::1]:11211", "[::1]",
                                        "mc.example.net:11311" };
    drover_error err;
    dv_sg *sg;

    diag("--- server lists the driver refuses (it contacts nobody at open)");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dv_config *cfg = make_cfg((const char *[]){ bad[i] }, 1, "badcfg.db");
        err = (drover_error){ 0 };
        ok(dv_sg_open(cfg, &sg, &err) < 0 && err.code == DROVER_ERR_CONFIG,
           "server \"%s\" refused as a configuration error", bad[i]);
        has_str(err.message, "servicegroup.mc.servers", "... naming the key");
        dv_config_free(cfg);
    }
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        dv_config *cfg = make_cfg((const char *[]){ good[i] }, 1, "goodcfg.db");
        ok(dv_sg_open(cfg, &sg, &err) == 0, "server \"%s\" accepted", good[i]);
        if (sg)
            dv_sg_close(sg);
        dv_config_free(cfg);
    }
    {
        dv_config *cfg = make_cfg((const char *[]){ "127.0.0.1" }, 1, "badcfg.db");
        cfg->servicegroup.mc.servers.n = 0;
        ok(dv_sg_open(cfg, &sg, &err) < 0 && err.code == DROVER_ERR_CONFIG, "no server at all: refused");
        cfg->servicegroup.mc.servers.n = 1;
        cfg->servicegroup.mc.poll_timeout_ms = 0;
        ok(dv_sg_open(cfg, &sg, &err) < 0 && err.code == DROVER_ERR_CONFIG, "poll_timeout_ms 0: refused");
        dv_config_free(cfg);
    }
}

int main(void)
{
    if (!(dir = dv_scratch_dir()))
        bail_out("cannot make a temporary directory");
    test_restart();
    test_two_servers();
    test_sasl();
    test_hung();
    test_flush();
    test_foreign_value();
    test_summaries();
    test_bad_config();
    dv_scratch_rmrf(dir);
    return done_testing();
}
