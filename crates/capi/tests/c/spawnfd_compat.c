/* Qt's spawnfd() (include/forkfd.h), built two ways by
 * tests/c_spawnfd_compat.rs:
 *
 * - as is: on a glibc without pidfd_spawn (before 2.39) spawnfd fails
 *   with ENOSYS and creates no child (never a racy posix_spawn +
 *   pidfd_open); errno is set on failure and kept on success.
 * - with -DSTANDIN -rdynamic: this program exports its own pidfd_spawn
 *   and pidfd_spawnp, which the library finds with dlsym(RTLD_DEFAULT),
 *   to check the wiring: which one is called, the file actions and
 *   arguments passed through, FFD_CLOEXEC, FFD_SPAWN_SEARCH_PATH, the pid
 *   in *ppid, the fd above 2, forkfd_wait4 on the result. */
#include "check.h"

#include <dlfcn.h>
#include <forkfd.h>
#include <spawn.h>
#include <sys/syscall.h>

#define ERRNO_KEPT 7777

extern char **environ;

/* Whether this process has children (exited or not), without reaping. */
static int has_children(void)
{
    siginfo_t si;
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
    if (r == -1 && errno == ECHILD)
        return 0;
    CHECK_INT(r, 0);
    return 1;
}

#ifdef STANDIN
static int spawn_calls, spawnp_calls;

/* TEST-ONLY stand-ins for glibc 2.39's pidfd_spawn and pidfd_spawnp:
 * posix_spawn and then pidfd_open, which is racy (the pid could be
 * reaped and reused in between) and is here only to check that spawnfd
 * finds these functions and wires its arguments through. The library
 * itself never does this. They return an errno value, as glibc's. */
static int standin(int *pidfd, const char *path, const posix_spawn_file_actions_t *fa,
                   const posix_spawnattr_t *attrp, char *const argv[], char *const envp[],
                   int search)
{
    pid_t pid;
    int r = search ? posix_spawnp(&pid, path, fa, attrp, argv, envp)
                   : posix_spawn(&pid, path, fa, attrp, argv, envp);
    if (r != 0)
        return r;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno;
    /* As glibc's: close-on-exec (pidfd_open's fds are). */
    *pidfd = fd;
    return 0;
}

int pidfd_spawn(int *pidfd, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attrp, char *const argv[], char *const envp[]);
int pidfd_spawn(int *pidfd, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *attrp, char *const argv[], char *const envp[])
{
    spawn_calls++;
    return standin(pidfd, path, fa, attrp, argv, envp, 0);
}

int pidfd_spawnp(int *pidfd, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attrp, char *const argv[], char *const envp[]);
int pidfd_spawnp(int *pidfd, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *attrp, char *const argv[], char *const envp[])
{
    spawnp_calls++;
    return standin(pidfd, path, fa, attrp, argv, envp, 1);
}

/* The pid of a pidfd, from /proc/self/fdinfo. */
static pid_t fdinfo_pid(int fd)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    pid_t pid = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Pid: %d", &pid) == 1)
            break;
    fclose(f);
    return pid;
}

static void wait_exit(int fd, int code)
{
    struct forkfd_info info;
    CHECK_INT(forkfd_wait4(fd, &info, 0, NULL), 0);
    CHECK_INT(info.code, CLD_EXITED);
    CHECK_INT(info.status, code);
    CHECK_INT(forkfd_close(fd), 0);
}

static void test_wiring(void)
{
    /* Found, and the file actions passed: echo's stdout is the pipe. */
    int p[2];
    CHECK_INT(pipe2(p, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    CHECK_INT(posix_spawn_file_actions_init(&fa), 0);
    CHECK_INT(posix_spawn_file_actions_adddup2(&fa, p[1], 1), 0);
    char *echo[] = {"echo", "hi", NULL};
    pid_t pid = 0;
    errno = ERRNO_KEPT;
    int fd = spawnfd(FFD_CLOEXEC, &pid, "/bin/echo", &fa, NULL, echo, environ);
    CHECK(fd > 2);
    CHECK_INT(errno, ERRNO_KEPT);
    CHECK_INT(spawn_calls, 1);
    CHECK_INT(spawnp_calls, 0);
    CHECK(pid > 0);
    CHECK_INT(fdinfo_pid(fd), pid);
    CHECK_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    close(p[1]);
    char buf[16] = {0};
    CHECK_INT((int)read(p[0], buf, sizeof buf - 1), 3);
    CHECK_STR(buf, "hi\n");
    close(p[0]);
    posix_spawn_file_actions_destroy(&fa);
    /* The pid is the one waitid sees. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK_INT(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    CHECK_INT(si.si_pid, pid);
    wait_exit(fd, 0);
    printf("ok spawnfd finds pidfd_spawn, passes file actions, pid and CLOEXEC\n");

    /* Without FFD_CLOEXEC the fd is inherited by an exec. */
    char *sh_exit[] = {"sh", "-c", "exit 3", NULL};
    fd = spawnfd(0, &pid, "/bin/sh", NULL, NULL, sh_exit, environ);
    CHECK(fd > 2);
    CHECK_INT(spawn_calls, 2);
    CHECK_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    CHECK_INT(fdinfo_pid(fd), pid);
    wait_exit(fd, 3);
    printf("ok spawnfd without FFD_CLOEXEC\n");

    /* FFD_SPAWN_SEARCH_PATH: pidfd_spawnp, and (Qt's shared bit) an
     * O_NONBLOCK fd; ppid may be NULL. */
    char *sh_exit5[] = {"sh", "-c", "exit 5", NULL};
    fd = spawnfd(FFD_SPAWN_SEARCH_PATH | FFD_CLOEXEC, NULL, "sh", NULL, NULL, sh_exit5, environ);
    CHECK(fd > 2);
    CHECK_INT(spawnp_calls, 1);
    CHECK_INT(spawn_calls, 2);
    CHECK_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    CHECK_INT(poll(&pfd, 1, 10000), 1);
    wait_exit(fd, 5);
    printf("ok FFD_SPAWN_SEARCH_PATH calls pidfd_spawnp\n");

    /* The stand-in's error (an errno value as return) is -1/errno. */
    errno = 0;
    CHECK_INT(spawnfd(FFD_CLOEXEC, &pid, "/nonexistent/x", NULL, NULL, echo, environ), -1);
    CHECK_INT(errno, ENOENT);
    CHECK_INT(spawn_calls, 3);
    printf("ok pidfd_spawn's error is -1/errno\n");

    /* The fd is never 0, 1 or 2: with stdin closed the stand-in's pidfd
     * is 0, and spawnfd moves it. */
    int saved = dup(0);
    CHECK(saved > 2);
    close(0);
    char *t[] = {"true", NULL};
    fd = spawnfd(FFD_CLOEXEC, &pid, "/bin/true", NULL, NULL, t, environ);
    CHECK(fd > 2);
    CHECK_INT(fcntl(0, F_GETFD), -1); /* the stand-in's 0 was closed */
    CHECK_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    CHECK_INT(fdinfo_pid(fd), pid);
    CHECK_INT(dup2(saved, 0), 0);
    close(saved);
    wait_exit(fd, 0);
    CHECK_INT(spawn_calls, 4);
    printf("ok spawnfd's fd is above 2\n");
}
#endif

static void test_flags_and_errors(void)
{
    char *t[] = {"true", NULL};
    pid_t pid = 1234;
    errno = 0;
    CHECK_INT(spawnfd(4, &pid, "/bin/true", NULL, NULL, t, environ), -1);
    CHECK_INT(errno, EINVAL);
    errno = 0;
    CHECK_INT(spawnfd(FFD_CLOEXEC, &pid, NULL, NULL, NULL, t, environ), -1);
    CHECK_INT(errno, EINVAL);
    CHECK_INT(pid, 1234);
    CHECK(!has_children());
    printf("ok spawnfd refuses unknown flags and a NULL path\n");
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    CHECK(!has_children());
    test_flags_and_errors();
#ifdef STANDIN
    test_wiring();
    CHECK(!has_children());
#else
    if (dlsym(RTLD_DEFAULT, "pidfd_spawn") != NULL) {
        printf("skipped: spawnfd ENOSYS: this glibc has pidfd_spawn\n");
        return 0;
    }
    char *t[] = {"true", NULL};
    pid_t pid = 1234;
    for (int flags = 0; flags <= (FFD_CLOEXEC | FFD_SPAWN_SEARCH_PATH); flags++) {
        errno = 0;
        CHECK_INT(spawnfd(flags, &pid, "true", NULL, NULL, t, environ), -1);
        CHECK_INT(errno, ENOSYS);
        CHECK_INT(pid, 1234);
        CHECK(!has_children());
    }
    /* And a success elsewhere leaves errno alone (forkfd as control). */
    errno = ERRNO_KEPT;
    int fd = forkfd(FFD_CLOEXEC, &pid);
    if (fd == FFD_CHILD_PROCESS)
        _exit(0);
    CHECK(fd >= 0);
    CHECK_INT(errno, ERRNO_KEPT);
    CHECK_INT(forkfd_wait4(fd, NULL, 0, NULL), 0);
    CHECK_INT(forkfd_close(fd), 0);
    CHECK(!has_children());
    printf("ok spawnfd without pidfd_spawn: -1/ENOSYS, no child\n");
#endif
    return 0;
}
