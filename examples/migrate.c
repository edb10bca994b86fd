/* migrate.c - live-migrate one guest using only the public libdrover API:
 * the scheduler picks the destination (or DEST), a line is printed for every
 * progress event, then the settled record.
 *
 *   cc migrate.c $(pkg-config --cflags --libs drover) -o migrate
 *   ./migrate CONFIG INSTANCE [DEST]
 *
 * Exit status: 0 completed, 1 failed or cancelled (the guest runs on the
 * source), 4 error (the record's message says where the guest is), 2 when
 * the context could not be opened or nothing was migrated. */
#include <drover.h>
#include <inttypes.h>
#include <stdio.h>

static void progress(void *arg, drover_migration_event ev, const drover_migration *m)
{
    (void)arg;
    switch (ev) {
    case DROVER_MIG_EV_QUEUED:
        printf("queued: another migration from %s runs first\n", m->source);
        break;
    case DROVER_MIG_EV_STARTED:
        printf("migration %" PRId64 ": %s from %s to %s\n", m->id, m->instance_name, m->source,
               m->destination);
        break;
    case DROVER_MIG_EV_SAMPLE:
        if (m->data_total)
            printf("  %3d%%  %" PRIu64 "/%" PRIu64 " MiB  iteration %" PRIu64 "\n",
                   (int)(100 * m->data_processed / m->data_total), m->data_processed >> 20,
                   m->data_total >> 20, m->iteration);
        break;
    case DROVER_MIG_EV_ACTION:
        printf("  action %s: %s\n", m->action, m->action_why);
        break;
    case DROVER_MIG_EV_STATE:
        printf("  now %s\n", drover_migration_state_name(m->state));
        break;
    case DROVER_MIG_EV_DONE:
        break;
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    drover_ctx *ctx;
    drover_error err;
    drover_migration m;
    drover_migrate_opts o = { .bandwidth_mib = -1, .progress = progress };
    int rc;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: migrate CONFIG INSTANCE [DEST]\n");
        return 2;
    }
    o.dest = argc == 4 ? argv[3] : NULL;
    if (drover_open(argv[1], &ctx, &err) < 0) {
        fprintf(stderr, "migrate: %s (%s error)\n", err.message, drover_code_name(err.code));
        return 2;
    }
    rc = drover_migrate(ctx, argv[2], &o, &m, &err);
    drover_close(ctx);
    if (rc < 0) {
        fprintf(stderr, "migrate: nothing was migrated: %s (%s error)\n", err.message,
                drover_code_name(err.code));
        return 2;
    }
    printf("migration %" PRId64 " of %s: %s", m.id, m.instance_name,
           drover_migration_state_name(m.state));
    if (m.state == DROVER_MIG_COMPLETED)
        printf(" on %s in %" PRId64 " ms, downtime %" PRId64 " ms\n", m.destination,
               m.final_total_ms, m.final_downtime_ms);
    else
        printf(": %s\n", m.message);
    return m.state == DROVER_MIG_COMPLETED ? 0 : m.state == DROVER_MIG_ERROR ? 4 : 1;
}
