/* zk_fetch.c - pipelined reads: every member's data in one round trip. */
#include "drivers/zk/zk.h"

/* Reads in flight at once.  Past ZooKeeper's globalOutstandingLimit (1000)
 * the server stops reading the connection until it catches up; a bounded
 * window keeps the client's queues (and memory) small at 100k members and
 * still keeps the server busy. */
#define FETCH_WINDOW 1024

/* Not answered yet, or lost with the connection or the session. */
static bool retryable(int rc)
{
    return rc == ZNOTHING || rc == ZCLOSING || dv_zkc_conn_lost(rc) || dv_zkc_session_gone(rc);
}

/* ---------------------------------------------------------------- batches */

/* A batch counts the asynchronous requests it has asked for and not had
 * answered; it starts at one, the asker's own, so that it cannot reach
 * zero before every request is out. */
void zk_batch_init(zk_batch *b)
{
    b->pending = 1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
}

/* Before asking: wait while more than window are out (0: no bound). */
void zk_batch_ask(zk_batch *b, size_t window)
{
    pthread_mutex_lock(&b->mu);
    while (window && b->pending > window)
        pthread_cond_wait(&b->cv, &b->mu);
    b->pending++;
    pthread_mutex_unlock(&b->mu);
}

/* One answer came (the completion thread). */
void zk_batch_answered(zk_batch *b, size_t window)
{
    pthread_mutex_lock(&b->mu);
    /* the asker wants none left, or room in the window */
    if (--b->pending == 0 || (window && b->pending == window))
        pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Every request is out: wait for the answers.  The client answers every
 * request it took, on close or loss too. */
void zk_batch_wait(zk_batch *b)
{
    pthread_mutex_lock(&b->mu);
    b->pending--;
    while (b->pending)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
}

/* ---------------------------------------------------------------- reads */

static void fetch_done(zk_fetch *f, int rc)
{
    f->rc = rc;
    zk_batch_answered(f->batch, FETCH_WINDOW);
}

/* Runs on the client's completion thread. */
static void on_data(int rc, const char *value, int len, const struct Stat *stat, const void *arg)
{
    zk_fetch *f = (zk_fetch *)arg;

    if (rc == ZOK) {
        f->stat = *stat;
        if (f->arena && value && len > 0 && zk_fetch_summarise(f, value, len)) {
            /* summarised: the data itself is not kept */
        } else if (value && len > 0) {
            if ((f->data = malloc((size_t)len + 1))) {
                memcpy(f->data, value, (size_t)len);
                f->data[len] = '\0';
                f->len = len;
            } else {
                rc = ZSYSTEMERROR;
            }
        }
    }
    fetch_done(f, rc);
}

/* Ask for every fetch still unanswered at once, then wait for all answers:
 * one round trip for the lot instead of one per member. */
static void fetch_round(zk_sg *z, zk_fetch *fs, size_t n)
{
    zk_batch b;

    zk_batch_init(&b);
    for (size_t i = 0; i < n; i++) {
        zk_fetch *f = &fs[i];
        int rc;

        if (!retryable(f->rc))
            continue;
        f->batch = &b;
        zk_batch_ask(&b, FETCH_WINDOW);
        if ((rc = zoo_aget(z->zc.zh, f->path, 0, on_data, f)) != ZOK)
            fetch_done(f, rc);
    }
    zk_batch_wait(&b);
}

/* Read every path; a read lost with the connection is asked again once the
 * session is back.  -1 only when no session could be had at all; reads
 * left unanswered keep a connection-loss code. */
int zk_fetch_all(zk_sg *z, zk_fetch *fs, size_t n, drover_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!fs[i].from_sign)
            fs[i].rc = ZNOTHING;
    for (int round = 0; round < 4; round++) {
        bool again = false;

        if (zk_ensure_session(z, err) < 0)
            return round ? 0 : -1;
        fetch_round(z, fs, n);
        for (size_t i = 0; i < n; i++) {
            if (retryable(fs[i].rc))
                again = true;
            if (dv_zkc_session_gone(fs[i].rc))
                dv_zkc_mark_expired(&z->zc);
            else if (dv_zkc_conn_lost(fs[i].rc))
                dv_zkc_mark_down(&z->zc);
        }
        if (!again)
            break;
    }
    return 0;
}

