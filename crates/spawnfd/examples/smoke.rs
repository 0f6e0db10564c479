use spawnfd::{Command, SpawnError, Stdio};
fn main() {
    let out = Command::new("sh")
        .args([
            "-c",
            "ls -l /proc/self/fd; grep Sig /proc/self/status; echo $FOO; pwd",
        ])
        .env("FOO", "bar")
        .current_dir("/tmp")
        .output()
        .unwrap();
    println!("{:?}\n{}", out.status, String::from_utf8_lossy(&out.stdout));
    for p in ["nonexistent-xyz", "/etc/passwd", "/nonexist/foo"] {
        let e = Command::new(p).spawn().unwrap_err();
        println!("{e} kind={:?} {:?}", e.kind(), SpawnError::from_io(&e));
    }
    let e = Command::new("true")
        .current_dir("/nope")
        .spawn()
        .unwrap_err();
    println!("{e}");
    let e = Command::new("true")
        .fd(100000, std::fs::File::open("/dev/null").unwrap())
        .spawn()
        .unwrap_err();
    println!("{e}");
    let s = Command::new("true").stdin(Stdio::null()).status().unwrap();
    println!("{s:?}");
}
