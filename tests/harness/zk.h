/* zk.h - ZooKeeper servers for C tests and benchmarks, started and driven
 * through tests/harness/zookeeper.sh (see harness.h for how scripts run).
 * Functions return 0 (or a value >= 0) on success and -1 on failure, after
 * printing why on stderr. */
#ifndef DV_TEST_ZK_H
#define DV_TEST_ZK_H

#include <stddef.h>
#include <sys/types.h>

typedef struct dv_zk_cluster {
    char dir[512];         /* the servers' private directory; "" once stopped */
    char hosts[512];       /* connect string for servicegroup.zk.hosts */
    int nodes;
} dv_zk_cluster;

/* Start 1 (standalone) or more servers (an ensemble) on free ports; returns
 * once every server serves.  They die with this process at the latest. */
int dv_zk_start(dv_zk_cluster *c, int nodes);
int dv_zk_stop(dv_zk_cluster *c);                /* idempotent */

/* Node numbers run 1..nodes. */
int dv_zk_kill(dv_zk_cluster *c, int node);      /* SIGKILL, wait until gone */
int dv_zk_term(dv_zk_cluster *c, int node);      /* graceful stop */
int dv_zk_pause(dv_zk_cluster *c, int node);     /* SIGSTOP */
int dv_zk_resume(dv_zk_cluster *c, int node);    /* SIGCONT */
int dv_zk_relaunch(dv_zk_cluster *c, int node);  /* start again, wait until it serves */
int dv_zk_leader(dv_zk_cluster *c);              /* the leader's node number */
int dv_zk_port(dv_zk_cluster *c, int node);      /* its client port */
/* "standalone", "leader", "follower" or "" (not serving) into mode. */
int dv_zk_mode(dv_zk_cluster *c, int node, char *mode, size_t size);

#endif
