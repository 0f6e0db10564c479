//! The options of `spawnfd run` that set attributes of PROGRAM beyond its
//! fds and environment, in the groups `--help` shows them in, and how they
//! configure the [`Command`].
//!
//! Values are checked by clap (a malformed one is a usage error); user and
//! group names are looked up when the command is built, after the `--fd`
//! fds are claimed, since a lookup may open files. Combinations the library
//! refuses (such as `--ctty` on an fd PROGRAM does not have, or `--uid-map`
//! without a new user namespace) are left to it: they exit with 125.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::path::PathBuf;

use clap::{Args, value_parser};
use spawnfd::{Command, IdMap, Namespaces, Signal, SignalSet};

use crate::args::{
    CpuList, GroupArg, GroupList, IdArg, RlimitArg, Umask, check_id_map, parse_fd, parse_id_map,
    parse_namespace, parse_signal,
};
use crate::program::Setting;
use crate::report::Error;
use crate::signals::Target;
use crate::sys;

/// Every attribute option.
#[derive(Debug, Args)]
pub struct AttrArgs {
    #[command(flatten)]
    dirs: DirArgs,
    #[command(flatten)]
    session: SessionArgs,
    #[command(flatten)]
    credentials: CredentialArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    isolation: IsolationArgs,
    #[command(flatten)]
    privileges: PrivilegeArgs,
    #[command(flatten)]
    sandbox: crate::sandbox::SandboxArgs,
    #[command(flatten)]
    signals: SignalArgs,
}

impl AttrArgs {
    /// The fd of this process that `--cwd-fd` names.
    pub fn cwd_fd(&self) -> Option<RawFd> {
        self.dirs.cwd_fd
    }

    /// Whether [`AttrArgs::configure`] needs the signals ignored when
    /// spawnfd started.
    pub fn keeps_ignored_signals(&self) -> bool {
        self.signals.keep_ignored_signals
    }

    /// Where the signals spawnfd receives go: PROGRAM's process group when
    /// spawnfd makes one (`--setsid`, `--pgid 0`), else PROGRAM.
    pub fn signal_target(&self) -> Target {
        if self.session.setsid || self.session.pgid == Some(0) {
            Target::Group
        } else {
            Target::Child {
                shares_group: self.session.pgid.is_none(),
            }
        }
    }

    /// Whether `--setsid` makes PROGRAM the leader of a new session (and
    /// so of a new process group).
    pub fn new_session(&self) -> bool {
        self.session.setsid
    }

    /// The process group `--pgid` puts PROGRAM in (0: a new one it leads).
    pub fn pgid(&self) -> Option<i32> {
        self.session.pgid
    }

    /// Checks the rules clap's argument relations cannot express; returns
    /// the message of the usage error.
    pub fn check(&self) -> Result<(), String> {
        self.limits.check()?;
        self.isolation.check()?;
        self.credentials.check()
    }

    /// Sets the attributes on `cmd`, looking up user and group names.
    ///
    /// `cwd_fd` is the claimed `--cwd-fd`; `ignored_at_start` the signals
    /// ignored when spawnfd started, given when
    /// [`AttrArgs::keeps_ignored_signals`]; `setting` what the subcommand
    /// decides.
    pub fn configure(
        &self,
        cmd: &mut Command,
        cwd_fd: Option<OwnedFd>,
        ignored_at_start: Option<SignalSet>,
        setting: Setting,
    ) -> Result<(), Error> {
        self.dirs.configure(cmd, cwd_fd);
        self.session.configure(cmd);
        self.credentials.configure(cmd)?;
        self.limits.configure(cmd)?;
        self.isolation.configure(cmd);
        self.privileges.configure(cmd, setting.default_pdeathsig);
        self.sandbox.configure(cmd)?;
        self.signals
            .configure(cmd, ignored_at_start, setting.mask_at_start);
        Ok(())
    }
}

/// The working and root directories, and the file mode mask.
#[derive(Debug, Args)]
#[command(next_help_heading = "Directories and files")]
struct DirArgs {
    /// Run PROGRAM in directory DIR (-C and --chdir as env(1) names it)
    ///
    /// A PROGRAM path containing '/' but not starting with one is relative
    /// to DIR. DIR is resolved inside --chroot and as the user of --uid or
    /// --user, who must be allowed to enter it. spawnfd's own directory
    /// does not change, and neither does PWD in the environment (as with
    /// env -C; set it with --env PWD=DIR if PROGRAM reads it).
    #[arg(short = 'C', long, visible_alias = "chdir", value_name = "DIR")]
    cwd: Option<PathBuf>,

    /// Run PROGRAM in the directory open at spawnfd's fd PARENT_FD (fchdir)
    ///
    /// For example `--cwd-fd 3 3<dir` in the shell: the directory is opened
    /// once, before PROGRAM starts, so it cannot be renamed or replaced in
    /// between. PARENT_FD is not passed on to PROGRAM (unless also given
    /// with --fd or --pass-fds).
    #[arg(long, value_name = "PARENT_FD", value_parser = parse_parent_fd, conflicts_with = "cwd")]
    cwd_fd: Option<RawFd>,

    /// Change PROGRAM's root directory to DIR (chroot), and its directory to /
    ///
    /// PROGRAM, PATH and --cwd are then resolved inside DIR; PROGRAM
    /// starts in the new root unless --cwd or --cwd-fd say otherwise (as
    /// chroot(1)). Needs root (CAP_SYS_CHROOT). Done before --uid or --user
    /// take effect.
    #[arg(long, value_name = "DIR")]
    chroot: Option<PathBuf>,

    /// Set PROGRAM's file mode creation mask to OCTAL (umask)
    ///
    /// An octal number up to 777, with or without a leading 0 or 0o: 022,
    /// 0027, 0o077.
    #[arg(long, value_name = "OCTAL")]
    umask: Option<Umask>,
}

/// `--cwd-fd PARENT_FD`.
fn parse_parent_fd(s: &str) -> Result<RawFd, String> {
    parse_fd(s, "PARENT_FD")
}

impl DirArgs {
    fn configure(&self, cmd: &mut Command, cwd_fd: Option<OwnedFd>) {
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        } else if let Some(fd) = cwd_fd {
            cmd.current_dir_fd(fd);
        } else if self.chroot.is_some() {
            cmd.current_dir("/");
        }
        if let Some(dir) = &self.chroot {
            cmd.chroot(dir);
        }
        if let Some(Umask(mask)) = self.umask {
            cmd.umask(mask);
        }
    }
}

/// A child fd number, for `--ctty` and `--foreground`.
fn child_fd() -> clap::builder::RangedI64ValueParser<RawFd> {
    value_parser!(RawFd).range(0..)
}

/// Session, process group and terminal.
#[derive(Debug, Args)]
#[command(next_help_heading = "Session and terminal")]
struct SessionArgs {
    /// Run PROGRAM as the leader of a new session (setsid)
    ///
    /// PROGRAM is then also the leader of a new process group, and has no
    /// controlling terminal unless --ctty gives it one.
    #[arg(long, conflicts_with = "pgid")]
    setsid: bool,

    /// Put PROGRAM in process group PGID; 0 makes a new group led by PROGRAM
    ///
    /// Any other PGID must be a process group of spawnfd's session (setpgid).
    /// Cannot be combined with --setsid, which makes a group of its own.
    #[arg(long, value_name = "PGID", value_parser = value_parser!(i32).range(0..))]
    pgid: Option<i32>,

    /// Make the terminal at PROGRAM's fd CHILD_FD its controlling terminal
    ///
    /// Needs --setsid: only the leader of a session without a terminal can
    /// acquire one (TIOCSCTTY). CHILD_FD is an fd of PROGRAM: 0, 1, 2 or one
    /// given with --fd; for example `--setsid --ctty 0` with a terminal as
    /// stdin. Fails if the terminal is the controlling terminal of another
    /// session.
    #[arg(long, value_name = "CHILD_FD", value_parser = child_fd(), requires = "setsid")]
    ctty: Option<RawFd>,

    /// Detach PROGRAM from spawnfd's controlling terminal (TIOCNOTTY)
    ///
    /// PROGRAM then has no controlling terminal: it cannot open /dev/tty,
    /// and using the terminal through an inherited fd does not stop it. It
    /// stays in spawnfd's session and process group. Nothing happens if
    /// there is no controlling terminal. Cannot be combined with --setsid,
    /// which already leaves PROGRAM without a terminal.
    #[arg(long, conflicts_with = "setsid")]
    noctty: bool,

    /// Put PROGRAM's process group in the foreground of the terminal at its
    /// fd CHILD_FD
    ///
    /// As a shell does for a job (tcsetpgrp), usually with --pgid 0 so that
    /// PROGRAM has a group of its own. CHILD_FD is an fd of PROGRAM (0, 1, 2
    /// or given with --fd) and must be its controlling terminal: spawnfd's,
    /// or the one --ctty gives.
    /// spawnfd does not take the terminal back when PROGRAM ends; the shell
    /// that started spawnfd does so when spawnfd exits.
    #[arg(long, value_name = "CHILD_FD", value_parser = child_fd())]
    foreground: Option<RawFd>,
}

impl SessionArgs {
    fn configure(&self, cmd: &mut Command) {
        if self.setsid {
            cmd.setsid(true);
        }
        if let Some(pgid) = self.pgid {
            cmd.process_group(pgid);
        }
        if let Some(fd) = self.ctty {
            cmd.controlling_terminal(fd);
        }
        if self.noctty {
            cmd.detach_terminal(true);
        }
        if let Some(fd) = self.foreground {
            cmd.foreground(fd);
        }
    }
}

/// User, group and supplementary groups.
#[derive(Debug, Args)]
#[command(next_help_heading = "User and groups")]
struct CredentialArgs {
    /// Run PROGRAM as user id UID, or as the id of user NAME (setuid)
    ///
    /// Only the user id changes: add --gid for the group id. When spawnfd
    /// runs as root and --groups is not given, PROGRAM is left with no
    /// supplementary groups rather than root's. Use --user to take a user's
    /// group and groups as well. A value of digits only is always an id
    /// (as setpriv --reuid takes it), up to 4294967294 (4294967295 is
    /// (uid_t) -1, which the kernel takes as "no change"); anything else is
    /// a name, looked up in the password database (getpwnam_r). Also
    /// spelt --reuid, as setpriv does.
    #[arg(
        long,
        visible_alias = "reuid",
        value_name = "UID|NAME",
        conflicts_with = "user"
    )]
    uid: Option<IdArg>,

    /// Run PROGRAM as user NAME, with NAME's groups, as runuser -u does
    ///
    /// spawnfd looks NAME up in the password database (getpwnam_r) and sets
    /// the user id to NAME's; the group id to NAME's primary group, unless
    /// --gid or --group is given; and the supplementary groups to those the
    /// group database lists NAME in plus NAME's primary group
    /// (getgrouplist, as login does), unless --groups is given. HOME,
    /// USER, LOGNAME and SHELL are set from NAME's entry (see
    /// --preserve-environment); other variables, PATH among them, and the
    /// directory do not change.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,

    /// With --user, keep HOME, USER, LOGNAME and SHELL as they are
    ///
    /// By default --user NAME sets HOME to NAME's home directory, USER and
    /// LOGNAME to NAME, and SHELL to NAME's shell (/bin/sh if the entry has
    /// none), as runuser -u, su and setpriv --reset-env do (unlike
    /// setpriv, PATH is kept). They are set after --ignore-environment and
    /// before --unset and --env, which therefore win for the variables they
    /// name. This option keeps the four as spawnfd has them, as runuser -p
    /// and su -p do. --uid never changes the environment: only a name
    /// looked up in the password database does.
    #[arg(long)]
    preserve_environment: bool,

    /// Run PROGRAM with group id GID, or the id of group NAME (setgid)
    ///
    /// As setpriv --regid. A value of digits only is always an id, up to
    /// 4294967294; anything else is a name, looked up in the group
    /// database (getgrnam_r), as for --group. Also spelt --regid.
    #[arg(
        long,
        visible_alias = "regid",
        value_name = "GID|NAME",
        conflicts_with = "group"
    )]
    gid: Option<IdArg>,

    /// Run PROGRAM with group NAME's id as its group id (setgid)
    ///
    /// spawnfd looks NAME up in the group database (getgrnam_r).
    #[arg(long, value_name = "NAME")]
    group: Option<String>,

    /// Give PROGRAM exactly these supplementary groups (setgroups)
    ///
    /// A comma-separated list of group ids and names (looked up as for
    /// --group; an item of digits only is an id), e.g. `--groups 5,audio`,
    /// as setpriv --groups; `--groups ''` gives none. At most 65536 groups
    /// (NGROUPS_MAX). Without it, PROGRAM keeps spawnfd's supplementary
    /// groups, except as said for --uid and --user. `--clear-groups`, as
    /// setpriv spells it, is `--groups ''`.
    #[arg(long, value_name = "GROUP,...")]
    groups: Option<GroupList>,

    /// Give PROGRAM no supplementary groups, as setpriv --clear-groups
    ///
    /// The same as `--groups ''`.
    #[arg(long, conflicts_with = "groups")]
    clear_groups: bool,
}

impl CredentialArgs {
    /// --preserve-environment is about --user's variables. (clap's
    /// `requires` would let `--uid N --preserve-environment` through, --uid
    /// being in conflict with --user.)
    fn check(&self) -> Result<(), String> {
        if self.preserve_environment && self.user.is_none() {
            return Err(
                "--preserve-environment keeps the variables --user would set: \
                        it needs --user (--uid never sets them)"
                    .into(),
            );
        }
        Ok(())
    }

    fn configure(&self, cmd: &mut Command) -> Result<(), Error> {
        let account = match &self.user {
            Some(name) => Some(lookup_user("--user", name)?),
            None => None,
        };
        if let Some(account) = account.as_ref().filter(|_| !self.preserve_environment) {
            set_user_environment(cmd, account);
        }
        let user = self.user.as_ref().zip(account.map(|account| account.ids));
        let gid = match (&self.gid, &self.group) {
            (Some(IdArg::Id(gid)), _) => Some(*gid),
            (Some(IdArg::Name(name)), _) => Some(lookup_group("--gid", name)?),
            (None, Some(name)) => Some(lookup_group("--group", name)?),
            (None, None) => user.map(|(_, user)| user.gid),
        };
        let groups = match (&self.groups, user) {
            _ if self.clear_groups => Some(vec![]),
            (Some(GroupList(list)), _) => Some(resolve_groups(list)?),
            (None, Some((name, user))) => Some(sys::group_list(name, user.gid).map_err(
                |source| Error::Resolve {
                    option: "--user",
                    value: name.clone(),
                    source: io::Error::new(
                        source.kind(),
                        format!("cannot list the user's groups: {source}"),
                    ),
                },
            )?),
            (None, None) => None,
        };

        if let Some(groups) = &groups {
            cmd.groups(groups);
        }
        if let Some(gid) = gid {
            cmd.gid(gid);
        }
        let uid = match &self.uid {
            Some(IdArg::Id(uid)) => Some(*uid),
            Some(IdArg::Name(name)) => Some(lookup_user("--uid", name)?.ids.uid),
            None => user.map(|(_, user)| user.uid),
        };
        if let Some(uid) = uid {
            cmd.uid(uid);
        }
        Ok(())
    }
}

/// Sets the variables that describe the user, as `runuser -u` and
/// `setpriv --reset-env` do.
fn set_user_environment(cmd: &mut Command, account: &sys::Account) {
    let shell: &OsStr = if account.shell.is_empty() {
        // su and login do the same for an entry without a shell.
        OsStr::new("/bin/sh")
    } else {
        &account.shell
    };
    cmd.env("HOME", &account.home)
        .env("USER", &account.name)
        .env("LOGNAME", &account.name)
        .env("SHELL", shell);
}

/// The password database entry of user `name`, for `option`.
fn lookup_user(option: &'static str, name: &str) -> Result<sys::Account, Error> {
    let not_found = || {
        let hint = if option == "--user" && name.bytes().all(|b| b.is_ascii_digit()) {
            " (for a numeric user id, use --uid)"
        } else {
            ""
        };
        io::Error::new(io::ErrorKind::NotFound, format!("no such user{hint}"))
    };
    match sys::account_by_name(name) {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(not_found()),
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("cannot look the user up: {err}"),
        )),
    }
    .map_err(|source| Error::Resolve {
        option,
        value: name.to_owned(),
        source,
    })
}

/// The id of group `name`, for `option`.
fn lookup_group(option: &'static str, name: &str) -> Result<u32, Error> {
    match sys::group_by_name(name) {
        Ok(Some(gid)) => Ok(gid),
        Ok(None) => Err(io::Error::new(io::ErrorKind::NotFound, "no such group")),
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("cannot look the group up: {err}"),
        )),
    }
    .map_err(|source| Error::Resolve {
        option,
        value: name.to_owned(),
        source,
    })
}

/// The ids of `--groups`.
fn resolve_groups(list: &[GroupArg]) -> Result<Vec<u32>, Error> {
    list.iter()
        .map(|group| match group {
            GroupArg::Id(gid) => Ok(*gid),
            GroupArg::Name(name) => lookup_group("--groups", name),
        })
        .collect()
}

/// Resource limits and scheduling.
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits and scheduling")]
struct LimitArgs {
    /// Set PROGRAM's limit of resource RES (prlimit; repeatable)
    ///
    /// RES=SOFT:HARD sets both limits, RES=LIMIT sets both to LIMIT, and
    /// RES=SOFT: or RES=:HARD set one and leave the other at spawnfd's own,
    /// as prlimit --RES=SOFT:HARD does.
    /// A limit is a number (bytes, seconds, or a count, as setrlimit(2) says)
    /// or `unlimited` (also `infinity`, `inf`). A limit in bytes (AS, CORE,
    /// DATA, FSIZE, MEMLOCK, MSGQUEUE, RSS, STACK) may carry a binary size
    /// suffix, in any case: K or KiB (1024), M or MiB, G or GiB, T or TiB,
    /// e.g. `AS=512M`, `STACK=8MiB:16MiB`; on the others a suffix is a usage
    /// error, as is a size beyond 2^64-2. RES is AS, CORE, CPU, DATA,
    /// FSIZE, LOCKS, MEMLOCK, MSGQUEUE, NICE, NOFILE, NPROC, RSS, RTPRIO,
    /// RTTIME, SIGPENDING or STACK, in any case, with or without RLIMIT_. For
    /// example `--rlimit NOFILE=1024:4096 --rlimit core=unlimited`. Set
    /// before --uid or --user take effect, so that root may raise hard
    /// limits; of several for the same RES the last counts.
    #[arg(long, value_name = "RES=SOFT:HARD")]
    rlimit: Vec<RlimitArg>,

    /// Set PROGRAM's niceness to N, from -20 (most favoured) to 19
    ///
    /// The absolute value (setpriority), not an increment as with nice(1).
    /// Going below spawnfd's own niceness needs privilege.
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = value_parser!(i32).range(-20..=19)
    )]
    nice: Option<i32>,

    /// Run PROGRAM only on these CPUs (sched_setaffinity)
    ///
    /// A comma-separated list of CPU numbers, ranges and ranges with a
    /// stride, as taskset -c takes: `0`, `0,2-3`, `0-10:2` (0, 2, 4, ...,
    /// 10), `0,2-3,5-9:2`. Every CPU must exist on this machine (be listed
    /// in /sys/devices/system/cpu/possible), or it is a usage error; one
    /// that exists but is offline makes the affinity step fail if the list
    /// holds no online CPU.
    #[arg(long, value_name = "LIST")]
    cpus: Option<CpuList>,
}

impl LimitArgs {
    /// The CPUs of --cpus exist on this machine.
    fn check(&self) -> Result<(), String> {
        let (Some(cpus), Some(machine)) = (&self.cpus, sys::machine_cpus()) else {
            return Ok(());
        };
        match cpus.first_outside(&machine) {
            Some(cpu) => Err(format!(
                "--cpus: CPU {cpu} does not exist on this machine, whose CPUs are {machine}"
            )),
            None => Ok(()),
        }
    }
}

impl LimitArgs {
    fn configure(&self, cmd: &mut Command) -> Result<(), Error> {
        for limit in &self.rlimit {
            let (soft, hard) = match (limit.soft, limit.hard) {
                (Some(soft), Some(hard)) => (soft, hard),
                (soft, hard) => {
                    let (own_soft, own_hard) =
                        sys::resource_limit(limit.resource).map_err(|source| Error::Resolve {
                            option: "--rlimit",
                            value: limit.resource.name().to_owned(),
                            source,
                        })?;
                    (soft.unwrap_or(own_soft), hard.unwrap_or(own_hard))
                }
            };
            cmd.rlimit(limit.resource, soft, hard);
        }
        if let Some(nice) = self.nice {
            cmd.nice(nice);
        }
        if let Some(cpus) = &self.cpus {
            cmd.cpu_affinity(&cpus.to_vec());
        }
        Ok(())
    }
}

/// Namespaces and cgroup.
#[derive(Debug, Args)]
#[command(next_help_heading = "Namespaces and cgroup")]
struct IsolationArgs {
    /// Create PROGRAM in new namespaces (clone3 with CLONE_NEW*)
    ///
    /// A comma-separated list (the option may also be repeated) of mount
    /// (or mnt), uts, ipc, net, pid, cgroup, user and time, as unshare(1)'s
    /// --mount, --uts, ... With pid, PROGRAM is pid 1 of the new namespace,
    /// but /proc is still spawnfd's unless --mount-proc is given (or PROGRAM
    /// mounts another). With time (Linux 5.6, and clone3: refused where
    /// only clone is available), PROGRAM enters the new time namespace
    /// when it is executed, with zero clock offsets. Every namespace but
    /// user needs root (CAP_SYS_ADMIN), or a new user namespace along with
    /// it.
    #[arg(long, value_name = "NS,...", value_delimiter = ',', value_parser = parse_namespace)]
    unshare: Vec<Namespaces>,

    /// Mount a fresh /proc for PROGRAM, in a new mount namespace
    ///
    /// As unshare --mount-proc: implies --unshare mount; PROGRAM's mount
    /// tree is made private (nothing it mounts reaches spawnfd's), and a
    /// new procfs is mounted on /proc (nosuid, nodev, noexec). Meant with
    /// --unshare pid: /proc then shows the new PID namespace, where PROGRAM
    /// is pid 1 and sees only its own descendants; without it, /proc shows
    /// the same processes as spawnfd's. With --chroot, it is the new root's
    /// /proc, which must exist. With exec, the /proc of spawnfd's own PID
    /// namespace, in the new mount namespace.
    #[arg(long)]
    mount_proc: bool,

    /// A line of the new user namespace's uid_map (repeatable)
    ///
    /// User ids INSIDE to INSIDE+COUNT-1 in the namespace are OUTSIDE to
    /// OUTSIDE+COUNT-1 outside it, e.g. `--uid-map 0:1000:1`. Needs
    /// `--unshare user`. spawnfd writes the map before PROGRAM goes on; as
    /// another user than root it may only map its own id.
    #[arg(long, value_name = "INSIDE:OUTSIDE:COUNT", value_parser = parse_id_map)]
    uid_map: Vec<IdMap>,

    /// A line of the new user namespace's gid_map (repeatable)
    ///
    /// As --uid-map, for group ids. Without root, spawnfd first writes
    /// `deny` to the namespace's setgroups file, as the kernel requires.
    #[arg(long, value_name = "INSIDE:OUTSIDE:COUNT", value_parser = parse_id_map)]
    gid_map: Vec<IdMap>,

    /// Run PROGRAM as root of a new user namespace, as unshare -r does
    ///
    /// Short for `--unshare user --uid-map 0:EUID:1 --gid-map 0:EGID:1`,
    /// with spawnfd's effective user and group ids: PROGRAM is root inside,
    /// and spawnfd's user outside.
    #[arg(long, conflicts_with_all = ["uid_map", "gid_map"])]
    map_root_user: bool,

    /// Start PROGRAM in the cgroup v2 directory DIR
    ///
    /// PROGRAM is created inside it (clone3 with CLONE_INTO_CGROUP, Linux
    /// 5.7 or newer) and never runs in spawnfd's cgroup; where the kernel
    /// cannot do that, PROGRAM's process joins it before any other set-up
    /// step. For example `--cgroup /sys/fs/cgroup/my.slice/job` (wherever
    /// the cgroup v2 hierarchy is mounted). spawnfd needs write access to
    /// the directory's cgroup.procs.
    #[arg(long, value_name = "DIR")]
    cgroup: Option<PathBuf>,
}

impl IsolationArgs {
    /// The id maps are those of a new user namespace, and each is one the
    /// kernel takes (no overlapping lines, not too many).
    fn check(&self) -> Result<(), String> {
        let new_user_ns = self.map_root_user || self.unshare.contains(&Namespaces::USER);
        for (option, map) in [("--uid-map", &self.uid_map), ("--gid-map", &self.gid_map)] {
            if !map.is_empty() && !new_user_ns {
                return Err(format!(
                    "{option} needs a new user namespace: add '--unshare user'"
                ));
            }
            check_id_map(map).map_err(|why| format!("{option}: {why}"))?;
        }
        Ok(())
    }

    fn configure(&self, cmd: &mut Command) {
        let mut namespaces = self
            .unshare
            .iter()
            .fold(Namespaces::NONE, |all, &ns| all | ns);
        if self.mount_proc {
            // As unshare(1): a /proc of its own needs a mount namespace of
            // its own.
            namespaces |= Namespaces::MOUNT;
            cmd.mount_proc(true);
        }
        if self.map_root_user {
            namespaces |= Namespaces::USER;
            let (uid, gid) = sys::effective_ids();
            let root = |outside| IdMap {
                inside: 0,
                outside,
                count: 1,
            };
            cmd.uid_map(&[root(uid)]).gid_map(&[root(gid)]);
        }
        if !self.uid_map.is_empty() {
            cmd.uid_map(&self.uid_map);
        }
        if !self.gid_map.is_empty() {
            cmd.gid_map(&self.gid_map);
        }
        if !namespaces.is_empty() {
            cmd.unshare(namespaces);
        }
        if let Some(dir) = &self.cgroup {
            cmd.cgroup(dir);
        }
    }
}

/// Privileges and the link to spawnfd's life.
#[derive(Debug, Args)]
#[command(next_help_heading = "Privileges and lifetime")]
struct PrivilegeArgs {
    /// Have the kernel send SIG to PROGRAM when spawnfd dies [run's default: KILL]
    ///
    /// PR_SET_PDEATHSIG. With run, KILL by default, so that PROGRAM does
    /// not outlive a spawnfd that is killed: the signals spawnfd can catch
    /// it passes on to PROGRAM and then waits for it, so this one fires
    /// only when spawnfd is killed with SIGKILL or crashes, and PROGRAM
    /// must not be able to ignore it. With exec, none by default; SIG then
    /// fires when the process that started spawnfd exits (strictly: the
    /// thread that forked it). SIG as for --ignore-signal. If the parent
    /// died while PROGRAM was starting, PROGRAM gets SIG at once. It is not
    /// passed on to PROGRAM's own children, and is cleared if PROGRAM
    /// executes a set-user-id program.
    #[arg(long, value_name = "SIG", value_parser = parse_signal)]
    pdeathsig: Option<Signal>,

    /// Do not give PROGRAM a parent-death signal
    ///
    /// PROGRAM then keeps running if spawnfd is killed with SIGKILL (or
    /// crashes), reparented to init or a subreaper.
    #[arg(long, conflicts_with = "pdeathsig")]
    no_pdeathsig: bool,

    /// Set no_new_privs: exec grants PROGRAM and its descendants no privileges
    ///
    /// PR_SET_NO_NEW_PRIVS: set-user-id and set-group-id bits and file
    /// capabilities are ignored by every exec from then on.
    #[arg(long)]
    no_new_privs: bool,
}

impl PrivilegeArgs {
    fn configure(&self, cmd: &mut Command, default_pdeathsig: Option<Signal>) {
        if let Some(signal) = self.pdeathsig.or(default_pdeathsig) {
            if !self.no_pdeathsig {
                cmd.parent_death_signal(signal);
            }
        }
        if self.no_new_privs {
            cmd.no_new_privs(true);
        }
    }
}

/// Signal dispositions and the signal mask.
#[derive(Debug, Args)]
#[command(next_help_heading = "Signals")]
struct SignalArgs {
    /// Start PROGRAM with signal SIG ignored (repeatable; or SIG,SIG,...)
    ///
    /// As env --ignore-signal. Ignored signals stay ignored across exec.
    /// SIG is a name, with or
    /// without SIG and in any case (TERM, SIGUSR1, hup), RTMIN+N, RTMAX-N,
    /// or a number from 1 to 64. KILL and STOP cannot be ignored.
    #[arg(long, value_name = "SIG", value_delimiter = ',', value_parser = parse_signal)]
    ignore_signal: Vec<Signal>,

    /// Start PROGRAM with these signals blocked (SIG,SIG,...)
    ///
    /// The signal mask survives exec; by default it is empty. SIG as for
    /// --ignore-signal; KILL and STOP cannot be blocked and are left out.
    /// Also spelt --block-signal, as env(1) does.
    #[arg(
        long,
        visible_alias = "block-signal",
        value_name = "SIG,...",
        value_delimiter = ',',
        value_parser = parse_signal,
        conflicts_with = "inherit_signal_mask"
    )]
    signal_mask: Vec<Signal>,

    /// Start PROGRAM with the signal mask spawnfd started with instead of
    /// an empty one
    ///
    /// (Not with the signals spawnfd blocks to pass them on.)
    #[arg(long)]
    inherit_signal_mask: bool,

    /// Keep ignored the signals that were ignored when spawnfd started
    ///
    /// By default PROGRAM starts with every signal at its default action,
    /// whatever spawnfd inherited. With this option, a signal ignored when
    /// spawnfd started (by nohup, `trap '' PIPE`, a background job of a
    /// shell without job control, ...) stays ignored in PROGRAM. (spawnfd
    /// does not pass such a signal on: the kernel discards it.)
    #[arg(long)]
    keep_ignored_signals: bool,
}

impl SignalArgs {
    fn configure(
        &self,
        cmd: &mut Command,
        ignored_at_start: Option<SignalSet>,
        mask_at_start: SignalSet,
    ) {
        // The library resets every signal spawnfd ignores, including the
        // SIGPIPE the Rust
        // runtime ignored, then ignores these: so keeping spawnfd's
        // inherited ones is asking for them again, rather than not
        // resetting any (`reset_ignored_signals(false)`).
        let mut ignore: SignalSet = self.ignore_signal.iter().copied().collect();
        for signal in ignored_at_start.iter().flat_map(|set| set.iter()) {
            ignore.insert(signal);
        }
        if !ignore.is_empty() {
            cmd.ignore_signals(ignore);
        }
        if !self.signal_mask.is_empty() {
            cmd.signal_mask(self.signal_mask.iter().copied().collect());
        }
        if self.inherit_signal_mask {
            // spawnfd's mask from before it blocked the signals it passes
            // on (which the child would otherwise never get).
            cmd.signal_mask(mask_at_start);
        }
    }
}
