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

/// `--fd CHILD=PARENT`: the child gets the parent's fd `parent` as fd
/// `child`; `--fd N` is short for `--fd N=N`.
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
        let Some((child, parent)) = s.split_once('=') else {
            let fd = parse_fd(s, "N")
                .map_err(|e| format!("{e}; expected N or CHILD=PARENT (e.g. 3 or 3=5)"))?;
            return Ok(FdMapping {
                child: fd,
                parent: fd,
            });
        };
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

/// An item of `--pass-fds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassFds {
    /// `N`: fd N, which must be open.
    One(RawFd),
    /// `FIRST-LAST`: those of the fds FIRST to LAST that are open.
    Range(RawFd, RawFd),
}

impl PassFds {
    /// The first and last fd the item names.
    pub fn bounds(self) -> (RawFd, RawFd) {
        match self {
            PassFds::One(fd) => (fd, fd),
            PassFds::Range(first, last) => (first, last),
        }
    }

    /// Whether the item names `fd`.
    pub fn contains(self, fd: RawFd) -> bool {
        let (first, last) = self.bounds();
        (first..=last).contains(&fd)
    }
}

impl fmt::Display for PassFds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassFds::One(fd) => write!(f, "{fd}"),
            PassFds::Range(first, last) => write!(f, "{first}-{last}"),
        }
    }
}

/// `--pass-fds LIST`: fd numbers and ranges, `3`, `3-9`, `3,5,8-10`.
///
/// Only 3 and up: 0, 1 and 2 are always inherited (or replaced with
/// `--fd`), so naming one is a mistake worth reporting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PassFdList(pub Vec<PassFds>);

impl FromStr for PassFdList {
    type Err = String;

    fn from_str(s: &str) -> Result<PassFdList, String> {
        s.split(',')
            .map(parse_pass_fds)
            .collect::<Result<_, _>>()
            .map(PassFdList)
    }
}

/// An item of `--pass-fds`: `N` or `FIRST-LAST`, 3 or more.
fn parse_pass_fds(item: &str) -> Result<PassFds, String> {
    if item.is_empty() {
        return Err(
            "expected fd numbers and ranges such as 3 or 3,5,8-10; an item is empty".into(),
        );
    }
    let parsed = match item.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (parse_fd(first, "FIRST")?, parse_fd(last, "LAST")?);
            if first > last {
                return Err(format!("the range {item} is backwards"));
            }
            PassFds::Range(first, last)
        }
        None => PassFds::One(parse_fd(item, "an fd")?),
    };
    let (first, _) = parsed.bounds();
    if first <= 2 {
        return Err(format!(
            "{item} names fd {first}: fds 0, 1 and 2 are always inherited, so --pass-fds takes \
             3 and up (use --fd {first}=PARENT to replace one)"
        ));
    }
    Ok(parsed)
}

/// `-u/--unset NAME`: an environment variable's name, non-empty and
/// without `=`; it need not be UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvName(pub OsString);

impl EnvName {
    /// The clap value parser; it takes the raw `OsStr` so that non-UTF-8
    /// names pass.
    pub fn parser() -> impl TypedValueParser<Value = EnvName> {
        OsStringValueParser::new().try_map(|s| EnvName::parse(&s))
    }

    fn parse(s: &OsStr) -> Result<EnvName, &'static str> {
        if s.is_empty() {
            return Err("the variable name is empty");
        }
        if s.as_bytes().contains(&b'=') {
            // env(1) refuses it too: no variable can be named so.
            return Err("a variable name cannot contain '=' (to set one, use --env NAME=VALUE)");
        }
        Ok(EnvName(s.to_owned()))
    }
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
        let limit = |s: &str, what| parse_limit(s, what, resource);
        let (soft, hard) = match limits.split_once(':') {
            None => {
                let limit = limit(limits, "LIMIT")?;
                (Some(limit), Some(limit))
            }
            Some(("", "")) => return Err("give SOFT, HARD or both around ':'".into()),
            Some((soft, hard)) => (
                (!soft.is_empty())
                    .then(|| limit(soft, "SOFT"))
                    .transpose()?,
                (!hard.is_empty())
                    .then(|| limit(hard, "HARD"))
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

/// The resources whose limits are in bytes, which take a size suffix.
const BYTE_RESOURCES: [Resource; 8] = [
    Resource::AS,
    Resource::CORE,
    Resource::DATA,
    Resource::FSIZE,
    Resource::MEMLOCK,
    Resource::MSGQUEUE,
    Resource::RSS,
    Resource::STACK,
];

/// The size suffixes of byte limits, binary (1024-based) whether written
/// `K` or `KiB`, in any case, with their power of 1024.
const SIZE_SUFFIXES: [(&str, u32); 8] = [
    ("K", 1),
    ("KiB", 1),
    ("M", 2),
    ("MiB", 2),
    ("G", 3),
    ("GiB", 3),
    ("T", 4),
    ("TiB", 4),
];

/// A limit of `resource`: a number, or `unlimited` (also `infinity`,
/// `inf`); for a byte limit, a number may carry a size suffix (`512K`,
/// `8MiB`, `1G`: binary units).
fn parse_limit(s: &str, what: &str, resource: Resource) -> Result<u64, String> {
    if ["unlimited", "infinity", "inf"]
        .iter()
        .any(|word| s.eq_ignore_ascii_case(word))
    {
        return Ok(RLIM_INFINITY);
    }
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    if suffix.is_empty() {
        return parse_decimal(s, what).map_err(|e| format!("{e} (or unlimited)"));
    }
    let Some(&(_, power)) = SIZE_SUFFIXES
        .iter()
        .find(|(name, _)| suffix.eq_ignore_ascii_case(name))
    else {
        return Err(format!(
            "{what} must be a non-negative number, with a size suffix K, M, G or T \
             (KiB, MiB, GiB, TiB) for a byte limit, or unlimited, not {s:?}"
        ));
    };
    let name = resource.name();
    if !BYTE_RESOURCES.contains(&resource) {
        return Err(format!(
            "{what} {s}: a size suffix applies only to limits in bytes (AS, CORE, DATA, \
             FSIZE, MEMLOCK, MSGQUEUE, RSS, STACK); {name} is {}",
            unit_of(resource)
        ));
    }
    let number: u64 = parse_decimal(number, what)?;
    number
        .checked_mul(1024u64.pow(power))
        .filter(|&bytes| bytes != RLIM_INFINITY)
        .ok_or_else(|| format!("{what} {s} is too large (above 2^64 - 2 bytes)"))
}

/// What the limit of a resource that is not in bytes counts, for messages.
fn unit_of(resource: Resource) -> &'static str {
    match resource {
        Resource::CPU => "in seconds",
        Resource::RTTIME => "in microseconds",
        Resource::NICE | Resource::RTPRIO => "a priority",
        _ => "a count",
    }
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

    /// Adds every `stride`-th CPU from `first` up to `last` (`first <= last
    /// <= MAX_CPU`), a word at a time as [`CpuList::insert_range`] does, so
    /// that a long list of wide ranges with small strides stays cheap.
    fn insert_strided(&mut self, first: usize, last: usize, stride: usize) {
        debug_assert!(first <= last && last <= MAX_CPU && stride > 0);
        if self.words.len() <= last / 64 {
            self.words.resize(last / 64 + 1, 0);
        }
        if stride >= 64 {
            // At most one CPU a word.
            for cpu in (first..=last).step_by(stride) {
                self.words[cpu / 64] |= 1 << (cpu % 64);
            }
        } else {
            self.insert_pattern(first, last, stride);
        }
        // The last word may have got no CPU.
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
    }

    /// [`CpuList::insert_strided`] for a stride below 64: the same bit
    /// pattern in every word, shifted to where the progression enters it.
    fn insert_pattern(&mut self, first: usize, last: usize, stride: usize) {
        // The progression's bits in a word that it enters at bit 0.
        let pattern = (0..64)
            .step_by(stride)
            .fold(0u64, |bits, bit| bits | 1 << bit);
        for word in first / 64..=last / 64 {
            let base = word * 64;
            // The progression's first CPU at or after the word's first.
            let start = if base <= first {
                first
            } else {
                first + (base - first).div_ceil(stride) * stride
            };
            if start > last || start >= base + 64 {
                continue;
            }
            let mut bits = pattern << (start - base);
            if last < base + 63 {
                bits &= u64::MAX >> (63 - (last - base));
            }
            self.words[word] |= bits;
        }
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

    /// `taskset -c`'s list: CPU numbers `N`, ranges `A-B`, and ranges with
    /// a stride `A-B:S` (every S-th CPU from A up to B), separated by
    /// commas.
    fn from_str(s: &str) -> Result<CpuList, String> {
        let mut list = CpuList::default();
        for item in s.split(',') {
            let (range, stride) = match item.split_once(':') {
                Some((range, stride)) => (range, Some(parse_stride(item, stride)?)),
                None => (item, None),
            };
            let (first, last) = match range.split_once('-') {
                Some((first, last)) => (parse_cpu(first)?, parse_cpu(last)?),
                None if stride.is_some() => {
                    return Err(format!(
                        "a stride needs a range: {item:?} should be A-B:S, such as 0-10:2"
                    ));
                }
                None => {
                    let cpu = parse_cpu(range)?;
                    (cpu, cpu)
                }
            };
            if first > last {
                return Err(format!("the range {item} is backwards"));
            }
            match stride {
                None | Some(1) => list.insert_range(first, last),
                Some(stride) => list.insert_strided(first, last, stride),
            }
        }
        Ok(list)
    }
}

/// The stride `S` of `A-B:S` in `item`: a number from 1 up.
fn parse_stride(item: &str, s: &str) -> Result<usize, String> {
    match parse_decimal::<usize>(s, "the stride") {
        Ok(0) => Err(format!("the stride of {item} must be at least 1")),
        Ok(stride) => Ok(stride),
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            // Larger than any range: one CPU, the first.
            Ok(usize::MAX)
        }
        Err(e) => Err(format!("{e}, in {item:?} (expected A-B:S, such as 0-10:2)")),
    }
}

impl fmt::Display for CpuList {
    /// The list as ranges, as the kernel writes it (`0-3,8,10-11`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cpus = self.iter().peekable();
        let mut first_item = true;
        while let Some(first) = cpus.next() {
            let mut last = first;
            while cpus.peek() == Some(&(last + 1)) {
                last += 1;
                cpus.next();
            }
            if !first_item {
                f.write_str(",")?;
            }
            first_item = false;
            if first == last {
                write!(f, "{first}")?;
            } else {
                write!(f, "{first}-{last}")?;
            }
        }
        Ok(())
    }
}

impl CpuList {
    /// Whether `cpu` is in the list.
    pub fn contains(&self, cpu: usize) -> bool {
        self.words
            .get(cpu / 64)
            .is_some_and(|word| word & (1 << (cpu % 64)) != 0)
    }

    /// The first CPU of the list that is not in `machine`.
    pub fn first_outside(&self, machine: &CpuList) -> Option<usize> {
        self.iter().find(|&cpu| !machine.contains(cpu))
    }

    /// CPUs `0..count`.
    pub fn first_n(count: usize) -> CpuList {
        let mut list = CpuList::default();
        if count > 0 {
            list.insert_range(0, (count - 1).min(MAX_CPU));
        }
        list
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

/// A user or group given by id or by name, for `--uid`, `--gid` and
/// `--groups`: a value of digits only is always an id, anything else a name
/// to look up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdArg {
    /// An id (the value was all digits).
    Id(u32),
    /// A name.
    Name(String),
}

/// A group in `--groups`.
pub type GroupArg = IdArg;

impl FromStr for IdArg {
    type Err = String;

    fn from_str(s: &str) -> Result<IdArg, String> {
        if s.is_empty() {
            return Err("expected a name or a numeric id, not an empty string".into());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return parse_id(s).map(IdArg::Id);
        }
        let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
        if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{s} is not an id: ids are numbers from 0 to 4294967294, without a sign"
            ));
        }
        Ok(IdArg::Name(s.to_owned()))
    }
}

/// A user or group id: at most 4294967294, since 4294967295 is
/// `(uid_t) -1`, which `setuid`, `setgid` and the id maps take for "no
/// id".
fn parse_id(s: &str) -> Result<u32, String> {
    match parse_decimal::<u32>(s, "an id")? {
        u32::MAX => Err(format!(
            "{s} is (uid_t) -1, which the kernel takes as \"no change\", not as an id; \
             ids go up to 4294967294"
        )),
        id => Ok(id),
    }
}

/// The most supplementary groups a process may have (the kernel's
/// `NGROUPS_MAX`).
pub const NGROUPS_MAX: usize = 65536;

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
        let count = s.split(',').count();
        if count > NGROUPS_MAX {
            return Err(format!(
                "{count} groups are more than a process may have (NGROUPS_MAX, {NGROUPS_MAX})"
            ));
        }
        s.split(',')
            .map(|item| {
                if item.is_empty() {
                    Err("a group in the list is empty (use '' for no groups at all)".to_owned())
                } else {
                    item.parse()
                }
            })
            .collect::<Result<_, _>>()
            .map(GroupList)
    }
}

/// `--uid-map`/`--gid-map INSIDE:OUTSIDE:COUNT`, one line as the kernel
/// takes it: COUNT at least 1, and neither range reaching 4294967295
/// (`(uid_t) -1`, never an id).
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
    for (what, first) in [("INSIDE", map.inside), ("OUTSIDE", map.outside)] {
        if u64::from(first) + u64::from(map.count) > u64::from(u32::MAX) {
            return Err(format!(
                "{what}+COUNT-1 = {} is beyond the largest id, 4294967294",
                u64::from(first) + u64::from(map.count) - 1
            ));
        }
    }
    Ok(map)
}

/// The most lines an id map may have (the kernel's
/// `UID_GID_MAP_MAX_EXTENTS`).
pub const MAX_MAP_LINES: usize = 340;

/// Checks the lines of one id map together, as the kernel will: at most
/// [`MAX_MAP_LINES`], and no two whose ranges overlap, inside or outside.
pub fn check_id_map(map: &[IdMap]) -> Result<(), String> {
    if map.len() > MAX_MAP_LINES {
        return Err(format!(
            "{} lines are more than an id map may have ({MAX_MAP_LINES})",
            map.len()
        ));
    }
    let show = |m: &IdMap| format!("{}:{}:{}", m.inside, m.outside, m.count);
    for (side, first) in [
        ("inside", (|m: &IdMap| m.inside) as fn(&IdMap) -> u32),
        ("outside", |m: &IdMap| m.outside),
    ] {
        let mut sorted: Vec<&IdMap> = map.iter().collect();
        sorted.sort_by_key(|m| first(m));
        for pair in sorted.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let a_end = u64::from(first(a)) + u64::from(a.count);
            if u64::from(first(b)) < a_end {
                return Err(format!(
                    "the lines {} and {} overlap {side} the namespace (id {}): each id may be \
                     mapped once",
                    show(a),
                    show(b),
                    first(b)
                ));
            }
        }
    }
    Ok(())
}

/// A namespace of `--unshare`: `mount` (or `mnt`), `uts`, `ipc`, `net`,
/// `pid`, `cgroup`, `user` or `time`, in any case.
pub fn parse_namespace(s: &str) -> Result<Namespaces, String> {
    Namespaces::from_name(&s.to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown namespace {s:?}; expected mount (or mnt), uts, ipc, net, pid, cgroup, \
             user or time"
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
        assert_eq!(
            "4".parse(),
            Ok(FdMapping {
                child: 4,
                parent: 4
            })
        );
        for bad in [
            "",
            "3x",
            "-3",
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
    fn pass_fds_take_numbers_and_ranges_from_3() {
        use PassFds::{One, Range};
        let list = |s: &str| s.parse::<PassFdList>().map(|l| l.0);
        assert_eq!(list("3"), Ok(vec![One(3)]));
        assert_eq!(list("3-9"), Ok(vec![Range(3, 9)]));
        assert_eq!(
            list("3,5,8-10,7-7"),
            Ok(vec![One(3), One(5), Range(8, 10), Range(7, 7)])
        );
        assert_eq!(list("2147483647"), Ok(vec![One(i32::MAX)]));
        for bad in [
            "",
            ",",
            "3,",
            ",3",
            "3,,4",
            "0",
            "1",
            "2",
            "2-5",
            "0-9",
            "9-3",
            "3-",
            "-3",
            "3-4-5",
            "+3",
            " 3",
            "a",
            "3-x",
            "2147483648",
            "3-2147483648",
        ] {
            assert!(bad.parse::<PassFdList>().is_err(), "{bad:?} was accepted");
        }
        let err = "1".parse::<PassFdList>().unwrap_err();
        assert!(err.contains("always inherited"), "{err}");
        assert!(Range(3, 9).contains(3) && Range(3, 9).contains(9));
        assert!(!Range(3, 9).contains(10) && !One(4).contains(3));
    }

    #[test]
    fn env_names_are_non_empty_without_equals_sign() {
        assert_eq!(
            EnvName::parse(OsStr::new("HOME")),
            Ok(EnvName("HOME".into()))
        );
        assert_eq!(
            EnvName::parse(OsStr::from_bytes(b"K\xff")).map(|n| n.0.into_vec()),
            Ok(b"K\xff".to_vec())
        );
        for bad in ["", "=", "A=1", "=A"] {
            assert!(
                EnvName::parse(OsStr::new(bad)).is_err(),
                "{bad:?} was accepted"
            );
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
    fn byte_limits_take_binary_size_suffixes() {
        let both = |s: &str| s.parse::<RlimitArg>().map(|r| (r.soft, r.hard));
        let kib = 1024u64;
        for (text, soft, hard) in [
            ("AS=1K", kib, kib),
            ("as=1k", kib, kib),
            ("STACK=8MiB:16mib", 8 << 20, 16 << 20),
            ("DATA=2G", 2 << 30, 2 << 30),
            ("CORE=3T", 3 << 40, 3 << 40),
            ("FSIZE=1TiB:unlimited", 1 << 40, RLIM_INFINITY),
            ("MEMLOCK=0K", 0, 0),
            ("MSGQUEUE=64k", 64 * kib, 64 * kib),
            ("RSS=1M", 1 << 20, 1 << 20),
            ("AS=16777215T", 16_777_215 << 40, 16_777_215 << 40),
        ] {
            assert_eq!(both(text), Ok((Some(soft), Some(hard))), "{text}");
        }
        assert_eq!(
            "AS=:1K".parse::<RlimitArg>().map(|r| (r.soft, r.hard)),
            Ok((None, Some(kib)))
        );
        // 2^24 TiB is 2^64: too large, and no wrap-around.
        for too_large in [
            "AS=16777216T",
            "AS=18014398509481984K",
            "AS=99999999999999999999G",
        ] {
            let err = too_large.parse::<RlimitArg>().unwrap_err();
            assert!(err.contains("too large"), "{too_large}: {err}");
        }
        for resource in [
            "NOFILE",
            "CPU",
            "NPROC",
            "RTTIME",
            "NICE",
            "LOCKS",
            "SIGPENDING",
        ] {
            let err = format!("{resource}=1K").parse::<RlimitArg>().unwrap_err();
            assert!(
                err.contains("a size suffix applies only to limits in bytes"),
                "{resource}: {err}"
            );
            assert!(
                err.contains(&format!("{resource} is ")),
                "{resource}: {err}"
            );
        }
        for bad in [
            "AS=1KB", "AS=1Ki", "AS=K", "AS=1 K", "AS=1.5M", "AS=-1K", "AS=1kk",
        ] {
            assert!(bad.parse::<RlimitArg>().is_err(), "{bad:?} was accepted");
        }
        // The soft limit is compared after the suffixes.
        assert!("AS=2M:1M".parse::<RlimitArg>().is_err());
        assert!("AS=1024K:1M".parse::<RlimitArg>().is_ok());
    }

    #[test]
    fn cpu_list_takes_strides_as_taskset() {
        let cpus = |s: &str| s.parse::<CpuList>().map(|list| list.to_vec());
        assert_eq!(cpus("0-10:2"), Ok(vec![0, 2, 4, 6, 8, 10]));
        assert_eq!(cpus("0-9:3"), Ok(vec![0, 3, 6, 9]));
        assert_eq!(cpus("1-9:4"), Ok(vec![1, 5, 9]));
        assert_eq!(cpus("0,2-3,5-9:2"), Ok(vec![0, 2, 3, 5, 7, 9]));
        assert_eq!(cpus("4-6:1"), Ok(vec![4, 5, 6]));
        assert_eq!(cpus("3-3:5"), Ok(vec![3]));
        assert_eq!(cpus("2-9:99999999999999999999999"), Ok(vec![2]));
        assert_eq!(
            cpus("0-65535:4096"),
            Ok((0..16).map(|i| i * 4096).collect::<Vec<_>>())
        );
        for bad in [
            "0-10:0", "0-10:", "0:2", "0-10:x", "0-10:2:3", "10-0:2", ":2", "0-10:-1",
        ] {
            assert!(bad.parse::<CpuList>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            "5:2".parse::<CpuList>(),
            Err("a stride needs a range: \"5:2\" should be A-B:S, such as 0-10:2".into())
        );
    }

    #[test]
    fn cpu_list_prints_as_the_kernel_does() {
        for text in ["0", "0-3", "0,2-3,5,7,9", "1,63-65,65535"] {
            assert_eq!(text.parse::<CpuList>().unwrap().to_string(), text);
        }
        assert_eq!(CpuList::default().to_string(), "");
        assert_eq!(CpuList::first_n(2).to_string(), "0-1");
        let machine = CpuList::first_n(2);
        assert_eq!(
            "1,0".parse::<CpuList>().unwrap().first_outside(&machine),
            None
        );
        assert_eq!(
            "0,7,3".parse::<CpuList>().unwrap().first_outside(&machine),
            Some(3)
        );
    }

    #[test]
    fn ids_are_numbers_or_names() {
        assert_eq!("0".parse(), Ok(IdArg::Id(0)));
        assert_eq!("4294967294".parse(), Ok(IdArg::Id(4_294_967_294)));
        assert_eq!("nobody".parse(), Ok(IdArg::Name("nobody".into())));
        assert_eq!("1a".parse(), Ok(IdArg::Name("1a".into())));
        let err = "4294967295".parse::<IdArg>().unwrap_err();
        assert!(err.contains("(uid_t) -1"), "{err}");
        for bad in ["", "-1", "+5", "4294967296", "99999999999999999999"] {
            assert!(bad.parse::<IdArg>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn group_list_holds_at_most_ngroups_max() {
        let list = |n: usize| vec!["7"; n].join(",");
        assert_eq!(
            list(NGROUPS_MAX).parse::<GroupList>().map(|g| g.0.len()),
            Ok(NGROUPS_MAX)
        );
        let err = list(NGROUPS_MAX + 1).parse::<GroupList>().unwrap_err();
        assert!(err.contains("65537 groups"), "{err}");
        assert!(err.contains("NGROUPS_MAX, 65536"), "{err}");
        assert!("0,4294967295".parse::<GroupList>().is_err());
    }

    #[test]
    fn id_map_lines_stay_below_the_no_id() {
        assert!(parse_id_map("4294967294:0:1").is_ok());
        assert!(parse_id_map("0:4294967000:294").is_ok());
        for bad in [
            "4294967295:0:1",
            "0:4294967295:1",
            "4294967294:0:2",
            "1:0:4294967295",
        ] {
            let err = parse_id_map(bad).unwrap_err();
            assert!(err.contains("beyond the largest id"), "{bad}: {err}");
        }
    }

    #[test]
    fn id_maps_refuse_overlaps_and_too_many_lines() {
        let map = |inside, outside, count| IdMap {
            inside,
            outside,
            count,
        };
        assert_eq!(check_id_map(&[]), Ok(()));
        assert_eq!(
            check_id_map(&[map(0, 1000, 1), map(1, 100_000, 65536)]),
            Ok(())
        );
        let inside = check_id_map(&[map(10, 0, 5), map(0, 100, 11)]).unwrap_err();
        assert_eq!(
            inside,
            "the lines 0:100:11 and 10:0:5 overlap inside the namespace (id 10): each id may \
             be mapped once"
        );
        let outside = check_id_map(&[map(0, 1000, 10), map(20, 1009, 1)]).unwrap_err();
        assert!(outside.contains("overlap outside"), "{outside}");
        let same = check_id_map(&[map(0, 0, 1), map(0, 0, 1)]).unwrap_err();
        assert!(same.contains("overlap inside"), "{same}");
        let lines: Vec<IdMap> = (0..340).map(|i| map(i, i, 1)).collect();
        assert_eq!(check_id_map(&lines), Ok(()));
        let lines: Vec<IdMap> = (0..341).map(|i| map(i, i, 1)).collect();
        assert_eq!(
            check_id_map(&lines),
            Err("341 lines are more than an id map may have (340)".into())
        );
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
        assert_eq!(parse_namespace("time"), Ok(Namespaces::TIME));
        assert!(parse_namespace("times").is_err());
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
