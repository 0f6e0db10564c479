/* A posix_spawn program, switched to libspawnfd by its include and link
 * line only: every call below is written as for <spawn.h>, and
 * <spawnfd_spawn.h> makes them libspawnfd's. Each check looks at the
 * child from inside it (this program re-run as `report`), or at what the
 * caller gets back: waitpid on the pid, the errno of the failed step, no
 * child or fd left behind. */
#include <spawnfd_spawn.h>

#include "check.h"

extern char **environ;

/* The values are those of the C library's <spawn.h>. */
_Static_assert(POSIX_SPAWN_RESETIDS == SPAWNFD_POSIX_SPAWN_RESETIDS, "RESETIDS");
_Static_assert(POSIX_SPAWN_SETPGROUP == SPAWNFD_POSIX_SPAWN_SETPGROUP, "SETPGROUP");
_Static_assert(POSIX_SPAWN_SETSIGDEF == SPAWNFD_POSIX_SPAWN_SETSIGDEF, "SETSIGDEF");
_Static_assert(POSIX_SPAWN_SETSIGMASK == SPAWNFD_POSIX_SPAWN_SETSIGMASK, "SETSIGMASK");
_Static_assert(POSIX_SPAWN_SETSCHEDPARAM == SPAWNFD_POSIX_SPAWN_SETSCHEDPARAM, "SCHEDPARAM");
_Static_assert(POSIX_SPAWN_SETSCHEDULER == SPAWNFD_POSIX_SPAWN_SETSCHEDULER, "SCHEDULER");
_Static_assert(POSIX_SPAWN_USEVFORK == SPAWNFD_POSIX_SPAWN_USEVFORK, "USEVFORK");
_Static_assert(POSIX_SPAWN_SETSID == SPAWNFD_POSIX_SPAWN_SETSID, "SETSID");

/* Runs this program as `report` through posix_spawn with `fa` (its
 * stdout added as the last action) and `attr`; returns the report and
 * reaps the child with waitpid, which must find it. */
static char *report_via(posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t own;
    if (!fa) {
        OK(posix_spawn_file_actions_init(&own));
        fa = &own;
    }
    OK(posix_spawn_file_actions_adddup2(fa, p[1], 1));
    char *argv[] = {self_exe, "report", NULL};
    pid_t pid = -1;
    OK(posix_spawn(&pid, self_exe, fa, attr, argv, environ));
    CHECK(pid > 0);
    close(p[1]);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    for (ssize_t n; (n = read(p[0], out + len, cap - len - 1)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n > 0);
        len += (size_t)n;
        CHECK(len < cap - 1);
    }
    out[len] = 0;
    close(p[0]);
    int status = 0;
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (fa == &own)
        OK(posix_spawn_file_actions_destroy(&own));
    return out;
}

/* The child's fd `fd` as its report lists it ("cloexec=0 TARGET"). */
static const char *child_fd(const char *out, int fd)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "fd %d ", fd);
    return line_of(out, prefix);
}

/* The bit of `sig` in a /proc status mask given in hex. */
static int has_signal(const char *hex, int sig)
{
    unsigned long long mask = strtoull(hex, NULL, 16);
    return (mask >> (sig - 1)) & 1;
}

static void file_actions(void)
{
    /* An fd without FD_CLOEXEC is inherited, as posix_spawn gives it. */
    int inherited = open("/dev/null", O_RDONLY);
    CHECK(inherited > 2);
    char *out = report_via(NULL, NULL);
    CHECK(child_fd(out, inherited) != NULL);
    free(out);

    char dir[] = "/tmp/spawnfd-posix-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/data", dir);
    int f = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(f >= 0);
    close(f);
    int dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dirfd_ >= 0);

    posix_spawn_file_actions_t fa;
    OK(posix_spawn_file_actions_init(&fa));
    /* In order: the directory, then a relative open in it, a copy of
     * that, a close, an fd handed over as is (dup2 onto itself). The
     * numbers are clear of the report's pipe, made later. */
    OK(posix_spawn_file_actions_addfchdir_np(&fa, dirfd_));
    OK(posix_spawn_file_actions_addopen(&fa, 70, "data", O_RDONLY, 0));
    OK(posix_spawn_file_actions_adddup2(&fa, 70, 90));
    OK(posix_spawn_file_actions_addclose(&fa, inherited));
    int kept = open("/dev/zero", O_RDONLY | O_CLOEXEC);
    OK(posix_spawn_file_actions_adddup2(&fa, kept, kept));
    out = report_via(&fa, NULL);
    CHECK_STR(line_of(out, "cwd "), dir);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "cloexec=0 %s", file);
    CHECK_STR(child_fd(out, 70), want);
    CHECK_STR(child_fd(out, 90), want);
    CHECK(child_fd(out, inherited) == NULL);
    CHECK_STR(child_fd(out, kept), "cloexec=0 /dev/zero");
    CHECK(child_fd(out, dirfd_) == NULL); /* close-on-exec */
    free(out);
    OK(posix_spawn_file_actions_destroy(&fa));

    /* closefrom: only the fds placed below it reach the program. */
    OK(posix_spawn_file_actions_init(&fa));
    OK(posix_spawn_file_actions_addchdir_np(&fa, "/"));
    OK(posix_spawn_file_actions_addclosefrom_np(&fa, 3));
    out = report_via(&fa, NULL);
    CHECK_INT(count_lines(out, "fd "), 3);
    CHECK_STR(line_of(out, "cwd "), "/");
    free(out);
    OK(posix_spawn_file_actions_destroy(&fa));

    /* A failing action is the spawn's error; nothing is left behind. */
    int fds = count_fds();
    OK(posix_spawn_file_actions_init(&fa));
    OK(posix_spawn_file_actions_addopen(&fa, 5, "/nonexistent/spawnfd", O_RDONLY, 0));
    char *argv[] = {"true", NULL};
    pid_t pid = -1;
    int r;
    CALL(r, posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ));
    CHECK_INT(r, ENOENT);
    CHECK_INT(count_children(), 0);
    CHECK_INT(count_fds(), fds);
    OK(posix_spawn_file_actions_destroy(&fa));

    /* Bad input, refused when added. */
    OK(posix_spawn_file_actions_init(&fa));
    CHECK_INT(posix_spawn_file_actions_addclose(&fa, -1), EBADF);
    CHECK_INT(posix_spawn_file_actions_adddup2(&fa, 1, INT_MAX), EBADF);
    CHECK_INT(posix_spawn_file_actions_addopen(&fa, 3, NULL, O_RDONLY, 0), EINVAL);
    OK(posix_spawn_file_actions_destroy(&fa));
    CHECK_INT(posix_spawn_file_actions_destroy(&fa), EINVAL);

    close(inherited);
    close(kept);
    close(dirfd_);
    unlink(file);
    rmdir(dir);
    printf("ok file actions\n");
}

static void signals(void)
{
    /* Ignored stays ignored; the calling thread's mask is inherited. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_usr1, old_term;
    CHECK(sigaction(SIGUSR1, &ign, &old_usr1) == 0);
    CHECK(sigaction(SIGTERM, &ign, &old_term) == 0);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    CHECK(pthread_sigmask(SIG_BLOCK, &block, &old_mask) == 0);

    char *out = report_via(NULL, NULL);
    CHECK(has_signal(line_of(out, "SigIgn "), SIGUSR1));
    CHECK(has_signal(line_of(out, "SigIgn "), SIGTERM));
    CHECK(has_signal(line_of(out, "SigBlk "), SIGUSR2));
    free(out);

    /* SETSIGDEF and SETSIGMASK, read back as set. */
    posix_spawnattr_t attr;
    OK(posix_spawnattr_init(&attr));
    sigset_t def, mask, got;
    sigemptyset(&def);
    sigaddset(&def, SIGUSR1);
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    OK(posix_spawnattr_setsigdefault(&attr, &def));
    OK(posix_spawnattr_setsigmask(&attr, &mask));
    OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK));
    OK(posix_spawnattr_getsigdefault(&attr, &got));
    CHECK(sigismember(&got, SIGUSR1) && !sigismember(&got, SIGTERM));
    OK(posix_spawnattr_getsigmask(&attr, &got));
    CHECK(sigismember(&got, SIGHUP) && !sigismember(&got, SIGUSR2));
    short flags = 0;
    OK(posix_spawnattr_getflags(&attr, &flags));
    CHECK_INT(flags, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    out = report_via(NULL, &attr);
    CHECK(!has_signal(line_of(out, "SigIgn "), SIGUSR1));
    CHECK(has_signal(line_of(out, "SigIgn "), SIGTERM));
    CHECK(has_signal(line_of(out, "SigBlk "), SIGHUP));
    CHECK(!has_signal(line_of(out, "SigBlk "), SIGUSR2));
    free(out);
    OK(posix_spawnattr_destroy(&attr));

    CHECK(pthread_sigmask(SIG_SETMASK, &old_mask, NULL) == 0);
    CHECK(sigaction(SIGUSR1, &old_usr1, NULL) == 0);
    CHECK(sigaction(SIGTERM, &old_term, NULL) == 0);
    printf("ok signals\n");
}

static void attributes(void)
{
    posix_spawnattr_t attr;
    OK(posix_spawnattr_init(&attr));
    OK(posix_spawnattr_setpgroup(&attr, 0));
    OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP));
    char *out = report_via(NULL, &attr);
    CHECK_STR(line_of(out, "pgid "), line_of(out, "pid "));
    free(out);

    OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_USEVFORK));
    out = report_via(NULL, &attr);
    CHECK_STR(line_of(out, "sid "), line_of(out, "pid "));
    free(out);

    /* SCHED_BATCH needs no privilege. */
    struct sched_param param = {.sched_priority = 0}, got_param;
    OK(posix_spawnattr_setschedpolicy(&attr, SCHED_BATCH));
    OK(posix_spawnattr_setschedparam(&attr, &param));
    OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSCHEDULER));
    int policy = -1;
    OK(posix_spawnattr_getschedpolicy(&attr, &policy));
    CHECK_INT(policy, SCHED_BATCH);
    OK(posix_spawnattr_getschedparam(&attr, &got_param));
    CHECK_INT(got_param.sched_priority, 0);
    out = report_via(NULL, &attr);
    char want[16];
    snprintf(want, sizeof want, "%d", SCHED_BATCH);
    CHECK_STR(line_of(out, "sched "), want);
    free(out);

    /* An attribute the kernel refuses is the spawn's error. */
    OK(posix_spawnattr_setpgroup(&attr, INT_MAX));
    OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP));
    char *argv[] = {"true", NULL};
    pid_t pid;
    int r = posix_spawn(&pid, "/bin/true", NULL, &attr, argv, environ);
    CHECK(r == EPERM || r == ESRCH);
    CHECK_INT(count_children(), 0);

    CHECK_INT(posix_spawnattr_setflags(&attr, 0x4000), EINVAL);
    CHECK_INT(posix_spawnattr_setschedpolicy(&attr, 12345), EINVAL);
    OK(posix_spawnattr_destroy(&attr));
    printf("ok attributes\n");
}

static void programs_and_paths(void)
{
    char *argv[] = {"true", NULL};
    pid_t pid = -1;
    int status;
    /* posix_spawnp searches this process's PATH, not envp's. */
    char *envp[] = {"PATH=/nonexistent", "A=1", NULL};
    OK(posix_spawnp(&pid, "true", NULL, NULL, argv, envp));
    CHECK_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* posix_spawn does not search at all. */
    int fds = count_fds();
    CHECK_INT(posix_spawn(&pid, "true", NULL, NULL, argv, envp), ENOENT);
    CHECK_INT(posix_spawn(&pid, "/nonexistent/true", NULL, NULL, argv, envp), ENOENT);
    CHECK_INT(count_children(), 0);
    CHECK_INT(count_fds(), fds);
    /* The environment is envp, exactly. */
    posix_spawn_file_actions_t fa;
    OK(posix_spawn_file_actions_init(&fa));
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    OK(posix_spawn_file_actions_adddup2(&fa, p[1], 1));
    char *env_argv[] = {"env", NULL};
    OK(posix_spawnp(&pid, "env", &fa, NULL, env_argv, envp));
    close(p[1]);
    char buf[256] = {0};
    size_t len = 0;
    for (ssize_t n; (n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0;)
        len += (size_t)n;
    close(p[0]);
    /* (sorted by name: the engine keeps the environment as a map) */
    CHECK_STR(buf, "A=1\nPATH=/nonexistent\n");
    CHECK_INT(waitpid(pid, &status, 0), pid);
    OK(posix_spawn_file_actions_destroy(&fa));
    /* An entry without '=' cannot be given. */
    char *bad_env[] = {"NOEQUALS", NULL};
    CHECK_INT(posix_spawn(&pid, "/bin/true", NULL, NULL, argv, bad_env), EINVAL);
    CHECK_INT(count_children(), 0);
    printf("ok programs and paths\n");
}

static void pidfds(void)
{
    /* pidfd_spawn: the child as an fd, for poll and spawnfd_wait. */
    char *argv[] = {"sh", "-c", "exit 7", NULL};
    int pidfd = -1;
    OK(pidfd_spawnp(&pidfd, "sh", NULL, NULL, argv, environ));
    CHECK(pidfd > 2);
    CHECK(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    CHECK_INT(poll(&pfd, 1, 10000), 1);
    int status = 0;
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
    close(pidfd);
    CHECK_INT(pidfd_spawn(NULL, "/bin/true", NULL, NULL, argv, environ), EINVAL);
    CHECK_INT(pidfd_spawn(&pidfd, "/nonexistent", NULL, NULL, argv, environ), ENOENT);
    CHECK_INT(count_children(), 0);
    printf("ok pidfd_spawn\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    file_actions();
    signals();
    attributes();
    programs_and_paths();
    pidfds();
    CHECK_INT(children_gone_within(5000), 0);
    return 0;
}
