/* spawnfd_cmd_hook and spawnfd_cmd_use_fork, from C: a hook's effect seen
 * by the program it runs before, hooks in order, a failing hook's step,
 * errno and index, a fork-path hook that calls what a vfork child must
 * not (malloc, getpid), pthread_atfork handlers that run on the fork path
 * only, and spawnfd_cmd_keep_inherited_fds. */
#include "check.h"

#include <sys/syscall.h>

/* Writes the byte *arg to the pipe behind `order_fd`: which hooks ran,
 * in which order. */
static int order_fd = -1;

static int hook_byte(void *arg)
{
    return write(order_fd, arg, 1) == 1 ? 0 : errno;
}

/* Duplicates fd 1 to fd 9 without FD_CLOEXEC: the program must see it. */
static int hook_dup_to_9(void *arg)
{
    (void)arg;
    return dup2(1, 9) == 9 ? 0 : errno;
}

/* Checks that the step before the hooks has run: fd 5 is placed. */
static int hook_fd5_placed(void *arg)
{
    (void)arg;
    return fcntl(5, F_GETFD) >= 0 ? 0 : EBADF;
}

static int hook_fail(void *arg)
{
    return *(int *)arg;
}

static int hook_negative(void *arg)
{
    (void)arg;
    return -1;
}

static char *drain(int fd)
{
    static char buf[256];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    return buf;
}

static void test_hook_seen_by_the_child(int fork_path)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    order_fd = p[1];
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_use_fork(cmd, fork_path));
    OK(spawnfd_cmd_fd(cmd, 5, 0));
    OK(spawnfd_cmd_hook(cmd, hook_byte, "a"));
    OK(spawnfd_cmd_hook(cmd, hook_fd5_placed, NULL));
    OK(spawnfd_cmd_hook(cmd, hook_dup_to_9, NULL));
    OK(spawnfd_cmd_hook(cmd, hook_byte, "b"));
    int wstatus = -1;
    char *out = run_capture(cmd, &wstatus);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    /* The hook's fd 9 reached the program, not close-on-exec. */
    CHECK(line_of(out, "fd 9 cloexec=0 ") != NULL);
    close(p[1]);
    CHECK_STR(drain(p[0]), "ab");
    close(p[0]);
    free(out);
    spawnfd_cmd_free(cmd);
    printf("ok hook seen by the child (%s path)\n", fork_path ? "fork" : "vfork");
}

static void test_failing_hook(int fork_path)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    order_fd = p[1];
    int eperm = EPERM;
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_use_fork(cmd, fork_path));
    OK(spawnfd_cmd_hook(cmd, hook_byte, "a"));
    OK(spawnfd_cmd_hook(cmd, hook_fail, &eperm));
    OK(spawnfd_cmd_hook(cmd, hook_byte, "c"));
    spawnfd_error err;
    pid_t pid = 0;
    int pidfd = -1, r;
    int before = count_fds();
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    CHECK_INT(r, EPERM);
    CHECK_INT(err.error, EPERM);
    CHECK_INT(err.step, SPAWNFD_STEP_HOOK);
    CHECK_STR(spawnfd_step_name(err.step), "pre_exec hook");
    CHECK(err.flags & SPAWNFD_ERROR_HAS_ID);
    CHECK_INT(err.id, 1);
    CHECK_INT(pidfd, -1);
    CHECK(strstr(err.message, "hook") != NULL);
    close(p[1]);
    /* The third hook did not run. */
    CHECK_STR(drain(p[0]), "a");
    close(p[0]);
    CHECK_INT(children_gone_within(5000), 0);
    CHECK_INT(fds_within(5000, before - 2), before - 2);

    /* A negative return is EINVAL. */
    spawnfd_cmd_free(cmd);
    cmd = report_cmd();
    OK(spawnfd_cmd_use_fork(cmd, fork_path));
    OK(spawnfd_cmd_hook(cmd, hook_negative, NULL));
    CALL(r, spawnfd_spawn(cmd, NULL, NULL, &err));
    CHECK_INT(r, EINVAL);
    CHECK_INT(err.step, SPAWNFD_STEP_HOOK);
    CHECK_INT(err.id, 0);
    spawnfd_cmd_free(cmd);
    CHECK_INT(spawnfd_cmd_hook(NULL, hook_negative, NULL), EINVAL);
    cmd = report_cmd();
    CHECK_INT(spawnfd_cmd_hook(cmd, NULL, NULL), EINVAL);
    spawnfd_cmd_free(cmd);
    printf("ok failing hook: step, errno, index (%s path)\n", fork_path ? "fork" : "vfork");
}

/* A hook that is killed, as a signal somebody sent during the set-up
 * would kill the child (SIGKILL: the others are blocked until the mask
 * step). */
static int hook_sigkill(void *arg)
{
    (void)arg;
    syscall(SYS_kill, syscall(SYS_getpid), SIGKILL);
    return 0;
}

/* Such a child was spawned, and its wait through the pidfd reports how
 * it ended. */
static void test_killed_during_set_up(int fork_path)
{
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_use_fork(cmd, fork_path));
    OK(spawnfd_cmd_hook(cmd, hook_sigkill, NULL));
    spawnfd_error err;
    pid_t pid = 0;
    int pidfd = -1, status = 0;
    OK(spawnfd_spawn(cmd, &pid, &pidfd, &err));
    CHECK(pidfd > 2);
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(pidfd);
    spawnfd_cmd_free(cmd);
    CHECK_INT(children_gone_within(5000), 0);
    printf("ok killed during set-up: spawned, its wait says SIGKILL (%s path)\n",
           fork_path ? "fork" : "vfork");
}

/* ---- the fork path: code a vfork child must not run ---- */

static int atfork_prepared, atfork_parent;
static int atfork_fd = -1; /* the child handler writes 'F' here */

static void on_prepare(void) { atfork_prepared++; }
static void on_parent(void) { atfork_parent++; }
static void on_child(void)
{
    if (atfork_fd >= 0) {
        ssize_t n = write(atfork_fd, "F", 1);
        (void)n;
    }
}

/* malloc, getpid and stdio-free formatting: sends "<pid>" to the pipe. */
static int hook_malloc_getpid(void *arg)
{
    int fd = *(int *)arg;
    char *buf = malloc(64);
    if (!buf)
        return ENOMEM;
    int n = snprintf(buf, 64, "%d", (int)getpid());
    ssize_t w = write(fd, buf, (size_t)n);
    free(buf);
    return w == n ? 0 : EIO;
}

static void test_fork_path_runs_unsafe_code(void)
{
    int p[2], a[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    CHECK(pipe2(a, O_CLOEXEC) == 0);
    atfork_fd = a[1];
    int prepared = atfork_prepared, parented = atfork_parent;

    spawnfd_cmd *cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, self_exe));
    OK(spawnfd_cmd_args(cmd, (const char *[]){"exit", "0", NULL}));
    OK(spawnfd_cmd_use_fork(cmd, 1));
    OK(spawnfd_cmd_hook(cmd, hook_malloc_getpid, &p[1]));
    pid_t pid = 0;
    int pidfd = -1, wstatus = -1;
    spawnfd_error err;
    int r;
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    if (r != 0)
        FAIL("spawn: %s", err.message);
    OK(spawnfd_wait(pidfd, &wstatus, NULL));
    close(pidfd);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
    close(p[1]);
    /* getpid in the hook is the child's own pid. */
    char want[32];
    snprintf(want, sizeof want, "%d", (int)pid);
    CHECK_STR(drain(p[0]), want);
    close(p[0]);
    /* The atfork handlers ran: prepare and parent here, child there. */
    CHECK_INT(atfork_prepared, prepared + 1);
    CHECK_INT(atfork_parent, parented + 1);
    atfork_fd = -1;
    close(a[1]);
    CHECK_STR(drain(a[0]), "F");
    close(a[0]);

    /* The default path runs no atfork handler (nothing is forked). */
    CHECK(pipe2(a, O_CLOEXEC) == 0);
    atfork_fd = a[1];
    prepared = atfork_prepared;
    OK(spawnfd_cmd_use_fork(cmd, 0));
    spawnfd_cmd_free(cmd);
    OK(spawnfd_cmd_new(&cmd, self_exe));
    OK(spawnfd_cmd_args(cmd, (const char *[]){"exit", "0", NULL}));
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    CHECK_INT(r, 0);
    OK(spawnfd_wait(pidfd, &wstatus, NULL));
    close(pidfd);
    CHECK_INT(atfork_prepared, prepared);
    atfork_fd = -1;
    close(a[1]);
    CHECK_STR(drain(a[0]), "");
    close(a[0]);
    spawnfd_cmd_free(cmd);
    printf("ok fork path: malloc and getpid in a hook, atfork handlers (fork path only)\n");
}

static void test_keep_inherited_fds(void)
{
    int p[2];
    CHECK(pipe(p) == 0); /* not close-on-exec */
    CHECK(fcntl(p[0], F_SETFD, FD_CLOEXEC) == 0);
    for (int keep = 0; keep <= 1; keep++) {
        spawnfd_cmd *cmd = report_cmd();
        OK(spawnfd_cmd_keep_inherited_fds(cmd, keep));
        int wstatus = -1;
        char *out = run_capture(cmd, &wstatus);
        CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "fd %d ", p[1]);
        CHECK((line_of(out, prefix) != NULL) == keep);
        /* A close-on-exec fd is closed by exec either way. */
        snprintf(prefix, sizeof prefix, "fd %d ", p[0]);
        CHECK(line_of(out, prefix) == NULL);
        free(out);
        spawnfd_cmd_free(cmd);
    }
    close(p[0]);
    close(p[1]);
    printf("ok keep_inherited_fds\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    CHECK(pthread_atfork(on_prepare, on_parent, on_child) == 0);
    for (int fork_path = 0; fork_path <= 1; fork_path++) {
        test_hook_seen_by_the_child(fork_path);
        test_failing_hook(fork_path);
        test_killed_during_set_up(fork_path);
    }
    test_fork_path_runs_unsafe_code();
    test_keep_inherited_fds();
    return 0;
}
