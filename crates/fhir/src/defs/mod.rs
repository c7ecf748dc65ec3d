//! The official R4 structure definitions, as a table loaded once per process.
//!
//! `data/r4-structures.json` is generated at development time from HL7's R4 package by
//! `cargo run -p xtask -- fhir-defs` (see `data/README.md`) and embedded here with
//! `include_str!`, so nothing is fetched at build or run time. It lists, for every resource
//! type, complex datatype and backbone element, each element's name, cardinality and types,
//! plus the codes of the required bindings.
//!
//! Key decision: the table is turned into per-structure hash maps keyed by the JSON member
//! name (`valueQuantity`, `_birthDate`, …) right after parsing, so the validator does one hash
//! lookup per member and never does string work on `[x]` choices while validating.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use crate::json::{self, Json, Object};

#[cfg(test)]
mod tests;

/// The generated table (see `data/README.md` for its source and format).
const TABLE: &str = include_str!("../../data/r4-structures.json");

/// Structures may have at most this many elements: the validator tracks which elements an
/// object has in a `u128` bitset (the largest R4 structure has 54).
pub const STRUCTURE_ELEMENTS_MAX: usize = 128;

static DEFINITIONS: OnceLock<Definitions> = OnceLock::new();

/// The definitions, parsed on first use (a few milliseconds, once per process).
pub fn definitions() -> &'static Definitions {
    DEFINITIONS.get_or_init(|| Definitions::parse(TABLE).unwrap_or_else(Definitions::unavailable))
}

/// Whether `name` is an R4 resource type (`Patient`, `Claim`, …; not `Resource` or `DomainResource`).
pub fn is_resource_type(name: &str) -> bool {
    definitions().resource(name).is_some()
}

/// All R4 resource types, sorted.
pub fn resource_types() -> impl Iterator<Item = &'static str> {
    let defs = definitions();
    defs.resource_types
        .iter()
        .map(|id| defs.structure(*id).name())
}

/// Whether `name` is one of the R4 primitive types (`date`, `code`, …).
pub fn is_primitive_type(name: &str) -> bool {
    Primitive::from_name(name).is_some()
}

/// A resource type, datatype (`HumanName`) or backbone element (`Patient.contact`) by name.
pub fn structure(name: &str) -> Option<&'static Structure> {
    let defs = definitions();
    defs.structure_id(name).map(|id| defs.structure(id))
}

/// The element at a dotted `path` below `type_name`: `element("Patient", "name.given")`.
/// Path steps are element names (`value`, `value[x]`) or JSON member names (`valueQuantity`,
/// which also selects the type to continue into).
pub fn element(type_name: &str, path: &str) -> Option<&'static Element> {
    definitions()
        .resolve(type_name, path)
        .map(|(element, _)| element)
}

/// The type name of the element at `path` below `type_name` (`"HumanName"`, `"date"`,
/// `"Quantity"` for `valueQuantity`); `None` for unknown paths and for choices not narrowed
/// by a member name (`value[x]`).
pub fn element_type(type_name: &str, path: &str) -> Option<&'static str> {
    let defs = definitions();
    let (element, chosen) = defs.resolve(type_name, path)?;
    let ty = match chosen {
        Some(ty) => ty,
        None if element.types.len() == 1 => element.types[0],
        None => return None,
    };
    Some(defs.type_name(ty))
}

/// A value set used by a required binding, by canonical URL (without `|version`).
pub fn value_set(url: &str) -> Option<&'static ValueSet> {
    let defs = definitions();
    defs.value_set_by_url
        .get(url)
        .map(|id| &defs.value_sets[*id as usize])
}

/// Where the table came from (`hl7.fhir.r4.examples@4.0.1`).
pub fn source() -> &'static str {
    &definitions().source
}

/// Why the embedded table could not be loaded; `None` when it loaded (always, unless the
/// committed file was damaged — a test guards this).
pub fn load_error() -> Option<&'static str> {
    definitions().error.as_deref()
}

/// Index of a structure in [`Definitions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StructureId(u32);

/// The R4 primitive types, whose JSON value is a string, number or boolean.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Primitive {
    Base64Binary,
    Boolean,
    Canonical,
    Code,
    Date,
    DateTime,
    Decimal,
    Id,
    Instant,
    Integer,
    Markdown,
    Oid,
    PositiveInt,
    String,
    Time,
    UnsignedInt,
    Uri,
    Url,
    Uuid,
    Xhtml,
}

impl Primitive {
    const ALL: [Primitive; 20] = [
        Primitive::Base64Binary,
        Primitive::Boolean,
        Primitive::Canonical,
        Primitive::Code,
        Primitive::Date,
        Primitive::DateTime,
        Primitive::Decimal,
        Primitive::Id,
        Primitive::Instant,
        Primitive::Integer,
        Primitive::Markdown,
        Primitive::Oid,
        Primitive::PositiveInt,
        Primitive::String,
        Primitive::Time,
        Primitive::UnsignedInt,
        Primitive::Uri,
        Primitive::Url,
        Primitive::Uuid,
        Primitive::Xhtml,
    ];

    /// The FHIR type name (`dateTime`).
    pub fn name(self) -> &'static str {
        match self {
            Primitive::Base64Binary => "base64Binary",
            Primitive::Boolean => "boolean",
            Primitive::Canonical => "canonical",
            Primitive::Code => "code",
            Primitive::Date => "date",
            Primitive::DateTime => "dateTime",
            Primitive::Decimal => "decimal",
            Primitive::Id => "id",
            Primitive::Instant => "instant",
            Primitive::Integer => "integer",
            Primitive::Markdown => "markdown",
            Primitive::Oid => "oid",
            Primitive::PositiveInt => "positiveInt",
            Primitive::String => "string",
            Primitive::Time => "time",
            Primitive::UnsignedInt => "unsignedInt",
            Primitive::Uri => "uri",
            Primitive::Url => "url",
            Primitive::Uuid => "uuid",
            Primitive::Xhtml => "xhtml",
        }
    }

    /// The suffix a choice element uses for this type (`valueDateTime`).
    pub fn choice_suffix(self) -> &'static str {
        match self {
            Primitive::Base64Binary => "Base64Binary",
            Primitive::Boolean => "Boolean",
            Primitive::Canonical => "Canonical",
            Primitive::Code => "Code",
            Primitive::Date => "Date",
            Primitive::DateTime => "DateTime",
            Primitive::Decimal => "Decimal",
            Primitive::Id => "Id",
            Primitive::Instant => "Instant",
            Primitive::Integer => "Integer",
            Primitive::Markdown => "Markdown",
            Primitive::Oid => "Oid",
            Primitive::PositiveInt => "PositiveInt",
            Primitive::String => "String",
            Primitive::Time => "Time",
            Primitive::UnsignedInt => "UnsignedInt",
            Primitive::Uri => "Uri",
            Primitive::Url => "Url",
            Primitive::Uuid => "Uuid",
            Primitive::Xhtml => "Xhtml",
        }
    }

    pub fn from_name(name: &str) -> Option<Primitive> {
        Primitive::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What an element may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementType {
    Primitive(Primitive),
    /// A datatype, backbone element or (rarely) a specific resource type.
    Structure(StructureId),
    /// Any resource (`contained`, `Bundle.entry.resource`), chosen by its `resourceType`.
    AnyResource,
}

/// How the codes of an element are constrained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    None,
    /// A required binding to a value set expanded in the table (index into the value sets).
    ValueSet(u32),
    /// A required binding to all MIME types (BCP-13): checked by grammar.
    MimeType,
    /// Bound to all BCP-47 language tags: checked by grammar.
    Language,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructureKind {
    Resource,
    /// A complex datatype (`HumanName`, `Quantity`) or a constraint on one (`SimpleQuantity`).
    Datatype,
    /// An element with its own children inside a resource or datatype (`Patient.contact`).
    Backbone,
}

/// One element of a structure.
#[derive(Debug)]
pub struct Element {
    name: Box<str>,
    min: u32,
    /// `None` when unbounded (`*`).
    max: Option<u32>,
    choice: bool,
    summary: bool,
    types: Box<[ElementType]>,
    binding: Binding,
}

impl Element {
    /// The element name, without `[x]` for choices (`value`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn min(&self) -> u32 {
        self.min
    }

    /// The maximum cardinality; `None` when unbounded.
    pub fn max(&self) -> Option<u32> {
        self.max
    }

    /// Whether the JSON value is an array (max above 1).
    pub fn is_array(&self) -> bool {
        self.max.is_none_or(|max| max > 1)
    }

    /// Whether R4 lists the element in the summary view (`_summary=true`).
    pub fn is_summary(&self) -> bool {
        self.summary
    }

    /// Whether this is a choice element (`value[x]`).
    pub fn is_choice(&self) -> bool {
        self.choice
    }

    pub fn types(&self) -> &[ElementType] {
        &self.types
    }

    pub fn binding(&self) -> Binding {
        self.binding
    }
}

/// How a JSON member name maps onto an element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Index into [`Structure::elements`].
    pub element: u16,
    /// Index into the element's [`Element::types`] (the chosen variant of a choice).
    pub type_index: u8,
    /// `_birthDate`: the id/extensions of a primitive value.
    pub primitive_extension: bool,
}

/// A resource type, datatype or backbone element.
#[derive(Debug)]
pub struct Structure {
    name: Box<str>,
    kind: StructureKind,
    elements: Box<[Element]>,
    members: FastMap<Member>,
    /// Elements with `min >= 1`.
    required: Box<[u16]>,
}

impl Structure {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> StructureKind {
        self.kind
    }

    pub fn elements(&self) -> &[Element] {
        &self.elements
    }

    /// The element a JSON member name (`valueQuantity`, `_birthDate`, `name`) stands for.
    pub fn member(&self, json_name: &str) -> Option<Member> {
        self.members.get(json_name).copied()
    }

    /// Indices of the elements that must be present (`min >= 1`).
    pub fn required(&self) -> &[u16] {
        &self.required
    }

    /// The element called `name` (without `[x]`).
    pub fn element(&self, name: &str) -> Option<(u16, &Element)> {
        let name = name.strip_suffix("[x]").unwrap_or(name);
        self.elements
            .iter()
            .enumerate()
            .find(|(_, e)| &*e.name == name)
            .and_then(|(idx, e)| Some((u16::try_from(idx).ok()?, e)))
    }
}

/// A code system's URL and its codes in a value set, sorted.
type SystemCodes = (Box<str>, Box<[Box<str>]>);

/// The codes of a value set, by system.
#[derive(Debug)]
pub struct ValueSet {
    url: Box<str>,
    /// `(system, sorted codes)`.
    systems: Box<[SystemCodes]>,
    /// All codes of all systems, sorted and deduplicated: a `code` element carries no system.
    codes: Box<[Box<str>]>,
}

impl ValueSet {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether `code` is in the value set, in any system (for `code` elements).
    pub fn contains_code(&self, code: &str) -> bool {
        self.codes.binary_search_by(|c| (**c).cmp(code)).is_ok()
    }

    /// Whether `system|code` is in the value set (for `Coding`s).
    pub fn contains(&self, system: &str, code: &str) -> bool {
        self.systems
            .iter()
            .find(|(s, _)| &**s == system)
            .is_some_and(|(_, codes)| codes.binary_search_by(|c| (**c).cmp(code)).is_ok())
    }

    /// `(system, codes)` pairs.
    pub fn systems(&self) -> impl Iterator<Item = (&str, &[Box<str>])> {
        self.systems.iter().map(|(s, c)| (&**s, &**c))
    }
}

/// Structures well known to the validator (they carry invariants beyond cardinality).
#[derive(Debug, Default, Clone, Copy)]
pub struct WellKnown {
    pub element: Option<StructureId>,
    pub extension: Option<StructureId>,
    pub reference: Option<StructureId>,
    pub codeable_concept: Option<StructureId>,
    pub coding: Option<StructureId>,
    pub meta: Option<StructureId>,
}

/// The whole table.
#[derive(Debug)]
pub struct Definitions {
    source: Box<str>,
    structures: Vec<Structure>,
    by_name: FastMap<StructureId>,
    /// Resource structures, sorted by name.
    resource_types: Vec<StructureId>,
    value_sets: Vec<ValueSet>,
    value_set_by_url: FastMap<u32>,
    well_known: WellKnown,
    error: Option<String>,
}

/// Why the table could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("the definitions table is not JSON: {0}")]
    Json(#[from] json::ParseError),
    #[error("the definitions table is malformed at {0}")]
    Malformed(String),
}

fn malformed(at: impl Into<String>) -> LoadError {
    LoadError::Malformed(at.into())
}

impl Definitions {
    /// Parses a table in the format written by `xtask fhir-defs`. Crate-private so that every
    /// [`StructureId`] comes from the one process-wide table and always indexes into it.
    pub(crate) fn parse(text: &str) -> Result<Definitions, LoadError> {
        let root = json::parse_str(text)?;
        let source = root
            .pointer("source.package")
            .and_then(Json::as_str)
            .unwrap_or("unknown")
            .into();

        let mut value_sets = Vec::new();
        let mut value_set_by_url = FastMap::default();
        for (url, systems) in object_at(&root, "valueSets")?.iter() {
            let systems = systems.as_object().ok_or_else(|| malformed(url))?;
            let mut by_system = Vec::new();
            let mut all = Vec::new();
            for (system, codes) in systems.iter() {
                let mut list = string_list(codes).ok_or_else(|| malformed(url))?;
                list.sort_unstable();
                all.extend(list.iter().cloned());
                by_system.push((Box::from(system), list.into_boxed_slice()));
            }
            all.sort_unstable();
            all.dedup();
            let id = u32::try_from(value_sets.len()).map_err(|_| malformed(url))?;
            value_set_by_url.insert(Box::from(url), id);
            value_sets.push(ValueSet {
                url: url.into(),
                systems: by_system.into_boxed_slice(),
                codes: all.into_boxed_slice(),
            });
        }

        // Names first, so element types can point at any structure.
        let structures_json = object_at(&root, "structures")?;
        let mut by_name = FastMap::default();
        for (idx, (name, _)) in structures_json.iter().enumerate() {
            let id = u32::try_from(idx).map_err(|_| malformed(name))?;
            by_name.insert(Box::from(name), StructureId(id));
        }
        // Choice suffixes: a structure's own name, or the datatype it constrains.
        let mut choice_names: Vec<&str> = Vec::with_capacity(structures_json.len());
        for (name, body) in structures_json.iter() {
            choice_names.push(body.get("type").and_then(Json::as_str).unwrap_or(name));
        }

        let mut structures = Vec::with_capacity(structures_json.len());
        let mut resource_types = Vec::new();
        for (idx, (name, body)) in structures_json.iter().enumerate() {
            let kind = match body.get("kind").and_then(Json::as_str) {
                Some("resource") => StructureKind::Resource,
                Some("complex") => StructureKind::Datatype,
                Some("backbone") => StructureKind::Backbone,
                _ => return Err(malformed(format!("{name}.kind"))),
            };
            let rows = body
                .get("elements")
                .and_then(Json::as_array)
                .ok_or_else(|| malformed(format!("{name}.elements")))?;
            if rows.len() > STRUCTURE_ELEMENTS_MAX {
                return Err(malformed(format!(
                    "{name}: more than {STRUCTURE_ELEMENTS_MAX} elements"
                )));
            }
            let mut elements = Vec::with_capacity(rows.len());
            for row in rows {
                elements.push(parse_element(row, &by_name, &value_set_by_url).ok_or_else(
                    || malformed(format!("{name}: element {}", row.to_json_string())),
                )?);
            }
            let members = member_map(name, &elements, &choice_names)?;
            let required = elements
                .iter()
                .enumerate()
                .filter(|(_, e)| e.min > 0)
                .filter_map(|(idx, _)| u16::try_from(idx).ok())
                .collect();
            if kind == StructureKind::Resource {
                resource_types.push(StructureId(
                    u32::try_from(idx).map_err(|_| malformed(name))?,
                ));
            }
            structures.push(Structure {
                name: name.into(),
                kind,
                elements: elements.into_boxed_slice(),
                members,
                required,
            });
        }
        resource_types.sort_unstable_by(|a, b| {
            structures[a.0 as usize]
                .name
                .cmp(&structures[b.0 as usize].name)
        });

        let id = |name: &str| by_name.get(name).copied();
        let well_known = WellKnown {
            element: id("Element"),
            extension: id("Extension"),
            reference: id("Reference"),
            codeable_concept: id("CodeableConcept"),
            coding: id("Coding"),
            meta: id("Meta"),
        };
        Ok(Definitions {
            source,
            structures,
            by_name,
            resource_types,
            value_sets,
            value_set_by_url,
            well_known,
            error: None,
        })
    }

    /// Empty definitions that remember why loading failed; validation then reports it
    /// instead of panicking.
    fn unavailable(error: LoadError) -> Definitions {
        Definitions {
            source: "unavailable".into(),
            structures: Vec::new(),
            by_name: FastMap::default(),
            resource_types: Vec::new(),
            value_sets: Vec::new(),
            value_set_by_url: FastMap::default(),
            well_known: WellKnown::default(),
            error: Some(error.to_string()),
        }
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn structure_id(&self, name: &str) -> Option<StructureId> {
        self.by_name.get(name).copied()
    }

    /// The structure behind an id handed out by this table.
    pub fn structure(&self, id: StructureId) -> &Structure {
        // Ids only come from this table, so the index is in range; `structures[0]` is
        // never reached for a well-formed id, and an empty table hands out no ids.
        &self.structures[id.0 as usize]
    }

    /// The resource structure called `name`.
    pub fn resource(&self, name: &str) -> Option<StructureId> {
        self.structure_id(name)
            .filter(|id| self.structure(*id).kind == StructureKind::Resource)
    }

    pub fn value_set(&self, index: u32) -> Option<&ValueSet> {
        self.value_sets.get(index as usize)
    }

    pub fn well_known(&self) -> WellKnown {
        self.well_known
    }

    pub fn type_name(&self, ty: ElementType) -> &str {
        match ty {
            ElementType::Primitive(p) => p.name(),
            ElementType::Structure(id) => self.structure(id).name(),
            ElementType::AnyResource => "Resource",
        }
    }

    fn resolve(&self, type_name: &str, path: &str) -> Option<(&Element, Option<ElementType>)> {
        let mut current = self.structure_id(type_name)?;
        let mut steps = path.split('.').peekable();
        while let Some(step) = steps.next() {
            let structure = self.structure(current);
            let (element, chosen) = match structure.member(step) {
                Some(member) if !member.primitive_extension => {
                    let element = &structure.elements[usize::from(member.element)];
                    let chosen = element.types.get(usize::from(member.type_index)).copied();
                    (
                        element,
                        chosen.filter(|_| element.choice || element.types.len() == 1),
                    )
                }
                _ => {
                    let (_, element) = structure.element(step)?;
                    (
                        element,
                        (element.types.len() == 1).then(|| element.types[0]),
                    )
                }
            };
            if steps.peek().is_none() {
                return Some((element, chosen));
            }
            match chosen? {
                ElementType::Structure(id) => current = id,
                _ => return None,
            }
        }
        None
    }
}

fn object_at<'a>(root: &'a Json, key: &str) -> Result<&'a Object, LoadError> {
    root.get(key)
        .and_then(Json::as_object)
        .ok_or_else(|| malformed(key))
}

fn string_list(value: &Json) -> Option<Vec<Box<str>>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(Box::from))
        .collect()
}

/// One element row: `"name[!] min max type[|type…] [binding]"` (`!`: summary element) (see `data/README.md`).
fn parse_element(
    row: &Json,
    by_name: &FastMap<StructureId>,
    value_sets: &FastMap<u32>,
) -> Option<Element> {
    let mut fields = row.as_str()?.split(' ');
    let raw_name = fields.next()?;
    let (raw_name, summary) = match raw_name.strip_suffix('!') {
        Some(base) => (base, true),
        None => (raw_name, false),
    };
    let (name, choice) = match raw_name.strip_suffix("[x]") {
        Some(base) => (base, true),
        None => (raw_name, false),
    };
    let min = fields.next()?.parse().ok()?;
    let max = match fields.next()? {
        "*" => None,
        text => Some(text.parse().ok()?),
    };
    let mut types = Vec::new();
    for type_name in fields.next()?.split('|') {
        types.push(if let Some(primitive) = Primitive::from_name(type_name) {
            ElementType::Primitive(primitive)
        } else if type_name == "Resource" {
            ElementType::AnyResource
        } else {
            ElementType::Structure(*by_name.get(type_name)?)
        });
    }
    if types.len() > usize::from(u8::MAX) {
        return None;
    }
    let binding = match fields.next() {
        None => Binding::None,
        Some("#bcp47") => Binding::Language,
        Some("#mimetype") => Binding::MimeType,
        Some(url) => Binding::ValueSet(*value_sets.get(url)?),
    };
    if fields.next().is_some() {
        return None;
    }
    Some(Element {
        name: name.into(),
        min,
        max,
        choice,
        summary,
        types: types.into_boxed_slice(),
        binding,
    })
}

/// Every JSON member name a structure accepts: `name`, `_name` for primitives, and
/// `valueQuantity` / `_valueString` for each variant of a choice.
fn member_map(
    structure: &str,
    elements: &[Element],
    choice_names: &[&str],
) -> Result<FastMap<Member>, LoadError> {
    let n_members: usize = elements.iter().map(|e| 2 * e.types.len()).sum();
    let mut members = FastMap::with_capacity_and_hasher(n_members, Default::default());
    for (element_idx, element) in elements.iter().enumerate() {
        let element_idx = u16::try_from(element_idx).map_err(|_| malformed(structure))?;
        for (type_idx, ty) in element.types.iter().enumerate() {
            let type_index = u8::try_from(type_idx).map_err(|_| malformed(structure))?;
            let key: Box<str> = if element.choice {
                let suffix = match ty {
                    ElementType::Primitive(p) => p.choice_suffix(),
                    ElementType::Structure(id) => choice_names
                        .get(id.0 as usize)
                        .copied()
                        .ok_or_else(|| malformed(structure))?,
                    ElementType::AnyResource => "Resource",
                };
                format!("{}{suffix}", element.name).into_boxed_str()
            } else if type_idx == 0 {
                element.name.clone()
            } else {
                // Several types without [x] does not occur in R4; keep the first.
                continue;
            };
            let member = Member {
                element: element_idx,
                type_index,
                primitive_extension: false,
            };
            if matches!(ty, ElementType::Primitive(_)) {
                let extension = Member {
                    primitive_extension: true,
                    ..member
                };
                if members
                    .insert(format!("_{key}").into_boxed_str(), extension)
                    .is_some()
                {
                    return Err(malformed(format!("{structure}: duplicate member _{key}")));
                }
            }
            if let Some(previous) = members.insert(key, member) {
                return Err(malformed(format!(
                    "{structure}: duplicate member for element {}",
                    previous.element
                )));
            }
        }
    }
    Ok(members)
}

/// Maps keyed by short strings (JSON member names, type names). The default SipHash guards
/// against hash flooding, which does not apply here: the keys come from our own table and
/// lookups only read. A multiply-rotate hash (as in rustc's FxHash) is several times faster
/// on 5–20 byte keys, and member lookup is the validator's hot path.
type FastMap<V> = HashMap<Box<str>, V, BuildHasherDefault<FastHasher>>;

#[derive(Default, Clone, Copy)]
pub struct FastHasher {
    hash: u64,
}

const FAST_HASH_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FAST_HASH_SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}
