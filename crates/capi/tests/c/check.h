/* What the C tests share: checks that stop the program with the line
 * that failed, the child's report of its own state (the test program
 * re-executed as `PROG report ...`), and counts of this process's fds
 * and children. Each test program prints "ok NAME" per check group and
 * "skipped: NAME: why" where the machine cannot run one. */
#ifndef SPAWNFD_TEST_CHECK_H
#define SPAWNFD_TEST_CHECK_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spawnfd.h>

/* Cancellation is disabled first: fprintf is a cancellation point, and a
 * thread with a request pending would otherwise vanish without a word. */
#define FAIL(...)                                                              \
    do {                                                                       \
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);                  \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        exit(1);                                                               \
    } while (0)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond))                                                           \
            FAIL("check failed: %s", #cond);                                   \
    } while (0)

/* Set by tests/valgrind.rs: valgrind runs a CLONE_VM clone as a fork, so
 * the library makes children on its fork path there (which refuses new
 * user and PID namespaces and other exit signals), and valgrind itself
 * refuses RLIMIT_NOFILE changes (it keeps fds of its own at the top). */
static inline int under_valgrind(void)
{
    return getenv("SPAWNFD_UNDER_VALGRIND") != NULL;
}

#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_)                                                          \
            FAIL("%s == %lld, expected %s == %lld", #a, a_, #b, b_);           \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (a_ == NULL || strcmp(a_, b_) != 0)                                 \
            FAIL("%s == \"%s\", expected \"%s\"", #a, a_ ? a_ : "(null)", b_); \
    } while (0)

/* A call of the library's that must return 0 and leave errno alone. */
#define OK(call)                                                               \
    do {                                                                       \
        int r_;                                                                \
        CALL(r_, call);                                                        \
        if (r_ != 0)                                                           \
            FAIL("%s returned %d (%s)", #call, r_, strerror(r_));              \
    } while (0)

/* var = call, a call of the library's, which must leave errno alone. */
#define CALL(var, call)                                                        \
    do {                                                                       \
        errno = 7777;                                                          \
        (var) = (call);                                                        \
        if (errno != 7777)                                                     \
            FAIL("%s changed errno to %d", #call, errno);                      \
    } while (0)

static char self_exe[PATH_MAX];

/* ---- the child's side: `PROG report` prints its own state ---- */

static inline void print_status_line(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[4096];
    size_t n = strlen(key);
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            char *v = line + n + 1;
            while (*v == '\t' || *v == ' ')
                v++;
            v[strcspn(v, "\n")] = 0;
            for (char *t = v; *t; t++)
                if (*t == '\t')
                    *t = ' ';
            for (size_t m = strlen(v); m > 0 && v[m - 1] == ' '; m--)
                v[m - 1] = 0;
            printf("%s %s\n", key, v);
        }
    fclose(f);
}

/* Prints one line per fact (see each printf). The fds are listed first,
 * before anything else is opened. */
static inline int report(int argc, char **argv)
{
    DIR *d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1;
    struct dirent *e;
    char buf[PATH_MAX];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == dfd)
            continue;
        char link[64];
        ssize_t n;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        n = readlink(link, buf, sizeof buf - 1);
        buf[n < 0 ? 0 : n] = 0;
        printf("fd %d cloexec=%d %s\n", fd, (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0, buf);
    }
    if (d)
        closedir(d);
    print_status_line("SigBlk");
    print_status_line("SigIgn");
    print_status_line("Uid");
    print_status_line("Gid");
    print_status_line("Groups");
    print_status_line("NoNewPrivs");
    print_status_line("Umask");
    print_status_line("Cpus_allowed_list");
    print_status_line("TracerPid");
    print_status_line("CapInh");
    print_status_line("CapEff");
    print_status_line("CapBnd");
    print_status_line("CapAmb");
    print_status_line("Seccomp");
    printf("sched %d\n", sched_getscheduler(0));
    if (getcwd(buf, sizeof buf))
        printf("cwd %s\n", buf);
    for (int i = 0; i < argc; i++)
        if (i != 1)
            printf("arg %d %s\n", i < 1 ? i : i - 1, argv[i]);
    extern char **environ;
    for (char **v = environ; *v; v++)
        printf("env %s\n", *v);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("nofile %llu %llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    errno = 0;
    printf("nice %d\n", getpriority(PRIO_PROCESS, 0));
    printf("pid %d\n", (int)getpid());
    printf("sid %d\n", (int)getsid(0));
    printf("pgid %d\n", (int)getpgid(0));
    int sig = 0;
    prctl(PR_GET_PDEATHSIG, &sig);
    printf("pdeathsig %d\n", sig);
    ssize_t n = readlink("/proc/self/ns/uts", buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("ns uts %s\n", buf);
    /* tty_nr and tpgid, fields 7 and 8 of /proc/self/stat (after the
     * command's closing parenthesis: state, ppid, pgrp, session, ...). */
    FILE *stat = fopen("/proc/self/stat", "r");
    if (stat) {
        size_t len = fread(buf, 1, sizeof buf - 1, stat);
        buf[len] = 0;
        fclose(stat);
        char *after = strrchr(buf, ')');
        int ppid, pgrp, session, tty_nr, tpgid;
        char state;
        if (after && sscanf(after + 1, " %c %d %d %d %d %d", &state, &ppid, &pgrp, &session,
                            &tty_nr, &tpgid) == 6)
            printf("tty_nr %d\ntpgid %d\n", tty_nr, tpgid);
    }
    FILE *cg = fopen("/proc/self/cgroup", "r");
    if (cg) {
        while (fgets(buf, sizeof buf, cg))
            printf("cgroup %s", buf);
        fclose(cg);
    }
    fflush(stdout);
    return 0;
}

/* The test program's main calls this first: in report mode it never
 * returns. */
static inline void maybe_report(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n < 0)
        FAIL("readlink /proc/self/exe: %s", strerror(errno));
    self_exe[n] = 0;
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        exit(report(argc, argv));
    if (argc > 1 && strcmp(argv[1], "exit") == 0)
        exit(atoi(argv[2]));
    /* Unbuffered, so that the lines are in order with the children's. */
    setvbuf(stdout, NULL, _IONBF, 0);
}

/* ---- the parent's side ---- */

/* The value of `key` in this process's /proc/self/status, in a static
 * buffer (tabs as spaces, trailing blanks cut). */
static inline const char *own_status(const char *key)
{
    static char value[4096];
    FILE *f = fopen("/proc/self/status", "r");
    char line[4096];
    size_t n = strlen(key);
    value[0] = 0;
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            char *v = line + n + 1;
            while (*v == '\t' || *v == ' ')
                v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(value, sizeof value, "%s", v);
        }
    fclose(f);
    return value;
}

/* The state letter of `pid` in /proc/PID/stat ('S', 'R', 'Z', ...), or
 * 0 if there is no such process. */
static inline char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *after = strrchr(buf, ')');
    return after && after[1] == ' ' ? after[2] : 0;
}

/* A command that runs this program as `report`. */
static inline spawnfd_cmd *report_cmd(void)
{
    spawnfd_cmd *cmd = NULL;
    OK(spawnfd_cmd_new(&cmd, self_exe));
    OK(spawnfd_cmd_arg(cmd, "report"));
    return cmd;
}

/* Spawns `cmd` with its stdout on a pipe, reads everything and reaps it;
 * the output (malloc'd, NUL-terminated) and the wait status. The pipe's
 * write end is given with spawnfd_cmd_stdout and closed here after the
 * spawn: the command only borrowed it. */
static inline char *run_capture(spawnfd_cmd *cmd, int *wstatus)
{
    int p[2];
    pid_t pid = 0;
    int pidfd = -1;
    spawnfd_error err;
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    OK(spawnfd_cmd_stdout(cmd, p[1]));
    int r;
    CALL(r, spawnfd_spawn(cmd, &pid, &pidfd, &err));
    if (r != 0)
        FAIL("spawn: %s", err.message);
    close(p[1]);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    for (;;) {
        if (len + 1024 > cap)
            out = realloc(out, cap *= 2);
        ssize_t n = read(p[0], out + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    out[len] = 0;
    close(p[0]);
    OK(spawnfd_wait(pidfd, wstatus, NULL));
    close(pidfd);
    return out;
}

/* The rest of the line that starts with `prefix` (up to the newline), in
 * a static buffer; NULL if there is none. */
static inline const char *line_of(const char *out, const char *prefix)
{
    static char value[4096];
    size_t n = strlen(prefix);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, n) == 0) {
            const char *end = strchr(l + n, '\n');
            size_t m = end ? (size_t)(end - l - n) : strlen(l + n);
            if (m >= sizeof value)
                m = sizeof value - 1;
            memcpy(value, l + n, m);
            value[m] = 0;
            return value;
        }
    }
    return NULL;
}

/* How many lines start with `prefix`. */
static inline int count_lines(const char *out, const char *prefix)
{
    int count = 0;
    size_t n = strlen(prefix);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, prefix, n) == 0)
            count++;
    return count;
}

/* This process's open fds. */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    CHECK(d != NULL);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* This process's children, running or zombies (every thread's). */
static inline int count_children(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    CHECK(d != NULL);
    while ((e = readdir(d))) {
        char path[320], buf[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/children", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        buf[len] = 0;
        fclose(f);
        for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
            n++;
    }
    closedir(d);
    return n;
}

/* Waits up to `ms` for this process to have `want` fds open; how many it
 * has. Where children are watched without pidfds (kernels before 5.4,
 * some sandboxes) the library's watcher thread closes the fds it holds
 * for a child a moment after the spawn or wait has returned. */
static inline int fds_within(int ms, int want)
{
    for (int i = 0; i < ms / 10; i++) {
        if (count_fds() == want)
            return want;
        usleep(10000);
    }
    return count_fds();
}

/* As fds_within, for at most `max` fds. */
static inline int fds_at_most_within(int ms, int max)
{
    for (int i = 0; i < ms / 10; i++) {
        int n = count_fds();
        if (n <= max)
            return n;
        usleep(10000);
    }
    return count_fds();
}

/* Waits up to `ms` for this process to have no children; how many are
 * left. */
static inline int children_gone_within(int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (count_children() == 0)
            return 0;
        usleep(10000);
    }
    return count_children();
}

#endif
