//! Making the parent big: an anonymous mapping with every page touched, so
//! that it is resident and has page-table entries that `fork` must copy.

use std::io;
use std::ptr;

/// Resident anonymous memory, unmapped on drop.
pub struct Ballast {
    base: *mut libc::c_void,
    len: usize,
}

impl Ballast {
    /// Maps `len` bytes and writes one byte per page. With `huge_pages`
    /// false the mapping is `MADV_NOHUGEPAGE`, so it is made of 4 KiB pages
    /// whatever the system's transparent-huge-page setting (one page-table
    /// entry per 4 KiB, the expensive case for `fork`).
    pub fn new(len: usize, huge_pages: bool) -> io::Result<Option<Ballast>> {
        if len == 0 {
            return Ok(None);
        }
        // SAFETY: a fresh private anonymous mapping; touches no existing
        // memory.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ballast = Ballast { base, len };
        if !huge_pages {
            // SAFETY: advice on the mapping just made.
            if unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let page = page_size();
        for offset in (0..len).step_by(page) {
            // SAFETY: `offset < len`, inside the writable mapping; volatile so
            // that the write is not elided.
            unsafe { ptr::write_volatile(base.cast::<u8>().add(offset), 1) };
        }
        Ok(Some(ballast))
    }
}

impl Drop for Ballast {
    fn drop(&mut self) {
        // SAFETY: our own mapping, with no references into it left.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// The process's resident set size in bytes, from `/proc/self/status`.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// Parses a size such as `0`, `512M`, `4G`, `4GiB` or `1.5g` (binary units).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: f64 = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    let bytes = number * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes as u64)
}

/// `4 GiB`, `512 MiB`, `0 B`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("4GiB"), Some(4 << 30));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("4X"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(4 << 30), "4 GiB");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
    }

    #[test]
    fn small_ballast_is_resident() {
        let before = resident_bytes().unwrap();
        let ballast = Ballast::new(16 << 20, false).unwrap();
        assert!(ballast.is_some());
        assert!(resident_bytes().unwrap() >= before + (15 << 20));
    }
}
