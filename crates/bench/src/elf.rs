//! The tiny program every contender spawns: a minimal static x86_64 ELF
//! executable that only calls `exit(0)`, written to a temporary file at
//! startup so that no compiler is needed at run time.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the single `PT_LOAD` segment (the whole file) is mapped.
const LOAD_ADDR: u64 = 0x40_0000;
const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
/// `mov eax, 60` (`SYS_exit`); `xor edi, edi`; `syscall`.
const CODE: [u8; 9] = [0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05];

/// The bytes of a static x86_64 Linux executable that exits with status 0:
/// an ELF header, one `PT_LOAD` program header mapping the whole file
/// read+execute, and the code right after the headers.
pub fn exit0_x86_64() -> Vec<u8> {
    let code_offset = EHDR_SIZE + PHDR_SIZE;
    let file_len = (code_offset + CODE.len()) as u64;
    let mut elf = Vec::with_capacity(code_offset + CODE.len());

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

    elf.extend_from_slice(&CODE);
    elf
}

/// The program the contenders spawn, and how it was obtained.
pub struct TinyProgram {
    path: PathBuf,
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
            let path =
                std::env::temp_dir().join(format!("spawnfd-bench-exit0-{}", std::process::id()));
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o755)
                .open(&path)?;
            // The program is written and closed before any spawn, so no child
            // can inherit a writable fd to it (which would make exec fail
            // with ETXTBSY).
            file.write_all(&bytes)?;
            drop(file);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
            TinyProgram {
                path,
                owned: true,
                description: format!("{}-byte static x86_64 ELF that calls exit(0)", bytes.len()),
            }
        } else {
            TinyProgram {
                path: PathBuf::from("/bin/true"),
                owned: false,
                description: "/bin/true (not x86_64: no generated static ELF; dynamic \
                              loading inflates every contender alike)"
                    .to_owned(),
            }
        };
        tiny.check()?;
        Ok(tiny)
    }

    /// Uses an existing program (the `--one` sub-mode gets it from its parent).
    pub fn existing(path: PathBuf) -> TinyProgram {
        TinyProgram {
            description: path.display().to_string(),
            path,
            owned: false,
        }
    }

    /// Runs the program once and requires exit status 0.
    fn check(&self) -> io::Result<()> {
        let status = Command::new(&self.path).status()?;
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
}
