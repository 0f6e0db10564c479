/* Spawning with each attribute group, checked from inside the child (the
 * program re-executed as `report`): arguments, environment, working
 * directory, fds, signals, limits and scheduling, session and group,
 * credentials and namespaces (as root). */
#include "check.h"

#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/sysmacros.h>

static void test_args_env_cwd(void)
{
    spawnfd_cmd *cmd = report_cmd();
    int status;
    OK(spawnfd_cmd_arg(cmd, "one"));
    const char *more[] = { "two words", "", NULL };
    OK(spawnfd_cmd_args(cmd, more));
    OK(spawnfd_cmd_arg0(cmd, "renamed"));
    OK(spawnfd_cmd_env_clear(cmd));
    OK(spawnfd_cmd_env(cmd, "GREETING", "hello world"));
    OK(spawnfd_cmd_env(cmd, "GONE", "x"));
    OK(spawnfd_cmd_env_remove(cmd, "GONE"));
    OK(spawnfd_cmd_cwd(cmd, "/tmp"));
    char *out = run_capture(cmd, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STR(line_of(out, "arg 0 "), "renamed");
    CHECK_STR(line_of(out, "arg 1 "), "one");
    CHECK_STR(line_of(out, "arg 2 "), "two words");
    CHECK_STR(line_of(out, "arg 3 "), "");
    CHECK_STR(line_of(out, "env GREETING="), "hello world");
    CHECK(line_of(out, "env GONE=") == NULL);
    CHECK_INT(count_lines(out, "env "), 1);
    CHECK_STR(line_of(out, "cwd "), "/tmp");
    free(out);

    /* The working directory as an fd, borrowed: still open after. */
    int dir = open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dir >= 0);
    OK(spawnfd_cmd_cwd_fd(cmd, dir));
    out = run_capture(cmd, &status);
    CHECK_STR(line_of(out, "cwd "), "/usr");
    CHECK(fcntl(dir, F_GETFD) >= 0);
    free(out);
    close(dir);
    spawnfd_cmd_free(cmd);
    printf("ok args, environment, working directory\n");
}

static void test_fds(void)
{
    spawnfd_cmd *cmd = report_cmd();
    int status;
    int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
    /* (Not /proc/self/exe: valgrind answers that open with a copy of an
     * fd of its own, without O_CLOEXEC.) */
    int b = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Not close-on-exec, as another thread's careless open: the child
     * must not get it. */
    int stray = open("/dev/zero", O_RDONLY);
    CHECK(a > 2 && b > 2 && stray > 2);
    OK(spawnfd_cmd_fd(cmd, 7, a));
    OK(spawnfd_cmd_fd(cmd, 9, b));
    /* A swap: child fd a gets b and child fd b gets a. */
    OK(spawnfd_cmd_fd(cmd, a, b));
    OK(spawnfd_cmd_fd(cmd, b, a));
    OK(spawnfd_cmd_stdin(cmd, SPAWNFD_NULL));
    OK(spawnfd_cmd_stderr(cmd, SPAWNFD_NULL));
    int before = count_fds();
    char *out = run_capture(cmd, &status);
    /* Not more (fewer where a watcher thread of an earlier child, on
     * kernels without pidfds, has closed its fds meanwhile). */
    CHECK(fds_at_most_within(5000, before) <= before);
    char want[64];
    CHECK_STR(line_of(out, "fd 0 "), "cloexec=0 /dev/null");
    CHECK(strncmp(line_of(out, "fd 1 "), "cloexec=0 pipe:", 15) == 0);
    CHECK_STR(line_of(out, "fd 2 "), "cloexec=0 /dev/null");
    CHECK_STR(line_of(out, "fd 7 "), "cloexec=0 /dev/null");
    CHECK(strncmp(line_of(out, "fd 9 "), "cloexec=0 /", 11) == 0);
    snprintf(want, sizeof want, "fd %d ", a);
    CHECK(strcmp(line_of(out, want), "cloexec=0 /dev/null") != 0);
    snprintf(want, sizeof want, "fd %d ", b);
    CHECK_STR(line_of(out, want), "cloexec=0 /dev/null");
    /* Exactly 0, 1, 2, 7, 9, a and b. */
    CHECK_INT(count_lines(out, "fd "), 7);
    free(out);
    /* The caller's fds are borrowed: open, still close-on-exec (and the
     * stray one untouched). */
    CHECK(fcntl(a, F_GETFD) == FD_CLOEXEC);
    CHECK(fcntl(b, F_GETFD) == FD_CLOEXEC);
    CHECK(fcntl(stray, F_GETFD) == 0);
    spawnfd_cmd_free(cmd);
    CHECK(fcntl(a, F_GETFD) == FD_CLOEXEC);
    close(a);
    close(b);
    close(stray);

    /* The pidfd: above 2 and close-on-exec. */
    cmd = report_cmd();
    OK(spawnfd_cmd_stdout(cmd, SPAWNFD_NULL));
    int pidfd = -1;
    pid_t pid = 0;
    OK(spawnfd_spawn(cmd, &pid, &pidfd, NULL));
    CHECK(pidfd > 2 && pid > 0);
    CHECK(fcntl(pidfd, F_GETFD) == FD_CLOEXEC);
    OK(spawnfd_wait(pidfd, &status, NULL));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(pidfd);
    spawnfd_cmd_free(cmd);
    printf("ok fds\n");
}

static void test_signals(void)
{
    /* This thread blocks SIGUSR1 and the process ignores SIGPIPE; the
     * child gets neither by default. */
    sigset_t usr1, old;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &old);
    struct sigaction ign = { .sa_handler = SIG_IGN }, was;
    sigaction(SIGPIPE, &ign, &was);

    spawnfd_cmd *cmd = report_cmd();
    int status;
    char *out = run_capture(cmd, &status);
    CHECK_STR(line_of(out, "SigBlk "), "0000000000000000");
    CHECK_STR(line_of(out, "SigIgn "), "0000000000000000");
    free(out);

    /* Inherited mask, ignored signals kept: SIGPIPE (13), and whatever
     * this process was started with ignored. */
    OK(spawnfd_cmd_inherit_signal_mask(cmd, 1));
    OK(spawnfd_cmd_reset_ignored_signals(cmd, 0));
    char ignored[4096];
    snprintf(ignored, sizeof ignored, "%s", own_status("SigIgn"));
    CHECK(strtoull(ignored, NULL, 16) & (1ull << (SIGPIPE - 1)));
    out = run_capture(cmd, &status);
    CHECK_STR(line_of(out, "SigBlk "), "0000000000000200"); /* SIGUSR1 = 10 */
    CHECK_STR(line_of(out, "SigIgn "), ignored);
    free(out);

    /* A mask and ignored signals of the caller's choosing. */
    sigset_t mask, ignore;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigemptyset(&ignore);
    sigaddset(&ignore, SIGHUP);
    OK(spawnfd_cmd_signal_mask(cmd, &mask));
    OK(spawnfd_cmd_reset_ignored_signals(cmd, 1));
    OK(spawnfd_cmd_ignore_signals(cmd, &ignore));
    out = run_capture(cmd, &status);
    CHECK_STR(line_of(out, "SigBlk "), "0000000000004000"); /* SIGTERM = 15 */
    CHECK_STR(line_of(out, "SigIgn "), "0000000000000001"); /* SIGHUP = 1 */
    free(out);
    spawnfd_cmd_free(cmd);

    /* Nothing process-wide changed: SIGPIPE still ignored, the mask as
     * set. */
    struct sigaction now;
    sigaction(SIGPIPE, NULL, &now);
    CHECK(now.sa_handler == SIG_IGN);
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    CHECK(sigismember(&cur, SIGUSR1) == 1);
    sigaction(SIGPIPE, &was, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    printf("ok signals\n");
}

static void test_limits_and_scheduling(void)
{
    spawnfd_cmd *cmd = report_cmd();
    int status;
    /* Under valgrind, which refuses NOFILE changes, another limit. */
    int resource = under_valgrind() ? RLIMIT_CORE : RLIMIT_NOFILE;
    OK(spawnfd_cmd_rlimit(cmd, resource, 100, 200));
    /* One above this process's (raising it needs no privilege). */
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0) + 1;
    if (nice > 19)
        nice = 19;
    OK(spawnfd_cmd_nice(cmd, nice));
    OK(spawnfd_cmd_umask(cmd, 027));
    /* The first CPU this process may run on (a test pinned elsewhere
     * may not have CPU 0). */
    cpu_set_t mine;
    CHECK(sched_getaffinity(0, sizeof mine, &mine) == 0);
    unsigned cpus[1] = { 0 };
    while (!CPU_ISSET(cpus[0], &mine))
        cpus[0]++;
    OK(spawnfd_cmd_cpu_affinity(cmd, cpus, 1));
    OK(spawnfd_cmd_no_new_privs(cmd, 1));
    OK(spawnfd_cmd_parent_death_signal(cmd, SIGTERM));
    OK(spawnfd_cmd_process_group(cmd, 0));
    char *out = run_capture(cmd, &status);
    if (!under_valgrind())
        CHECK_STR(line_of(out, "nofile "), "100 200");
    char want_nice[16];
    snprintf(want_nice, sizeof want_nice, "%d", nice);
    CHECK_STR(line_of(out, "nice "), want_nice);
    CHECK_STR(line_of(out, "Umask "), "0027");
    char want_cpu[16];
    snprintf(want_cpu, sizeof want_cpu, "%u", cpus[0]);
    CHECK_STR(line_of(out, "Cpus_allowed_list "), want_cpu);
    CHECK_STR(line_of(out, "NoNewPrivs "), "1");
    char want[32];
    snprintf(want, sizeof want, "%d", SIGTERM);
    CHECK_STR(line_of(out, "pdeathsig "), want);
    /* Its own group: pgid == pid. */
    char pid[32];
    snprintf(pid, sizeof pid, "%s", line_of(out, "pid "));
    CHECK_STR(line_of(out, "pgid "), pid);
    free(out);
    spawnfd_cmd_free(cmd);

    cmd = report_cmd();
    OK(spawnfd_cmd_setsid(cmd, 1));
    out = run_capture(cmd, &status);
    snprintf(pid, sizeof pid, "%s", line_of(out, "pid "));
    CHECK_STR(line_of(out, "sid "), pid);
    free(out);
    spawnfd_cmd_free(cmd);

    /* A private child: no exit signal; still waited for by its pidfd. */
    if (under_valgrind()) {
        printf("skipped: exit signal 0 under valgrind: children are made by fork there\n");
        printf("ok limits, scheduling, session and group\n");
        return;
    }
    cmd = report_cmd();
    OK(spawnfd_cmd_exit_signal(cmd, 0));
    out = run_capture(cmd, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(out);
    spawnfd_cmd_free(cmd);
    printf("ok limits, scheduling, session and group\n");
}

static void test_root(void)
{
    if (geteuid() != 0) {
        printf("skipped: credentials and namespaces: not root\n");
        return;
    }
    spawnfd_cmd *cmd = report_cmd();
    int status;
    gid_t groups[] = { 4242, 4343 };
    OK(spawnfd_cmd_groups(cmd, groups, 2));
    OK(spawnfd_cmd_gid(cmd, 4141));
    OK(spawnfd_cmd_uid(cmd, 4040));
    OK(spawnfd_cmd_cwd(cmd, "/"));
    char *out = run_capture(cmd, &status);
    CHECK_STR(line_of(out, "Uid "), "4040 4040 4040 4040");
    CHECK_STR(line_of(out, "Gid "), "4141 4141 4141 4141");
    CHECK_STR(line_of(out, "Groups "), "4242 4343");
    free(out);
    spawnfd_cmd_free(cmd);
    printf("ok credentials\n");

    /* chroot "/" with a working directory inside it. */
    cmd = report_cmd();
    OK(spawnfd_cmd_chroot(cmd, "/"));
    OK(spawnfd_cmd_cwd(cmd, "/tmp"));
    out = run_capture(cmd, &status);
    CHECK_STR(line_of(out, "cwd "), "/tmp");
    free(out);
    spawnfd_cmd_free(cmd);
    printf("ok chroot\n");

    char parent_uts[256];
    ssize_t n = readlink("/proc/self/ns/uts", parent_uts, sizeof parent_uts - 1);
    CHECK(n > 0);
    parent_uts[n] = 0;
    cmd = report_cmd();
    OK(spawnfd_cmd_unshare(cmd, SPAWNFD_NS_UTS | SPAWNFD_NS_PID | SPAWNFD_NS_MOUNT));
    OK(spawnfd_cmd_mount_proc(cmd, 1));
    spawnfd_error err;
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    OK(spawnfd_cmd_stdout(cmd, p[1]));
    pid_t pid;
    int pidfd;
    int r;
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    close(p[1]);
    if (r == EPERM || r == ENOSPC || r == EINVAL) {
        close(p[0]);
        printf("skipped: namespaces: %s\n", err.message);
    } else {
        if (r != 0)
            FAIL("spawn: %s", err.message);
        char buf[65536];
        size_t len = 0;
        ssize_t got;
        while ((got = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)got;
        buf[len] = 0;
        close(p[0]);
        OK(spawnfd_wait(pidfd, &status, NULL));
        close(pidfd);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        CHECK_STR(line_of(buf, "pid "), "1");
        CHECK(strcmp(line_of(buf, "ns uts "), parent_uts) != 0);
        printf("ok namespaces\n");
    }
    spawnfd_cmd_free(cmd);

    /* A user namespace with its maps. */
    cmd = report_cmd();
    OK(spawnfd_cmd_unshare(cmd, SPAWNFD_NS_USER));
    /* Root inside is this process's uid outside (root too); it is
     * nobody (65534) without the map. */
    spawnfd_id_map map = { .inside = 0, .outside = geteuid(), .count = 1 };
    OK(spawnfd_cmd_uid_map(cmd, &map, 1));
    OK(spawnfd_cmd_gid_map(cmd, &map, 1));
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    OK(spawnfd_cmd_stdout(cmd, p[1]));
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        printf("skipped: user namespace: %s\n", err.message);
    } else {
        char buf[65536];
        size_t len = 0;
        ssize_t got;
        while ((got = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)got;
        buf[len] = 0;
        close(p[0]);
        OK(spawnfd_wait(pidfd, &status, NULL));
        close(pidfd);
        CHECK_STR(line_of(buf, "Uid "), "0 0 0 0");
        printf("ok user namespace\n");
    }
    spawnfd_cmd_free(cmd);
}

/* A new session on a new pseudo-terminal: its controlling terminal, in
 * the foreground. */
static void test_terminal(void)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
        printf("skipped: terminal: no pseudo-terminal (%s)\n", strerror(errno));
        if (master >= 0)
            close(master);
        return;
    }
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(slave >= 0);
    struct stat st;
    CHECK(fstat(slave, &st) == 0);
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_stdin(cmd, slave));
    OK(spawnfd_cmd_stderr(cmd, slave));
    OK(spawnfd_cmd_setsid(cmd, 1));
    OK(spawnfd_cmd_controlling_terminal(cmd, 0));
    OK(spawnfd_cmd_foreground(cmd, 0));
    int status;
    char *out = run_capture(cmd, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char want[32];
    snprintf(want, sizeof want, "%d", (int)st.st_rdev);
    CHECK_STR(line_of(out, "tty_nr "), want);
    /* The foreground group of its terminal is its own. */
    char pid[32];
    snprintf(pid, sizeof pid, "%s", line_of(out, "pid "));
    CHECK_STR(line_of(out, "tpgid "), pid);
    CHECK_STR(line_of(out, "sid "), pid);
    free(out);
    spawnfd_cmd_free(cmd);

    /* Detached from a controlling terminal it would inherit: this
     * process has none here, so the child has none either way; the
     * request must still succeed. */
    cmd = report_cmd();
    OK(spawnfd_cmd_detach_terminal(cmd, 1));
    out = run_capture(cmd, &status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(out);
    spawnfd_cmd_free(cmd);
    close(slave);
    close(master);
    printf("ok controlling terminal, foreground, detach\n");
}

/* PTRACE_TRACEME: the child stops at its exec for us, its tracer. */
static void test_ptrace(void)
{
    spawnfd_cmd *cmd = report_cmd();
    OK(spawnfd_cmd_ptrace_traceme(cmd, 1));
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    OK(spawnfd_cmd_stdout(cmd, p[1]));
    pid_t pid;
    int pidfd, r;
    spawnfd_error err;
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        spawnfd_cmd_free(cmd);
        printf("skipped: ptrace: %s\n", err.message);
        return;
    }
    int st;
    CHECK(waitpid(pid, &st, __WALL) == pid);
    CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP);
    CHECK(ptrace(PTRACE_CONT, pid, NULL, NULL) == 0);
    char buf[65536];
    size_t len = 0;
    ssize_t got;
    while ((got = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)got;
    buf[len] = 0;
    close(p[0]);
    OK(spawnfd_wait(pidfd, &st, NULL));
    close(pidfd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char me[32];
    snprintf(me, sizeof me, "%d", (int)getpid());
    CHECK_STR(line_of(buf, "TracerPid "), me);
    spawnfd_cmd_free(cmd);
    printf("ok ptrace_traceme\n");
}

/* A cgroup v2 directory of our own, as root where cgroups are writable. */
static void test_cgroup(void)
{
    /* A cgroup2 mount, and this process's cgroup in it. */
    char mnt[512] = "", ours[1024] = "", line[1024];
    FILE *f = fopen("/proc/self/mounts", "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f)) {
        char dev[256], at[512], type[64];
        if (sscanf(line, "%255s %511s %63s", dev, at, type) == 3 && strcmp(type, "cgroup2") == 0) {
            snprintf(mnt, sizeof mnt, "%s", at);
            break;
        }
    }
    fclose(f);
    f = fopen("/proc/self/cgroup", "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(ours, sizeof ours, "%s", strcmp(line + 3, "/") == 0 ? "" : line + 3);
        }
    fclose(f);
    if (!mnt[0]) {
        printf("skipped: cgroup: no cgroup2 file system is mounted\n");
        return;
    }
    char dir[1700], name[64];
    snprintf(name, sizeof name, "/spawnfd-capi-test-%d", (int)getpid());
    snprintf(dir, sizeof dir, "%s%s%s", mnt, ours, name);
    if (mkdir(dir, 0755) != 0) {
        printf("skipped: cgroup: cannot make %s (%s)\n", dir, strerror(errno));
        return;
    }
    for (int by_fd = 0; by_fd < 2; by_fd++) {
        spawnfd_cmd *cmd = report_cmd();
        int dirfd = -1;
        if (by_fd) {
            dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            CHECK(dirfd >= 0);
            OK(spawnfd_cmd_cgroup_fd(cmd, dirfd));
        } else {
            OK(spawnfd_cmd_cgroup(cmd, dir));
        }
        int status;
        spawnfd_error err;
        int p[2], pidfd, r;
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        OK(spawnfd_cmd_stdout(cmd, p[1]));
        CALL(r, spawnfd_spawn(cmd, NULL, &pidfd, &err));
        close(p[1]);
        if (r != 0) {
            close(p[0]);
            spawnfd_cmd_free(cmd);
            if (dirfd >= 0)
                close(dirfd);
            rmdir(dir);
            printf("skipped: cgroup: %s\n", err.message);
            return;
        }
        char buf[65536];
        size_t len = 0;
        ssize_t got;
        while ((got = read(p[0], buf + len, sizeof buf - 1 - len)) > 0)
            len += (size_t)got;
        buf[len] = 0;
        close(p[0]);
        OK(spawnfd_wait(pidfd, &status, NULL));
        close(pidfd);
        const char *in = line_of(buf, "cgroup 0::");
        CHECK(in != NULL);
        char want[1200];
        snprintf(want, sizeof want, "%s%s", ours, name);
        CHECK_STR(in, want);
        if (dirfd >= 0)
            close(dirfd);
        spawnfd_cmd_free(cmd);
    }
    CHECK(rmdir(dir) == 0);
    printf("ok cgroup, by path and by fd\n");
}

/* One command spawned from several threads at once. */
static spawnfd_cmd *shared;

static void *spawn_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20; i++) {
        int pidfd, status;
        OK(spawnfd_spawn(shared, NULL, &pidfd, NULL));
        OK(spawnfd_wait(pidfd, &status, NULL));
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
        close(pidfd);
    }
    return NULL;
}

static void test_threads(void)
{
    OK(spawnfd_cmd_new(&shared, self_exe));
    OK(spawnfd_cmd_arg(shared, "exit"));
    OK(spawnfd_cmd_arg(shared, "3"));
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, spawn_many, NULL) == 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    spawnfd_cmd_free(shared);
    printf("ok one command from four threads\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    int fds = count_fds();
    test_args_env_cwd();
    test_fds();
    test_signals();
    test_limits_and_scheduling();
    test_root();
    test_terminal();
    test_ptrace();
    test_cgroup();
    test_threads();
    CHECK_INT(fds_within(5000, fds), fds);
    CHECK_INT(children_gone_within(5000), 0);
    return 0;
}
