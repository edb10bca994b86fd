/* fuzz_listen.c - listen addresses (agent.metrics_listen,
 * controller.metrics_listen) through dv_listen_parse.  A rejected text gives
 * DROVER_ERR_CONFIG with a message; an accepted one is an IPv4 or IPv6
 * socket address with the port it says, and writing it back out
 * ("a.b.c.d:port" or "[v6]:port") parses to the same address. */
#include "core/listen.h"
#include "tests/fuzz/fuzz.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_accepted(const dv_listen_addr *a)
{
    char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
    dv_listen_addr again;
    drover_error e = { 0 };
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->sa;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->sa;

    if (a->port < 1 || a->port > 65535)
        abort();
    if (a->family == AF_INET) {
        if (a->len != sizeof *v4 || v4->sin_family != AF_INET || ntohs(v4->sin_port) != a->port ||
            !inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host))
            abort();
        snprintf(text, sizeof text, "%s:%d", host, a->port);
    } else if (a->family == AF_INET6) {
        if (a->len != sizeof *v6 || v6->sin6_family != AF_INET6 ||
            ntohs(v6->sin6_port) != a->port || !inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host))
            abort();
        snprintf(text, sizeof text, "[%s]:%d", host, a->port);
    } else {
        abort();
    }
    if (dv_listen_parse(text, &again, &e) != 0 || again.len != a->len ||
        memcmp(&again.sa, &a->sa, a->len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    dv_listen_addr a;
    drover_error e = { 0 };

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';             /* a NUL inside ends the text, as in a C string */
    if (dv_listen_parse(text, &a, &e) == 0)
        check_accepted(&a);
    else if (e.code != DROVER_ERR_CONFIG || !e.message[0])
        abort();
    free(text);
    return 0;
}
