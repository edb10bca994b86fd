/* questions.c - what the live checks (and the migrator) ask a host's
 * libvirt: the guest it runs, its hypervisor, whether it can provide a CPU,
 * whether a domain is defined there.  Each takes a connected handle: run
 * them inside a dv_virt_call fn so a hung daemon costs a deadline, not a
 * hang. */
#include "virt/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int need_conn(dv_virt *v, drover_error *err)
{
    if (!v || !v->conn)
        return dv_err(err, DROVER_ERR_INVALID, DROVER_FROM_LIBVIRT, "no libvirt connection");
    return 0;
}

int dv_virt_hypervisor(dv_virt *v, char *type, size_t type_len, unsigned long long *version,
                       drover_error *err)
{
    unsigned long ver = 0;
    const char *t;

    if (need_conn(v, err) < 0)
        return -1;
    if (!(t = virConnectGetType(v->conn)))
        return dv_virt_error(err, v->uri, "virConnectGetType");
    if (virConnectGetVersion(v->conn, &ver) < 0)
        return dv_virt_error(err, v->uri, "virConnectGetVersion");
    snprintf(type, type_len, "%s", t);
    *version = ver;
    return 0;
}

void dv_virt_guest_clear(dv_virt_guest *g)
{
    free(g->cpu_xml);
    memset(g, 0, sizeof *g);
}

int dv_virt_guest_read(dv_virt *v, const char *uuid, dv_virt_guest *g, drover_error *err)
{
    virDomainPtr dom;
    char *xml = NULL;
    int reason = 0, rc = -1;

    memset(g, 0, sizeof *g);
    if (need_conn(v, err) < 0)
        return -1;
    if (!(dom = virDomainLookupByUUIDString(v->conn, uuid))) {
        if (dv_virt_last_error_is(VIR_ERR_NO_DOMAIN)) {
            dv_err(err, DROVER_ERR_NOT_FOUND, DROVER_FROM_LIBVIRT,
                   "libvirt at %s has no domain with UUID %s", v->uri, uuid);
            virResetLastError();
            return -1;
        }
        return dv_virt_error(err, v->uri, "virDomainLookupByUUIDString");
    }
    if (virDomainGetState(dom, &g->state, &reason, 0) < 0) {
        dv_virt_error(err, v->uri, "virDomainGetState");
    } else if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        dv_virt_error(err, v->uri, "virDomainGetXMLDesc");
    } else if (!dv_virt_domain_type(xml, g->virttype, sizeof g->virttype)) {
        dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT,
               "the domain XML of %s on %s names no type", uuid, v->uri);
    } else {
        g->cpu_xml = dv_virt_domain_cpu(xml);
        rc = 0;
    }
    free(xml);
    virDomainFree(dom);
    return rc;
}

int dv_virt_has_domain(dv_virt *v, const char *uuid, bool *defined, drover_error *err)
{
    virDomainPtr dom;

    if (need_conn(v, err) < 0)
        return -1;
    if ((dom = virDomainLookupByUUIDString(v->conn, uuid))) {
        virDomainFree(dom);
        *defined = true;
        return 0;
    }
    if (!dv_virt_last_error_is(VIR_ERR_NO_DOMAIN))
        return dv_virt_error(err, v->uri, "virDomainLookupByUUIDString");
    virResetLastError();
    *defined = false;
    return 0;
}

int dv_virt_compare_cpu(dv_virt *v, const char *arch, const char *virttype, const char *cpu_xml,
                        drover_error *err)
{
    int rc;

    if (need_conn(v, err) < 0)
        return -1;
    rc = virConnectCompareHypervisorCPU(v->conn, NULL, arch && *arch ? arch : NULL, NULL,
                                        virttype, cpu_xml,
                                        VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE);
    if (rc == VIR_CPU_COMPARE_IDENTICAL || rc == VIR_CPU_COMPARE_SUPERSET)
        return 0;
    if (rc == VIR_CPU_COMPARE_INCOMPATIBLE || dv_virt_last_error_is(VIR_ERR_CPU_INCOMPATIBLE)) {
        dv_err(err, DROVER_ERR_LIBVIRT, DROVER_FROM_LIBVIRT, "%s", dv_virt_last_message());
        virResetLastError();
        return 1;
    }
    return dv_virt_error(err, v->uri, "virConnectCompareHypervisorCPU");
}
