/* A small program using libspawnfd, as crates/capi/README.md shows it:
 * runs `echo hello` with its stdout on a pipe, reads the line, waits.
 *
 *   cc consumer.c $(pkg-config --cflags --libs spawnfd)
 */
#define _GNU_SOURCE
#include <spawnfd.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    spawnfd_cmd *cmd;
    spawnfd_error err;
    int out[2], pidfd, status, r;
    pid_t pid;
    char line[64] = "";

    if ((r = spawnfd_cmd_new(&cmd, "echo")) != 0)
        return fprintf(stderr, "spawnfd_cmd_new: %s\n", strerror(r)), 1;
    spawnfd_cmd_arg(cmd, "hello");
    if (pipe2(out, O_CLOEXEC) != 0)
        return perror("pipe2"), 1;
    spawnfd_cmd_stdout(cmd, out[1]); /* borrowed: closed by us below */
    r = spawnfd_spawn(cmd, &pid, &pidfd, &err);
    close(out[1]);
    spawnfd_cmd_free(cmd);
    if (r != 0) {
        char msg[512];
        spawnfd_error_format(&err, msg, sizeof msg);
        return fprintf(stderr, "%s\n", msg), 1;
    }
    ssize_t n = read(out[0], line, sizeof line - 1);
    close(out[0]);
    if ((r = spawnfd_wait(pidfd, &status, NULL)) != 0)
        return fprintf(stderr, "spawnfd_wait: %s\n", strerror(r)), 1;
    close(pidfd);
    line[n > 0 ? n : 0] = 0;
    printf("child %d said %s", (int)pid, line);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(line, "hello\n") == 0 ? 0 : 1;
}
