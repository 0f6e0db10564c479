/* Errors: a failed step named with its errno and what it worked on; bad
 * input refused with EINVAL before any process or fd exists; the error
 * formatted as snprintf does; errno never changed. */
#include "check.h"

/* Spawns `cmd`, which must fail with `want`; the error. Checks that the
 * failure left no fd open and no child behind. */
static spawnfd_error fails(spawnfd_cmd *cmd, int want)
{
    spawnfd_error err;
    int fds = count_fds();
    int children = count_children();
    int pidfd = -77;
    pid_t pid = -77;
    int r;
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    if (r != want)
        FAIL("spawn returned %d (%s), expected %d: %s", r, strerror(r), want, err.message);
    CHECK_INT(err.error, want);
    CHECK_INT(pidfd, -77);
    CHECK_INT(pid, -77);
    /* Not more (fewer where, on kernels without pidfds, the watcher
     * thread of an earlier child has closed its fds meanwhile). */
    CHECK(fds_at_most_within(5000, fds) <= fds);
    CHECK(count_children() <= children);
    CHECK(err.message[0] != 0);
    return err;
}

static void test_step_errors(void)
{
    spawnfd_cmd *cmd;
    OK(spawnfd_cmd_new(&cmd, "/nonexistent/program"));
    spawnfd_error err = fails(cmd, ENOENT);
    CHECK_INT(err.step, SPAWNFD_STEP_EXEC);
    CHECK_STR(spawnfd_step_name(err.step), "exec");
    CHECK_STR(err.program, "/nonexistent/program");
    CHECK_STR(err.path, "/nonexistent/program");
    spawnfd_cmd_free(cmd);

    /* Searched in the child's PATH (a PATH of ours could hold a
     * directory this user may not search: EACCES). */
    OK(spawnfd_cmd_new(&cmd, "spawnfd-no-such-program"));
    OK(spawnfd_cmd_env(cmd, "PATH", "/nonexistent-a:/usr/bin:/bin"));
    err = fails(cmd, ENOENT);
    CHECK_INT(err.step, SPAWNFD_STEP_EXEC);
    CHECK(strstr(err.message, "PATH") != NULL);
    spawnfd_cmd_free(cmd);

    /* A missing working directory: chdir, with the path. */
    cmd = report_cmd();
    OK(spawnfd_cmd_cwd(cmd, "/nonexistent-dir"));
    err = fails(cmd, ENOENT);
    CHECK_INT(err.step, SPAWNFD_STEP_CHDIR);
    CHECK_STR(err.path, "/nonexistent-dir");
    CHECK(strstr(err.message, "chdir \"/nonexistent-dir\"") != NULL);
    spawnfd_cmd_free(cmd);

    /* A caller's fd that is not open: EBADF before any process, naming
     * the fd. */
    int closed = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(closed);
    cmd = report_cmd();
    OK(spawnfd_cmd_fd(cmd, 5, closed));
    err = fails(cmd, EBADF);
    CHECK_INT(err.step, SPAWNFD_STEP_PREPARE);
    CHECK_INT(err.fd, closed);
    CHECK_STR(spawnfd_step_name(err.step), "prepare");
    spawnfd_cmd_free(cmd);

    /* Not allowed: a niceness below ours, as a non-root user. */
    if (geteuid() != 0) {
        cmd = report_cmd();
        OK(spawnfd_cmd_nice(cmd, -20));
        err = fails(cmd, EACCES);
        CHECK_INT(err.step, SPAWNFD_STEP_NICE);
        CHECK(err.flags & SPAWNFD_ERROR_HAS_ID);
        CHECK_INT(err.id, -20);
        spawnfd_cmd_free(cmd);
    } else {
        /* As root: a uid change that no_new_privs cannot stop, then a
         * chroot into a directory that does not exist. */
        cmd = report_cmd();
        OK(spawnfd_cmd_chroot(cmd, "/nonexistent-root"));
        err = fails(cmd, ENOENT);
        CHECK_INT(err.step, SPAWNFD_STEP_CHROOT);
        CHECK_STR(err.path, "/nonexistent-root");
        spawnfd_cmd_free(cmd);
    }
    printf("ok step errors\n");
}

static void test_bad_input(void)
{
    spawnfd_cmd *cmd = NULL;
    int r;
    /* Setters refuse what they can at once. */
    CALL(r, spawnfd_cmd_new(&cmd, NULL));
    CHECK_INT(r, EINVAL);
    CALL(r, spawnfd_cmd_new(&cmd, ""));
    CHECK_INT(r, EINVAL);
    CALL(r, spawnfd_cmd_new(NULL, "true"));
    CHECK_INT(r, EINVAL);
    cmd = report_cmd();
    struct {
        const char *what;
        int r;
    } refused[32];
    int n = 0;
#define REFUSED(call)                                                          \
    do {                                                                       \
        refused[n].what = #call;                                               \
        CALL(refused[n].r, call);                                              \
        n++;                                                                   \
    } while (0)
    REFUSED(spawnfd_cmd_nice(cmd, 20));
    REFUSED(spawnfd_cmd_nice(cmd, -21));
    REFUSED(spawnfd_cmd_umask(cmd, 01000));
    REFUSED(spawnfd_cmd_rlimit(cmd, RLIMIT_NOFILE, 10, 5));
    REFUSED(spawnfd_cmd_rlimit(cmd, 99, 1, 1));
    REFUSED(spawnfd_cmd_parent_death_signal(cmd, 0));
    REFUSED(spawnfd_cmd_parent_death_signal(cmd, 65));
    REFUSED(spawnfd_cmd_exit_signal(cmd, -1));
    REFUSED(spawnfd_cmd_env(cmd, "A=B", "x"));
    REFUSED(spawnfd_cmd_env(cmd, "", "x"));
    REFUSED(spawnfd_cmd_env(cmd, "A", NULL));
    REFUSED(spawnfd_cmd_env_remove(cmd, "A=B"));
    REFUSED(spawnfd_cmd_arg(cmd, NULL));
    REFUSED(spawnfd_cmd_fd(cmd, -1, 0));
    REFUSED(spawnfd_cmd_fd(cmd, 5, -3));
    REFUSED(spawnfd_cmd_stdin(cmd, -3));
    REFUSED(spawnfd_cmd_cwd_fd(cmd, -1));
    REFUSED(spawnfd_cmd_uid(cmd, (uid_t)-1));
    REFUSED(spawnfd_cmd_gid(cmd, (gid_t)-1));
    REFUSED(spawnfd_cmd_groups(cmd, NULL, 2));
    REFUSED(spawnfd_cmd_process_group(cmd, -5));
    REFUSED(spawnfd_cmd_unshare(cmd, 1));
    REFUSED(spawnfd_cmd_cpu_affinity(cmd, NULL, 0));
    unsigned far[] = { 70000 };
    REFUSED(spawnfd_cmd_cpu_affinity(cmd, far, 1));
    spawnfd_id_map none = { 0, 0, 0 };
    REFUSED(spawnfd_cmd_uid_map(cmd, &none, 1));
    sigset_t kill_set;
    sigemptyset(&kill_set);
    sigaddset(&kill_set, SIGKILL);
    REFUSED(spawnfd_cmd_ignore_signals(cmd, &kill_set));
    REFUSED(spawnfd_cmd_signal_mask(cmd, NULL));
    REFUSED(spawnfd_cmd_setsid(NULL, 1));
#undef REFUSED
    for (int i = 0; i < n; i++)
        if (refused[i].r != EINVAL)
            FAIL("%s returned %d, expected EINVAL", refused[i].what, refused[i].r);
    /* None of that changed the command: it still runs. */
    int status;
    OK(spawnfd_cmd_stdout(cmd, SPAWNFD_NULL));
    int pidfd;
    OK(spawnfd_spawn(cmd, NULL, &pidfd, NULL));
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(pidfd);
    spawnfd_cmd_free(cmd);

    /* What only the spawn can see: refused with EINVAL and a message
     * before any process (fails() counts fds and children). */
    cmd = report_cmd();
    OK(spawnfd_cmd_setsid(cmd, 1));
    OK(spawnfd_cmd_process_group(cmd, 0));
    spawnfd_error err = fails(cmd, EINVAL);
    CHECK_INT(err.step, SPAWNFD_STEP_PREPARE);
    CHECK(strstr(err.message, "conflict") != NULL);
    spawnfd_cmd_free(cmd);

    cmd = report_cmd();
    OK(spawnfd_cmd_mount_proc(cmd, 1));
    err = fails(cmd, EINVAL);
    CHECK(strstr(err.message, "mount") != NULL);
    spawnfd_cmd_free(cmd);

    cmd = report_cmd();
    OK(spawnfd_cmd_controlling_terminal(cmd, 9));
    OK(spawnfd_cmd_setsid(cmd, 1));
    err = fails(cmd, EINVAL);
    spawnfd_cmd_free(cmd);

    cmd = report_cmd();
    OK(spawnfd_cmd_cgroup(cmd, "/tmp"));
    err = fails(cmd, EINVAL);
    CHECK(strstr(err.message, "cgroup") != NULL);
    spawnfd_cmd_free(cmd);

    /* A NULL command, and a NULL error struct. */
    int pid_fd = -77;
    CALL(r, spawnfd_spawn(NULL, NULL, &pid_fd, &err));
    CHECK_INT(r, EINVAL);
    CHECK_INT(pid_fd, -77);
    cmd = report_cmd();
    OK(spawnfd_cmd_cwd(cmd, "/nonexistent-dir"));
    CALL(r, spawnfd_spawn(cmd, NULL, &pid_fd, NULL));
    CHECK_INT(r, ENOENT);
    spawnfd_cmd_free(cmd);
    printf("ok bad input refused before any process\n");
}

static void test_format(void)
{
    spawnfd_cmd *cmd;
    spawnfd_error err;
    OK(spawnfd_cmd_new(&cmd, "/nonexistent/program"));
    fails(cmd, ENOENT);
    int r;
    CALL(r, spawnfd_spawn(cmd, NULL, NULL, &err));
    CHECK_INT(r, ENOENT);
    spawnfd_cmd_free(cmd);

    char whole[2048], small[8];
    size_t len;
    CALL(len, spawnfd_error_format(&err, whole, sizeof whole));
    CHECK_INT(len, strlen(whole));
    CHECK_STR(whole, err.message);
    CHECK(strstr(whole, "spawn \"/nonexistent/program\": exec") == whole);
    CHECK(strstr(whole, "No such file or directory") != NULL);
    /* Cut short as snprintf: 7 bytes and a NUL, the whole length back. */
    memset(small, 'x', sizeof small);
    CALL(len, spawnfd_error_format(&err, small, sizeof small));
    CHECK_INT(len, strlen(whole));
    CHECK_INT(strlen(small), 7);
    CHECK(strncmp(small, whole, 7) == 0);
    CALL(len, spawnfd_error_format(&err, NULL, 0));
    CHECK_INT(len, strlen(whole));

    /* A struct filled in by hand: made from the step and errno. */
    spawnfd_error mine;
    memset(&mine, 0, sizeof mine);
    mine.step = SPAWNFD_STEP_SETUID;
    mine.error = EPERM;
    spawnfd_error_format(&mine, whole, sizeof whole);
    CHECK(strstr(whole, "setuid: ") == whole);
    CHECK(strstr(whole, "Operation not permitted") != NULL);
    CHECK_STR(spawnfd_step_name(999), "unknown");
    CHECK_STR(spawnfd_step_name(SPAWNFD_STEP_FD_MAPPING), "fd mapping");
    printf("ok error format\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    int fds = count_fds();
    test_step_errors();
    test_bad_input();
    test_format();
    CHECK_INT(fds_within(5000, fds), fds);
    CHECK_INT(children_gone_within(5000), 0);
    return 0;
}
