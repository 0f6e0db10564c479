/* The blocking waits of libspawnfd, the library's only cancellation
 * points, and the cancellation-state switch every other entry point uses.
 *
 * Why C: glibc's pthread_cancel acts at a cancellation point by unwinding
 * the thread's stack (a forced unwind). Unwinding a Rust frame that way
 * aborts or is undefined behaviour, so no Rust frame may be on the stack
 * while a cancellation point can act. The Rust entry points therefore run
 * with cancellation disabled (sfd_shim_cancel_disable / _restore), and the
 * waits that must be cancellation points, as waitpid(2) is, are these C
 * functions: the exported spawnfd_wait and spawnfd_wait_timeout are naked
 * Rust trampolines that jump here (no frame of their own), so the stack
 * under poll(2) holds only the caller's frames and this one. This frame
 * has nothing to clean up: the poll is made before anything is reaped, so
 * a wait that is cancelled has consumed nothing, as POSIX asks of
 * waitpid. Reaping is the Rust side's non-blocking sfd_wait_nohang, which
 * runs with cancellation disabled; the trampoline passes it in the
 * argument register after the caller's arguments.
 *
 * Nothing here is exported from the shared library (hidden visibility,
 * and rustc's export list names only the Rust #[no_mangle] items).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

/* The Rust side (src/wait.rs), handed over by the trampoline in an
 * argument register (a Rust #[no_mangle] function would be exported):
 * reaps the child of `fd` if it has exited. 0 with the status filled in,
 * EAGAIN while it runs, or an errno value. Leaves errno and the
 * cancellation state as it found them. */
typedef int (*nohang_fn)(int fd, int *wstatus, struct rusage *ru);

int sfd_shim_cancel_disable(void)
{
    int old = PTHREAD_CANCEL_ENABLE;
    /* Cannot fail with a valid state. */
    (void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    return old;
}

void sfd_shim_cancel_restore(int old)
{
    int ignored;
    /* In deferred mode (the only mode in which calling this library is
     * allowed, as for any function that is not async-cancel-safe) this
     * does not act on a pending request: the next cancellation point
     * does. */
    (void)pthread_setcancelstate(old, &ignored);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the child of `fd` has exited and reaps it; at most
 * timeout_ms milliseconds when timeout_ms >= 0 (ETIMEDOUT then, nothing
 * reaped). */
static int wait_until(int fd, int timeout_ms, int *wstatus, struct rusage *ru,
                      nohang_fn nohang)
{
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    for (;;) {
        int r = nohang(fd, wstatus, ru);
        if (r != EAGAIN)
            return r;
        int left = -1;
        if (deadline >= 0) {
            int64_t ms = deadline - now_ms();
            if (ms <= 0)
                return ETIMEDOUT;
            left = ms > INT_MAX ? INT_MAX : (int)ms;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
        /* The cancellation point, with the caller's cancellation state. */
        int n = poll(&p, 1, left);
        if (n < 0 && errno != EINTR)
            return errno;
        if (n > 0 && (p.revents & POLLNVAL))
            return EBADF;
        /* Readable, a signal, or the time is up: look again. */
    }
}

int sfd_shim_wait(int fd, int *wstatus, struct rusage *ru, nohang_fn nohang)
{
    int saved = errno;
    int r = wait_until(fd, -1, wstatus, ru, nohang);
    errno = saved;
    return r;
}

int sfd_shim_wait_timeout(int fd, int timeout_ms, int *wstatus, struct rusage *ru,
                          nohang_fn nohang)
{
    int saved = errno;
    int r = wait_until(fd, timeout_ms < 0 ? -1 : timeout_ms, wstatus, ru, nohang);
    errno = saved;
    return r;
}

/* ---- Qt's forkfd_wait4 (src/forkfd.rs), errno as its channel ---- */

/* struct forkfd_info of include/forkfd.h. */
struct sfd_forkfd_info {
    int32_t code;
    int32_t status;
};

/* The Rust side: as nohang_fn, with forkfd_wait4's arguments. */
typedef int (*wait4_nohang_fn)(int fd, struct sfd_forkfd_info *info, int options,
                               struct rusage *ru);

#define SFD_FFDW_NOHANG 1
#define SFD_FFDW_NOWAIT 2

/* Returns 0 (errno as it was) or -1 with errno set. Blocks (in poll, the
 * cancellation point, before anything is reaped) unless FFDW_NOHANG is
 * given or the fd is O_NONBLOCK (FFD_NONBLOCK), as a read of Qt's pipe
 * would not. A signal does not end the wait (no EINTR to retry). */
int sfd_shim_forkfd_wait4(int fd, struct sfd_forkfd_info *info, int options,
                          struct rusage *ru, wait4_nohang_fn nohang)
{
    int saved = errno;
    if (options & ~(SFD_FFDW_NOHANG | SFD_FFDW_NOWAIT)) {
        errno = EINVAL;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1; /* EBADF, from fcntl */
    if (fl & O_NONBLOCK)
        options |= SFD_FFDW_NOHANG;
    for (;;) {
        int r = nohang(fd, info, options, ru);
        if (r == 0) {
            errno = saved;
            return 0;
        }
        if (r != EAGAIN || (options & SFD_FFDW_NOHANG)) {
            errno = r;
            return -1;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
        /* The cancellation point, with the caller's cancellation state. */
        int n = poll(&p, 1, -1);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0 && (p.revents & POLLNVAL)) {
            errno = EBADF;
            return -1;
        }
    }
}
