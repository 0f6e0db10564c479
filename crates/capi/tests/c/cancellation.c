/* pthread cancellation: a thread cancelled while it spawns in a loop, or
 * while it waits, leaves no child unreaped and no fd open, and no Rust
 * frame is ever unwound (that would abort the process). Cancellation
 * requests arrive while the thread is inside spawnfd_spawn too, whose
 * own cancellation points (close, read, poll, waitid) must stay inert. */
#include "check.h"

#include <forkfd.h>
#include <pthread.h>
#include <stdatomic.h>

static atomic_int spawned;

static void detach_fd(void *arg)
{
    int *pidfd = arg;
    if (*pidfd >= 0) {
        /* In a cleanup handler: the child is the library's now. */
        int r = spawnfd_detach(*pidfd);
        if (r != 0)
            FAIL("spawnfd_detach in a cleanup handler: %s", strerror(r));
        *pidfd = -1;
    }
}

/* Spawns short children and waits for each (spawnfd_wait is the
 * cancellation point). */
static void *spawn_and_wait(void *arg)
{
    spawnfd_cmd *cmd = arg;
    for (;;) {
        int pidfd = -1, status;
        OK(spawnfd_spawn(cmd, NULL, &pidfd, NULL));
        atomic_fetch_add(&spawned, 1);
        pthread_cleanup_push(detach_fd, &pidfd);
        int r = spawnfd_wait(pidfd, &status, NULL);
        if (r != 0)
            FAIL("spawnfd_wait: %s", strerror(r));
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* close(2) is a cancellation point too, and before glibc 2.41 a
         * request can act just after the fd was closed, leaving the
         * handler a stale number: close with cancellation disabled. */
        int state;
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &state);
        close(pidfd);
        pidfd = -1;
        pthread_setcancelstate(state, NULL);
        pthread_cleanup_pop(0);
    }
    return NULL;
}

/* Spawns detached children; cancelled at pthread_testcancel, with the
 * request mostly arriving inside spawnfd_spawn. */
static void *spawn_detached(void *arg)
{
    spawnfd_cmd *cmd = arg;
    for (;;) {
        OK(spawnfd_spawn(cmd, NULL, NULL, NULL));
        atomic_fetch_add(&spawned, 1);
        pthread_testcancel();
    }
    return NULL;
}

/* Waits for a long child; cancelled in spawnfd_wait, its handler kills
 * and detaches the child. */
static int long_pidfd = -1;

static void kill_and_detach(void *arg)
{
    (void)arg;
    OK(spawnfd_kill(long_pidfd, SIGKILL));
    detach_fd(&long_pidfd);
}

static void *wait_long(void *arg)
{
    (void)arg;
    int status;
    pthread_cleanup_push(kill_and_detach, NULL);
    spawnfd_wait(long_pidfd, &status, NULL);
    FAIL("spawnfd_wait returned although the child runs for a minute");
    pthread_cleanup_pop(0);
    return NULL;
}

static void *wait_long_timeout(void *arg)
{
    (void)arg;
    int status;
    pthread_cleanup_push(kill_and_detach, NULL);
    for (;;)
        spawnfd_wait_timeout(long_pidfd, 10, &status, NULL);
    pthread_cleanup_pop(0);
    return NULL;
}

/* forkfd_wait4 blocking on a child that runs until it is killed: a
 * cancellation point too, and one that reaps nothing when it acts. The
 * cleanup handler only records that it ran; the fd and the child are
 * checked afterwards. */
static int long_ffd = -1;
static atomic_int forkfd_cleanup_ran;

static void note_cleanup(void *arg)
{
    (void)arg;
    atomic_store(&forkfd_cleanup_ran, 1);
}

static void *forkfd_wait_long(void *arg)
{
    (void)arg;
    struct forkfd_info info;
    pthread_cleanup_push(note_cleanup, NULL);
    forkfd_wait4(long_ffd, &info, 0, NULL);
    FAIL("forkfd_wait4 returned although the child waits to be killed");
    pthread_cleanup_pop(0);
    return NULL;
}

/* A cancellation request already pending when the library is called:
 * every call returns normally (the library's own cancellation points are
 * inert, so no Rust frame is unwound), and the request is acted on at the
 * caller's next cancellation point. */
static atomic_int returned;

static void *pending_request(void *arg)
{
    spawnfd_cmd *cmd = arg;
    int pidfd = -1, status;
    pid_t pid;
    CHECK(pthread_cancel(pthread_self()) == 0);
    pthread_cleanup_push(detach_fd, &pidfd);
    OK(spawnfd_spawn(cmd, NULL, &pidfd, NULL));
    OK(spawnfd_pidfd_getpid(pidfd, &pid));
    int r = spawnfd_try_wait(pidfd, &status, NULL);
    CHECK(r == 0 || r == EAGAIN);
    if (r == EAGAIN) {
        /* ESRCH if it has exited since (on the exit-fd path the watcher
         * reaps it at once). */
        CALL(r, spawnfd_kill(pidfd, SIGTERM));
        CHECK(r == 0 || r == ESRCH);
    }
    atomic_store(&returned, 1);
    pthread_testcancel();
    FAIL("a pending cancellation request was lost");
    pthread_cleanup_pop(0);
    return NULL;
}

static void cancel_after(pthread_t t, int spawns_at_least)
{
    void *result;
    for (int i = 0; i < 6000 && atomic_load(&spawned) < spawns_at_least; i++)
        usleep(10000);
    CHECK(atomic_load(&spawned) >= spawns_at_least);
    CHECK(pthread_cancel(t) == 0);
    CHECK(pthread_join(t, &result) == 0);
    CHECK(result == PTHREAD_CANCELED);
}

int main(int argc, char **argv)
{
    maybe_report(argc, argv);
    int fds = count_fds();
    spawnfd_cmd *cmd;
    OK(spawnfd_cmd_new(&cmd, self_exe));
    OK(spawnfd_cmd_arg(cmd, "exit"));
    OK(spawnfd_cmd_arg(cmd, "0"));

    for (int round = 0; round < 5; round++) {
        pthread_t t;
        atomic_store(&spawned, 0);
        CHECK(pthread_create(&t, NULL, spawn_and_wait, cmd) == 0);
        cancel_after(t, 20 + round * 7);
    }
    printf("ok a thread cancelled in its spawn-and-wait loop\n");

    for (int round = 0; round < 5; round++) {
        pthread_t t;
        atomic_store(&spawned, 0);
        CHECK(pthread_create(&t, NULL, spawn_detached, cmd) == 0);
        cancel_after(t, 20 + round * 7);
    }
    printf("ok a thread cancelled in its spawn loop\n");

    /* With fds to copy and close, so that the spawn passes through
     * close(2), a cancellation point, many times. */
    spawnfd_cmd *busy;
    OK(spawnfd_cmd_new(&busy, self_exe));
    OK(spawnfd_cmd_arg(busy, "exit"));
    OK(spawnfd_cmd_arg(busy, "0"));
    for (int fd = 10; fd < 40; fd++)
        OK(spawnfd_cmd_fd(busy, fd, 2));
    for (int round = 0; round < 20; round++) {
        pthread_t t;
        void *result;
        atomic_store(&returned, 0);
        CHECK(pthread_create(&t, NULL, pending_request, busy) == 0);
        CHECK(pthread_join(t, &result) == 0);
        CHECK(result == PTHREAD_CANCELED);
        CHECK_INT(atomic_load(&returned), 1);
    }
    spawnfd_cmd_free(busy);
    printf("ok a pending cancellation request: every call returns, acted on after\n");

    spawnfd_cmd *sleeper;
    OK(spawnfd_cmd_new(&sleeper, "sleep"));
    OK(spawnfd_cmd_arg(sleeper, "60"));
    void *(*waits[])(void *) = { wait_long, wait_long_timeout };
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        void *result;
        OK(spawnfd_spawn(sleeper, NULL, &long_pidfd, NULL));
        CHECK(pthread_create(&t, NULL, waits[i], NULL) == 0);
        usleep(50000);
        CHECK(pthread_cancel(t) == 0);
        CHECK(pthread_join(t, &result) == 0);
        CHECK(result == PTHREAD_CANCELED);
        CHECK_INT(long_pidfd, -1);
    }
    spawnfd_cmd_free(sleeper);
    printf("ok a thread cancelled in spawnfd_wait and spawnfd_wait_timeout\n");
    spawnfd_cmd_free(cmd);

    for (int round = 0; round < 3; round++) {
        pthread_t t;
        void *result;
        pid_t pid;
        long_ffd = forkfd(FFD_CLOEXEC, &pid);
        if (long_ffd == FFD_CHILD_PROCESS) {
            for (;;)
                pause();
        }
        CHECK(long_ffd >= 0);
        atomic_store(&forkfd_cleanup_ran, 0);
        CHECK(pthread_create(&t, NULL, forkfd_wait_long, NULL) == 0);
        usleep(50000);
        CHECK(pthread_cancel(t) == 0);
        CHECK(pthread_join(t, &result) == 0);
        CHECK(result == PTHREAD_CANCELED);
        CHECK_INT(atomic_load(&forkfd_cleanup_ran), 1);
        /* The cancelled wait reaped nothing: the child still runs, and
         * its fd still waits for it. */
        struct forkfd_info info;
        errno = 0;
        CHECK_INT(forkfd_wait4(long_ffd, &info, FFDW_NOHANG, NULL), -1);
        CHECK_INT(errno, EAGAIN);
        CHECK_INT(kill(pid, 0), 0);
        OK(spawnfd_kill(long_ffd, SIGKILL));
        CHECK_INT(forkfd_wait4(long_ffd, &info, 0, NULL), 0);
        CHECK_INT(info.code, CLD_KILLED);
        CHECK_INT(info.status, SIGKILL);
        CHECK_INT(forkfd_close(long_ffd), 0);
        long_ffd = -1;
    }
    printf("ok a thread cancelled in forkfd_wait4 reaped nothing\n");

    /* Every child reaped (the detached ones by the library's reaper),
     * and no fd left but the reaper's one epoll fd. */
    CHECK_INT(children_gone_within(30000), 0);
    int now = fds_at_most_within(5000, fds + 1);
    if (now > fds + 1)
        FAIL("%d fds open, %d before (the reaper may keep one)", now, fds);
    printf("ok nothing left: no child, no fd\n");
    return 0;
}
