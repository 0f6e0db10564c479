/*
 * forkfd.h: Qt's forkfd API, provided by libspawnfd.
 *
 * The same function names, flag values and struct layout as the
 * forkfd.h that Qt 6 ships (src/3rdparty/forkfd), so that a program
 * written against it compiles and links against libspawnfd unchanged:
 *
 *     #include <forkfd.h>          with  $(pkg-config --cflags spawnfd)
 *                                        (-I$(prefix)/include/spawnfd)
 *     cc app.c $(pkg-config --cflags --libs spawnfd)
 *
 * or #include <spawnfd/forkfd.h> with just -I$(prefix)/include.
 *
 * Written by hand (not by cbindgen): crates/capi/tests/header.rs compiles
 * it as C11 and C++17 with -Wall -Wextra -Werror -pedantic, checks every
 * value and the struct's layout against the Rust side (src/forkfd.rs),
 * and tests/exports.rs checks that what it declares is exactly what the
 * library exports besides spawnfd.h.
 *
 * What differs from Qt's implementation (all of it on purpose):
 * - No SIGCHLD handler is installed and SIGPIPE's disposition is never
 *   changed: the fd is a pidfd (Linux 5.3+; the kernel makes it readable
 *   when the child exits), or on older kernels an "exit fd" that the
 *   library's watcher thread makes readable. Your own SIGCHLD handler,
 *   SIGCHLD set to SIG_IGN, and waitpid(-1) elsewhere all keep working;
 *   none of them can make an fd name another process.
 * - errno: on success every function leaves errno as it was; on failure
 *   it returns -1 with errno set, as Qt's.
 * - forkfd_wait4 never fails with EINTR (a signal does not end the
 *   wait) and never reads a partial record: it fills the whole
 *   forkfd_info, or fails.
 * - forkfd_close never leaves a zombie: a child not yet reaped is handed
 *   to the library's reaper.
 * - spawnfd() is race-free or fails: it needs glibc 2.39's pidfd_spawn
 *   (looked up at run time) and returns -1/ENOSYS without it, never a
 *   pid from posix_spawn turned into an fd after the fact.
 *
 * Thread safety: every function is thread-safe. None is
 * async-signal-safe. forkfd_wait4 (when it blocks) is a cancellation
 * point, as waitpid(2); forkfd, vforkfd, spawnfd and forkfd_close run with
 * cancellation disabled. Do not call them with asynchronous cancellation
 * enabled.
 */
#ifndef FORKFD_H
#define FORKFD_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>
#if _POSIX_SPAWN > 0
#include <spawn.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

struct rusage;

/* forkfd, vforkfd: the returned fd is close-on-exec. Without it the fd is
 * inherited by programs this process execs (the library makes it
 * close-on-exec and clears the flag only when you leave this out, so no
 * other thread's fork can copy an fd you asked to be close-on-exec). */
#define FFD_CLOEXEC  1
/* forkfd, vforkfd: the returned fd is O_NONBLOCK; forkfd_wait4 on it
 * never blocks (-1/EAGAIN while the child runs), as if FFDW_NOHANG. */
#define FFD_NONBLOCK 2
/* vforkfd: create the child with fork() instead of with vfork semantics.
 * Accepted, and without effect, by forkfd (which always forks). */
#define FFD_USE_FORK 4

/* What forkfd returns in the child. */
#define FFD_CHILD_PROCESS (-2)

/* forkfd_wait4: do not block (-1/EAGAIN while the child runs). The same
 * value as Linux's WNOHANG. */
#define FFDW_NOHANG 1
/* forkfd_wait4: report the status without reaping the child (it stays
 * waitable). Not Linux's WNOWAIT (0x01000000), which is refused. */
#define FFDW_NOWAIT 2

/* How a child ended. 8 bytes, as Qt's. */
struct forkfd_info {
    int32_t code;   /* siginfo_t si_code: CLD_EXITED, CLD_KILLED, CLD_DUMPED */
    int32_t status; /* si_status: the exit code, or the signal */
};

/*
 * forkfd: fork(2), with the child as a file descriptor.
 *
 * A real fork(), as far as the C library is concerned: pthread_atfork
 * handlers run and libc's internal state (malloc, stdio, the thread's
 * cached ids) is valid in the child. The parent holds the child's pidfd
 * before the child runs any of your code: the child waits for it (with
 * every signal blocked) and exits with status 127 without returning if
 * the parent dies first. So no other reaper in the process can make the
 * fd name another process.
 *
 * Returns, in the child, FFD_CHILD_PROCESS (with 0 in *ppid), with the
 * caller's signal mask and dispositions and every fd as fork leaves them.
 * In the parent, the fd (a pidfd, or an exit fd on kernels without
 * pidfds: forkfd_wait4 and forkfd_close take either; poll it for POLLIN),
 * with the child's pid in *ppid (ppid may be NULL). On failure -1 and
 * errno: EINVAL (unknown flags), EAGAIN, ENOMEM (fork), EMFILE, ENFILE
 * (no fd for the pidfd or the hand-shake), ESRCH (the child was killed
 * and reaped by someone else before its pidfd was held). No child is left
 * behind on failure.
 *
 * The child of a multi-threaded process may run only async-signal-safe
 * code until it execs or _exits (a lock another thread held at the fork
 * stays held); end it with _exit or an exec.
 */
int forkfd(int flags, pid_t *ppid);

/*
 * vforkfd: a child that runs childFn(token) and exits with its return
 * value (its low 8 bits, as _exit).
 *
 * By default with vfork semantics: the child is created with
 * clone3(CLONE_VM | CLONE_VFORK), runs in this process's memory (what
 * childFn writes, the parent sees) on its own 256 KiB stack, while the
 * calling thread waits; vforkfd returns once the child has exited or
 * exec'd. childFn may call only async-signal-safe functions and must not
 * return through or longjmp out of the caller's frames. With
 * FFD_USE_FORK the child is a fork() copy (pthread_atfork handlers run,
 * memory is private, any code a forked child may run) and vforkfd
 * returns as soon as the child is about to call childFn.
 *
 * The child gets what fork gives as far as sharing memory allows: every
 * fd as it is (an fd without FD_CLOEXEC is inherited by what childFn
 * execs, one with it is closed by the exec), the caller's signal mask,
 * ignored signals still ignored, caught signals reset to SIG_DFL (a
 * handler of the parent must not run in a child that shares its memory).
 * childFn runs with pthread cancellation disabled.
 *
 * Returns the fd as forkfd does (pid in *ppid), or -1 and errno: EINVAL
 * (unknown flags, childFn NULL), EAGAIN, ENOMEM, EMFILE.
 */
int vforkfd(int flags, pid_t *ppid, int (*childFn)(void *), void *token);

/*
 * forkfd_wait4: waits for the child of ffd to exit and reaps it.
 *
 * Fills *info (the whole struct) and *rusage (the fields Linux fills;
 * all zero if another reaper took the child first and the kernel kept
 * only its status, Linux 6.15+); either may be NULL. options: 0,
 * FFDW_NOHANG, FFDW_NOWAIT, or both.
 *
 * Returns 0, or -1 and errno:
 * - EAGAIN: FFDW_NOHANG (or an FFD_NONBLOCK fd) and still running;
 * - ECHILD: already reaped and the kernel kept no status: before Linux
 *   6.15, a child another reaper took (a waitpid(-1), SIGCHLD set to
 *   SIG_IGN), or a second wait after one that reaped it. From 6.15 on
 *   the kernel keeps the status in the pidfd, and such a wait returns 0
 *   with the child's real status (its rusage, which went to the other
 *   reaper, all zero), a second wait the same status again. The status
 *   is never another process's;
 * - EBADF: ffd is not open, or not a forkfd;
 * - EINVAL: unknown options;
 * - EMFILE: no fd free for the library's momentary copy of ffd.
 *
 * Never EINTR. A cancellation point while it blocks: a cancelled wait
 * has reaped nothing.
 */
int forkfd_wait4(int ffd, struct forkfd_info *info, int options, struct rusage *rusage);

/* forkfd_wait4 with options 0. */
static inline int forkfd_wait(int ffd, struct forkfd_info *info, struct rusage *rusage)
{
    return forkfd_wait4(ffd, info, 0, rusage);
}

/*
 * forkfd_close: closes ffd.
 *
 * A child that has not been reaped is handed to the library's reaper
 * first (reaped at once if it has exited, else when it does), so no
 * zombie is left. The fd is closed exactly once: never retried (on Linux
 * close releases the fd even when it reports EINTR, so EINTR is
 * reported as success; retrying could close an fd another thread has
 * just been given).
 *
 * Returns 0, or -1 and errno (EBADF: ffd is not open).
 */
int forkfd_close(int ffd);

/* spawnfd() takes <spawn.h>'s objects: it is left out where
 * <spawnfd_spawn.h> renamed those types to libspawnfd's. */
#if _POSIX_SPAWN > 0 && !(defined(SPAWNFD_SPAWN_H) && !defined(SPAWNFD_NO_POSIX_NAMES))
/* spawnfd: search PATH for the program (posix_spawnp). Qt's value, which
 * is FFD_NONBLOCK's too: see spawnfd. */
#define FFD_SPAWN_SEARCH_PATH O_RDWR

/*
 * spawnfd: posix_spawn(3) (posix_spawnp with FFD_SPAWN_SEARCH_PATH), with
 * the child as a pidfd, race-free.
 *
 * path, file_actions, attrp, argv and envp are posix_spawn's. flags:
 * FFD_CLOEXEC, FFD_SPAWN_SEARCH_PATH, or both (anything else: EINVAL).
 * FFD_SPAWN_SEARCH_PATH has the value of FFD_NONBLOCK (2, O_RDWR, as in
 * Qt's header): here 2 means "search PATH", and, as in Qt (whose spawnfd
 * hands the same flags to the code that makes its fd), the fd is then
 * also O_NONBLOCK, so forkfd_wait4 on it never blocks. A non-blocking fd
 * without a PATH search cannot be asked for: set O_NONBLOCK with fcntl.
 *
 * Race-free only through glibc 2.39's pidfd_spawn and pidfd_spawnp,
 * which create the pidfd together with the child; they are looked up at
 * run time (dlsym(RTLD_DEFAULT), once per process), so the library does
 * not require that glibc. Without them spawnfd fails with ENOSYS and
 * creates no child: a pid from posix_spawn made into an fd afterwards
 * can name another process once something else reaps the child. Use
 * spawnfd_spawn() from <spawnfd.h> instead (crates/capi/README.md,
 * "Porting from posix_spawn"), which needs no particular glibc.
 *
 * Returns the fd (a pidfd, never 0, 1 or 2: forkfd_wait4 and
 * forkfd_close take it), with the child's pid in *ppid (ppid may be
 * NULL; -1 if another reaper in the process took the child before its
 * pid was read). On failure -1 and errno: ENOSYS (no pidfd_spawn), EINVAL
 * (unknown flags, path NULL), what pidfd_spawn returns (ENOENT, EACCES,
 * ENOMEM, EAGAIN, ...: the exec's error is reported here, as
 * posix_spawn does), EMFILE.
 */
int spawnfd(int flags, pid_t *ppid, const char *path, const posix_spawn_file_actions_t *file_actions,
            posix_spawnattr_t *attrp, char *const argv[], char *const envp[]);
#endif

#ifdef __cplusplus
}
#endif

#endif /* FORKFD_H */
