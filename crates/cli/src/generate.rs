//! `spawnfd generate`: the manual pages and shell completion scripts,
//! generated from the same clap definitions as the command line itself
//! (`clap_mangen`, `clap_complete`), so that they cannot drift from it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Command, Subcommand};
use clap_complete::Shell;

use crate::report::SPAWNFD_FAILED;

/// Write the manual pages, or print a shell completion script
///
/// For an installation: `spawnfd generate man /usr/local/share/man/man1`,
/// and for bash `spawnfd generate completions bash >
/// /usr/local/share/bash-completion/completions/spawnfd` (zsh: a file
/// `_spawnfd` in a directory of $fpath; fish:
/// `~/.config/fish/completions/spawnfd.fish`).
#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    what: What,
}

/// What to generate.
#[derive(Debug, Subcommand)]
enum What {
    /// Write spawnfd.1 and a page for each subcommand (spawnfd-run.1, ...) into DIR
    Man {
        /// The directory to write the pages into; it must exist
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on stdout
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_name = "SHELL")]
        shell: Shell,
    },
}

/// Generates what `args` asks for from `cli`, the whole command line's
/// definition; returns the status to exit with.
pub fn generate(args: GenerateArgs, cli: Command) -> ExitCode {
    let result = match args.what {
        What::Man { dir } => man_pages(cli, &dir),
        What::Completions { shell } => {
            let mut out = io::stdout().lock();
            clap_complete::generate(shell, &mut cli.clone(), "spawnfd", &mut out);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("spawnfd: generate: {err}");
            ExitCode::from(SPAWNFD_FAILED)
        }
    }
}

/// Writes the manual page of `cli` and of each of its subcommands into
/// `dir`.
fn man_pages(cli: Command, dir: &Path) -> io::Result<()> {
    let in_dir = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
    // A clearer message than File::create's for the common mistake.
    if !fs::metadata(dir).map_err(in_dir)?.is_dir() {
        return Err(in_dir(io::ErrorKind::NotADirectory.into()));
    }
    clap_mangen::generate_to(cli, dir).map_err(in_dir)
}
