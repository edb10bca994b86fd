/* cmd_migrate.c - `drover migrate INSTANCE`: live-migrate it and show it
 * move (a progress bar on a TTY, a line every few seconds otherwise, JSON
 * Lines with --json).  Ctrl-C aborts; the guest stays on the source. */
#include "cmd/cli.h"
#include "cmd/mig_out.h"
#include "cmd/output.h"
#include "core/clock.h"
#include "migrator/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char migrate_help[] =
    "Usage: drover [-c FILE] [--json] migrate INSTANCE [--to HOST] [--policy nova|adaptive]\n"
    "                                         [--bandwidth MIB] [--post-copy] [--no-wait]\n"
    "\n"
    "Live-migrate INSTANCE (its name or UUID; running or paused) to HOST, or to\n"
    "the host the scheduler picks, and watch it: libvirt's events and job\n"
    "statistics every migration.poll_interval_ms, the convergence policy acting\n"
    "on them (downtime, post-copy, pause or abort).  Every migration is a record\n"
    "in the state db (drover migration list/show).  At most\n"
    "migration.max_concurrent migrations leave one source at once; others wait,\n"
    "queued, first come first served.\n"
    "\n"
    "Options:\n"
    "  --to HOST         this destination (it must be UP, enabled and fit)\n"
    "  --policy NAME     convergence policy (default: migration.policy)\n"
    "  --bandwidth MIB   cap the copy at MIB MiB/s (default: migration.bandwidth_mib)\n"
    "  --post-copy       allow post-copy (never for a paused guest)\n"
    "  --no-wait         start it, print its id and return; it runs on in the\n"
    "                    background (drover migration show ID)\n"
    "  --json            one JSON object per sample (JSON Lines), then the record\n"
    "  -h, --help        this help\n"
    "\n"
    "Ctrl-C aborts the migration; the guest stays on the source.\n"
    "\n"
    "Exit status: 0 completed; 1 failed or cancelled (the guest runs on the\n"
    "source), or refused before it started (unknown instance, not running, no\n"
    "valid destination); 2 usage or configuration error; 3 backend or libvirt\n"
    "unreachable before anything started; 4 the guest needs an operator (see\n"
    "the record's message).\n";

enum { EXIT_OPERATOR = 4 };

typedef struct mig_args {
    dv_migrate_opts o;
    bool no_wait;
} mig_args;

static bool is_opt(const char *a, const char *opt)
{
    size_t ol = strlen(opt);
    return strncmp(a, opt, ol) == 0 && (a[ol] == '\0' || a[ol] == '=');
}

static int value_of(const char *opt, int argc, char **argv, int *i, const char **out,
                    drover_error *err)
{
    const char *a = argv[*i];
    size_t ol = strlen(opt);

    if (a[ol] == '=')
        *out = a + ol + 1;
    else if (*i + 1 < argc)
        *out = argv[++*i];
    else
        *out = "";
    if (!**out)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "%s needs a value", opt);
    return 0;
}

static int parse_bandwidth(const char *v, int *out, drover_error *err)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < 0 || n > 1048576)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "--bandwidth: expected MiB/s from 0 to 1048576, got \"%s\"", v);
    *out = (int)n;
    return 0;
}

static int parse_one(dv_cli *cli, int argc, char **argv, int *i, mig_args *m, drover_error *err)
{
    const char *a = argv[*i], *v;

    if (is_opt(a, "--to")) {
        if (value_of("--to", argc, argv, i, &v, err) < 0 || dv_name_check("--to host", v, err) < 0)
            return -1;
        m->o.dest = v;
    } else if (is_opt(a, "--policy")) {
        if (value_of("--policy", argc, argv, i, &v, err) < 0)
            return -1;
        m->o.policy = v;
    } else if (is_opt(a, "--bandwidth")) {
        if (value_of("--bandwidth", argc, argv, i, &v, err) < 0 ||
            parse_bandwidth(v, &m->o.bandwidth_mib, err) < 0)
            return -1;
    } else if (strcmp(a, "--post-copy") == 0) {
        m->o.post_copy = true;
    } else if (strcmp(a, "--no-wait") == 0) {
        m->no_wait = true;
    } else if (strcmp(a, "--json") == 0) {
        cli->json = true;
    } else {
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE, "unknown option '%s'", a);
    }
    return 0;
}

static int parse(dv_cli *cli, int argc, char **argv, mig_args *m, drover_error *err)
{
    bool opts = true;

    memset(m, 0, sizeof *m);
    m->o.bandwidth_mib = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = false;
        } else if (opts && a[0] == '-' && a[1]) {
            if (parse_one(cli, argc, argv, &i, m, err) < 0)
                return -1;
        } else if (m->o.instance) {
            return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                          "one instance at a time: '%s' and '%s' given", m->o.instance, a);
        } else {
            m->o.instance = a;
        }
    }
    if (!m->o.instance)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_CORE,
                      "which instance? give its name or UUID");
    return 0;
}

/* ---------------------------------------------------------------- progress */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static bool was_interrupted(void *arg)
{
    (void)arg;
    return interrupted != 0;
}

typedef struct view {
    dv_cli *cli;
    bool tty;
    bool bar_shown;
    int64_t last_line_ms;
    int64_t stale_ms;
    int notify_fd;             /* --no-wait: the parent waits for the id here */
} view;

static void end_bar(view *v)
{
    if (v->bar_shown) {
        fputc('\n', stderr);
        v->bar_shown = false;
    }
}

/* JSON Lines: one object on one line, flushed (a reader follows the run). */
static void print_line(json_object *o)
{
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s)
        printf("%s\n", s);
    fflush(stdout);
    json_object_put(o);
}

static void json_event(view *v, const char *kind, const dv_mig_event *ev)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "event", json_object_new_string(kind));
    if (ev->kind == DV_MIG_EV_QUEUED) {
        json_object_object_add(o, "ahead", json_object_new_int(ev->ahead));
        json_object_object_add(o, "behind", json_object_new_int64(ev->blocker));
    }
    json_object_object_add(o, "record", dv_mig_record_json(ev->rec, v->stale_ms));
    print_line(o);
}

static void text_event(view *v, const dv_mig_event *ev)
{
    const dv_mig_record *r = ev->rec;
    char buf[400];

    switch (ev->kind) {
    case DV_MIG_EV_QUEUED:
        fprintf(stderr, "migration %" PRId64 ": queued: %d migration(s) from %s ahead (first: %"
                PRId64 "), migration.max_concurrent = %d\n", r->id, ev->ahead, r->source,
                ev->blocker, v->cli->cfg->migration.max_concurrent);
        break;
    case DV_MIG_EV_STARTED:
        fprintf(stderr, "migration %" PRId64 ": %s from %s to %s, policy %s\n", r->id,
                r->instance_name, r->source, r->destination, r->policy);
        break;
    case DV_MIG_EV_SAMPLE:
        if (v->tty) {
            dv_mig_progress_bar(r, buf, sizeof buf);
            fprintf(stderr, "\r%-150s", buf);
            v->bar_shown = true;
        } else if (dv_mono_ms() - v->last_line_ms >= 3000) {
            dv_mig_progress_text(r, buf, sizeof buf);
            fprintf(stderr, "migration %" PRId64 ": %s\n", r->id, buf);
            v->last_line_ms = dv_mono_ms();
        }
        break;
    case DV_MIG_EV_ACTION:
        end_bar(v);
        fprintf(stderr, "migration %" PRId64 ": %s: %s\n", r->id, r->action, r->action_why);
        break;
    case DV_MIG_EV_STATE:
        end_bar(v);
        fprintf(stderr, "migration %" PRId64 ": %s\n", r->id, dv_mig_state_name(r->state));
        break;
    case DV_MIG_EV_DONE:
        end_bar(v);
        break;
    }
}

static void progress(void *arg, const dv_mig_event *ev)
{
    static const char *const names[] = { "queued", "started", "sample", "action", "state",
                                         "done" };
    view *v = arg;

    if (v->notify_fd >= 0 && ev->rec->id) {
        char line[32];
        int n = snprintf(line, sizeof line, "%" PRId64 "\n", ev->rec->id);
        if (write(v->notify_fd, line, (size_t)n) < 0)
            (void)0;   /* the parent left: nothing to tell */
        close(v->notify_fd);
        v->notify_fd = -1;
    }
    if (ev->kind == DV_MIG_EV_DONE)
        return;        /* the final record is printed once, by finish() */
    if (v->cli->json)
        json_event(v, names[ev->kind], ev);
    else
        text_event(v, ev);
}

/* ---------------------------------------------------------------- the end */

static int exit_of_record(const dv_mig_record *r)
{
    switch (r->state) {
    case DV_MIG_COMPLETED: return DV_EXIT_OK;
    case DV_MIG_FAILED:
    case DV_MIG_CANCELLED: return DV_EXIT_FAIL;
    default: return EXIT_OPERATOR;
    }
}

static int exit_of_error(const drover_error *err)
{
    switch (err->code) {
    case DROVER_ERR_UNREACHABLE:
    case DROVER_ERR_LIBVIRT: return DV_EXIT_UNREACHABLE;
    case DROVER_ERR_CONFIG: return DV_EXIT_USAGE;
    default: return DV_EXIT_FAIL;
    }
}

static int finish(view *v, int rc, const dv_mig_record *r, const drover_error *err)
{
    dv_cli *cli = v->cli;

    end_bar(v);
    if (cli->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "event", json_object_new_string("done"));
        json_object_object_add(o, "record", r->id ? dv_mig_record_json(r, v->stale_ms) : NULL);
        if (rc < 0) {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "code", json_object_new_string(drover_code_name(err->code)));
            json_object_object_add(e, "message", json_object_new_string(err->message));
            json_object_object_add(o, "error", e);
        }
        print_line(o);
    } else if (r->id && rc == 0) {
        dv_mig_show(stdout, r);
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", cli->prog, err->message);
        return r->id ? DV_EXIT_FAIL : exit_of_error(err);
    }
    if (r->state != DV_MIG_COMPLETED)
        fprintf(stderr, "%s: migration %" PRId64 " %s: %s\n", cli->prog, r->id,
                dv_mig_state_name(r->state), r->message);
    return exit_of_record(r);
}

/* --no-wait: the migration runs in a child of its own session; the parent
 * returns once the record exists (or the child said why it could not). */
static int detach(dv_cli *cli, mig_args *m, view *v)
{
    int fds[2], st = 0;
    char buf[32] = "";
    ssize_t n;
    pid_t pid;

    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        fprintf(stderr, "%s: cannot start the background migration: %s\n", cli->prog,
                strerror(errno));
        return DV_EXIT_FAIL;
    }
    if (pid == 0) {
        dv_mig_record r;
        drover_error err;
        int devnull = open("/dev/null", O_RDWR);
        close(fds[0]);
        setsid();
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        v->notify_fd = fds[1];
        cli->json = false;
        v->tty = false;
        _exit(dv_migrate(cli->cfg, &m->o, &r, &err) < 0 ? exit_of_error(&err)
                                                        : exit_of_record(&r));
    }
    close(fds[1]);
    n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    if (n <= 0) {
        /* no record: the child failed its pre-checks; its status says how */
        waitpid(pid, &st, 0);
        fprintf(stderr, "%s: the migration did not start (run without --no-wait to see why)\n",
                cli->prog);
        return WIFEXITED(st) ? WEXITSTATUS(st) : DV_EXIT_FAIL;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    if (cli->json)
        printf("{ \"id\": %s, \"pid\": %ld }\n", buf, (long)pid);
    else
        printf("migration %s started (pid %ld): drover migration show %s\n", buf, (long)pid, buf);
    return DV_EXIT_OK;
}

int cmd_migrate(dv_cli *cli, int argc, char **argv)
{
    struct sigaction sa;
    mig_args m;
    view v = { .cli = cli, .notify_fd = -1 };
    dv_mig_record r;
    drover_error err;
    int rc;

    if (dv_cli_wants_help(argc, argv)) {
        fputs(migrate_help, stdout);
        return DV_EXIT_OK;
    }
    if (parse(cli, argc, argv, &m, &err) < 0)
        return dv_cli_usage_error(cli, "migrate ", "%s", err.message);
    if (dv_cli_config(cli) < 0)
        return DV_EXIT_USAGE;
    v.tty = isatty(2) && !cli->json;
    v.stale_ms = dv_mig_stale_ms(cli->cfg);
    m.o.progress = progress;
    m.o.cancelled = was_interrupted;
    m.o.arg = &v;
    if (m.no_wait)
        return detach(cli, &m, &v);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = dv_migrate(cli->cfg, &m.o, &r, &err);
    return finish(&v, rc, &r, &err);
}
