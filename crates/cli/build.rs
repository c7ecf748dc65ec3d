//! Build script: records the git revision the binary is built from, for `expediente --version`
//! (an operator reporting a problem says exactly what runs). Outside a git checkout (a source
//! tarball) the revision is "sin-git".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    let revision = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "sin-git".into());
    println!("cargo:rustc-env=EXPEDIENTE_GIT_REVISION={revision}");
    // Rebuild when HEAD moves (a commit, a checkout); `logs/HEAD` changes on both.
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(file) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
}
