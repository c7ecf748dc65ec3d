//! A lossless JSON document model for FHIR resources.
//!
//! FHIR needs things general-purpose JSON libraries throw away: a decimal keeps its exact text
//! (`72.50` is not `72.5`, the trailing zero is clinical precision), members keep the order the
//! client sent, and duplicate member names are an error rather than "last one wins". So we parse
//! into our own small tree: numbers stay text, objects are ordered vectors. Parsing never panics
//! and is bounded in depth, so a hostile body of 10,000 nested arrays is a clean error.

use std::fmt::Write as _;

/// How deep a document may nest. Real R4 resources nest well under 30 levels (contained
/// resources with extensions on backbone elements); 100 leaves headroom while keeping the
/// recursive parser far from the thread's stack limit.
pub const DEPTH_MAX: usize = 100;

/// One JSON value. Numbers keep their source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The exact text of the number as written, already checked against the JSON grammar.
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// A JSON object whose members keep their order. Lookups are linear: FHIR objects are small
/// (a Patient has a dozen members), where a scan beats hashing.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Object {
    members: Vec<(String, Json)>,
}

impl Object {
    pub fn new() -> Object {
        Object::default()
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        self.members
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, replacing the value in place if present (keeping its position), appending otherwise.
    pub fn insert(&mut self, key: impl Into<String>, value: Json) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => self.members.push((key, value)),
        }
    }

    /// Sets `key` at position `index` (or moves it there), used to keep `resourceType`, `id`, `meta` first.
    pub fn insert_at(&mut self, index: usize, key: impl Into<String>, value: Json) {
        let key = key.into();
        self.members.retain(|(k, _)| *k != key);
        let index = index.min(self.members.len());
        self.members.insert(index, (key, value));
    }

    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let idx = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(idx).1)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Json)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&str, &mut Json)> {
        self.members.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.members.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Json) -> bool) {
        self.members.retain(|(k, v)| keep(k, v));
    }
}

impl FromIterator<(String, Json)> for Object {
    fn from_iter<I: IntoIterator<Item = (String, Json)>>(iter: I) -> Object {
        let mut object = Object::new();
        for (k, v) in iter {
            object.insert(k, v);
        }
        object
    }
}

impl Json {
    pub fn str(value: impl Into<String>) -> Json {
        Json::String(value.into())
    }

    /// A number from an integer; always valid JSON.
    pub fn int(value: i64) -> Json {
        Json::Number(value.to_string())
    }

    /// Builds an object from `(key, value)` pairs, in order.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number_text(&self) -> Option<&str> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Member `key` of an object; `None` for non-objects.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?.get(key)
    }

    /// Walks a dotted path of member names (`"meta.versionId"`); arrays are not traversed.
    pub fn pointer(&self, dotted: &str) -> Option<&Json> {
        dotted
            .split('.')
            .try_fold(self, |value, key| value.get(key))
    }

    /// The value viewed as a list: arrays as themselves, anything else as one element.
    /// FHIR repeating elements are arrays; this lets readers treat 0..1 and 0..* alike.
    pub fn as_list(&self) -> &[Json] {
        match self {
            Json::Array(a) => a,
            other => std::slice::from_ref(other),
        }
    }

    /// Equality that ignores the order of object members (JSON objects are unordered; array
    /// order matters). Used to tell whether an incoming resource changes a stored one.
    pub fn same_value(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Object(a), Json::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(key, value)| b.get(key).is_some_and(|v| value.same_value(v)))
            }
            (Json::Array(a), Json::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (a, b) => a == b,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// Serialises minified, members in order, numbers as their original text.
    pub fn to_json_string(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_to(&mut out);
        out
    }

    pub fn to_json_bytes(&self) -> Vec<u8> {
        self.to_json_string().into_bytes()
    }

    pub fn write_to(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(true) => out.push_str("true"),
            Json::Bool(false) => out.push_str("false"),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_escaped(out, s),
            Json::Array(items) => {
                out.push('[');
                for (idx, item) in items.iter().enumerate() {
                    if idx > 0 {
                        out.push(',');
                    }
                    item.write_to(out);
                }
                out.push(']');
            }
            Json::Object(object) => {
                out.push('{');
                for (idx, (key, value)) in object.members.iter().enumerate() {
                    if idx > 0 {
                        out.push(',');
                    }
                    write_escaped(out, key);
                    out.push(':');
                    value.write_to(out);
                }
                out.push('}');
            }
        }
    }

    /// Serialises with two-space indentation (for `_pretty=true`).
    pub fn to_pretty_string(&self) -> String {
        let mut out = String::with_capacity(512);
        self.write_pretty(&mut out, 0);
        out
    }

    fn write_pretty(&self, out: &mut String, indent: usize) {
        match self {
            Json::Array(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (idx, item) in items.iter().enumerate() {
                    if idx > 0 {
                        out.push_str(",\n");
                    }
                    push_indent(out, indent + 1);
                    item.write_pretty(out, indent + 1);
                }
                out.push('\n');
                push_indent(out, indent);
                out.push(']');
            }
            Json::Object(object) if !object.is_empty() => {
                out.push_str("{\n");
                for (idx, (key, value)) in object.members.iter().enumerate() {
                    if idx > 0 {
                        out.push_str(",\n");
                    }
                    push_indent(out, indent + 1);
                    write_escaped(out, key);
                    out.push_str(": ");
                    value.write_pretty(out, indent + 1);
                }
                out.push('\n');
                push_indent(out, indent);
                out.push('}');
            }
            other => other.write_to(out),
        }
    }
}

fn push_indent(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn write_escaped(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (idx, byte) in s.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..idx]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        start = idx + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Why a document is not JSON, with the place (1-based line and column) it went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at line {line}, column {column}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("unexpected end of input")]
    UnexpectedEnd,
    #[error("unexpected character")]
    UnexpectedChar,
    #[error("invalid number")]
    InvalidNumber,
    #[error("invalid string escape")]
    InvalidEscape,
    #[error("control character in string")]
    ControlChar,
    #[error("duplicate member name")]
    DuplicateKey,
    #[error("nesting deeper than {DEPTH_MAX} levels")]
    TooDeep,
    #[error("trailing characters after the document")]
    TrailingChars,
}

impl ParseError {
    pub fn message_es(&self) -> String {
        let what = match self.kind {
            ParseErrorKind::InvalidUtf8 => "el contenido no es UTF-8 válido".to_string(),
            ParseErrorKind::UnexpectedEnd => "el JSON termina antes de tiempo".to_string(),
            ParseErrorKind::UnexpectedChar => "carácter inesperado".to_string(),
            ParseErrorKind::InvalidNumber => "número inválido".to_string(),
            ParseErrorKind::InvalidEscape => "secuencia de escape inválida".to_string(),
            ParseErrorKind::ControlChar => "carácter de control dentro de una cadena".to_string(),
            ParseErrorKind::DuplicateKey => "nombre de propiedad repetido".to_string(),
            ParseErrorKind::TooDeep => format!("anidamiento de más de {DEPTH_MAX} niveles"),
            ParseErrorKind::TrailingChars => {
                "hay caracteres después del final del documento".to_string()
            }
        };
        format!(
            "JSON mal formado: {what} (línea {}, columna {})",
            self.line, self.column
        )
    }

    pub fn message_en(&self) -> String {
        format!("Malformed JSON: {self}")
    }
}

/// Parses one JSON document. Whitespace around it is allowed; anything else after it is an error.
pub fn parse(bytes: &[u8]) -> Result<Json, ParseError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let mut parser = Parser {
                bytes,
                pos: err.valid_up_to(),
            };
            return Err(parser.error(ParseErrorKind::InvalidUtf8));
        }
    };
    parse_str(text)
}

/// Parses one JSON document from text.
pub fn parse_str(text: &str) -> Result<Json, ParseError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < parser.bytes.len() {
        return Err(parser.error(ParseErrorKind::TrailingChars));
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&mut self, kind: ParseErrorKind) -> ParseError {
        let consumed = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = consumed.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = consumed
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        // Columns count characters, not bytes, so count UTF-8 lead bytes only.
        let column = consumed[line_start..]
            .iter()
            .filter(|b| (**b & 0xC0) != 0x80)
            .count()
            + 1;
        ParseError { kind, line, column }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        match self.peek() {
            None => Err(self.error(ParseErrorKind::UnexpectedEnd)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error(ParseErrorKind::UnexpectedChar)),
        }
    }

    fn literal(&mut self, word: &[u8], value: Json) -> Result<Json, ParseError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(ParseErrorKind::UnexpectedChar))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > DEPTH_MAX {
            return Err(self.error(ParseErrorKind::TooDeep));
        }
        self.pos += 1; // '{'
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(Object { members }));
        }
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedChar)),
            }
            let key_pos = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.pos = key_pos;
                return Err(self.error(ParseErrorKind::DuplicateKey));
            }
            self.skip_ws();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedChar)),
            }
            self.skip_ws();
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(Object { members }));
                }
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedChar)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > DEPTH_MAX {
            return Err(self.error(ParseErrorKind::TooDeep));
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                None => return Err(self.error(ParseErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(ParseErrorKind::UnexpectedChar)),
            }
        }
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error(ParseErrorKind::InvalidNumber)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(ParseErrorKind::InvalidNumber));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(ParseErrorKind::InvalidNumber));
            }
            self.digits();
        }
        // The slice is ASCII by construction, so this conversion cannot fail.
        let text = String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned();
        Ok(Json::Number(text))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(byte) = self.peek() else {
                return Err(self.error(ParseErrorKind::UnexpectedEnd));
            };
            match byte {
                b'"' => {
                    out.push_str(self.text(run_start, self.pos));
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.text(run_start, self.pos));
                    self.pos += 1;
                    self.escape(&mut out)?;
                    run_start = self.pos;
                }
                0..=0x1f => return Err(self.error(ParseErrorKind::ControlChar)),
                _ => self.pos += 1,
            }
        }
    }

    /// The input between two positions known to lie on character boundaries.
    fn text(&self, start: usize, end: usize) -> &str {
        // Input was validated as UTF-8 and `start`/`end` sit next to ASCII bytes, so both are
        // boundaries; `unwrap_or_default` keeps this total without a panic path.
        std::str::from_utf8(&self.bytes[start..end]).unwrap_or_default()
    }

    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let Some(byte) = self.peek() else {
            return Err(self.error(ParseErrorKind::UnexpectedEnd));
        };
        self.pos += 1;
        match byte {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let first = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate must be followed by an escaped low surrogate.
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(self.error(ParseErrorKind::InvalidEscape));
                    }
                    self.pos += 2;
                    let second = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&second) {
                        return Err(self.error(ParseErrorKind::InvalidEscape));
                    }
                    0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                } else {
                    first
                };
                match char::from_u32(code) {
                    Some(c) => out.push(c),
                    None => return Err(self.error(ParseErrorKind::InvalidEscape)),
                }
            }
            _ => {
                self.pos -= 1;
                return Err(self.error(ParseErrorKind::InvalidEscape));
            }
        }
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut code = 0u32;
        for _ in 0..4 {
            let Some(byte) = self.peek() else {
                return Err(self.error(ParseErrorKind::UnexpectedEnd));
            };
            let digit = match byte {
                b'0'..=b'9' => byte - b'0',
                b'a'..=b'f' => byte - b'a' + 10,
                b'A'..=b'F' => byte - b'A' + 10,
                _ => return Err(self.error(ParseErrorKind::InvalidEscape)),
            };
            code = code * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(code)
    }
}

#[cfg(test)]
mod tests;
