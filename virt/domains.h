/* domains.h - the domain work of evacuations (virt/domains.c): what a host
 * runs, the persistent definitions an agent keeps on the shared storage, a
 * guest defined and started elsewhere (a rebuild), and a stale copy
 * destroyed and undefined on a fenced host that came back.
 *
 * Like the questions of virt.h, each takes a connected v: call it inside a
 * dv_virt_call fn (or on a handle from dv_virt_open).  Each returns 0, or
 * -1 with *err naming the URI and the call. */
#ifndef DV_VIRT_DOMAINS_H
#define DV_VIRT_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>

#include "virt/virt.h"

#define DV_UUID_LEN 36

/* One domain of a host. */
typedef struct dv_virt_dom {
    char uuid[DV_UUID_LEN + 1];    /* lower case */
    char name[256];
    int state;                     /* virDomainState */
    bool persistent;
    char *xml;                     /* dv_virt_list_domains with_xml: inactive, migratable */
} dv_virt_dom;

/* Every domain of v (virConnectListAllDomains), sorted by UUID.  with_xml:
 * the persistent ones also get their inactive, migratable definition
 * (VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_MIGRATABLE: what another host can
 * define).  A domain that vanishes while being read is left out.  Free with
 * dv_virt_doms_free. */
int dv_virt_list_domains(dv_virt *v, bool with_xml, dv_virt_dom **out, size_t *n,
                         drover_error *err);
void dv_virt_doms_free(dv_virt_dom *d, size_t n);

/* Whether a domain state counts as running a guest (running, paused,
 * blocked, in shutdown, suspended by the guest: a qemu process exists). */
bool dv_virt_state_active(int state);

/* Define xml on v and start it.  A domain with uuid that runs there already
 * is left as it is (*already = true); one defined but shut off is started.
 * xml's UUID must be uuid (DROVER_ERR_INVALID otherwise). */
int dv_virt_define_start(dv_virt *v, const char *uuid, const char *xml, bool *already,
                         drover_error *err);

/* Destroy (when it runs) and undefine the domain with uuid.  *found =
 * whether v had one; none is no error. */
int dv_virt_destroy_undefine(dv_virt *v, const char *uuid, bool *found, drover_error *err);

/* The UUID in a domain XML (<uuid>), lower case, into buf (37 bytes). */
bool dv_virt_xml_uuid(const char *xml, char *buf, size_t len);

#endif
