//! Resident memory from `/proc` (Linux): the peak (`VmHWM`) of a process, and a way to
//! restart this process's peak so that one phase (the import) can be measured on its own.

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// Peak resident memory of a process, in KiB.
pub fn peak_kib(pid: u32) -> Option<u64> {
    status_kib(&pid.to_string(), "VmHWM")
}

/// This process's peak resident memory, in KiB.
pub fn peak_self() -> Option<u64> {
    status_kib("self", "VmHWM")
}

/// Restarts this process's peak at its current RSS (writing 5 to `clear_refs`, Linux ≥ 4.0)
/// and returns that RSS in KiB.
pub fn reset_peak_self() -> Option<u64> {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("self", "VmRSS")
}
