/* zk.c - run tests/harness/zookeeper.sh from C. */
#include "tests/harness/zk.h"
#include "tests/harness/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRIPT "zookeeper.sh"

/* zookeeper.sh CMD DIR [NODE]; its stdout into out. */
static int zk_command(dv_zk_cluster *c, const char *cmd, int node, char *out, size_t outsz)
{
    char nodebuf[16], buf[1024];
    const char *argv[] = { cmd, c->dir, node > 0 ? nodebuf : NULL, NULL };
    int rc;

    if (!c->dir[0]) {
        fprintf(stderr, "harness: zookeeper.sh %s: no servers\n", cmd);
        return -1;
    }
    snprintf(nodebuf, sizeof nodebuf, "%d", node);
    if (!out) {
        out = buf;
        outsz = sizeof buf;
    }
    rc = dv_harness_run(dv_harness_script(SCRIPT), argv, NULL, out, outsz);
    if (rc != 0) {
        fprintf(stderr, "harness: zookeeper.sh %s %s %s failed (status %d)\n", cmd, c->dir,
                node > 0 ? nodebuf : "", rc);
        return -1;
    }
    return 0;
}

/* The integer value of key in out, or -1. */
static int int_value(const char *out, const char *key)
{
    char val[32];

    if (dv_harness_value(out, key, val, sizeof val) < 0 || !val[0])
        return -1;
    return atoi(val);
}

int dv_zk_start(dv_zk_cluster *c, int nodes)
{
    char n[16], out[2048];
    const char *argv[] = { "start", "--nodes", n, NULL };

    memset(c, 0, sizeof *c);
    snprintf(n, sizeof n, "%d", nodes);
    if (dv_harness_run(dv_harness_script(SCRIPT), argv, NULL, out, sizeof out) != 0) {
        fprintf(stderr, "harness: zookeeper.sh start --nodes %d failed\n", nodes);
        return -1;
    }
    if (dv_harness_value(out, "dir", c->dir, sizeof c->dir) < 0 ||
        dv_harness_value(out, "hosts", c->hosts, sizeof c->hosts) < 0) {
        fprintf(stderr, "harness: zookeeper.sh printed no dir/hosts: \"%s\"\n", out);
        c->dir[0] = '\0';
        return -1;
    }
    c->nodes = nodes;
    return 0;
}

int dv_zk_stop(dv_zk_cluster *c)
{
    int rc;

    if (!c->dir[0])
        return 0;
    rc = zk_command(c, "stop", 0, NULL, 0);
    c->dir[0] = '\0';
    return rc;
}

int dv_zk_kill(dv_zk_cluster *c, int node) { return zk_command(c, "kill", node, NULL, 0); }
int dv_zk_term(dv_zk_cluster *c, int node) { return zk_command(c, "term", node, NULL, 0); }
int dv_zk_pause(dv_zk_cluster *c, int node) { return zk_command(c, "pause", node, NULL, 0); }
int dv_zk_resume(dv_zk_cluster *c, int node) { return zk_command(c, "resume", node, NULL, 0); }
int dv_zk_relaunch(dv_zk_cluster *c, int node) { return zk_command(c, "relaunch", node, NULL, 0); }

int dv_zk_leader(dv_zk_cluster *c)
{
    char out[256];

    if (zk_command(c, "leader", 0, out, sizeof out) < 0)
        return -1;
    return int_value(out, "leader");
}

int dv_zk_port(dv_zk_cluster *c, int node)
{
    char out[256];

    if (zk_command(c, "port", node, out, sizeof out) < 0)
        return -1;
    return int_value(out, "port");
}

int dv_zk_mode(dv_zk_cluster *c, int node, char *mode, size_t size)
{
    char out[256];

    if (zk_command(c, "mode", node, out, sizeof out) < 0 ||
        dv_harness_value(out, "mode", mode, size) < 0)
        return -1;
    return 0;
}
