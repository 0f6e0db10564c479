//! Typed values of command-line options, parsed by clap so that a malformed
//! value is a usage error (exit status 2).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::str::FromStr;

use clap::builder::{OsStringValueParser, TypedValueParser};

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
fn parse_fd(s: &str, what: &str) -> Result<RawFd, String> {
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
}
