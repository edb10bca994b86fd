/* jobstats.h - how the migrator reads libvirt's job statistics: the one
 * mapping of virDomainGetJobStats' typed parameters onto dv_mig_stats, for
 * the monitor (through vops.c) and for bench/convergence, which must
 * measure what the migrator sees. */
#ifndef DV_MIG_JOBSTATS_H
#define DV_MIG_JOBSTATS_H

#include <libvirt/libvirt.h>

#include "migrator/policy.h"

/* The data and memory figures of the n parameters p into s (a figure
 * libvirt did not give is 0); the other fields of s are left as they are. */
void dv_mig_stats_from_params(virTypedParameterPtr p, int n, dv_mig_stats *s);

#endif
