/* agentproc.c - a heartbeating agent in a child process, for driver tests. */
#include "tests/harness/agentproc.h"

#include "core/clock.h"
#include "drivers/servicegroup.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void run_agent(const dv_agentproc *a, const dv_agentproc_spec *s)
{
    drover_error err;
    dv_sg *sg;

    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
    if (dv_sg_open(s->cfg, &sg, &err) < 0) {
        fprintf(stderr, "agent: %s\n", err.message);
        _exit(1);
    }
    for (size_t i = 0; s->join && i < s->n_hosts; i++)
        if (dv_sg_join(sg, s->group, s->hosts[i], &err) < 0) {
            fprintf(stderr, "agent %s: %s\n", s->hosts[i], err.message);
            _exit(1);
        }
    for (;;) {
        int64_t start = dv_mono_ms();
        int failed = 0;
        for (size_t i = 0; i < s->n_hosts; i++)
            if (dv_sg_heartbeat(sg, s->group, s->hosts[i], s->report, &err) < 0 && !failed++)
                fprintf(stderr, "agent %s: %s\n", s->hosts[i], err.message);
        if (!failed)
            *a->beat = dv_wall_ms();
        /* keep a fixed grid however long the round took */
        dv_sleep_ms(s->interval_s * 1000 - (dv_mono_ms() - start) % (s->interval_s * 1000));
    }
}

int dv_agentproc_start(dv_agentproc *a, const dv_agentproc_spec *spec)
{
    a->pid = 0;
    a->beat = mmap(NULL, sizeof *a->beat, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a->beat == MAP_FAILED) {
        a->beat = NULL;
        fprintf(stderr, "agentproc: mmap: %s\n", strerror(errno));
        return -1;
    }
    *a->beat = 0;
    fflush(NULL);   /* the child must not repeat buffered TAP output */
    if ((a->pid = fork()) < 0) {
        fprintf(stderr, "agentproc: fork: %s\n", strerror(errno));
        dv_agentproc_free(a);
        return -1;
    }
    if (a->pid == 0)
        run_agent(a, spec);
    for (int i = 0; i < 500 && !*a->beat; i++)
        dv_sleep_ms(10);
    if (!*a->beat) {
        fprintf(stderr, "agentproc: the agent for %s did not heartbeat within 5 s\n",
                spec->n_hosts ? spec->hosts[0] : "(no host)");
        dv_agentproc_free(a);
        return -1;
    }
    return 0;
}

void dv_agentproc_kill(dv_agentproc *a)
{
    if (a->pid > 0) {
        kill(a->pid, SIGKILL);
        waitpid(a->pid, NULL, 0);
    }
    a->pid = 0;
}

void dv_agentproc_free(dv_agentproc *a)
{
    dv_agentproc_kill(a);
    if (a->beat)
        munmap((void *)a->beat, sizeof *a->beat);
    a->beat = NULL;
}
