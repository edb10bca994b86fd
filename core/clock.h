/* clock.h - wall and monotonic time in milliseconds, and an injectable clock
 * so liveness arithmetic can be tested at exact boundaries. */
#ifndef DV_CLOCK_H
#define DV_CLOCK_H

#include <stdint.h>

int64_t dv_wall_ms(void);        /* CLOCK_REALTIME, ms since the epoch */
int64_t dv_mono_ms(void);        /* CLOCK_MONOTONIC, ms */
void dv_sleep_ms(int64_t ms);

struct timespec;
/* *ts = CLOCK_MONOTONIC now + ms: the absolute deadline for a
 * pthread_cond_timedwait on a condition variable whose clock is
 * CLOCK_MONOTONIC (dv_cond_init_mono), the one way drover waits with a
 * deadline. */
void dv_deadline_ms(struct timespec *ts, int64_t ms);

/* pthread_cond_init with CLOCK_MONOTONIC (a wall-clock step never shortens
 * or stretches a wait).  Returns pthread_cond_init's result. */
#include <pthread.h>
int dv_cond_init_mono(pthread_cond_t *cv);

/* The clock a driver judges liveness by.  now_ms NULL = dv_wall_ms(). */
typedef struct dv_clock {
    int64_t (*now_ms)(void *arg);
    void *arg;
} dv_clock;

static inline int64_t dv_clock_now(const dv_clock *c)
{
    return (c && c->now_ms) ? c->now_ms(c->arg) : dv_wall_ms();
}

#endif
