/* listen.h - the address a daemon serves on ("ADDRESS:PORT"), parsed without
 * any I/O so the configuration can check it and a server can bind it. */
#ifndef DV_LISTEN_H
#define DV_LISTEN_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "core/error.h"

typedef struct dv_listen_addr {
    struct sockaddr_storage sa;    /* sockaddr_in or sockaddr_in6, port set */
    socklen_t len;
    int family;                    /* AF_INET or AF_INET6 */
    int port;
} dv_listen_addr;

/* "192.0.2.1:9464", "0.0.0.0:9464" or "[::1]:9464": a numeric address (no
 * name is looked up) and a port 1..65535, both required.  out may be NULL
 * (only check).  On a bad address: -1 and DROVER_ERR_CONFIG saying what is
 * wrong. */
int dv_listen_parse(const char *text, dv_listen_addr *out, drover_error *err);

#endif
