//! The results table: printed, and appended to BENCHMARKS.md with the date, the git revision
//! and the machine, so that runs on different days and machines can be told apart.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context;

/// Whether a row met its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// No target: the figure is reported for its own sake (and its ratio).
    Info,
}

impl Verdict {
    pub fn of(pass: bool) -> Verdict {
        if pass { Verdict::Pass } else { Verdict::Fail }
    }
    fn text(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "**FAIL**",
            Verdict::Info => "—",
        }
    }
}

/// One measured figure with its same-run baseline.
#[derive(Clone, Debug)]
pub struct Row {
    pub measure: String,
    /// The figure, in `unit`.
    pub value: f64,
    pub unit: &'static str,
    /// Extra detail printed after the figure (e.g. "p50 0.4 ms").
    pub detail: String,
    pub baseline_label: String,
    pub baseline_value: Option<f64>,
    /// figure / baseline, or a ratio defined by the row (stated in `ratio_note`).
    pub ratio: Option<f64>,
    pub target: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(measure: impl Into<String>, value: f64, unit: &'static str) -> Row {
        Row {
            measure: measure.into(),
            value,
            unit,
            detail: String::new(),
            baseline_label: String::new(),
            baseline_value: None,
            ratio: None,
            target: String::new(),
            verdict: Verdict::Info,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Row {
        self.detail = detail.into();
        self
    }

    /// Sets the baseline and the ratio figure / baseline.
    pub fn baseline(mut self, value: f64, label: impl Into<String>) -> Row {
        self.baseline_value = Some(value);
        self.baseline_label = label.into();
        self.ratio = (value > 0.0).then(|| self.value / value);
        self
    }

    pub fn target(mut self, target: impl Into<String>, pass: bool) -> Row {
        self.target = target.into();
        self.verdict = Verdict::of(pass);
        self
    }
}

/// What the table's header says about the run.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub date_utc: String,
    pub revision: String,
    pub machine: String,
    pub command: String,
    pub scale_label: String,
    pub seconds: f64,
    pub notes: Vec<String>,
}

pub struct Report {
    pub info: RunInfo,
    pub rows: Vec<Row>,
}

/// Columns of the table (and so cells per row).
pub const COLUMNS: [&str; 7] = [
    "#",
    "Measure",
    "Figure",
    "Baseline (same run)",
    "Ratio",
    "Target",
    "Result",
];

pub fn format_number(value: f64, unit: &str) -> String {
    let text = if value >= 1_000.0 {
        group_thousands(value.round() as u64)
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else if value >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    };
    if unit.is_empty() {
        text
    } else {
        format!("{text} {unit}")
    }
}

/// A count with thousands separators: `1,000,000`.
pub fn format_count(n: u64) -> String {
    group_thousands(n)
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (idx, c) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Keeps a cell on one table line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

impl Report {
    pub fn markdown(&self) -> String {
        let info = &self.info;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## {} · rev {} · {}\n",
            info.date_utc, info.revision, info.scale_label
        );
        let _ = writeln!(out, "- Machine: {}", info.machine);
        let _ = writeln!(out, "- Command: `{}`", info.command);
        let _ = writeln!(out, "- Run time: {:.0} s\n", info.seconds);
        let _ = writeln!(out, "| {} |", COLUMNS.join(" | "));
        let _ = writeln!(
            out,
            "|{}|",
            COLUMNS.iter().map(|_| "---").collect::<Vec<_>>().join("|")
        );
        for (idx, row) in self.rows.iter().enumerate() {
            let mut figure = format_number(row.value, row.unit);
            if !row.detail.is_empty() {
                figure = format!("{figure} ({})", row.detail);
            }
            let baseline = match row.baseline_value {
                Some(value) => format!(
                    "{} — {}",
                    format_number(value, row.unit),
                    row.baseline_label
                ),
                None if row.baseline_label.is_empty() => "—".to_string(),
                None => row.baseline_label.clone(),
            };
            let ratio = row.ratio.map_or("—".to_string(), |r| format!("{r:.2}"));
            let target = if row.target.is_empty() {
                "—".to_string()
            } else {
                row.target.clone()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                idx + 1,
                cell(&row.measure),
                cell(&figure),
                cell(&baseline),
                ratio,
                cell(&target),
                row.verdict.text()
            );
        }
        if !info.notes.is_empty() {
            out.push('\n');
            for note in &info.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out.push('\n');
        out
    }

    /// Appends the table to `path`, creating the file with its preamble if needed.
    pub fn append_to(&self, path: &Path) -> anyhow::Result<()> {
        let exists = path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if !exists {
            writeln!(
                file,
                "# Benchmarks\n\nRun `expediente bench` (see its `--help`); each run appends a table below.\n"
            )?;
        }
        file.write_all(self.markdown().as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// `2026-11-25 01:43 UTC`.
pub fn date_utc() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let instant = ehr::format_instant(ms);
    // 2026-11-25T01:43:15.123Z → 2026-11-25 01:43 UTC
    match (instant.get(0..10), instant.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => instant,
    }
}

/// `git rev-parse --short HEAD`, with `-dirty` when the work tree has uncommitted changes.
pub fn revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".into(),
    }
}

/// Cores, CPU model and RAM of this machine.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_gib = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0.0, |kib| kib as f64 / 1024.0 / 1024.0);
    format!("{cores} cores, {model}, {ram_gib:.1} GiB RAM")
}
