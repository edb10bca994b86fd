/* outcome.c - settle a migration from what both libvirts say, never from
 * what the migration call returned alone.
 *
 *  - the call succeeded: the guest must run on the destination, be
 *    persistent there and be gone from the source -> completed, with the
 *    final figures of the job-completed event (or the destination's
 *    completed-job stats);
 *  - the call failed in pre-copy: the guest must still be on the source
 *    (resumed if drover paused it); whatever libvirt left on the
 *    destination with its UUID is destroyed and undefined -> cancelled
 *    (someone aborted) or failed, with libvirt's message;
 *  - the call failed in post-copy: nothing is destroyed; error, saying
 *    where the guest is and what to do;
 *  - anything else (the guest in two places, or nowhere): error with the
 *    facts, for an operator.
 */
#include "migrator/run.h"
#include "core/clock.h"
#include "core/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The guest on one side: -2 when that libvirt did not answer, -1 absent,
 * else its virDomainState. */
static int side(dv_mig_run *r, dv_virt *v, bool *persistent)
{
    bool known;
    int st = dv_vop_state(v, r->tmo, r->rec.instance_uuid, persistent, &known);
    return known ? st : -2;
}

static const char *where(int state)
{
    return state == -2 ? "unknown (its libvirt did not answer)"
                       : state < 0 ? "absent" : dv_virt_state_name(state);
}

static bool live(int state)
{
    return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED;
}

static void settle(dv_mig_run *r, dv_mig_state to, const char *msg)
{
    drover_error err;

    if (dv_mig_record_set_state(r->db, &r->rec, to, msg, &err) < 0) {
        dv_warn("migration %" PRId64 ": %s", r->rec.id, err.message);
        snprintf(r->rec.message, sizeof r->rec.message, "%s", msg);
    }
    if (to == DV_MIG_COMPLETED)
        dv_info("migration %" PRId64 " of %s: completed on %s", r->rec.id, r->rec.instance_name,
                r->rec.destination);
    else
        dv_warn("migration %" PRId64 " of %s: %s: %s", r->rec.id, r->rec.instance_name,
                dv_mig_state_name(to), msg);
}

/* The final figures: the job-completed event's, else the destination's
 * completed-job statistics. */
static void final_figures(dv_mig_run *r)
{
    dv_vop op;
    drover_error err;

    r->rec.final_downtime_ms = r->final_downtime_ms;
    r->rec.final_total_ms = r->final_total_ms;
    dv_vop_init(&op, DV_VOP_COMPLETED_STATS, r->rec.instance_uuid);
    if ((r->rec.final_downtime_ms < 0 || r->rec.final_total_ms < 0) &&
        dv_vop_run(r->dst, r->tmo, &op, NULL) == 0) {
        if (r->rec.final_downtime_ms < 0)
            r->rec.final_downtime_ms = op.downtime_ms;
        if (r->rec.final_total_ms < 0)
            r->rec.final_total_ms = op.total_ms;
    }
    if (dv_mig_record_set_final(r->db, &r->rec, &err) < 0)
        dv_warn("migration %" PRId64 ": %s", r->rec.id, err.message);
}

/* A guest drover paused to let the copy finish runs again where it is. */
static void resume_if_we_paused(dv_mig_run *r, dv_virt *v)
{
    drover_error err;

    if (!r->we_paused || r->paused_at_start)
        return;
    if (dv_vop_simple(v, r->tmo, DV_VOP_RESUME_IF_PAUSED, r->rec.instance_uuid, 0, &err) < 0)
        dv_warn("migration %" PRId64 ": cannot resume %s: %s", r->rec.id, r->rec.instance_name,
                err.message);
}

static void succeeded(dv_mig_run *r)
{
    bool pd, ps;
    int sd, ss;
    char msg[DV_MIG_MSG_MAX];

    resume_if_we_paused(r, r->dst);
    sd = side(r, r->dst, &pd);
    ss = side(r, r->src, &ps);
    final_figures(r);
    if (live(sd) && pd && ss == -1) {
        dv_mig_msgf(msg, sizeof msg, "%s is %s on %s (persistent) and gone from %s",
                    r->rec.instance_name, where(sd), r->rec.destination, r->rec.source);
        settle(r, DV_MIG_COMPLETED, msg);
        if (r->job_completed_mono)
            dv_debug("migration %" PRId64 ": recorded completed %lld ms after libvirt's "
                    "job-completed event", r->rec.id,
                    (long long)(dv_mono_ms() - r->job_completed_mono));
        return;
    }
    dv_mig_msgf(msg, sizeof msg,
             "libvirt reported success, but %s is %s%s on %s and %s%s on %s: check both hosts "
             "before acting (virsh list --all --uuid on each)",
             r->rec.instance_name, where(sd), pd ? " (persistent)" : "", r->rec.destination,
             where(ss), ps ? " (persistent)" : "", r->rec.source);
    settle(r, DV_MIG_ERROR, msg);
}

/* Remove what a failed pre-copy migration left on the destination: only
 * while the guest is known to live on the source. */
static void clean_destination(dv_mig_run *r)
{
    dv_vop op;
    drover_error err;

    dv_vop_init(&op, DV_VOP_REMOVE, r->rec.instance_uuid);
    if (dv_vop_run(r->dst, r->tmo, &op, &err) < 0)
        dv_warn("migration %" PRId64 ": cannot remove the leftover of %s on %s: %s", r->rec.id,
                r->rec.instance_name, r->rec.destination, err.message);
    else
        dv_info("migration %" PRId64 ": removed what libvirt left of %s on %s (%s)", r->rec.id,
                r->rec.instance_name, r->rec.destination, dv_virt_state_name(op.state));
}

static void postcopy_failed(dv_mig_run *r, int ss, int sd)
{
    char msg[DV_MIG_MSG_MAX];

    if (sd == -1) {
        /* the switch never reached the destination: nothing runs there and
         * the source kept every page; libvirt leaves it paused */
        dv_mig_msgf(msg, sizeof msg,
                    "the switch to post-copy failed (%s) before the destination ran the guest: "
                    "%s holds nothing of it; %s is %s on %s with all its memory. Nothing was "
                    "destroyed; check it there and resume it (virsh resume) if libvirt allows, "
                    "or run `drover migration recover %" PRId64 "` once the link is back",
                    r->call_msg, r->rec.destination, r->rec.instance_name, where(ss),
                    r->rec.source, r->rec.id);
        settle(r, DV_MIG_ERROR, msg);
        return;
    }
    dv_mig_msgf(msg, sizeof msg,
             "post-copy failed (%s): the guest's memory is split between %s (%s) and %s (%s), "
             "its vCPUs on %s; neither side was destroyed. Restore the link between the hosts "
             "and run `drover migration recover %" PRId64 "`; never destroy either copy",
             r->call_msg, r->rec.source, where(ss), r->rec.destination, where(sd),
             r->rec.destination, r->rec.id);
    settle(r, DV_MIG_ERROR, msg);
}

/* Whether the source holds the guest paused by post-copy: the switch may
 * have happened without its lifecycle event reaching us. */
static bool source_in_postcopy(dv_mig_run *r)
{
    dv_vop op;

    dv_vop_init(&op, DV_VOP_STATE, r->rec.instance_uuid);
    if (dv_vop_run(r->src, r->tmo, &op, NULL) < 0)
        return false;
    return op.state == VIR_DOMAIN_PAUSED &&
           (op.reason == VIR_DOMAIN_PAUSED_POSTCOPY || op.reason == VIR_DOMAIN_PAUSED_POSTCOPY_FAILED);
}

static void failed(dv_mig_run *r)
{
    bool ps, pd, cancelled;
    int ss = side(r, r->src, &ps), sd = side(r, r->dst, &pd);
    char msg[DV_MIG_MSG_MAX], state[24];

    if (r->postcopy || source_in_postcopy(r)) {
        if (r->rec.state == DV_MIG_RUNNING)
            dv_mig_record_set_state(r->db, &r->rec, DV_MIG_POSTCOPY, NULL, NULL);
        postcopy_failed(r, ss, sd);
        return;
    }
    cancelled = r->abort_why[0] != '\0';
    /* a copy that RUNS on the destination may hold the newer state (the
     * switch-over happened and a later phase failed): never destroy it */
    if (live(ss) && sd != VIR_DOMAIN_RUNNING) {
        resume_if_we_paused(r, r->src);
        if (sd != -1)
            clean_destination(r);
        ss = side(r, r->src, &ps);
        snprintf(state, sizeof state, "%s", where(ss));
        dv_mig_msgf(msg, sizeof msg, "%s%s%s; %s is %s on %s (verified), nothing left on %s",
                 cancelled ? r->abort_why : "", cancelled ? ": " : "", r->call_msg,
                 r->rec.instance_name, state, r->rec.source, r->rec.destination);
        settle(r, cancelled ? DV_MIG_CANCELLED : DV_MIG_FAILED, msg);
        return;
    }
    if (live(sd) && pd && ss == -1) {
        dv_mig_msgf(msg, sizeof msg, "libvirt said \"%s\", but %s is %s on %s (persistent) and gone "
                 "from %s", r->call_msg, r->rec.instance_name, where(sd), r->rec.destination,
                 r->rec.source);
        final_figures(r);
        settle(r, DV_MIG_COMPLETED, msg);
        return;
    }
    dv_mig_msgf(msg, sizeof msg,
             "migration failed (%s) and %s is %s on %s and %s on %s: nothing was destroyed; "
             "check both hosts before acting",
             r->call_msg, r->rec.instance_name, where(ss), r->rec.source, where(sd),
             r->rec.destination);
    settle(r, DV_MIG_ERROR, msg);
}

void dv_mig_outcome(dv_mig_run *r)
{
    if (r->call_rc == 0)
        succeeded(r);
    else
        failed(r);
    dv_mig_emit(r, DV_MIG_EV_DONE);
}
