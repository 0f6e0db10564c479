/* The setters the C library gained beside posix_spawn's API: the sandbox
 * attributes (capability sets, a seccomp filter, a Landlock ruleset),
 * spawnfd_cmd_default_signals and spawnfd_cmd_search_path, each checked
 * from inside the child (its report: /proc/self/status), and the steps
 * their failures name. The capability checks need root and say so
 * otherwise. */
#include "check.h"

#include <sys/syscall.h>

/* Runs `cmd` (this program as `report`) and returns its report. */
static char *report_of(spawnfd_cmd *cmd)
{
    int status;
    char *out = run_capture(cmd, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return out;
}

static void capabilities(void)
{
    if (geteuid() != 0) {
        printf("skipped: capabilities: need root\n");
        return;
    }
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_capability_bounding_set(cmd, 1ull << 10 | 1ull << 5));
    char *out = report_of(cmd);
    CHECK_STR(line_of(out, "CapBnd "), "0000000000000420");
    free(out);
    spawnfd_cmd_free(cmd);

    cmd = report_cmd();
    OK(spawnfd_cmd_uid(cmd, 65534));
    OK(spawnfd_cmd_gid(cmd, 65534));
    OK(spawnfd_cmd_ambient_capabilities(cmd, 1ull << 10));
    out = report_of(cmd);
    CHECK_STR(line_of(out, "CapAmb "), "0000000000000400");
    CHECK_STR(line_of(out, "CapEff "), "0000000000000400");
    free(out);
    spawnfd_cmd_free(cmd);

    cmd = report_cmd();
    OK(spawnfd_cmd_inheritable_capabilities(cmd, 1));
    OK(spawnfd_cmd_keep_capabilities(cmd, 1));
    out = report_of(cmd);
    CHECK_STR(line_of(out, "CapInh "), "0000000000000001");
    free(out);
    spawnfd_cmd_free(cmd);

    /* Outside the bounding set: the step says so. */
    cmd = report_cmd();
    OK(spawnfd_cmd_capability_bounding_set(cmd, 0));
    OK(spawnfd_cmd_ambient_capabilities(cmd, 1ull << 12));
    spawnfd_error err;
    int r;
    CALL(r, spawnfd_spawn(cmd, NULL, NULL, &err));
    CHECK_INT(r, EPERM);
    CHECK_INT(err.step, SPAWNFD_STEP_CAPABILITIES);
    CHECK_STR(spawnfd_step_name(err.step), "capabilities");
    spawnfd_cmd_free(cmd);
    CHECK_INT(children_gone_within(5000), 0);
    printf("ok capabilities\n");
}

static void seccomp(void)
{
    struct sock_filter deny_uname[] = {
        {0x20, 0, 0, 0},
        {0x15, 0, 1, SYS_uname},
        {0x06, 0, 0, 0x00050000u | EPERM}, /* SECCOMP_RET_ERRNO */
        {0x06, 0, 0, 0x7fff0000u},         /* SECCOMP_RET_ALLOW */
    };
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_no_new_privs(cmd, 1));
    OK(spawnfd_cmd_seccomp_filter(cmd, deny_uname, 4));
    char *out = report_of(cmd);
    CHECK_STR(line_of(out, "Seccomp "), "2");
    free(out);
    spawnfd_cmd_free(cmd);

    /* uname(1) is denied its system call. */
    cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "uname"));
    OK(spawnfd_cmd_no_new_privs(cmd, 1));
    OK(spawnfd_cmd_seccomp_filter(cmd, deny_uname, 4));
    OK(spawnfd_cmd_stderr(cmd, SPAWNFD_NULL));
    OK(spawnfd_cmd_stdout(cmd, SPAWNFD_NULL));
    spawnfd_error err;
    int pidfd, status;
    OK(spawnfd_spawn(cmd, NULL, &pidfd, &err));
    OK(spawnfd_wait(pidfd, &status, NULL));
    close(pidfd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    spawnfd_cmd_free(cmd);

    /* A program the kernel refuses; bad lengths. */
    struct sock_filter bad[] = {{0x05, 0, 0, 10}};
    cmd = report_cmd();
    OK(spawnfd_cmd_no_new_privs(cmd, 1));
    OK(spawnfd_cmd_seccomp_filter(cmd, bad, 1));
    int r;
    CALL(r, spawnfd_spawn(cmd, NULL, NULL, &err));
    CHECK_INT(r, EINVAL);
    CHECK_INT(err.step, SPAWNFD_STEP_SECCOMP);
    CHECK_INT(spawnfd_cmd_seccomp_filter(cmd, bad, 0), EINVAL);
    CHECK_INT(spawnfd_cmd_seccomp_filter(cmd, NULL, 3), EINVAL);
    CHECK_INT(spawnfd_cmd_seccomp_filter(cmd, bad, 4097), EINVAL);
    OK(spawnfd_cmd_seccomp_filter(cmd, NULL, 0));
    spawnfd_cmd_free(cmd);
    CHECK_INT(children_gone_within(5000), 0);
    printf("ok seccomp\n");
}

static void landlock(void)
{
    uint64_t handled = 1 | 4 | 8; /* EXECUTE, READ_FILE, READ_DIR */
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &handled, sizeof handled, 0);
    if (ruleset < 0) {
        printf("skipped: landlock: this kernel has none\n");
        return;
    }
    const char *allowed[] = {"/usr", "/bin", "/lib", "/lib64"};
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        int dir = open(allowed[i], O_PATH | O_CLOEXEC);
        if (dir < 0)
            continue;
        struct __attribute__((packed)) {
            uint64_t allowed_access;
            int32_t parent_fd;
        } rule = {handled, dir};
        CHECK(syscall(SYS_landlock_add_rule, ruleset, 1, &rule, 0) == 0);
        close(dir);
    }
    spawnfd_cmd *cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "cat"));
    OK(spawnfd_cmd_arg(cmd, "/etc/hostname"));
    OK(spawnfd_cmd_no_new_privs(cmd, 1));
    OK(spawnfd_cmd_landlock_ruleset(cmd, ruleset));
    OK(spawnfd_cmd_stdout(cmd, SPAWNFD_NULL));
    OK(spawnfd_cmd_stderr(cmd, SPAWNFD_NULL));
    spawnfd_error err;
    int pidfd, status;
    OK(spawnfd_spawn(cmd, NULL, &pidfd, &err));
    OK(spawnfd_wait(pidfd, &status, NULL));
    close(pidfd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0); /* denied */
    /* The same under /usr is read. */
    spawnfd_cmd_free(cmd);
    cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "cat"));
    OK(spawnfd_cmd_arg(cmd, "/usr/lib/os-release"));
    OK(spawnfd_cmd_no_new_privs(cmd, 1));
    OK(spawnfd_cmd_landlock_ruleset(cmd, ruleset));
    OK(spawnfd_cmd_stdout(cmd, SPAWNFD_NULL));
    OK(spawnfd_spawn(cmd, NULL, &pidfd, &err));
    OK(spawnfd_wait(pidfd, &status, NULL));
    close(pidfd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The caller's fd was only borrowed. */
    CHECK(fcntl(ruleset, F_GETFD) >= 0);
    /* Not a ruleset: the step says so. */
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    OK(spawnfd_cmd_landlock_ruleset(cmd, null));
    int r;
    CALL(r, spawnfd_spawn(cmd, NULL, NULL, &err));
    CHECK(r != 0);
    CHECK_INT(err.step, SPAWNFD_STEP_LANDLOCK);
    CHECK_INT(spawnfd_cmd_landlock_ruleset(cmd, -2), EINVAL);
    close(null);
    close(ruleset);
    spawnfd_cmd_free(cmd);
    printf("ok landlock\n");
}

static int has_signal(const char *hex, int sig)
{
    return (int)((strtoull(hex, NULL, 16) >> (sig - 1)) & 1);
}

static void signals_and_search(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old1, old2;
    CHECK(sigaction(SIGUSR1, &ign, &old1) == 0);
    CHECK(sigaction(SIGTERM, &ign, &old2) == 0);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGUSR1);
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_reset_ignored_signals(cmd, 0));
    OK(spawnfd_cmd_default_signals(cmd, &def));
    char *out = report_of(cmd);
    CHECK(!has_signal(line_of(out, "SigIgn "), SIGUSR1));
    CHECK(has_signal(line_of(out, "SigIgn "), SIGTERM));
    free(out);
    spawnfd_cmd_free(cmd);
    CHECK(sigaction(SIGUSR1, &old1, NULL) == 0);
    CHECK(sigaction(SIGTERM, &old2, NULL) == 0);

    /* The search ignores the child's PATH. */
    cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, "true"));
    OK(spawnfd_cmd_env(cmd, "PATH", "/nonexistent"));
    spawnfd_error err;
    int r;
    CALL(r, spawnfd_spawn(cmd, NULL, NULL, &err));
    CHECK_INT(r, ENOENT);
    OK(spawnfd_cmd_search_path(cmd, "/usr/bin:/bin"));
    int pidfd, status;
    OK(spawnfd_spawn(cmd, NULL, &pidfd, &err));
    OK(spawnfd_wait(pidfd, &status, NULL));
    close(pidfd);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    spawnfd_cmd_free(cmd);
    printf("ok default signals and search path\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    capabilities();
    seccomp();
    landlock();
    signals_and_search();
    CHECK_INT(children_gone_within(5000), 0);
    return 0;
}
