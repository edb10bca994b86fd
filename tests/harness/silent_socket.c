/* silent_socket.c - a libvirt endpoint that never answers, for tests.
 *
 *   silent_socket PATH
 *
 * Listens on the unix socket PATH and then does nothing at all: clients
 * connect (the kernel queues them) and wait forever for a first byte, as they
 * would on a hung libvirtd.  Prints "ready" once listening; exits on SIGTERM. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    int fd;

    if (argc != 2 || strlen(argv[1]) >= sizeof a.sun_path) {
        fprintf(stderr, "usage: silent_socket PATH (shorter than %zu bytes)\n", sizeof a.sun_path);
        return 2;
    }
    memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        listen(fd, 64) < 0) {
        perror(argv[1]);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}
