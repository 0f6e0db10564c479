/* Qt's forkfd API from C (include/forkfd.h). Each group is a regression
 * for a defect class of the review of Qt's forkfd.c: it fails if the
 * defect were there (signal handlers fighting other code, statuses lost
 * or stolen, errno clobbered, SIGPIPE changed process-wide, close retried
 * on EINTR or a zombie left, short reads taken as success, racy or wrong
 * CLOEXEC, a hand-shake that cannot see the parent die), plus what a
 * QProcess-style event loop needs. */
#include "check.h"

#include <forkfd.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#define ERRNO_KEPT 7777

/* A forkfd child that exits with `code` after `ms` milliseconds. */
static int fork_exiting(int flags, int code, int ms, pid_t *pid)
{
    int fd = forkfd(flags, pid);
    if (fd == FFD_CHILD_PROCESS) {
        if (ms)
            usleep((useconds_t)ms * 1000);
        _exit(code);
    }
    if (fd < 0)
        FAIL("forkfd: %s", strerror(errno));
    return fd;
}

static void same_action(const struct sigaction *a, const struct sigaction *b, const char *what)
{
    if (a->sa_handler != b->sa_handler || a->sa_flags != b->sa_flags)
        FAIL("%s's disposition changed", what);
}

/* No SIGCHLD handler installed, SIGPIPE's disposition unchanged. */
static void test_no_process_wide_change(void)
{
    struct sigaction chld0, pipe0, chld1, pipe1;
    sigaction(SIGCHLD, NULL, &chld0);
    sigaction(SIGPIPE, NULL, &pipe0);
    struct forkfd_info info;
    pid_t pid;
    int fd = fork_exiting(FFD_CLOEXEC, 0, 0, &pid);
    CHECK_INT(forkfd_wait(fd, &info, NULL), 0);
    CHECK_INT(forkfd_close(fd), 0);
    fd = fork_exiting(FFD_CLOEXEC | FFD_NONBLOCK, 0, 0, &pid);
    CHECK_INT(forkfd_close(fd), 0);
    sigaction(SIGCHLD, NULL, &chld1);
    sigaction(SIGPIPE, NULL, &pipe1);
    same_action(&chld0, &chld1, "SIGCHLD");
    same_action(&pipe0, &pipe1, "SIGPIPE");
    CHECK(chld1.sa_handler == SIG_DFL);
    printf("ok no SIGCHLD handler, SIGPIPE unchanged\n");
}

/* ---- other reapers ---- */

static atomic_int stop_reaping, stolen;

static void *reap_everything(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_reaping)) {
        int st;
        pid_t p = waitpid(-1, &st, WNOHANG);
        if (p > 0)
            atomic_fetch_add(&stolen, 1);
        else
            usleep(50);
    }
    return NULL;
}

/* Whatever the other reaper took, forkfd_wait4 reports either the exact
 * status (the kernel keeps it for pidfds since Linux 6.15) or ECHILD
 * (older kernels, watched paths): never another child's, never a hang. */
/* Whether the kernel keeps a reaped child's status for its pidfd (Linux
 * 6.15, PIDFD_INFO_EXIT) and `fd` is a pidfd (not the exit pipe of the
 * watched paths): then the status must be exact, never ECHILD. */
static int status_is_kept(int fd)
{
    struct stat st;
    struct utsname u;
    int major = 0, minor = 0;
    if (fstat(fd, &st) != 0 || S_ISFIFO(st.st_mode) || uname(&u) != 0)
        return 0;
    if (sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return 0;
    return major > 6 || (major == 6 && minor >= 15);
}

static void check_exact_or_lost(int fd, int want, int *exact, int *lost)
{
    struct forkfd_info info = { -1, -1 };
    int kept = status_is_kept(fd);
    errno = 0;
    int r = forkfd_wait4(fd, &info, 0, NULL);
    if (kept && r != 0)
        FAIL("forkfd_wait4 lost a status the kernel keeps: %s", strerror(errno));
    if (r == 0) {
        CHECK_INT(info.code, CLD_EXITED);
        CHECK_INT(info.status, want);
        (*exact)++;
    } else {
        CHECK_INT(errno, ECHILD);
        (*lost)++;
    }
    CHECK_INT(forkfd_close(fd), 0);
}

static void test_waitpid_thread_race(void)
{
    enum { N = 40 };
    pthread_t t;
    atomic_store(&stop_reaping, 0);
    atomic_store(&stolen, 0);
    CHECK(pthread_create(&t, NULL, reap_everything, NULL) == 0);
    int fds[N], exact = 0, lost = 0;
    for (int i = 0; i < N; i++) {
        pid_t pid;
        fds[i] = fork_exiting(FFD_CLOEXEC, i + 1, i % 3, &pid);
    }
    for (int i = 0; i < N; i++)
        check_exact_or_lost(fds[i], i + 1, &exact, &lost);
    atomic_store(&stop_reaping, 1);
    pthread_join(t, NULL);
    printf("ok waitpid(-1) thread: %d of %d taken by it; forkfd_wait4: %d exact, %d ECHILD\n",
           atomic_load(&stolen), N, exact, lost);
}

static atomic_int app_handler_calls;
static void app_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&app_handler_calls, 1);
}

static void test_application_sigchld(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = app_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, &old);
    atomic_store(&app_handler_calls, 0);
    struct forkfd_info info;
    pid_t pid;
    int fd = fork_exiting(FFD_CLOEXEC, 5, 0, &pid);
    CHECK_INT(forkfd_wait(fd, &info, NULL), 0);
    CHECK_INT(info.status, 5);
    forkfd_close(fd);
    for (int i = 0; i < 500 && atomic_load(&app_handler_calls) == 0; i++)
        usleep(1000);
    CHECK(atomic_load(&app_handler_calls) > 0);
    struct sigaction now;
    sigaction(SIGCHLD, NULL, &now);
    CHECK(now.sa_handler == app_handler);

    /* SIGCHLD ignored: children reap themselves; the wait neither hangs
     * nor reports a stranger. */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGCHLD, &sa, NULL);
    int exact = 0, lost = 0;
    for (int i = 0; i < 5; i++) {
        fd = fork_exiting(FFD_CLOEXEC, 60 + i, i, &pid);
        check_exact_or_lost(fd, 60 + i, &exact, &lost);
    }
    sigaction(SIGCHLD, &old, NULL);
    printf("ok application SIGCHLD handler called; SIG_IGN: %d exact, %d ECHILD\n", exact, lost);
}

/* errno: kept on success, the error on failure. */
static void test_errno(void)
{
    struct forkfd_info info;
    pid_t pid;
    errno = ERRNO_KEPT;
    int fd = forkfd(FFD_CLOEXEC, &pid);
    if (fd == FFD_CHILD_PROCESS)
        _exit(errno == ERRNO_KEPT ? 0 : 1);
    CHECK(fd >= 0);
    CHECK_INT(errno, ERRNO_KEPT);
    CHECK_INT(forkfd_wait4(fd, &info, 0, NULL), 0);
    CHECK_INT(errno, ERRNO_KEPT);
    CHECK_INT(info.status, 0); /* the child's errno was the caller's too */
    CHECK_INT(forkfd_close(fd), 0);
    CHECK_INT(errno, ERRNO_KEPT);

    CHECK_INT(forkfd(0x100, &pid), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(vforkfd(0, &pid, NULL, NULL), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(forkfd_wait4(-1, &info, 0, NULL), -1);
    CHECK_INT(errno, EBADF);
    fd = fork_exiting(FFD_CLOEXEC, 0, 0, &pid);
    CHECK_INT(forkfd_wait4(fd, &info, 0x01000000 /* WNOWAIT */, NULL), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(forkfd_wait4(fd, &info, 0, NULL), 0);
    /* A second wait: reaped already. The kernel's kept status (6.15+),
     * the same again, or ECHILD. */
    memset(&info, 0, sizeof info);
    if (forkfd_wait4(fd, &info, 0, NULL) == 0)
        CHECK_INT(info.code, CLD_EXITED);
    else
        CHECK_INT(errno, ECHILD);
    CHECK_INT(forkfd_close(fd), 0);
    CHECK_INT(forkfd_close(fd), -1);
    CHECK_INT(errno, EBADF);
    printf("ok errno kept on success, set on failure\n");
}

static int proc_exists(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return access(path, F_OK) == 0;
}

/* forkfd_close on a running child: exactly that fd closed, once; no
 * zombie once it exits. */
static void test_close_running_child(void)
{
    pid_t pid;
    int fd = fork_exiting(FFD_CLOEXEC, 0, 200, &pid);
    int sentinel = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
    CHECK(sentinel > fd);
    CHECK_INT(forkfd_close(fd), 0);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);
    CHECK(fcntl(sentinel, F_GETFD) >= 0);
    close(sentinel);
    /* Once it exits the reaper takes it: the pid disappears from /proc
     * (a zombie would stay, state Z). */
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = !proc_exists(pid);
        if (!gone)
            usleep(10000);
    }
    if (!gone)
        FAIL("pid %d still there (state %c) after forkfd_close", (int)pid, proc_state(pid));
    printf("ok forkfd_close on a running child: fd closed once, no zombie\n");
}

/* The whole forkfd_info, every field written; kills as CLD_KILLED. */
static void test_full_info(void)
{
    struct forkfd_info info;
    struct rusage ru;
    pid_t pid;
    int fd = fork_exiting(FFD_CLOEXEC, 42, 0, &pid);
    memset(&info, 0x55, sizeof info);
    memset(&ru, 0x55, sizeof ru);
    CHECK_INT(forkfd_wait4(fd, &info, 0, &ru), 0);
    CHECK_INT(info.code, CLD_EXITED);
    CHECK_INT(info.status, 42);
    CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
    CHECK(ru.ru_maxrss >= 0);
    forkfd_close(fd);

    fd = fork_exiting(FFD_CLOEXEC, 0, 10000, &pid);
    CHECK_INT(kill(pid, SIGKILL), 0);
    memset(&info, 0x55, sizeof info);
    CHECK_INT(forkfd_wait(fd, &info, NULL), 0);
    CHECK_INT(info.code, CLD_KILLED);
    CHECK_INT(info.status, SIGKILL);
    forkfd_close(fd);
    printf("ok full info: exit code, kill, rusage\n");
}

static void test_flags(void)
{
    pid_t pid;
    struct forkfd_info info;
    int fd = fork_exiting(FFD_CLOEXEC, 0, 0, &pid);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK(!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    forkfd_close(fd);
    fd = fork_exiting(0, 0, 0, &pid);
    CHECK(!(fcntl(fd, F_GETFD) & FD_CLOEXEC));
    forkfd_close(fd);

    /* FFD_NONBLOCK: O_NONBLOCK, and the wait never blocks. */
    fd = fork_exiting(FFD_CLOEXEC | FFD_NONBLOCK, 3, 300, &pid);
    CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    CHECK_INT(forkfd_wait4(fd, &info, 0, NULL), -1);
    CHECK_INT(errno, EAGAIN);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    CHECK_INT(poll(&p, 1, 10000), 1);
    CHECK_INT(forkfd_wait4(fd, &info, 0, NULL), 0);
    CHECK_INT(info.status, 3);
    forkfd_close(fd);

    /* FFDW_NOHANG on a blocking fd; FFDW_NOWAIT leaves it waitable. */
    fd = fork_exiting(FFD_CLOEXEC, 4, 300, &pid);
    CHECK_INT(forkfd_wait4(fd, &info, FFDW_NOHANG, NULL), -1);
    CHECK_INT(errno, EAGAIN);
    CHECK_INT(forkfd_wait4(fd, &info, FFDW_NOWAIT, NULL), 0);
    CHECK_INT(info.status, 4);
    memset(&info, 0, sizeof info);
    CHECK_INT(forkfd_wait4(fd, &info, FFDW_NOWAIT | FFDW_NOHANG, NULL), 0);
    CHECK_INT(info.status, 4);
    /* Still a zombie, ours (an exit fd's child, on kernels without
     * pidfds, has been reaped by the library's watcher already). */
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    if (!S_ISFIFO(st.st_mode))
        CHECK(proc_exists(pid));
    CHECK_INT(forkfd_wait4(fd, &info, 0, NULL), 0);
    CHECK_INT(info.status, 4);
    forkfd_close(fd);
    printf("ok FFD_CLOEXEC, FFD_NONBLOCK, FFDW_NOHANG, FFDW_NOWAIT\n");
}

/* ---- the forkfd child is a real fork ---- */

static int atfork_fd = -1;
static void on_child(void)
{
    if (atfork_fd >= 0) {
        ssize_t n = write(atfork_fd, "A", 1);
        (void)n;
    }
}

static void test_forkfd_child_runs_code(void)
{
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    atfork_fd = p[1];
    pid_t pid = 0;
    int fd = forkfd(FFD_CLOEXEC, &pid);
    if (fd == FFD_CHILD_PROCESS) {
        /* Not vfork-safe, fine after a real fork of this
         * (single-threaded at this point) process. */
        char *buf = malloc(64);
        int n = snprintf(buf, 64, ":%d:%d", (int)getpid(), (int)pid);
        ssize_t w = write(p[1], buf, (size_t)n);
        free(buf);
        _exit(w == n ? 0 : 1);
    }
    CHECK(fd >= 0);
    atfork_fd = -1;
    close(p[1]);
    char buf[128] = { 0 };
    size_t len = 0;
    for (ssize_t n; (n = read(p[0], buf + len, sizeof buf - 1 - len)) > 0;)
        len += (size_t)n;
    close(p[0]);
    char want[64];
    snprintf(want, sizeof want, "A:%d:0", (int)pid);
    CHECK_STR(buf, want);
    struct forkfd_info info;
    CHECK_INT(forkfd_wait(fd, &info, NULL), 0);
    CHECK_INT(info.status, 0);
    forkfd_close(fd);
    printf("ok forkfd child: atfork handler ran, getpid() == *ppid, malloc\n");
}

/* ---- vforkfd ---- */

static int return_token(void *token)
{
    return *(int *)token;
}

struct exec_report {
    int out;
};

/* The child: its stdout to the pipe, then exec this program's report. */
static int exec_report(void *token)
{
    struct exec_report *r = token;
    if (dup2(r->out, 1) < 0)
        return 120;
    char *argv[] = { self_exe, "report", NULL };
    execv(self_exe, argv);
    return 121;
}

static void test_vforkfd(int use_fork)
{
    pid_t pid;
    struct forkfd_info info;
    int code = 33;
    int fd = vforkfd(FFD_CLOEXEC | (use_fork ? FFD_USE_FORK : 0), &pid, return_token, &code);
    CHECK(fd >= 0);
    CHECK(pid > 0);
    CHECK_INT(forkfd_wait(fd, &info, NULL), 0);
    CHECK_INT(info.code, CLD_EXITED);
    CHECK_INT(info.status, 33);
    forkfd_close(fd);

    /* fds as fork leaves them: a non-CLOEXEC fd inherited by the exec, a
     * CLOEXEC one closed by it. */
    int out[2], keep[2], shut[2];
    CHECK(pipe2(out, O_CLOEXEC) == 0);
    CHECK(pipe(keep) == 0);
    CHECK(pipe2(shut, O_CLOEXEC) == 0);
    struct exec_report r = { out[1] };
    fd = vforkfd(FFD_CLOEXEC | (use_fork ? FFD_USE_FORK : 0), &pid, exec_report, &r);
    CHECK(fd >= 0);
    close(out[1]);
    static char text[65536];
    size_t len = 0;
    for (ssize_t n; (n = read(out[0], text + len, sizeof text - 1 - len)) > 0;)
        len += (size_t)n;
    text[len] = 0;
    close(out[0]);
    CHECK_INT(forkfd_wait(fd, &info, NULL), 0);
    CHECK_INT(info.status, 0);
    forkfd_close(fd);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "fd %d cloexec=0", keep[1]);
    CHECK(line_of(text, prefix) != NULL);
    snprintf(prefix, sizeof prefix, "fd %d ", shut[1]);
    CHECK(line_of(text, prefix) == NULL);
    close(keep[0]);
    close(keep[1]);
    close(shut[0]);
    close(shut[1]);
    printf("ok vforkfd (%s): return value is the exit code; fds as fork leaves them\n",
           use_fork ? "FFD_USE_FORK" : "vfork");
}

/* ---- a parent that dies during the hand-shake ---- */

static int die_in_atfork_parent;
static void parent_dies(void)
{
    if (die_in_atfork_parent)
        _exit(0);
}

static void test_parent_dies_during_handshake(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        printf("skipped: parent dies during hand-shake: no subreaper (%s)\n", strerror(errno));
        return;
    }
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    pid_t middle = fork();
    CHECK(middle >= 0);
    if (middle == 0) {
        /* Dies in its atfork parent handler: after the fork, before it
         * can hold the child's pidfd and let the child go. */
        close(p[0]);
        pthread_atfork(NULL, parent_dies, NULL);
        die_in_atfork_parent = 1;
        pid_t pid;
        int fd = forkfd(FFD_CLOEXEC, &pid);
        if (fd == FFD_CHILD_PROCESS) {
            ssize_t n = write(p[1], "RAN", 3);
            (void)n;
            _exit(0);
        }
        _exit(2);
    }
    close(p[1]);
    int st;
    CHECK_INT(waitpid(middle, &st, 0), middle);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The orphan is ours (subreaper): it must exit 127 without running. */
    pid_t orphan = -1;
    for (int i = 0; i < 1000; i++) {
        orphan = waitpid(-1, &st, WNOHANG);
        if (orphan > 0)
            break;
        usleep(10000);
    }
    if (orphan <= 0)
        FAIL("the orphan of a parent that died mid-hand-shake did not exit");
    CHECK(WIFEXITED(st));
    CHECK_INT(WEXITSTATUS(st), 127);
    char buf[8];
    CHECK_INT(read(p[0], buf, sizeof buf), 0);
    close(p[0]);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    printf("ok parent died mid-hand-shake: the child exited 127 without running\n");
}

/* ---- a QProcess-style event loop ---- */

static void test_poll_loop(void)
{
    enum { N = 20 };
    struct pollfd p[N];
    int left = N;
    for (int i = 0; i < N; i++) {
        pid_t pid;
        int flags = FFD_CLOEXEC | (i % 2 ? FFD_NONBLOCK : 0);
        if (i % 4 == 3) {
            int code = 100 + i;
            p[i].fd = vforkfd(flags, &pid, return_token, &code);
            CHECK(p[i].fd >= 0);
        } else {
            p[i].fd = fork_exiting(flags, 100 + i, (i * 7) % 50, &pid);
        }
        p[i].events = POLLIN;
    }
    while (left > 0) {
        int n = poll(p, N, 10000);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n > 0);
        for (int i = 0; i < N; i++) {
            if (p[i].fd < 0 || !(p[i].revents & POLLIN))
                continue;
            struct forkfd_info info;
            if (forkfd_wait4(p[i].fd, &info, FFDW_NOHANG, NULL) < 0) {
                CHECK_INT(errno, EAGAIN);
                continue;
            }
            CHECK_INT(info.code, CLD_EXITED);
            CHECK_INT(info.status, 100 + i);
            CHECK_INT(forkfd_close(p[i].fd), 0);
            p[i].fd = -1;
            left--;
        }
    }
    CHECK_INT(children_gone_within(5000), 0);
    printf("ok poll loop over %d forkfds\n", N);
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    test_no_process_wide_change();
    CHECK(pthread_atfork(NULL, parent_dies, on_child) == 0);
    test_forkfd_child_runs_code();
    test_errno();
    test_full_info();
    test_flags();
    test_close_running_child();
    /* From here on, the library's reaper thread (started by the close of
     * a running child) holds what it holds for good. */
    int fds = count_fds();
    test_vforkfd(0);
    test_vforkfd(1);
    test_poll_loop();
    test_application_sigchld();
    test_waitpid_thread_race();
    CHECK_INT(fds_within(5000, fds), fds);
    test_parent_dies_during_handshake();
    return 0;
}
