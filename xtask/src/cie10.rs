//! `cie10`: compiles the Spanish CIE-10 titles of the PyPI package `cie` into
//! `crates/mexico/data/cie10.tsv` (one code per line: dotted code, title, origin).
//!
//! Why at development time: the product never fetches anything, and the package's CSV needs
//! cleaning that should be reviewed once, in a diff, rather than repeated at start-up.
//! The package mixes two scrapes: titles from icdcode.info (the OPS/WHO Spanish wording, with
//! accents) and, for about 3,200 codes, from Chile's DEIS list (accents stripped). This task
//! restores the accents of the DEIS titles word by word from the vocabulary of the accented
//! titles, only where that vocabulary is unambiguous, and records which titles came from where.
//! Sex and age limits are *not* in the package; `mexico::cie10` derives them from its own
//! reviewed rule table (see `crates/mexico/data/README.md`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The PyPI distribution and version the catalogue is generated from.
const PACKAGE: &str = "cie==0.208";
/// SHA-256 of `cie-0.208-py3-none-any.whl` as first downloaded; a different file is refused, so
/// a re-published wheel cannot silently change the catalogue.
const WHEEL_SHA256: &str = "2aada0667948688c21754692228a01ab348d377b3310f26e33150e70b77b9c45";
/// Share of a folded word's occurrences that one accented spelling must have before it is used
/// to restore accents (below it the word is left as the source wrote it).
const ACCENT_SHARE_MIN: f64 = 0.8;
/// Words of the DEIS titles that the accented titles never use, spelled by standard Spanish
/// orthography (RAE); reviewed by hand. Keys are the unaccented lowercase words of the source.
const ORTHOGRAPHY: &[(&str, &str)] = &[
    ("acuatico", "acuático"),
    ("areas", "áreas"),
    ("cañerias", "cañerías"),
    ("citologicos", "citológicos"),
    ("cromosomicos", "cromosómicos"),
    ("escalofrio", "escalofrío"),
    ("esqui", "esquí"),
    ("histologicos", "histológicos"),
    ("microbiologicos", "microbiológicos"),
    ("minima", "mínima"),
    ("minimo", "mínimo"),
    ("oftalmicas", "oftálmicas"),
    ("publicas", "públicas"),
];

pub fn run(args: &[String]) -> Result<()> {
    let mut wheel: Option<PathBuf> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--wheel" => wheel = Some(PathBuf::from(iter.next().context("--wheel needs a path")?)),
            other => bail!("unknown argument {other:?} (usage: cie10 [--wheel FILE.whl])"),
        }
    }
    let tmp = std::env::temp_dir().join(format!("xtask-cie10-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let wheel = match wheel {
        Some(path) => path,
        None => pip_download(&tmp)?,
    };
    check_sha256(&wheel)?;
    let csv_text = extract_csv(&wheel, &tmp)?;
    let rows = parse_rows(&csv_text)?;
    let (lines, stats) = build(&rows);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("crates/mexico/data/cie10.tsv");
    std::fs::create_dir_all(out.parent().context("output has a parent")?)?;
    std::fs::write(&out, lines)?;
    println!(
        "wrote {}: {} codes ({} from icdcode.info, {} from deis.cl, {} words re-accented in {} titles)",
        out.display(),
        stats.codes,
        stats.icdcode,
        stats.deis,
        stats.words_reaccented,
        stats.titles_reaccented
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn pip_download(tmp: &Path) -> Result<PathBuf> {
    let status = Command::new("pip")
        .args([
            "download",
            "--no-deps",
            "--only-binary=:all:",
            PACKAGE,
            "-d",
        ])
        .arg(tmp)
        .status()
        .context("running pip download (is pip installed?)")?;
    if !status.success() {
        bail!("pip download {PACKAGE} failed");
    }
    std::fs::read_dir(tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip download produced no .whl")
}

fn check_sha256(wheel: &Path) -> Result<()> {
    let output = Command::new("sha256sum")
        .arg(wheel)
        .output()
        .context("running sha256sum")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let digest = text.split_whitespace().next().unwrap_or_default();
    if digest != WHEEL_SHA256 {
        bail!(
            "{} has SHA-256 {digest}, expected {WHEEL_SHA256}",
            wheel.display()
        );
    }
    Ok(())
}

/// The wheel is a zip holding `cie/data/cie-10.zip`, itself holding `cie-10.csv`.
fn extract_csv(wheel: &Path, tmp: &Path) -> Result<String> {
    let unzip = |archive: &Path, into: &Path| -> Result<()> {
        let status = Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(archive)
            .arg(into)
            .status()
            .context("running python3 -m zipfile")?;
        if !status.success() {
            bail!("could not unpack {}", archive.display());
        }
        Ok(())
    };
    let outer = tmp.join("wheel");
    unzip(wheel, &outer)?;
    let inner = tmp.join("data");
    unzip(&outer.join("cie/data/cie-10.zip"), &inner)?;
    std::fs::read_to_string(inner.join("cie-10.csv")).context("reading cie-10.csv")
}

struct Row {
    code: String,
    description: String,
    source: String,
}

/// A minimal RFC 4180 reader: the file quotes fields that contain commas.
fn parse_rows(text: &str) -> Result<Vec<Row>> {
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\r') => {}
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    let header = records.first().context("empty csv")?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .context(name.to_owned())
    };
    let (code, description, source) = (col("code")?, col("description")?, col("source")?);
    Ok(records
        .iter()
        .skip(1)
        .filter(|r| r.len() > source)
        .map(|r| Row {
            code: r[code].clone(),
            description: r[description].clone(),
            source: r[source].clone(),
        })
        .collect())
}

/// Lowercase ASCII fold of one word (accents removed), the key of the accent vocabulary.
fn fold(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            'á' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'Ú' | 'ü' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn clean(text: &str) -> String {
    // Soft hyphens from the scraped HTML, and one run-together pair in the DEIS titles.
    let without_soft_hyphens: String = text
        .chars()
        .filter(|&c| c != '\u{ad}')
        .collect::<String>()
        .replace("sustanciacorrosiva", "sustancia corrosiva");
    without_soft_hyphens
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

#[derive(Default)]
struct Stats {
    codes: usize,
    icdcode: usize,
    deis: usize,
    words_reaccented: usize,
    titles_reaccented: usize,
}

/// Dotted code for a 3- or 4-character code; `None` for chapter and block ranges.
fn dotted(code: &str) -> Option<String> {
    let mut chars = code.chars();
    let letter_ok = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    if !letter_ok || !chars.all(|c| c.is_ascii_digit()) {
        return None;
    }
    match code.len() {
        3 => Some(code.to_owned()),
        4 => Some(format!("{}.{}", &code[..3], &code[3..])),
        _ => None,
    }
}

fn build(rows: &[Row]) -> (String, Stats) {
    // Vocabulary: for each folded word of the accented titles, how often each spelling occurs.
    let mut spellings: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for row in rows.iter().filter(|r| r.source == "icdcode.info") {
        for word in words(&row.description) {
            *spellings
                .entry(fold(word))
                .or_default()
                .entry(word.to_lowercase())
                .or_default() += 1;
        }
    }
    let mut accent: HashMap<String, String> = HashMap::new();
    for (key, forms) in &spellings {
        let total: usize = forms.values().sum();
        if let Some((form, &n)) = forms.iter().max_by_key(|(form, n)| (**n, (*form).clone()))
            && form != key
            && n as f64 / total as f64 >= ACCENT_SHARE_MIN
        {
            accent.insert(key.clone(), form.clone());
        }
    }
    for (plain, spelled) in ORTHOGRAPHY {
        accent.insert((*plain).to_owned(), (*spelled).to_owned());
    }
    let mut stats = Stats::default();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for row in rows {
        let Some(code) = dotted(&row.code) else {
            continue;
        };
        let mut description = clean(&row.description);
        let origin = match row.source.as_str() {
            "icdcode.info" => {
                stats.icdcode += 1;
                "i"
            }
            _ => {
                stats.deis += 1;
                let (fixed, n) = reaccent(&description, &accent);
                if n > 0 {
                    stats.words_reaccented += n;
                    stats.titles_reaccented += 1;
                }
                description = fixed;
                "d"
            }
        };
        out.insert(code.clone(), format!("{code}\t{description}\t{origin}\n"));
    }
    stats.codes = out.len();
    let mut text = String::from(
        "# Generated by `cargo run -p xtask -- cie10` from PyPI cie 0.208 (MIT); see README.md.\n\
         # code\ttitle\torigin (i = icdcode.info, d = Chile DEIS with accents restored)\n",
    );
    for line in out.values() {
        text.push_str(line);
    }
    (text, stats)
}

/// Replaces each unaccented word that the vocabulary knows, keeping an initial capital.
fn reaccent(text: &str, accent: &HashMap<String, String>) -> (String, usize) {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    let mut word = String::new();
    let mut flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let key = fold(word);
        match accent.get(&key) {
            Some(form) if key == word.to_lowercase() => {
                let mut chars = form.chars();
                if word.chars().next().is_some_and(char::is_uppercase) {
                    if let Some(first) = chars.next() {
                        out.extend(first.to_uppercase());
                    }
                    out.push_str(chars.as_str());
                } else {
                    out.push_str(form);
                }
                n += 1;
            }
            _ => out.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    (out, n)
}
