/* One spawn, one wait, and the two errors that need no child (a bad fd
 * at PREPARE) and one that does (exec of a missing program): the
 * smallest use of the library, for tests/valgrind.rs to run under
 * valgrind before the full C tests. Prints "spawned" when `true` ran and
 * exited 0, otherwise "refused: " and the formatted error; exits 0 in
 * both cases (the runner judges), 1 only when the library broke its own
 * conventions (errno changed, a wrong errno or step). Fds left open are
 * judged by valgrind's --track-fds. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spawnfd.h>

#define BAD(...)                                                               \
    do {                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        return 1;                                                              \
    } while (0)

int main(void)
{
    spawnfd_cmd *cmd;
    spawnfd_error err;
    char msg[512];
    pid_t pid;
    int pidfd = -1, status = -1, r;

    /* Line by line: under valgrind a forked copy of this process that
     * ends before exec flushes the stdio buffers it copied (valgrind
     * runs __libc_freeres at its exit), printing them twice. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* A refusal before any process exists: an fd that is not open. */
    if (spawnfd_cmd_new(&cmd, "true") != 0)
        BAD("spawnfd_cmd_new");
    spawnfd_cmd_fd(cmd, 5, 999);
    errno = 1234;
    r = spawnfd_spawn(cmd, &pid, &pidfd, &err);
    if (r != EBADF || err.step != SPAWNFD_STEP_PREPARE || errno != 1234)
        BAD("a closed fd: %d (%s), step %d, errno %d", r, strerror(r),
            (int)err.step, errno);
    spawnfd_cmd_free(cmd);

    /* One spawn and wait. */
    if (spawnfd_cmd_new(&cmd, "true") != 0)
        BAD("spawnfd_cmd_new");
    r = spawnfd_spawn(cmd, &pid, &pidfd, &err);
    spawnfd_cmd_free(cmd);
    if (r != 0) {
        spawnfd_error_format(&err, msg, sizeof msg);
        printf("refused: %s (%s)\n", msg, strerror(r));
    } else {
        r = spawnfd_wait(pidfd, &status, NULL);
        close(pidfd);
        if (r != 0)
            BAD("spawnfd_wait: %s", strerror(r));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            BAD("true: status %#x", status);
        printf("spawned\n");
    }

    /* A program that does not exist: ENOENT at exec, where a child could
     * be created and report. */
    if (spawnfd_cmd_new(&cmd, "/nonexistent/program") != 0)
        BAD("spawnfd_cmd_new");
    r = spawnfd_spawn(cmd, &pid, &pidfd, &err);
    spawnfd_cmd_free(cmd);
    spawnfd_error_format(&err, msg, sizeof msg);
    if (r == 0) {
        close(pidfd);
        BAD("/nonexistent/program spawned");
    }
    printf("missing program: %s (%s)\n", msg, strerror(r));

    return 0;
}
