//! Typed values of command-line options, parsed by clap so that a malformed
//! value is a usage error (exit status 125).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::str::FromStr;
use std::time::Duration;

use clap::builder::{OsStringValueParser, TypedValueParser};
use spawnfd::{IdMap, Namespaces, RLIM_INFINITY, Resource, Signal};

/// `--fd CHILD=PARENT`: the child gets the parent's fd `parent` as fd `child`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdMapping {
    /// The fd number in the child.
    pub child: RawFd,
    /// The fd of this process that is given to the child.
    pub parent: RawFd,
}

impl FromStr for FdMapping {
    type Err = String;

    fn from_str(s: &str) -> Result<FdMapping, String> {
        let (child, parent) = s
            .split_once('=')
            .ok_or("expected CHILD=PARENT, two fd numbers (e.g. 3=5)")?;
        Ok(FdMapping {
            child: parse_fd(child, "CHILD")?,
            parent: parse_fd(parent, "PARENT")?,
        })
    }
}

impl fmt::Display for FdMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.child, self.parent)
    }
}

/// A non-negative fd number.
pub fn parse_fd(s: &str, what: &str) -> Result<RawFd, String> {
    // `RawFd::from_str` would accept a leading '+'; insist on plain digits.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{what} must be a non-negative fd number, not {s:?}"
        ));
    }
    s.parse()
        .map_err(|_| format!("{what} fd number {s} is too large"))
}

/// `--env KEY=VALUE`, split at the first `=`; neither part need be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    /// The name, non-empty and without `=`.
    pub key: OsString,
    /// The value, possibly empty or holding `=`.
    pub value: OsString,
}

impl EnvVar {
    /// The clap value parser; it takes the raw `OsStr` so that non-UTF-8
    /// values pass.
    pub fn parser() -> impl TypedValueParser<Value = EnvVar> {
        OsStringValueParser::new().try_map(|s| EnvVar::parse(&s))
    }

    fn parse(s: &OsStr) -> Result<EnvVar, &'static str> {
        let bytes = s.as_bytes();
        let eq = bytes
            .iter()
            .position(|&b| b == b'=')
            .ok_or("expected KEY=VALUE (e.g. LANG=C)")?;
        if eq == 0 {
            return Err("the variable name before '=' is empty");
        }
        Ok(EnvVar {
            key: OsString::from_vec(bytes[..eq].to_vec()),
            value: OsString::from_vec(bytes[eq + 1..].to_vec()),
        })
    }
}

/// A number made of decimal digits only: `u32::from_str` and friends would
/// also accept a leading `+`.
fn parse_decimal<T: FromStr>(s: &str, what: &str) -> Result<T, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be a non-negative number, not {s:?}"));
    }
    s.parse().map_err(|_| format!("{what} {s} is too large"))
}

/// `--umask OCTAL`: a file mode creation mask, `022`, `0022` or `0o022`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Umask(pub u32);

impl FromStr for Umask {
    type Err = String;

    fn from_str(s: &str) -> Result<Umask, String> {
        let digits = s
            .strip_prefix("0o")
            .or_else(|| s.strip_prefix("0O"))
            .unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(format!(
                "expected an octal mask such as 022 or 0o022, not {s:?}"
            ));
        }
        match u32::from_str_radix(digits, 8) {
            Ok(mask) if mask <= 0o777 => Ok(Umask(mask)),
            _ => Err(format!("the mask {s} is above 0777")),
        }
    }
}

/// `--rlimit RES=SOFT:HARD`, `RES=LIMIT`, `RES=SOFT:` or `RES=:HARD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RlimitArg {
    /// The resource.
    pub resource: Resource,
    /// The soft limit; `None`: spawnfd's own.
    pub soft: Option<u64>,
    /// The hard limit; `None`: spawnfd's own.
    pub hard: Option<u64>,
}

/// The resource names `--rlimit` takes, for messages.
const RESOURCE_NAMES: &str = "AS, CORE, CPU, DATA, FSIZE, LOCKS, MEMLOCK, MSGQUEUE, NICE, \
                              NOFILE, NPROC, RSS, RTPRIO, RTTIME, SIGPENDING, STACK";

impl FromStr for RlimitArg {
    type Err = String;

    fn from_str(s: &str) -> Result<RlimitArg, String> {
        let (name, limits) = s
            .split_once('=')
            .ok_or("expected RES=SOFT:HARD or RES=LIMIT (e.g. NOFILE=1024:4096)")?;
        let resource = Resource::from_name(name).ok_or_else(|| {
            format!("unknown resource {name:?}; expected one of {RESOURCE_NAMES}")
        })?;
        let (soft, hard) = match limits.split_once(':') {
            None => {
                let limit = parse_limit(limits, "LIMIT")?;
                (Some(limit), Some(limit))
            }
            Some(("", "")) => return Err("give SOFT, HARD or both around ':'".into()),
            Some((soft, hard)) => (
                (!soft.is_empty())
                    .then(|| parse_limit(soft, "SOFT"))
                    .transpose()?,
                (!hard.is_empty())
                    .then(|| parse_limit(hard, "HARD"))
                    .transpose()?,
            ),
        };
        if let (Some(soft), Some(hard)) = (soft, hard) {
            if soft > hard {
                return Err(format!(
                    "the soft limit {} is above the hard limit {}",
                    show_limit(soft),
                    show_limit(hard)
                ));
            }
        }
        Ok(RlimitArg {
            resource,
            soft,
            hard,
        })
    }
}

/// A limit: a number, or `unlimited` (also `infinity`, `inf`).
fn parse_limit(s: &str, what: &str) -> Result<u64, String> {
    if ["unlimited", "infinity", "inf"]
        .iter()
        .any(|word| s.eq_ignore_ascii_case(word))
    {
        return Ok(RLIM_INFINITY);
    }
    parse_decimal(s, what).map_err(|e| format!("{e} (or unlimited)"))
}

fn show_limit(limit: u64) -> String {
    if limit == RLIM_INFINITY {
        "unlimited".into()
    } else {
        limit.to_string()
    }
}

/// The largest CPU number `--cpus` takes: the library's own limit (it
/// refuses a CPU of `1 << 16` or more).
pub const MAX_CPU: usize = (1 << 16) - 1;

/// `--cpus LIST`: CPU numbers and ranges, as `taskset -c` (e.g. `0,2-3`).
///
/// Kept as a bit set no longer than [`MAX_CPU`] bits (8 KiB): a range
/// fills whole words, so parsing takes time and memory in proportion to
/// the list's length, whatever the numbers in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuList {
    /// Bit `cpu % 64` of word `cpu / 64`; no trailing zero words.
    words: Vec<u64>,
}

impl CpuList {
    /// Adds the CPUs `first..=last` (`first <= last <= MAX_CPU`).
    fn insert_range(&mut self, first: usize, last: usize) {
        debug_assert!(first <= last && last <= MAX_CPU);
        let (first_word, last_word) = (first / 64, last / 64);
        if self.words.len() <= last_word {
            self.words.resize(last_word + 1, 0);
        }
        // The bits from `first % 64` up in the first word, up to
        // `last % 64` in the last one, all of them in between.
        let low = u64::MAX << (first % 64);
        let high = u64::MAX >> (63 - last % 64);
        if first_word == last_word {
            self.words[first_word] |= low & high;
            return;
        }
        self.words[first_word] |= low;
        self.words[first_word + 1..last_word].fill(u64::MAX);
        self.words[last_word] |= high;
    }

    /// The CPUs, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    i * 64 + bit
                })
            })
        })
    }

    /// The CPUs as a list, for `Command::cpu_affinity`: at most
    /// `MAX_CPU + 1` of them.
    pub fn to_vec(&self) -> Vec<usize> {
        self.iter().collect()
    }
}

#[cfg(test)]
impl FromIterator<usize> for CpuList {
    /// The set of the given CPUs; panics on a CPU above [`MAX_CPU`].
    fn from_iter<I: IntoIterator<Item = usize>>(cpus: I) -> CpuList {
        let mut list = CpuList::default();
        for cpu in cpus {
            assert!(cpu <= MAX_CPU, "CPU {cpu} is above {MAX_CPU}");
            list.insert_range(cpu, cpu);
        }
        list
    }
}

impl FromStr for CpuList {
    type Err = String;

    fn from_str(s: &str) -> Result<CpuList, String> {
        let mut list = CpuList::default();
        for item in s.split(',') {
            let (first, last) = match item.split_once('-') {
                Some((first, last)) => (parse_cpu(first)?, parse_cpu(last)?),
                None => {
                    let cpu = parse_cpu(item)?;
                    (cpu, cpu)
                }
            };
            if first > last {
                return Err(format!("the range {item} is backwards"));
            }
            list.insert_range(first, last);
        }
        Ok(list)
    }
}

/// A CPU number, at most [`MAX_CPU`].
fn parse_cpu(s: &str) -> Result<usize, String> {
    if s.is_empty() {
        return Err("expected CPU numbers and ranges such as 0,2-3".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("a CPU must be a non-negative number, not {s:?}"));
    }
    match s.parse::<usize>() {
        Ok(cpu) if cpu <= MAX_CPU => Ok(cpu),
        // Too large for usize too: digits only, so the value is not needed.
        _ => Err(format!(
            "CPU {} is above the largest supported, {MAX_CPU}",
            abbreviate(s)
        )),
    }
}

/// `s`, or its start and length if it is too long to quote in a message.
fn abbreviate(s: &str) -> String {
    const SHOWN: usize = 24;
    if s.len() <= SHOWN {
        s.to_owned()
    } else {
        format!("{}... ({} digits)", &s[..SHOWN], s.len())
    }
}

/// A group in `--groups`: an id, or a name to look up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupArg {
    /// A group id (the item was all digits).
    Id(u32),
    /// A group name.
    Name(String),
}

/// `--groups G1,G2,...`: group ids and names; the empty string is the
/// empty list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupList(pub Vec<GroupArg>);

impl FromStr for GroupList {
    type Err = String;

    fn from_str(s: &str) -> Result<GroupList, String> {
        if s.is_empty() {
            return Ok(GroupList(Vec::new()));
        }
        s.split(',')
            .map(|item| {
                if item.is_empty() {
                    Err("a group in the list is empty (use '' for no groups at all)".to_owned())
                } else if item.bytes().all(|b| b.is_ascii_digit()) {
                    parse_decimal(item, "a group id").map(GroupArg::Id)
                } else {
                    Ok(GroupArg::Name(item.to_owned()))
                }
            })
            .collect::<Result<_, _>>()
            .map(GroupList)
    }
}

/// `--uid-map`/`--gid-map INSIDE:OUTSIDE:COUNT`.
pub fn parse_id_map(s: &str) -> Result<IdMap, String> {
    let fields: Vec<&str> = s.split(':').collect();
    let [inside, outside, count] = fields[..] else {
        return Err("expected INSIDE:OUTSIDE:COUNT, three ids (e.g. 0:1000:1)".into());
    };
    let map = IdMap {
        inside: parse_decimal(inside, "INSIDE")?,
        outside: parse_decimal(outside, "OUTSIDE")?,
        count: parse_decimal(count, "COUNT")?,
    };
    if map.count == 0 {
        return Err("COUNT must be at least 1".into());
    }
    Ok(map)
}

/// A namespace of `--unshare`: `mount` (or `mnt`), `uts`, `ipc`, `net`,
/// `pid`, `cgroup` or `user`, in any case.
pub fn parse_namespace(s: &str) -> Result<Namespaces, String> {
    Namespaces::from_name(&s.to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown namespace {s:?}; expected mount (or mnt), uts, ipc, net, pid, cgroup or user"
        )
    })
}

/// The signals known by name, without `SIG`.
const SIGNAL_NAMES: [(&str, i32); 34] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// A signal: a name with or without `SIG`, in any case (`TERM`, `sigterm`),
/// `RTMIN+N`, `RTMAX-N`, or a number from 1 to 64.
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    let number = if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        s.parse().ok()
    } else {
        signal_by_name(s)
    };
    number.and_then(Signal::new).ok_or_else(|| {
        format!("unknown signal {s:?}; expected a name such as TERM or SIGUSR1, RTMIN+N, or a number from 1 to 64")
    })
}

fn signal_by_name(s: &str) -> Option<i32> {
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, number)) = SIGNAL_NAMES.iter().find(|(n, _)| *n == name) {
        return Some(number);
    }
    let number = if name == "RTMIN" {
        libc::SIGRTMIN()
    } else if name == "RTMAX" {
        libc::SIGRTMAX()
    } else if let Some(n) = name.strip_prefix("RTMIN+") {
        libc::SIGRTMIN() + parse_small(n)?
    } else if let Some(n) = name.strip_prefix("RTMAX-") {
        libc::SIGRTMAX() - parse_small(n)?
    } else {
        return None;
    };
    (libc::SIGRTMIN()..=libc::SIGRTMAX())
        .contains(&number)
        .then_some(number)
}

/// A small decimal number, for `RTMIN+N`.
fn parse_small(s: &str) -> Option<i32> {
    parse_decimal::<u8>(s, "").ok().map(i32::from)
}

/// The units a [`parse_duration`] number may carry, with their length in
/// nanoseconds; a number without one is in seconds.
const DURATION_UNITS: [(&str, u128); 5] = [
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3600 * 1_000_000_000),
    ("d", 86400 * 1_000_000_000),
];

/// A duration, for `--timeout` and `--kill-after`: a decimal number, with
/// or without a fraction, then optionally a unit: `ms`, `s` (the default),
/// `m`, `h` or `d`. For example `10`, `1.5`, `.5`, `500ms`, `2s`, `1m`.
///
/// No sign, exponent, blank, `inf` or `nan`. The value is exact to the
/// nanosecond (further digits are dropped); more than `u64::MAX` seconds is
/// refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let malformed = || {
        format!(
            "expected a duration such as 10, 1.5, 500ms, 2s, 1m or 1h \
             (units: ms, s, m, h, d), not {s:?}"
        )
    };
    let too_long = || format!("the duration {s} is too long");
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    let unit_nanos = if unit.is_empty() {
        1_000_000_000
    } else {
        DURATION_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, nanos)| nanos)
            .ok_or_else(malformed)?
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
        return Err(malformed());
    }
    // Only digits are left: parsing fails only by overflow.
    let whole: u128 = match whole {
        "" => 0,
        digits => digits.parse().map_err(|_| too_long())?,
    };
    // 18 digits are below a nanosecond even in days, and keep the
    // arithmetic below within u128.
    let fraction = &fraction[..fraction.len().min(18)];
    let (fraction, scale): (u128, u128) = match fraction {
        "" => (0, 1),
        digits => (
            digits.parse().expect("at most 18 digits"),
            10u128.pow(digits.len() as u32),
        ),
    };
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(fraction * unit_nanos / scale))
        .ok_or_else(too_long)?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// A time limit, for `--timeout` and `--kill-after`: a [`parse_duration`],
/// or `inf` or `infinity` (in any case) for none, as `timeout(1)` takes
/// them; no limit is [`Duration::MAX`], which no deadline can reach. (0,
/// which the callers also take as no limit, is a duration.)
pub fn parse_time_limit(s: &str) -> Result<Duration, String> {
    if ["inf", "infinity"]
        .iter()
        .any(|word| s.eq_ignore_ascii_case(word))
    {
        return Ok(Duration::MAX);
    }
    parse_duration(s).map_err(|e| format!("{e}; or inf for no limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_mapping_parses_child_then_parent() {
        assert_eq!(
            "3=5".parse(),
            Ok(FdMapping {
                child: 3,
                parent: 5
            })
        );
        assert_eq!(
            "0=0".parse(),
            Ok(FdMapping {
                child: 0,
                parent: 0
            })
        );
        assert_eq!("3=5".parse::<FdMapping>().unwrap().to_string(), "3=5");
    }

    #[test]
    fn fd_mapping_rejects_bad_syntax() {
        for bad in [
            "",
            "3",
            "=5",
            "3=",
            "3=5=6",
            "-1=5",
            "3=-5",
            "+3=5",
            "a=5",
            "3=99999999999",
        ] {
            assert!(bad.parse::<FdMapping>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn env_var_splits_at_the_first_equals_sign() {
        let var = EnvVar::parse(OsStr::new("X=a=b")).unwrap();
        assert_eq!(
            (var.key.as_os_str(), var.value.as_os_str()),
            (OsStr::new("X"), OsStr::new("a=b"))
        );
        let var = EnvVar::parse(OsStr::new("EMPTY=")).unwrap();
        assert_eq!(var.value, OsStr::new(""));
    }

    #[test]
    fn env_var_keeps_non_utf8_bytes() {
        let var = EnvVar::parse(OsStr::from_bytes(b"K=\xff")).unwrap();
        assert_eq!(var.value.as_bytes(), b"\xff");
    }

    #[test]
    fn env_var_rejects_missing_equals_and_empty_key() {
        assert!(EnvVar::parse(OsStr::new("NOEQUALS")).is_err());
        assert!(EnvVar::parse(OsStr::new("=value")).is_err());
    }

    #[test]
    fn umask_is_octal_up_to_777() {
        for (text, mask) in [
            ("022", 0o22),
            ("0022", 0o22),
            ("0o077", 0o77),
            ("0", 0),
            ("777", 0o777),
        ] {
            assert_eq!(text.parse(), Ok(Umask(mask)), "{text}");
        }
        for bad in ["", "9", "08", "1000", "0o", "0x22", "-1", "+22", " 22"] {
            assert!(bad.parse::<Umask>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn rlimit_takes_both_limits_one_or_a_single_value() {
        let parse = |s: &str| s.parse::<RlimitArg>();
        let limit = |soft, hard| {
            Ok(RlimitArg {
                resource: Resource::NOFILE,
                soft,
                hard,
            })
        };
        assert_eq!(parse("NOFILE=1024:4096"), limit(Some(1024), Some(4096)));
        assert_eq!(parse("nofile=100"), limit(Some(100), Some(100)));
        assert_eq!(parse("RLIMIT_NOFILE=5:"), limit(Some(5), None));
        assert_eq!(parse("NOFILE=:7"), limit(None, Some(7)));
        assert_eq!(
            parse("NOFILE=10:Unlimited"),
            limit(Some(10), Some(RLIM_INFINITY))
        );
        assert_eq!(
            parse("NOFILE=inf"),
            limit(Some(RLIM_INFINITY), Some(RLIM_INFINITY))
        );
        assert_eq!(
            parse("core=infinity").map(|r| r.resource),
            Ok(Resource::CORE)
        );
        for bad in [
            "",
            "NOFILE",
            "=1",
            "FOO=1",
            "NOFILE=",
            "NOFILE=:",
            "NOFILE=x",
            "NOFILE=-1",
            "NOFILE=+1",
            "NOFILE=1:2:3",
            "NOFILE=2:1",
            "NOFILE=unlimited:1",
            "NOFILE=99999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn cpu_list_takes_numbers_and_ranges() {
        let cpus = |s: &str| s.parse::<CpuList>().map(|list| list.to_vec());
        assert_eq!(cpus("0"), Ok(vec![0]));
        assert_eq!(cpus("3,0-1,1"), Ok(vec![0, 1, 3]));
        assert_eq!(cpus("2-2"), Ok(vec![2]));
        assert_eq!(cpus(&format!("{MAX_CPU}")), Ok(vec![MAX_CPU]));
        assert_eq!(cpus("0063,64"), Ok(vec![63, 64]));
        assert_eq!(
            cpus(&format!("0-{MAX_CPU}")),
            Ok((0..=MAX_CPU).collect::<Vec<_>>())
        );
        for bad in [
            "", ",", "0,", "a", "1-", "-1", "3-1", "0-1-2", "65536", " 1", "+1",
        ] {
            assert!(bad.parse::<CpuList>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn cpu_ranges_fill_exactly_their_bits() {
        // Every way a range can start and end within or across words.
        let edges = [
            0,
            1,
            62,
            63,
            64,
            65,
            127,
            128,
            129,
            200,
            MAX_CPU - 64,
            MAX_CPU,
        ];
        for &first in &edges {
            for &last in edges.iter().filter(|&&last| last >= first) {
                let list: CpuList = format!("{first}-{last}").parse().unwrap();
                assert_eq!(list.iter().next(), Some(first), "{first}-{last}");
                assert_eq!(list.iter().last(), Some(last), "{first}-{last}");
                assert_eq!(list.iter().count(), last - first + 1, "{first}-{last}");
                assert_eq!(list.words.len(), last / 64 + 1, "{first}-{last}");
            }
        }
        let union: CpuList = "5,70-130,3,128-140,65535".parse().unwrap();
        let expected: CpuList = [3, 5]
            .into_iter()
            .chain(70..=140)
            .chain([MAX_CPU])
            .collect();
        assert_eq!(union, expected);
    }

    #[test]
    fn cpu_above_the_limit_names_the_number_and_the_limit() {
        assert_eq!(
            "0,65536".parse::<CpuList>(),
            Err("CPU 65536 is above the largest supported, 65535".into())
        );
        assert_eq!(
            "0-99999999999999999999999".parse::<CpuList>(),
            Err("CPU 99999999999999999999999 is above the largest supported, 65535".into())
        );
        let long = "9".repeat(5000);
        let err = long.parse::<CpuList>().unwrap_err();
        assert_eq!(
            err,
            format!(
                "CPU {}... (5000 digits) is above the largest supported, 65535",
                &long[..24]
            )
        );
    }

    #[test]
    fn group_list_takes_ids_and_names_or_nothing() {
        assert_eq!("".parse(), Ok(GroupList(vec![])));
        assert_eq!(
            "5,audio,0".parse(),
            Ok(GroupList(vec![
                GroupArg::Id(5),
                GroupArg::Name("audio".into()),
                GroupArg::Id(0)
            ]))
        );
        for bad in [",", "5,", ",5", "1,,2", "4294967296"] {
            assert!(bad.parse::<GroupList>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn id_map_is_three_numbers() {
        assert_eq!(
            parse_id_map("0:1000:1"),
            Ok(IdMap {
                inside: 0,
                outside: 1000,
                count: 1
            })
        );
        for bad in ["", "0:0", "0:0:0", "0:0:1:1", "a:0:1", "0:-1:1", "0::1"] {
            assert!(parse_id_map(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn namespaces_are_named_as_in_proc() {
        assert_eq!(parse_namespace("mnt"), Ok(Namespaces::MOUNT));
        assert_eq!(parse_namespace("Mount"), Ok(Namespaces::MOUNT));
        assert_eq!(parse_namespace("USER"), Ok(Namespaces::USER));
        assert!(parse_namespace("time").is_err());
        assert!(parse_namespace("").is_err());
    }

    #[test]
    fn durations_are_seconds_or_carry_a_unit() {
        let ms = Duration::from_millis;
        for (text, duration) in [
            ("10", Duration::from_secs(10)),
            ("0", Duration::ZERO),
            ("1.5", ms(1500)),
            (".5", ms(500)),
            ("2.", Duration::from_secs(2)),
            ("500ms", ms(500)),
            ("0.5ms", Duration::from_micros(500)),
            ("2s", Duration::from_secs(2)),
            ("1m", Duration::from_secs(60)),
            ("1.5m", Duration::from_secs(90)),
            ("1h", Duration::from_secs(3600)),
            ("1d", Duration::from_secs(86400)),
            ("0.000000001", Duration::from_nanos(1)),
            ("0.0000000019", Duration::from_nanos(1)),
            (
                "0.1234567890123456789012345",
                Duration::from_nanos(123_456_789),
            ),
            ("007", Duration::from_secs(7)),
            ("18446744073709551615", Duration::from_secs(u64::MAX)),
        ] {
            assert_eq!(parse_duration(text), Ok(duration), "{text}");
        }
        for bad in [
            "", ".", "s", "ms", "-1", "+1", "1x", "1.2.3", "1e3", " 1", "1 ", "1 s", "5S", "1sec",
            "inf", "nan", "1.5.s", "1ms2", "１",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        for too_long in [
            "18446744073709551616",
            "213503982334602d",
            "99999999999999999999999999999999999999999999",
        ] {
            let err = parse_duration(too_long).unwrap_err();
            assert!(err.contains("too long"), "{too_long}: {err}");
        }
    }

    #[test]
    fn time_limits_are_durations_or_infinite() {
        for (text, limit) in [
            ("inf", Duration::MAX),
            ("INF", Duration::MAX),
            ("infinity", Duration::MAX),
            ("Infinity", Duration::MAX),
            ("1.5", Duration::from_millis(1500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("0", Duration::ZERO),
            ("250ms", Duration::from_millis(250)),
        ] {
            assert_eq!(parse_time_limit(text), Ok(limit), "{text}");
        }
        for bad in [
            "", "in", "infs", "-inf", "+inf", "nan", "1e3", "inf ", "x", "-1",
        ] {
            let err = parse_time_limit(bad).unwrap_err();
            assert!(err.contains("or inf"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn signals_by_name_or_number() {
        for (text, signal) in [
            ("TERM", Signal::TERM),
            ("SIGTERM", Signal::TERM),
            ("sigterm", Signal::TERM),
            ("hup", Signal::HUP),
            ("IOT", Signal::ABRT),
            ("CLD", Signal::CHLD),
            ("POLL", Signal::IO),
            ("9", Signal::KILL),
        ] {
            assert_eq!(parse_signal(text), Ok(signal), "{text}");
        }
        let rt = |n| Signal::new(n).unwrap();
        assert_eq!(parse_signal("RTMIN"), Ok(rt(libc::SIGRTMIN())));
        assert_eq!(parse_signal("SIGRTMIN+2"), Ok(rt(libc::SIGRTMIN() + 2)));
        assert_eq!(parse_signal("rtmax-1"), Ok(rt(libc::SIGRTMAX() - 1)));
        assert_eq!(parse_signal("64"), Ok(rt(64)));
        for bad in [
            "",
            "0",
            "65",
            "-1",
            "+9",
            "FOO",
            "SIG",
            "RTMIN+",
            "RTMIN-1",
            "RTMAX+1",
            "RTMIN+999",
            "RTMIN+40",
            "TERM ",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
