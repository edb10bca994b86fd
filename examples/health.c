/* health.c - a small program using only the public libdrover API:
 * list the members of the configured group, then ask whether each is up.
 *
 *   cc health.c $(pkg-config --cflags --libs drover) -o health
 *   ./health [CONFIG]
 *
 * Exit status: 0 when every member is UP, 1 when one is DOWN, 3 when the
 * backend could not be asked, 2 when the context could not be opened. */
#include <drover.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    drover_ctx *ctx;
    drover_member *members;
    drover_error err;
    size_t n;
    int status = 0;

    if (drover_open(argc > 1 ? argv[1] : NULL, &ctx, &err) < 0) {
        fprintf(stderr, "health: %s (%s error)\n", err.message, drover_code_name(err.code));
        return 2;
    }
    if (drover_list_members(ctx, &members, &n, &err) < 0) {
        fprintf(stderr, "health: %s\n", err.message);
        drover_close(ctx);
        return err.code == DROVER_ERR_UNREACHABLE ? 3 : 1;
    }
    printf("group %s: %zu member(s)\n", drover_ctx_group(ctx), n);
    for (size_t i = 0; i < n; i++) {
        drover_liveness state;
        if (drover_is_up(ctx, members[i].host, &state, &err) < 0 &&
            err.code != DROVER_ERR_UNREACHABLE) {
            fprintf(stderr, "health: %s\n", err.message);
            status = 1;
            continue;
        }
        printf("%-20s %-7s %s\n", members[i].host, drover_liveness_name(state),
               members[i].report ? members[i].report->hypervisor_type : "-");
        if (state == DROVER_UNKNOWN)
            status = 3;
        else if (state == DROVER_DOWN && status == 0)
            status = 1;
    }
    drover_members_free(members, n);
    drover_close(ctx);
    return status;
}
