/* listen.c - parsing a listen address.  The syntax is dv_config_hostport's
 * (so "[v6]:port" works as everywhere in drover.conf); on top of it the host
 * must be a numeric address, because a daemon that listens on a name would
 * depend on a resolver at start and could bind something unexpected. */
#include "core/listen.h"
#include "core/config.h"

#include <arpa/inet.h>
#include <string.h>

int dv_listen_parse(const char *text, dv_listen_addr *out, drover_error *err)
{
    char host[256];
    int port = 0;
    dv_listen_addr a;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a.sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a.sa;

    memset(&a, 0, sizeof a);
    if (!text || !*text)
        return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG, "the address is empty");
    if (dv_config_hostport(text, 0, host, sizeof host, &port, err) < 0)
        return -1;
    if (text[0] == '[') {
        if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                          "\"%s\" is not an IPv6 address", host);
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        a.len = sizeof *v6;
        a.family = AF_INET6;
    } else {
        if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
            return dv_err(err, DROVER_ERR_CONFIG, DROVER_FROM_CONFIG,
                          "\"%s\" is not a numeric IPv4 address (names are not looked up; "
                          "write an IPv6 address as [address]:port)", host);
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a.len = sizeof *v4;
        a.family = AF_INET;
    }
    a.port = port;
    if (out)
        *out = a;
    return 0;
}
