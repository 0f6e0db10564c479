/* Waiting by pidfd: a poll loop over many children (as QProcess-style
 * event loops do), timeouts, rusage, kill, the pid of a pidfd, handing a
 * child to the library's reaper; errno never changed. */
#include "check.h"

static int spawn_exit(int code, pid_t *pid)
{
    spawnfd_cmd *cmd;
    char arg[16];
    int pidfd;
    snprintf(arg, sizeof arg, "%d", code);
    OK(spawnfd_cmd_new(&cmd, self_exe));
    OK(spawnfd_cmd_arg(cmd, "exit"));
    OK(spawnfd_cmd_arg(cmd, arg));
    OK(spawnfd_spawn(cmd, pid, &pidfd, NULL));
    spawnfd_cmd_free(cmd);
    return pidfd;
}

static int spawn_sleep(const char *seconds, pid_t *pid)
{
    spawnfd_cmd *cmd;
    int pidfd;
    OK(spawnfd_cmd_new(&cmd, "sleep"));
    OK(spawnfd_cmd_arg(cmd, seconds));
    OK(spawnfd_spawn(cmd, pid, &pidfd, NULL));
    spawnfd_cmd_free(cmd);
    return pidfd;
}

#define MANY 40

static void test_poll_loop(void)
{
    struct pollfd fds[MANY];
    int code_of[MANY];
    int left = MANY;
    for (int i = 0; i < MANY; i++) {
        pid_t pid;
        fds[i].fd = spawn_exit(i % 7, &pid);
        fds[i].events = POLLIN;
        code_of[i] = i % 7;
    }
    while (left > 0) {
        int n = poll(fds, MANY, 60000);
        CHECK(n > 0);
        for (int i = 0; i < MANY; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & POLLIN))
                continue;
            int status = -1, r;
            struct rusage ru;
            memset(&ru, 0xff, sizeof ru);
            CALL(r, spawnfd_try_wait(fds[i].fd, &status, &ru));
            CHECK_INT(r, 0);
            CHECK(WIFEXITED(status));
            CHECK_INT(WEXITSTATUS(status), code_of[i]);
            CHECK(ru.ru_maxrss > 0);
            CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
            /* Reaped: a second wait is ECHILD. */
            CALL(r, spawnfd_try_wait(fds[i].fd, &status, NULL));
            CHECK_INT(r, ECHILD);
            close(fds[i].fd);
            fds[i].fd = -1;
            left--;
        }
    }
    printf("ok poll loop over %d pidfds\n", MANY);
}

static void test_timeouts_and_kill(void)
{
    pid_t pid, got;
    int status, r;
    int pidfd = spawn_sleep("30", &pid);
    OK(spawnfd_pidfd_getpid(pidfd, &got));
    CHECK_INT(got, pid);
    CALL(r, spawnfd_try_wait(pidfd, &status, NULL));
    CHECK_INT(r, EAGAIN);
    CALL(r, spawnfd_wait_timeout(pidfd, 0, &status, NULL));
    CHECK_INT(r, ETIMEDOUT);
    CALL(r, spawnfd_wait_timeout(pidfd, 50, &status, NULL));
    CHECK_INT(r, ETIMEDOUT);
    /* Still there after the timeouts: nothing was reaped. */
    OK(spawnfd_kill(pidfd, SIGTERM));
    CALL(r, spawnfd_wait_timeout(pidfd, 60000, &status, NULL));
    CHECK_INT(r, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    /* Reaped: no signal reaches it (nor whoever gets its pid next). */
    CALL(r, spawnfd_kill(pidfd, SIGKILL));
    CHECK_INT(r, ESRCH);
    CALL(r, spawnfd_pidfd_getpid(pidfd, &got));
    CHECK_INT(r, ESRCH);
    CALL(r, spawnfd_wait(pidfd, &status, NULL));
    CHECK_INT(r, ECHILD);
    CALL(r, spawnfd_kill(pidfd, 0));
    CHECK_INT(r, EINVAL);
    close(pidfd);

    /* A blocking wait with rusage. */
    pidfd = spawn_exit(9, &pid);
    struct rusage ru;
    OK(spawnfd_wait(pidfd, &status, &ru));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 9);
    CHECK(ru.ru_maxrss > 0);
    close(pidfd);

    /* A group. */
    spawnfd_cmd *cmd;
    OK(spawnfd_cmd_new(&cmd, "sh"));
    OK(spawnfd_cmd_arg(cmd, "-c"));
    OK(spawnfd_cmd_arg(cmd, "sleep 30 & wait"));
    OK(spawnfd_cmd_process_group(cmd, 0));
    OK(spawnfd_spawn(cmd, &pid, &pidfd, NULL));
    spawnfd_cmd_free(cmd);
    OK(spawnfd_kill_group(pidfd, SIGTERM));
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    close(pidfd);

    /* Not a pidfd. */
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CALL(r, spawnfd_wait(null, &status, NULL));
    CHECK_INT(r, EBADF);
    CALL(r, spawnfd_kill(null, SIGTERM));
    CHECK_INT(r, EBADF);
    CALL(r, spawnfd_detach(null));
    CHECK_INT(r, EBADF);
    CHECK(fcntl(null, F_GETFD) >= 0);
    close(null);
    CALL(r, spawnfd_wait(-1, &status, NULL));
    CHECK_INT(r, EBADF);
    printf("ok timeouts, kill, pidfd_getpid\n");
}

static void test_detach(void)
{
    int fds = count_fds();
    /* Exited before it is detached: reaped at once. */
    pid_t pid;
    int pidfd = spawn_exit(0, &pid);
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    CHECK(poll(&p, 1, 60000) == 1);
    OK(spawnfd_detach(pidfd));
    CHECK(fcntl(pidfd, F_GETFD) < 0); /* taken and closed */
    /* Running when detached: the reaper takes it when it exits. */
    pidfd = spawn_sleep("0.2", &pid);
    OK(spawnfd_detach(pidfd));
    /* And a spawn with no pidfd asked for. */
    spawnfd_cmd *cmd;
    OK(spawnfd_cmd_new(&cmd, "sleep"));
    OK(spawnfd_cmd_arg(cmd, "0.2"));
    OK(spawnfd_spawn(cmd, &pid, NULL, NULL));
    spawnfd_cmd_free(cmd);
    CHECK_INT(children_gone_within(30000), 0);
    /* The reaper keeps one epoll fd for the process, nothing per child. */
    CHECK(fds_at_most_within(5000, fds + 1) <= fds + 1);
    printf("ok detach: no zombie left\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    test_poll_loop();
    test_timeouts_and_kill();
    test_detach();
    return 0;
}
