//! The tiny programs the bench spawns: minimal static x86_64 ELF
//! executables written to a temporary file at startup, so that no compiler
//! is needed at run time.
//!
//! - the spawn timing's child only calls `exit(0)`;
//! - the `--children` mode's sleeper ([`TinyProgram::sleeper`]) sleeps for
//!   the time its first argument gives, then exits with 0;
//! - its exit stamper ([`TinyProgram::stamper`]) sleeps 2 ms, writes
//!   `CLOCK_MONOTONIC` to its stdout and exits with 0.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the single `PT_LOAD` segment (the whole file) is mapped.
const LOAD_ADDR: u64 = 0x40_0000;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
/// `mov eax, 60` (`SYS_exit`); `xor edi, edi`; `syscall`.
const CODE: [u8; 9] = [0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05];

/// The sleeper: reads `argv[1]` as decimal digits, skipping any other
/// character (so `1.234`, as `/bin/sleep` takes it, is 1234), sleeps that
/// many milliseconds and exits with 0 (no argument: no sleep).
///
/// ```text
///   mov rsi, [rsp+16]        ; argv[1]
///   xor eax, eax             ; milliseconds
///   test rsi, rsi
///   jz 2f
/// 1: movzx ecx, byte [rsi]
///   inc rsi
///   test ecx, ecx
///   jz 2f                    ; NUL: done
///   sub ecx, '0'
///   cmp ecx, 9
///   ja 1b                    ; not a digit ('.'): skip
///   imul eax, eax, 10
///   add eax, ecx
///   jmp 1b
/// 2: xor edx, edx
///   mov ecx, 1000
///   div ecx                  ; eax = s, edx = ms
///   imul edx, edx, 1000000   ; ns
///   push rdx                 ; tv_nsec
///   push rax                 ; tv_sec
///   mov rdi, rsp
///   xor esi, esi
///   mov eax, 35              ; nanosleep(&ts, NULL)
///   syscall
///   mov eax, 60              ; exit(0)
///   xor edi, edi
///   syscall
/// ```
const SLEEP_CODE: [u8; 75] = [
    0x48, 0x8b, 0x74, 0x24, 0x10, 0x31, 0xc0, 0x48, 0x85, 0xf6, 0x74, 0x19, 0x0f, 0xb6, 0x0e, 0x48,
    0xff, 0xc6, 0x85, 0xc9, 0x74, 0x0f, 0x83, 0xe9, 0x30, 0x83, 0xf9, 0x09, 0x77, 0xee, 0x6b, 0xc0,
    0x0a, 0x01, 0xc8, 0xeb, 0xe7, 0x31, 0xd2, 0xb9, 0xe8, 0x03, 0x00, 0x00, 0xf7, 0xf1, 0x69, 0xd2,
    0x40, 0x42, 0x0f, 0x00, 0x52, 0x50, 0x48, 0x89, 0xe7, 0x31, 0xf6, 0xb8, 0x23, 0x00, 0x00, 0x00,
    0x0f, 0x05, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05,
];

/// How long the stamper sleeps before it stamps, so that its parent is
/// asleep in its wait by then.
pub const STAMP_DELAY_NS: u64 = 2_000_000;

/// The exit stamper: sleeps [`STAMP_DELAY_NS`], reads `CLOCK_MONOTONIC`
/// (the system call, not the vDSO: there is no loader), writes the
/// `timespec` (16 bytes: seconds, nanoseconds) to fd 1 and exits with 0.
///
/// ```text
///   push 2000000             ; tv_nsec
///   push 0                   ; tv_sec
///   mov rdi, rsp
///   xor esi, esi
///   mov eax, 35              ; nanosleep(&ts, NULL)
///   syscall
///   mov edi, 1               ; CLOCK_MONOTONIC
///   mov rsi, rsp
///   mov eax, 228             ; clock_gettime(CLOCK_MONOTONIC, &ts)
///   syscall
///   mov edi, 1
///   mov rsi, rsp
///   mov edx, 16
///   mov eax, 1               ; write(1, &ts, 16)
///   syscall
///   mov eax, 60              ; exit(0)
///   xor edi, edi
///   syscall
/// ```
const STAMP_CODE: [u8; 63] = [
    0x68, 0x80, 0x84, 0x1e, 0x00, 0x6a, 0x00, 0x48, 0x89, 0xe7, 0x31, 0xf6, 0xb8, 0x23, 0x00, 0x00,
    0x00, 0x0f, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe6, 0xb8, 0xe4, 0x00, 0x00, 0x00,
    0x0f, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0x48, 0x89, 0xe6, 0xba, 0x10, 0x00, 0x00, 0x00, 0xb8,
    0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05,
];

/// The bytes of a static x86_64 Linux executable that exits with status 0.
pub fn exit0_x86_64() -> Vec<u8> {
    static_x86_64(&CODE)
}

/// The bytes of a static x86_64 Linux executable running `code`: an ELF
/// header, one `PT_LOAD` program header mapping the whole file
/// read+execute, and the code right after the headers. The code must be
/// position-independent or expect to be at `LOAD_ADDR + 120`.
pub fn static_x86_64(code: &[u8]) -> Vec<u8> {
    let code_offset = EHDR_SIZE + PHDR_SIZE;
    let file_len = (code_offset + code.len()) as u64;
    let mut elf = Vec::with_capacity(code_offset + code.len());

    // ELF header.
    elf.extend_from_slice(b"\x7fELF");
    elf.extend_from_slice(&[
        2, // EI_CLASS: ELFCLASS64
        1, // EI_DATA: little endian
        1, // EI_VERSION: EV_CURRENT
        0, // EI_OSABI: System V
    ]);
    elf.resize(16, 0); // EI_ABIVERSION and padding
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    elf.extend_from_slice(&62u16.to_le_bytes()); // e_machine: EM_X86_64
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(LOAD_ADDR + code_offset as u64).to_le_bytes()); // e_entry
    elf.extend_from_slice(&(EHDR_SIZE as u64).to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&(EHDR_SIZE as u16).to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    elf.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    elf.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    debug_assert_eq!(elf.len(), EHDR_SIZE);

    // Program header: PT_LOAD, R+X, the whole file at LOAD_ADDR.
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    elf.extend_from_slice(&LOAD_ADDR.to_le_bytes()); // p_vaddr
    elf.extend_from_slice(&LOAD_ADDR.to_le_bytes()); // p_paddr
    elf.extend_from_slice(&file_len.to_le_bytes()); // p_filesz
    elf.extend_from_slice(&file_len.to_le_bytes()); // p_memsz
    elf.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    debug_assert_eq!(elf.len(), code_offset);

    elf.extend_from_slice(code);
    elf
}

/// The program the contenders spawn, and how it was obtained.
pub struct TinyProgram {
    path: PathBuf,
    /// Arguments that go before the caller's (the fallbacks' mode flags).
    prefix: Vec<OsString>,
    /// The temporary file to delete on drop, if we wrote one.
    owned: bool,
    description: String,
}

impl TinyProgram {
    /// Writes the static ELF to a temporary file (mode 0755) on x86_64;
    /// elsewhere falls back to `/bin/true`. Checks that it exits with 0.
    pub fn create() -> io::Result<TinyProgram> {
        let tiny = if cfg!(target_arch = "x86_64") {
            let bytes = exit0_x86_64();
            let description = format!("{}-byte static x86_64 ELF that calls exit(0)", bytes.len());
            TinyProgram::write("exit0", &bytes, description)?
        } else {
            TinyProgram {
                path: PathBuf::from("/bin/true"),
                prefix: Vec::new(),
                owned: false,
                description: "/bin/true (not x86_64: no generated static ELF; dynamic \
                              loading inflates every contender alike)"
                    .to_owned(),
            }
        };
        tiny.check()?;
        Ok(tiny)
    }

    /// The sleeper of the `--children` mode, which takes its sleep as one
    /// argument `S.mmm` (seconds, three decimals): the static ELF of
    /// [`SLEEP_CODE`] on x86_64, `/bin/sleep` elsewhere. Checked to exit
    /// with 0.
    pub fn sleeper() -> io::Result<TinyProgram> {
        let tiny = if cfg!(target_arch = "x86_64") {
            let bytes = static_x86_64(&SLEEP_CODE);
            let description = format!(
                "{}-byte static x86_64 ELF that calls nanosleep(argv[1]) and exit(0)",
                bytes.len()
            );
            TinyProgram::write("sleep", &bytes, description)?
        } else {
            TinyProgram {
                path: PathBuf::from("/bin/sleep"),
                prefix: Vec::new(),
                owned: false,
                description: "/bin/sleep (not x86_64: no generated static ELF)".to_owned(),
            }
        };
        let status = retry_busy(|| tiny.command().arg("0.001").status())?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "the sleeper {} did not exit with 0: {status}",
                tiny.path.display()
            )));
        }
        Ok(tiny)
    }

    /// The exit stamper of the `--children` mode, which sleeps 2 ms, writes
    /// `CLOCK_MONOTONIC` to its stdout as a 16-byte `timespec` and exits:
    /// the static ELF of [`STAMP_CODE`], or `bench --exit-stamp` (the
    /// bench itself, which does the same in Rust) with `rust` or not on
    /// x86_64. Checked once.
    pub fn stamper(bench: &Path, rust: bool) -> io::Result<TinyProgram> {
        let tiny = if cfg!(target_arch = "x86_64") && !rust {
            let bytes = static_x86_64(&STAMP_CODE);
            let description = format!(
                "{}-byte static x86_64 ELF: nanosleep 2 ms, clock_gettime, write, exit",
                bytes.len()
            );
            TinyProgram::write("stamp", &bytes, description)?
        } else {
            TinyProgram {
                path: bench.to_owned(),
                prefix: vec!["--exit-stamp".into()],
                owned: false,
                description: "this bench binary in its --exit-stamp mode (Rust): sleep 2 ms, \
                              clock_gettime, write, _exit"
                    .to_owned(),
            }
        };
        let before = crate::children::monotonic_ns();
        let mut child = retry_busy(|| tiny.command().stdout(Stdio::piped()).spawn())?;
        let mut out = Vec::new();
        child.stdout.take().expect("piped").read_to_end(&mut out)?;
        let status = child.wait()?;
        let stamp = <[u8; 16]>::try_from(out.as_slice())
            .ok()
            .map(crate::children::stamp_ns);
        if !status.success() || stamp.is_none_or(|s| s < before + STAMP_DELAY_NS) {
            return Err(io::Error::other(format!(
                "the exit stamper {} failed: {status}, wrote {out:?}",
                tiny.path.display()
            )));
        }
        Ok(tiny)
    }

    /// Writes `bytes` to a new temporary file of mode 0755.
    fn write(name: &str, bytes: &[u8], description: String) -> io::Result<TinyProgram> {
        // Unique in the process too: the unit tests write several at once.
        static WRITTEN: AtomicU32 = AtomicU32::new(0);
        let k = WRITTEN.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("spawnfd-bench-{name}-{}-{k}", std::process::id()));
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o755)
            .open(&path)?;
        // The program is written and closed before any spawn, so no child
        // can inherit a writable fd to it (which would make exec fail
        // with ETXTBSY).
        file.write_all(bytes)?;
        drop(file);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        Ok(TinyProgram {
            path,
            prefix: Vec::new(),
            owned: true,
            description,
        })
    }

    /// Uses an existing program (the `--one` sub-mode gets it from its parent).
    pub fn existing(path: PathBuf) -> TinyProgram {
        TinyProgram {
            description: path.display().to_string(),
            path,
            prefix: Vec::new(),
            owned: false,
        }
    }

    /// A std command for the program with its prefix arguments.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.path);
        command.args(&self.prefix);
        command
    }

    /// The arguments that go before the caller's.
    pub fn prefix(&self) -> &[OsString] {
        &self.prefix
    }

    /// Runs the program once and requires exit status 0.
    fn check(&self) -> io::Result<()> {
        let status = retry_busy(|| Command::new(&self.path).status())?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "the tiny program {} did not exit with 0: {status}",
                self.path.display()
            )))
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

/// Runs `spawn` again while it fails with `ETXTBSY`, for up to a second.
///
/// A program just written can be refused for a moment when another thread
/// spawned while the file was open for writing: until that child execs, it
/// holds a copy of the writable fd (the unit tests do this; the bench
/// writes its programs before it spawns anything).
fn retry_busy<T>(mut spawn: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut tries = 0;
    loop {
        match spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Drop for TinyProgram {
    fn drop(&mut self) {
        if self.owned {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn layout() {
        let elf = exit0_x86_64();
        assert_eq!(elf.len(), 129);
        assert_eq!(&elf[..4], b"\x7fELF");
        assert_eq!(u16_at(&elf, 18), 62, "e_machine");
        assert_eq!(u64_at(&elf, 32), 64, "e_phoff");
        assert_eq!(u16_at(&elf, 56), 1, "e_phnum");
        // The entry point is the code, right after the two headers.
        let entry = u64_at(&elf, 24);
        assert_eq!(entry - LOAD_ADDR, 120);
        assert_eq!(&elf[120..], &CODE);
        // The segment maps the whole file.
        assert_eq!(u64_at(&elf, 64 + 32), elf.len() as u64, "p_filesz");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn runs_and_exits_0() {
        let tiny = TinyProgram::create().unwrap();
        assert!(tiny.path().exists());
        let path = tiny.path().to_owned();
        drop(tiny);
        assert!(!path.exists(), "the temporary file is removed");
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn sleeper_sleeps() {
        let sleeper = TinyProgram::sleeper().unwrap();
        assert!(sleeper.prefix().is_empty());
        let start = std::time::Instant::now();
        let status = sleeper.command().arg("0.120").status().unwrap();
        let took = start.elapsed();
        assert!(status.success());
        assert!(took >= std::time::Duration::from_millis(120), "{took:?}");
        assert!(took < std::time::Duration::from_millis(1000), "{took:?}");
        // No argument: no sleep.
        assert!(sleeper.command().status().unwrap().success());
    }

    #[test]
    fn stampers_stamp() {
        // The Rust stamper is the bench binary, which a unit test is not.
        if cfg!(target_arch = "x86_64") {
            let stamper = TinyProgram::stamper(Path::new("/nonexistent"), false).unwrap();
            assert!(stamper.prefix().is_empty());
        }
    }
}
