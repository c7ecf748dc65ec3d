//! Dynamic SQL with typed parameters.
//!
//! Every placeholder is written with its type (`$3::bigint`), so PostgreSQL never has to infer
//! one from context (a date bound compared with a float, a text compared with an id) and the
//! Rust value always matches the declared type.

use postgres::types::ToSql;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Arg {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Arg {
    fn cast(&self) -> &'static str {
        match self {
            Arg::Int(_) => "bigint",
            Arg::Float(_) => "float8",
            Arg::Text(_) => "text",
        }
    }

    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Arg::Int(value) => value,
            Arg::Float(value) => value,
            Arg::Text(value) => value,
        }
    }
}

pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new() -> Sql {
        Sql {
            text: String::with_capacity(512),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub(crate) fn arg(&mut self, value: Arg) {
        self.args.push(value);
        let n = self.args.len();
        let cast = self.args[n - 1].cast();
        self.text.push_str(&format!("${n}::{cast}"));
    }

    /// Appends `other`, renumbering its placeholders after this one's.
    pub(crate) fn append(&mut self, other: &Sql) {
        let offset = self.args.len();
        self.text.push_str(&renumber(&other.text, offset));
        self.args.extend(other.args.iter().cloned());
    }

    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(Arg::as_sql).collect()
    }
}

/// `$n` → `$(n + offset)` in SQL that has no `$` except placeholders (ours never do: every
/// value is a parameter).
pub(crate) fn renumber(text: &str, offset: usize) -> String {
    if offset == 0 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            let n: usize = digits.parse().unwrap_or(0);
            out.push('$');
            out.push_str(&(n + offset).to_string());
        } else {
            out.push(c);
        }
    }
    out
}
