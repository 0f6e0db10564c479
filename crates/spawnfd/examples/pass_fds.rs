//! Giving a child chosen fds: the write end of one pipe as its fd 3 and
//! the read end of another as its fd 4. Nothing else reaches it, not even an fd this process
//! opened without close-on-exec.
//!
//! `cargo run --example pass_fds`

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use spawnfd::Command;

fn main() -> std::io::Result<()> {
    let (mut reader, writer) = std::io::pipe()?;

    // Written before the spawn: a few bytes fit in the pipe's buffer.
    let (input, mut input_writer) = std::io::pipe()?;
    input_writer.write_all(b"from the parent\n")?;
    drop(input_writer);

    // An fd inherited by every fork-and-exec child: spawnfd leaves it out.
    let leaky: OwnedFd = std::fs::File::open("/dev/null")?.into();
    clear_cloexec(&leaky)?;

    let script = format!(
        "cat <&4 >&3; echo 'to fd 3' >&3; \
         if [ -e /proc/$$/fd/{leaky} ]; then echo leaked >&3; fi",
        leaky = leaky.as_raw_fd()
    );
    let status = Command::new("sh")
        .args(["-c", &script])
        .fd(3, writer) // moved: the child's fd 3, closed here
        .fd(4, input)
        .status()?;
    assert!(status.success());

    // The child held the only write end, so the read ends at its exit.
    let mut got = String::new();
    reader.read_to_string(&mut got)?;
    assert_eq!(got, "from the parent\nto fd 3\n");
    print!("the child wrote to its fd 3:\n{got}");
    Ok(())
}

/// Makes `fd` inheritable across `execve`, as code that forgets
/// `O_CLOEXEC` leaves its fds.
fn clear_cloexec(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: F_SETFD on an fd this function borrows; no memory is passed.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
