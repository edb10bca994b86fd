/* clock.h - wall and monotonic time in milliseconds, and an injectable clock
 * so liveness arithmetic can be tested at exact boundaries. */
#ifndef DV_CLOCK_H
#define DV_CLOCK_H

#include <stdint.h>

int64_t dv_wall_ms(void);        /* CLOCK_REALTIME, ms since the epoch */
int64_t dv_mono_ms(void);        /* CLOCK_MONOTONIC, ms */
void dv_sleep_ms(int64_t ms);

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
