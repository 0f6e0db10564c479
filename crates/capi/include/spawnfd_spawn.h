/*
 * spawnfd_spawn.h: posix_spawn's API, served by libspawnfd.
 *
 * Include it in place of <spawn.h> and link libspawnfd:
 *
 *     #include <spawnfd_spawn.h>    with  $(pkg-config --cflags spawnfd)
 *     cc app.c $(pkg-config --cflags --libs spawnfd)
 *
 * and the program's posix_spawn, posix_spawnp, pidfd_spawn, pidfd_spawnp,
 * posix_spawn_file_actions_* and posix_spawnattr_* calls (with the types
 * posix_spawn_file_actions_t and posix_spawnattr_t) become libspawnfd's
 * spawnfd_posix_* functions and types, declared in <spawnfd.h>, which
 * take the same arguments and return the same values. Nothing else in the
 * program changes. Define SPAWNFD_NO_POSIX_NAMES before including it to
 * call the spawnfd_posix_* names yourself, beside the C library's.
 *
 * Written by hand; crates/capi/tests/header.rs compiles it as C11 and
 * C++17 (-Wall -Wextra -Werror -pedantic), and tests/c/posix.c is a
 * posix_spawn program built against it.
 *
 * The semantics are posix_spawn's (see spawnfd_posix_spawn in
 * <spawnfd.h>): fds without FD_CLOEXEC are inherited, ignored signals
 * stay ignored, the mask is the calling thread's, and the child is the
 * caller's to reap by pid. What changes: children are made with vfork
 * semantics whatever the C library would do, the return value is the
 * errno of the step that failed, and pidfd_spawn works before glibc 2.39.
 *
 * The renamed types are libspawnfd's, not the C library's: an object made
 * by one cannot be given to the other. So <forkfd.h>, whose spawnfd()
 * takes <spawn.h>'s objects, leaves spawnfd() out where this header was
 * included first (and one included after would not compile); use the
 * spawnfd_posix_* names with SPAWNFD_NO_POSIX_NAMES in such a file.
 */
#ifndef SPAWNFD_SPAWN_H
#define SPAWNFD_SPAWN_H

/* The C library's declarations first, under their own names: the macros
 * below rename only what comes after. */
#include <spawn.h>
#include <spawnfd.h>

#ifndef SPAWNFD_NO_POSIX_NAMES

#define posix_spawn_file_actions_t spawnfd_posix_spawn_file_actions_t
#define posix_spawnattr_t spawnfd_posix_spawnattr_t

#define posix_spawn spawnfd_posix_spawn
#define posix_spawnp spawnfd_posix_spawnp
#define pidfd_spawn spawnfd_pidfd_spawn
#define pidfd_spawnp spawnfd_pidfd_spawnp

#define posix_spawn_file_actions_init spawnfd_posix_spawn_file_actions_init
#define posix_spawn_file_actions_destroy spawnfd_posix_spawn_file_actions_destroy
#define posix_spawn_file_actions_addopen spawnfd_posix_spawn_file_actions_addopen
#define posix_spawn_file_actions_addclose spawnfd_posix_spawn_file_actions_addclose
#define posix_spawn_file_actions_adddup2 spawnfd_posix_spawn_file_actions_adddup2
#define posix_spawn_file_actions_addchdir_np spawnfd_posix_spawn_file_actions_addchdir_np
#define posix_spawn_file_actions_addfchdir_np spawnfd_posix_spawn_file_actions_addfchdir_np
#define posix_spawn_file_actions_addchdir spawnfd_posix_spawn_file_actions_addchdir_np
#define posix_spawn_file_actions_addfchdir spawnfd_posix_spawn_file_actions_addfchdir_np
#define posix_spawn_file_actions_addclosefrom_np spawnfd_posix_spawn_file_actions_addclosefrom_np
#define posix_spawn_file_actions_addtcsetpgrp_np spawnfd_posix_spawn_file_actions_addtcsetpgrp_np

#define posix_spawnattr_init spawnfd_posix_spawnattr_init
#define posix_spawnattr_destroy spawnfd_posix_spawnattr_destroy
#define posix_spawnattr_getflags spawnfd_posix_spawnattr_getflags
#define posix_spawnattr_setflags spawnfd_posix_spawnattr_setflags
#define posix_spawnattr_getpgroup spawnfd_posix_spawnattr_getpgroup
#define posix_spawnattr_setpgroup spawnfd_posix_spawnattr_setpgroup
#define posix_spawnattr_getsigmask spawnfd_posix_spawnattr_getsigmask
#define posix_spawnattr_setsigmask spawnfd_posix_spawnattr_setsigmask
#define posix_spawnattr_getsigdefault spawnfd_posix_spawnattr_getsigdefault
#define posix_spawnattr_setsigdefault spawnfd_posix_spawnattr_setsigdefault
#define posix_spawnattr_getschedpolicy spawnfd_posix_spawnattr_getschedpolicy
#define posix_spawnattr_setschedpolicy spawnfd_posix_spawnattr_setschedpolicy
#define posix_spawnattr_getschedparam spawnfd_posix_spawnattr_getschedparam
#define posix_spawnattr_setschedparam spawnfd_posix_spawnattr_setschedparam
#define posix_spawnattr_getcgroup_np spawnfd_posix_spawnattr_getcgroup_np
#define posix_spawnattr_setcgroup_np spawnfd_posix_spawnattr_setcgroup_np

/* The flags the C library's <spawn.h> may lack (they are GNU or newer
 * than it); the values are the same where it has them. */
#ifndef POSIX_SPAWN_USEVFORK
#define POSIX_SPAWN_USEVFORK SPAWNFD_POSIX_SPAWN_USEVFORK
#endif
#ifndef POSIX_SPAWN_SETSID
#define POSIX_SPAWN_SETSID SPAWNFD_POSIX_SPAWN_SETSID
#endif
#ifndef POSIX_SPAWN_SETCGROUP
#define POSIX_SPAWN_SETCGROUP SPAWNFD_POSIX_SPAWN_SETCGROUP
#endif

#endif /* SPAWNFD_NO_POSIX_NAMES */

#endif /* SPAWNFD_SPAWN_H */
