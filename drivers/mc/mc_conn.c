/* mc_conn.c - the libmemcached handle and why a server failed. */
#include "drivers/mc/mc.h"

#include <errno.h>
#include <string.h>

/* ---------------------------------------------------------------- errors */

bool mc_is_auth(memcached_return_t rc)
{
    return rc == MEMCACHED_AUTH_FAILURE || rc == MEMCACHED_AUTH_PROBLEM ||
           rc == MEMCACHED_AUTH_CONTINUE;
}

static bool mc_is_backoff(memcached_return_t rc)
{
    return rc == MEMCACHED_SERVER_TEMPORARILY_DISABLED || rc == MEMCACHED_SERVER_MARKED_DEAD;
}

/* Remember why server s failed (or that it answered).  Once libmemcached
 * puts a server in back-off it only says "disabled", which would hide the
 * reason (refused credentials, connection refused, timeout). */
void mc_note(mc_sg *m, uint32_t s, memcached_return_t rc)
{
    if (s >= m->n_srv)
        return;
    if (rc == MEMCACHED_SUCCESS)
        m->srv[s].cause = MEMCACHED_SUCCESS;
    else if (!mc_is_backoff(rc))
        m->srv[s].cause = rc;
}

/* Fill err for a failed memcached operation on server s. */
int mc_fail(mc_sg *m, uint32_t s, memcached_return_t rc, const char *what,
            drover_error *err)
{
    const char *user = m->cfg->servicegroup.mc.username;
    const char *addr = s < m->n_srv ? m->srv[s].addr : "(no server)";
    memcached_return_t cause = rc;
    int e = 0;

    mc_note(m, s, rc);
    if (mc_is_backoff(rc) && s < m->n_srv && m->srv[s].cause != MEMCACHED_SUCCESS)
        cause = m->srv[s].cause;
    if (mc_is_auth(cause)) {
        if (!user || !*user)
            return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_MC,
                          "%s: memcached %s requires SASL authentication: set "
                          "servicegroup.mc.username and password", what, addr);
        return dv_err(err, DROVER_ERR_AUTH, DROVER_FROM_MC,
                      "%s: memcached %s: authentication failed for user \"%s\" (check "
                      "servicegroup.mc.username and password)", what, addr, user);
    }
    if (cause == MEMCACHED_E2BIG)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_MC,
                      "%s: memcached %s refused the value as too large (its item size limit, -I)",
                      what, addr);
    if (cause == rc && (rc == MEMCACHED_CONNECTION_FAILURE || rc == MEMCACHED_ERRNO ||
                        rc == MEMCACHED_WRITE_FAILURE || rc == MEMCACHED_READ_FAILURE))
        e = memcached_last_error_errno(m->mc);
    return dv_err(err, DROVER_ERR_UNREACHABLE, DROVER_FROM_MC,
                  "%s: cannot reach memcached %s: %s%s%s%s", what, addr,
                  memcached_strerror(m->mc, cause), e ? " (" : "", e ? strerror(e) : "",
                  e ? ")" : "");
}

/* The reason server s could not be asked, for messages (into buf). */
const char *mc_cause_text(mc_sg *m, uint32_t s, memcached_return_t rc, char *buf, size_t sz)
{
    int e = 0;

    if (mc_is_backoff(rc) && m->srv[s].cause != MEMCACHED_SUCCESS)
        rc = m->srv[s].cause;
    else if (rc == MEMCACHED_ERRNO || rc == MEMCACHED_CONNECTION_FAILURE ||
             rc == MEMCACHED_WRITE_FAILURE || rc == MEMCACHED_READ_FAILURE)
        e = memcached_last_error_errno(m->mc);
    if (rc == MEMCACHED_ERRNO && !e)
        snprintf(buf, sz, "the connection broke");
    else
        snprintf(buf, sz, "%s%s%s%s", memcached_strerror(m->mc, rc), e ? " (" : "",
                 e ? strerror(e) : "", e ? ")" : "");
    return buf;
}

/* ---------------------------------------------------------------- handle */

/* A new libmemcached handle from the configuration. */
int mc_build(mc_sg *m, memcached_st **out, drover_error *err)
{
    const dv_config *c = m->cfg;
    memcached_st *mc = memcached_create(NULL);
    memcached_return_t rc;

    *out = NULL;
    if (!mc)
        return mc_nomem(err);
    for (uint32_t s = 0; s < m->n_srv; s++) {
        char host[256];
        int port = 0;
        if (dv_config_hostport(m->srv[s].addr, MC_DEFAULT_PORT, host, sizeof host, &port,
                               err) < 0) {
            dv_err_prefix(err, "servicegroup.mc.servers: \"%s\"", m->srv[s].addr);
            goto fail;
        }
        if ((rc = memcached_server_add(mc, host, (in_port_t)port)) != MEMCACHED_SUCCESS) {
            dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                   "servicegroup.mc.servers: cannot use \"%s\": %s", m->srv[s].addr,
                   memcached_strerror(mc, rc));
            goto fail;
        }
    }
    if (memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                               MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_TCP_NODELAY, 1) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                               (uint64_t)c->servicegroup.mc.poll_timeout_ms) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                               (uint64_t)c->servicegroup.mc.poll_timeout_ms) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                               (uint64_t)c->servicegroup.mc.retry_timeout_s) != MEMCACHED_SUCCESS ||
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1) != MEMCACHED_SUCCESS ||
        /* 2: the request that meets a failure reports its cause (refused
         * credentials, refused connection) before the back-off starts */
        memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT, 2) != MEMCACHED_SUCCESS) {
        dv_err(err, DROVER_ERR_INTERNAL, DROVER_FROM_MC, "libmemcached refused a setting: %s",
               memcached_last_error_message(mc));
        goto fail;
    }
    if (c->servicegroup.mc.username && *c->servicegroup.mc.username) {
        rc = memcached_set_sasl_auth_data(mc, c->servicegroup.mc.username,
                                          c->servicegroup.mc.password ? c->servicegroup.mc.password : "");
        if (rc != MEMCACHED_SUCCESS) {
            dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_MC,
                   "servicegroup.mc.username: SASL cannot be used: %s", memcached_strerror(mc, rc));
            goto fail;
        }
    }
    *out = mc;
    return 0;
fail:
    memcached_free(mc);
    return -1;
}

/* A fresh handle, forgetting libmemcached's failed-server back-off. */
int mc_rebuild(mc_sg *m, drover_error *err)
{
    memcached_st *mc;

    if (mc_build(m, &mc, err) < 0)
        return -1;
    memcached_free(m->mc);
    m->mc = mc;
    return 0;
}

/* A server that requires SASL answers the first request of a connection
 * without credentials with an auth error and closes the connection at once.
 * libmemcached writes a multi-get's closing NOOP apart from its GETKQs, so
 * that NOOP can reach the closed socket, and the reset it causes can reach
 * us before the auth error does.  Without credentials, such a reset is
 * asked once more with a single-write request on a fresh handle (no
 * back-off, nothing written after the request), whose answer cannot race. */
memcached_return_t mc_reset_cause(mc_sg *m, uint32_t s, memcached_return_t why)
{
    static const char probe[] = KEY_PREFIX ":auth-probe";
    const char *user = m->cfg->servicegroup.mc.username;
    memcached_return_t rc;
    memcached_st *one = NULL;
    drover_error ignored = { 0 };
    int e;

    if ((user && *user) || s >= m->n_srv ||
        (why != MEMCACHED_CONNECTION_FAILURE && why != MEMCACHED_ERRNO &&
         why != MEMCACHED_READ_FAILURE && why != MEMCACHED_WRITE_FAILURE))
        return why;
    e = memcached_last_error_errno(m->mc);
    if ((e != ECONNRESET && e != EPIPE) || mc_build(m, &one, &ignored) < 0)
        return why;
    /* touch answers an auth error as such (a one-key get says NOT FOUND);
     * the probe key is never stored, so a server without SASL is unchanged */
    rc = memcached_touch_by_key(one, m->srv[s].fresh, strlen(m->srv[s].fresh), probe,
                                sizeof probe - 1, 1);
    memcached_free(one);
    return mc_is_auth(rc) ? rc : why;
}
