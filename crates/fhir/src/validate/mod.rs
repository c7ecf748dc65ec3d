//! Structural validation of any R4 resource against the official definitions ([`crate::defs`]).
//!
//! One walk over the JSON tree checks: `resourceType`, unknown elements (errors, never dropped
//! silently), cardinality and array shape, primitive formats, primitive extensions
//! (`_birthDate`), choice elements (`value[x]`: one variant), required bindings, contained
//! resources (recursively; no nested `contained`), `Reference.reference` syntax, Extension's
//! `url` + value-or-children rule, and empty objects/arrays and misplaced `null`s.
//!
//! Key decisions: validation never stops at the first problem and never panics — it returns
//! every issue with a FHIRPath-like `expression` (`Patient.name[0].given[1]`). The walk does no
//! allocation unless it finds a problem: paths are a linked list of stack frames that are only
//! rendered into a string when an issue is reported, and members are resolved with one hash
//! lookup each in maps precomputed from the definitions.

pub mod grammar;
pub mod primitive;

#[cfg(test)]
mod tests;

use crate::defs::{self, Binding, Definitions, Element, ElementType, StructureId, StructureKind};
use crate::issue::{Issue, IssueCode};
use crate::json::{Json, Object};

pub use primitive::{PrimitiveError, check_primitive};

mod lenient;
pub use lenient::validate_resource_assuming_zone;

/// How deeply objects may nest before validation stops descending. The JSON parser already
/// limits documents to 100 levels; this guards trees built in code.
pub const DEPTH_MAX: usize = 128;

/// Longest value quoted back in a message; longer values are cut (a 1 MB string in a
/// diagnostic helps nobody).
const QUOTED_CHARS_MAX: usize = 60;

/// Validates a resource of any R4 type. Returns every problem found (empty when valid).
pub fn validate_resource(resource: &Json) -> Vec<Issue> {
    let mut issues = Vec::new();
    validate_resource_into(resource, &mut issues);
    issues
}

/// As [`validate_resource`], appending to `issues` (lets batch callers reuse one vector).
pub fn validate_resource_into(resource: &Json, issues: &mut Vec<Issue>) {
    walk(resource, issues, None);
}

/// The one walk behind every entry point; gives back the lenient fixes it found.
fn walk<'i>(
    resource: &Json,
    issues: &'i mut Vec<Issue>,
    zone: Option<lenient::ZoneFix<'i>>,
) -> Vec<lenient::Fixup> {
    let defs = defs::definitions();
    if let Some(error) = defs.error() {
        issues.push(Issue::error(
            IssueCode::Exception,
            format!("No se pudieron cargar las definiciones de FHIR R4: {error}"),
            format!("The FHIR R4 definitions could not be loaded: {error}"),
        ));
        return Vec::new();
    }
    let mut validator = Validator { defs, issues, zone };
    let Some(object) = resource.as_object() else {
        validator.issues.push(Issue::error(
            IssueCode::Structure,
            format!(
                "Un recurso debe ser un objeto JSON, no {}",
                kind_es(resource)
            ),
            format!(
                "A resource must be a JSON object, not {}",
                resource.kind_name()
            ),
        ));
        return Vec::new();
    };
    let resource_type = match object.get("resourceType") {
        None => {
            validator.issues.push(
                Issue::error(
                    IssueCode::Required,
                    "Falta resourceType: no se sabe qué tipo de recurso es",
                    "resourceType is missing: the kind of resource is unknown",
                )
                .at("resourceType"),
            );
            return Vec::new();
        }
        Some(Json::String(name)) => name.as_str(),
        Some(other) => {
            validator.issues.push(
                Issue::error(
                    IssueCode::Structure,
                    format!("resourceType debe ser una cadena, no {}", kind_es(other)),
                    format!("resourceType must be a string, not {}", other.kind_name()),
                )
                .at("resourceType"),
            );
            return Vec::new();
        }
    };
    let Some(id) = defs.resource(resource_type) else {
        validator
            .issues
            .push(unknown_resource_type(resource_type).at("resourceType"));
        return Vec::new();
    };
    let path = Path {
        parent: None,
        segment: Segment::Root(resource_type),
    };
    validator.object(id, object, &path, 0);
    validator
        .zone
        .map(lenient::ZoneFix::into_fixups)
        .unwrap_or_default()
}

fn unknown_resource_type(name: &str) -> Issue {
    Issue::error(
        IssueCode::NotSupported,
        format!("«{}» no es un tipo de recurso de FHIR R4", quote(name)),
        format!("'{}' is not a FHIR R4 resource type", quote(name)),
    )
}

/// Where a value sits, as a chain of stack frames (rendered only when an issue is reported).
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Root(&'a str),
    Member(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    fn member(&'a self, name: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Member(name),
        }
    }

    fn index(&'a self, idx: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Index(idx),
        }
    }

    fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut current = Some(self);
        while let Some(path) = current {
            segments.push(path.segment);
            current = path.parent;
        }
        let mut out = String::new();
        for segment in segments.iter().rev() {
            match segment {
                Segment::Root(name) => out.push_str(name),
                Segment::Member(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(idx) => {
                    out.push('[');
                    out.push_str(&idx.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

struct Validator<'d, 'i> {
    defs: &'d Definitions,
    issues: &'i mut Vec<Issue>,
    /// Lenient reading: local `dateTime`s are placed in this zone instead of refused.
    zone: Option<lenient::ZoneFix<'i>>,
}

impl Validator<'_, '_> {
    fn report(&mut self, issue: Issue, path: &Path) {
        self.issues.push(issue.at(path.render()));
    }

    /// A resource in an element typed `Resource` (or a specific resource type).
    fn resource(
        &mut self,
        value: &Json,
        path: &Path,
        expected: Option<StructureId>,
        contained: bool,
        depth: usize,
    ) {
        let Some(object) = value.as_object() else {
            self.report(not_object("un recurso", "a resource", value), path);
            return;
        };
        let id = match object.get("resourceType") {
            Some(Json::String(name)) => match self.defs.resource(name) {
                Some(id) => id,
                None => {
                    self.report(unknown_resource_type(name), &path.member("resourceType"));
                    return;
                }
            },
            _ => {
                self.report(
                    Issue::error(
                        IssueCode::Required,
                        "Falta resourceType (una cadena) en el recurso",
                        "The resource lacks resourceType (a string)",
                    ),
                    &path.member("resourceType"),
                );
                return;
            }
        };
        if let Some(expected) = expected
            && expected != id
        {
            let want = self.defs.structure(expected).name();
            let got = self.defs.structure(id).name();
            self.report(
                Issue::error(
                    IssueCode::Structure,
                    format!("Se esperaba un recurso {want}, no {got}"),
                    format!("Expected a {want} resource, not {got}"),
                ),
                &path.member("resourceType"),
            );
            return;
        }
        if contained {
            self.contained_rules(object, path);
        }
        self.object(id, object, path, depth);
    }

    /// R4 dom-2 and dom-4: a contained resource has no `contained` of its own and no
    /// `meta.versionId` / `meta.lastUpdated` (it is versioned with its container).
    fn contained_rules(&mut self, object: &Object, path: &Path) {
        if object.contains_key("contained") {
            self.report(
                Issue::error(
                    IssueCode::Invariant,
                    "Un recurso contenido no puede tener sus propios recursos contenidos (dom-2)",
                    "A contained resource must not contain resources itself (dom-2)",
                ),
                &path.member("contained"),
            );
        }
        if let Some(meta) = object.get("meta").and_then(Json::as_object) {
            for key in ["versionId", "lastUpdated"] {
                if meta.contains_key(key) {
                    self.report(
                        Issue::error(
                            IssueCode::Invariant,
                            format!("Un recurso contenido no puede tener meta.{key} (dom-4)"),
                            format!("A contained resource must not have meta.{key} (dom-4)"),
                        ),
                        &path.member("meta").member(key),
                    );
                }
            }
        }
    }

    /// The members of an object of structure `id`.
    fn object(&mut self, id: StructureId, object: &Object, path: &Path, depth: usize) {
        if depth >= DEPTH_MAX {
            self.report(
                Issue::error(
                    IssueCode::Structure,
                    format!("El contenido anida más de {DEPTH_MAX} niveles"),
                    format!("The content nests deeper than {DEPTH_MAX} levels"),
                ),
                path,
            );
            return;
        }
        let defs = self.defs;
        let structure = defs.structure(id);
        let is_resource = structure.kind() == StructureKind::Resource;
        if object.is_empty() {
            self.report(
                Issue::error(
                    IssueCode::Structure,
                    "Un elemento no puede ser un objeto vacío: debe tener un valor o elementos hijos (ele-1)",
                    "An element must not be an empty object: it needs a value or children (ele-1)",
                ),
                path,
            );
            return;
        }
        let elements = structure.elements();
        let mut seen: u128 = 0;
        // The variant seen for each choice element (few per object), to catch a second one.
        let mut choices: [(u16, u8); 4] = [(u16::MAX, 0); 4];
        for (key, value) in object.iter() {
            if is_resource && key == "resourceType" {
                continue;
            }
            let Some(member) = structure.member(key) else {
                self.report(unknown_element(key, structure.name()), &path.member(key));
                continue;
            };
            let element_idx = usize::from(member.element);
            let Some(element) = elements.get(element_idx) else {
                continue;
            };
            let bit = 1u128 << (element_idx % 128);
            if element.is_choice() {
                let slot = choices
                    .iter_mut()
                    .find(|(e, _)| *e == member.element || *e == u16::MAX);
                match slot {
                    Some((e, t)) if *e == member.element && *t != member.type_index => {
                        self.report(several_choices(element.name(), key), &path.member(key));
                        continue;
                    }
                    Some(slot) => *slot = (member.element, member.type_index),
                    None => {}
                }
            }
            seen |= bit;
            if element.max() == Some(0) {
                // Only constraint profiles (SimpleQuantity.comparator) forbid an element.
                self.report(
                    Issue::error(
                        IssueCode::Structure,
                        format!("«{key}» no se admite en {} (máximo 0)", structure.name()),
                        format!("'{key}' is not allowed in {} (max 0)", structure.name()),
                    ),
                    &path.member(key),
                );
                continue;
            }
            let ty = element.types().get(usize::from(member.type_index)).copied();
            let Some(ty) = ty else { continue };
            if member.primitive_extension {
                self.primitive_extension(object, key, value, element, path, depth);
            } else {
                let contained = is_resource && element.name() == "contained";
                self.member_value(object, key, value, element, ty, path, contained, depth);
            }
        }
        for &required in structure.required() {
            let idx = usize::from(required);
            if seen & (1u128 << (idx % 128)) == 0
                && let Some(element) = elements.get(idx)
            {
                let name = if element.is_choice() {
                    format!("{}[x]", element.name())
                } else {
                    element.name().to_string()
                };
                self.report(missing_required(&name, element.min()), &path.member(&name));
            }
        }
        let well_known = defs.well_known();
        if Some(id) == well_known.extension {
            self.extension_rule(structure, seen, path);
        } else if Some(id) == well_known.reference
            && let Some(Json::String(reference)) = object.get("reference")
        {
            self.reference(reference, &path.member("reference"));
        }
    }

    /// R4 ext-1: an extension has a value or nested extensions, not both and not neither.
    fn extension_rule(&mut self, structure: &defs::Structure, seen: u128, path: &Path) {
        let bit_of = |name: &str| {
            structure
                .element(name)
                .map_or(0, |(idx, _)| 1u128 << (usize::from(idx) % 128))
        };
        let has_value = seen & bit_of("value") != 0;
        let has_children = seen & bit_of("extension") != 0;
        if has_value == has_children {
            let (es, en) = if has_value {
                (
                    "Una extensión debe tener value[x] o extensiones anidadas, no ambas (ext-1)",
                    "An extension must have either value[x] or nested extensions, not both (ext-1)",
                )
            } else {
                (
                    "Una extensión debe tener value[x] o extensiones anidadas (ext-1)",
                    "An extension must have either value[x] or nested extensions (ext-1)",
                )
            };
            self.report(Issue::error(IssueCode::Invariant, es, en), path);
        }
    }

    fn reference(&mut self, reference: &str, path: &Path) {
        if reference.is_empty() {
            return; // Reported as an empty string already.
        }
        let defs = self.defs;
        match grammar::check_reference(reference, |name| defs.resource(name).is_some()) {
            Ok(()) => {}
            Err(grammar::ReferenceProblem::UnknownType(name)) => self.report(
                Issue::error(
                    IssueCode::Value,
                    format!("La referencia «{}» nombra un tipo de recurso desconocido «{}»", quote(reference), quote(&name)),
                    format!("Reference '{}' names an unknown resource type '{}'", quote(reference), quote(&name)),
                ),
                path,
            ),
            Err(grammar::ReferenceProblem::Malformed) => self.report(
                Issue::error(
                    IssueCode::Value,
                    format!(
                        "Referencia mal formada «{}»: se espera Tipo/id, Tipo/id/_history/versión, una URL absoluta, #id, urn:uuid:…, urn:oid:… o Tipo?criterios",
                        quote(reference)
                    ),
                    format!(
                        "Malformed reference '{}': expected Type/id, Type/id/_history/version, an absolute URL, #id, urn:uuid:…, urn:oid:… or Type?criteria",
                        quote(reference)
                    ),
                ),
                path,
            ),
        }
    }

    /// The value of a regular member (`name`, `valueQuantity`), single or repeating.
    #[expect(
        clippy::too_many_arguments,
        reason = "the walk's context, passed by value for speed"
    )]
    fn member_value(
        &mut self,
        object: &Object,
        key: &str,
        value: &Json,
        element: &Element,
        ty: ElementType,
        path: &Path,
        contained: bool,
        depth: usize,
    ) {
        let member_path = path.member(key);
        match value {
            Json::Array(items) if element.is_array() => {
                if items.is_empty() {
                    self.report(empty_array(key), &member_path);
                    return;
                }
                self.check_count(element, items.len(), key, &member_path);
                let mut extensions: Option<Option<&[Json]>> = None;
                for (idx, item) in items.iter().enumerate() {
                    let item_path = member_path.index(idx);
                    if let Json::Null = item {
                        // A null holds the place of a value that only has extensions.
                        let siblings = *extensions.get_or_insert_with(|| {
                            object.get(&format!("_{key}")).and_then(Json::as_array)
                        });
                        let covered = matches!(ty, ElementType::Primitive(_))
                            && siblings
                                .and_then(|s| s.get(idx))
                                .is_some_and(|e| !matches!(e, Json::Null));
                        if !covered {
                            self.report(null_value(), &item_path);
                        }
                        continue;
                    }
                    self.value(item, element, ty, &item_path, contained, depth);
                }
            }
            Json::Array(_) => {
                self.report(array_not_allowed(key), &member_path);
            }
            Json::Null => self.report(null_value(), &member_path),
            _ if element.is_array() => {
                self.report(array_required(key), &member_path);
            }
            _ => self.value(value, element, ty, &member_path, contained, depth),
        }
    }

    fn check_count(&mut self, element: &Element, count: usize, key: &str, path: &Path) {
        if let Some(max) = element.max()
            && count > max as usize
        {
            self.report(
                Issue::error(
                    IssueCode::Structure,
                    format!("«{key}» admite como máximo {max} valores; hay {count}"),
                    format!("'{key}' allows at most {max} values; found {count}"),
                ),
                path,
            );
        }
        if count < element.min() as usize {
            self.report(
                Issue::error(
                    IssueCode::Required,
                    format!(
                        "«{key}» requiere al menos {} valores; hay {count}",
                        element.min()
                    ),
                    format!(
                        "'{key}' requires at least {} values; found {count}",
                        element.min()
                    ),
                ),
                path,
            );
        }
    }

    /// One value of an element (an array item or the single value).
    fn value(
        &mut self,
        value: &Json,
        element: &Element,
        ty: ElementType,
        path: &Path,
        contained: bool,
        depth: usize,
    ) {
        match ty {
            ElementType::Primitive(primitive) => {
                if let Err(error) = check_primitive(primitive, value) {
                    if primitive == defs::Primitive::DateTime
                        && let Some(fix) = &mut self.zone
                        && let Some(warning) = fix.place(value, path)
                    {
                        self.issues.push(warning);
                        return;
                    }
                    self.report(primitive_issue(primitive, value, error), path);
                    return;
                }
                if let Json::String(text) = value {
                    self.code_binding(element.binding(), text, path);
                }
            }
            ElementType::AnyResource => self.resource(value, path, None, contained, depth + 1),
            ElementType::Structure(id) => {
                let structure = self.defs.structure(id);
                if structure.kind() == StructureKind::Resource {
                    self.resource(value, path, Some(id), contained, depth + 1);
                    return;
                }
                let Some(object) = value.as_object() else {
                    self.report(not_object(structure.name(), structure.name(), value), path);
                    return;
                };
                self.object(id, object, path, depth + 1);
                if let Binding::ValueSet(vs) = element.binding() {
                    self.coded_binding(id, vs, object, path);
                }
            }
        }
    }

    /// A required binding on a `code` (or other string-valued) element.
    fn code_binding(&mut self, binding: Binding, text: &str, path: &Path) {
        match binding {
            Binding::None => {}
            Binding::ValueSet(index) => {
                if let Some(value_set) = self.defs.value_set(index)
                    && !value_set.contains_code(text)
                {
                    self.report(code_not_in_value_set(text, value_set.url()), path);
                }
            }
            Binding::Language => {
                if !grammar::is_language_tag(text) {
                    self.report(
                        Issue::error(
                            IssueCode::CodeInvalid,
                            format!("«{}» no es una etiqueta de idioma BCP-47 válida (p. ej. es, es-MX)", quote(text)),
                            format!("'{}' is not a valid BCP-47 language tag (e.g. es, es-MX)", quote(text)),
                        ),
                        path,
                    );
                }
            }
            Binding::MimeType => {
                if !grammar::is_mime_type(text) {
                    self.report(
                        Issue::error(
                            IssueCode::CodeInvalid,
                            format!(
                                "«{}» no es un tipo MIME válido (p. ej. application/pdf)",
                                quote(text)
                            ),
                            format!(
                                "'{}' is not a valid MIME type (e.g. application/pdf)",
                                quote(text)
                            ),
                        ),
                        path,
                    );
                }
            }
        }
    }

    /// A required binding on a CodeableConcept or Coding: some coding must be in the value set.
    fn coded_binding(&mut self, id: StructureId, vs_index: u32, object: &Object, path: &Path) {
        let Some(value_set) = self.defs.value_set(vs_index) else {
            return;
        };
        let well_known = self.defs.well_known();
        let in_set = |coding: &Object| match (coding.get("system"), coding.get("code")) {
            (Some(Json::String(system)), Some(Json::String(code))) => {
                value_set.contains(system, code)
            }
            _ => false,
        };
        let ok = if Some(id) == well_known.codeable_concept {
            object
                .get("coding")
                .and_then(Json::as_array)
                .is_some_and(|codings| codings.iter().filter_map(Json::as_object).any(in_set))
        } else if Some(id) == well_known.coding {
            in_set(object)
        } else {
            true
        };
        if !ok {
            self.report(
                Issue::error(
                    IssueCode::CodeInvalid,
                    format!(
                        "Ninguna codificación pertenece al conjunto de valores requerido {}",
                        value_set.url()
                    ),
                    format!(
                        "No coding is from the required value set {}",
                        value_set.url()
                    ),
                ),
                path,
            );
        }
    }

    /// `_name`: the id and extensions of a primitive value (or array of them, aligned by index
    /// with `name`, `null` where one side has nothing).
    fn primitive_extension(
        &mut self,
        object: &Object,
        key: &str,
        value: &Json,
        element: &Element,
        path: &Path,
        depth: usize,
    ) {
        let base = key.strip_prefix('_').unwrap_or(key);
        let member_path = path.member(base);
        let Some(element_id) = self.defs.well_known().element else {
            return;
        };
        match value {
            Json::Array(items) if element.is_array() => {
                if items.is_empty() {
                    self.report(empty_array(key), &member_path);
                    return;
                }
                let values = object.get(base);
                let value_items = values.and_then(Json::as_array);
                if let Some(value_items) = value_items
                    && value_items.len() != items.len()
                {
                    self.report(
                        Issue::error(
                            IssueCode::Structure,
                            format!(
                                "«{key}» y «{base}» deben tener la misma longitud ({} y {})",
                                items.len(),
                                value_items.len()
                            ),
                            format!(
                                "'{key}' and '{base}' must have the same length ({} and {})",
                                items.len(),
                                value_items.len()
                            ),
                        ),
                        &member_path,
                    );
                }
                if values.is_none() {
                    self.check_count(element, items.len(), key, &member_path);
                }
                for (idx, item) in items.iter().enumerate() {
                    let item_path = member_path.index(idx);
                    match item {
                        Json::Null => {
                            let covered = value_items
                                .and_then(|v| v.get(idx))
                                .is_some_and(|v| !matches!(v, Json::Null));
                            if !covered {
                                self.report(null_value(), &item_path);
                            }
                        }
                        Json::Object(extension) => {
                            self.object(element_id, extension, &item_path, depth + 1)
                        }
                        other => self.report(
                            not_object(
                                "extensiones de un primitivo",
                                "primitive extensions",
                                other,
                            ),
                            &item_path,
                        ),
                    }
                }
            }
            Json::Array(_) => self.report(array_not_allowed(key), &member_path),
            Json::Object(extension) if !element.is_array() => {
                self.object(element_id, extension, &member_path, depth + 1);
            }
            Json::Object(_) => self.report(array_required(key), &member_path),
            other => self.report(
                not_object("extensiones de un primitivo", "primitive extensions", other),
                &member_path,
            ),
        }
    }
}

/// A value cut to a readable length for messages, control characters shown as `\uXXXX`.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(QUOTED_CHARS_MAX * 4));
    for (idx, c) in text.chars().enumerate() {
        if idx == QUOTED_CHARS_MAX {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn kind_es(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "un booleano",
        Json::Number(_) => "un número",
        Json::String(_) => "una cadena",
        Json::Array(_) => "un arreglo",
        Json::Object(_) => "un objeto",
    }
}

fn not_object(what_es: &str, what_en: &str, value: &Json) -> Issue {
    Issue::error(
        IssueCode::Structure,
        format!("Se esperaba un objeto ({what_es}), no {}", kind_es(value)),
        format!("Expected an object ({what_en}), not {}", value.kind_name()),
    )
}

fn unknown_element(key: &str, structure: &str) -> Issue {
    Issue::error(
        IssueCode::Structure,
        format!("Elemento desconocido «{}» en {structure}", quote(key)),
        format!("Unknown element '{}' in {structure}", quote(key)),
    )
}

fn several_choices(name: &str, key: &str) -> Issue {
    Issue::error(
        IssueCode::Structure,
        format!("{name}[x] admite una sola variante; «{key}» es una segunda"),
        format!("{name}[x] takes a single variant; '{key}' is a second one"),
    )
}

fn missing_required(name: &str, min: u32) -> Issue {
    Issue::error(
        IssueCode::Required,
        format!("Falta el elemento obligatorio «{name}» (mínimo {min})"),
        format!("Required element '{name}' is missing (min {min})"),
    )
}

fn empty_array(key: &str) -> Issue {
    Issue::error(
        IssueCode::Structure,
        format!("«{key}» no puede ser un arreglo vacío: omita el elemento"),
        format!("'{key}' must not be an empty array: omit the element"),
    )
}

fn array_not_allowed(key: &str) -> Issue {
    Issue::error(
        IssueCode::Structure,
        format!("«{key}» admite un solo valor; no puede ser un arreglo"),
        format!("'{key}' takes a single value; it must not be an array"),
    )
}

fn array_required(key: &str) -> Issue {
    Issue::error(
        IssueCode::Structure,
        format!("«{key}» se repite: su valor debe ser un arreglo"),
        format!("'{key}' repeats: its value must be an array"),
    )
}

fn null_value() -> Issue {
    Issue::error(
        IssueCode::Structure,
        "null solo se admite en arreglos de primitivos, alineado con extensiones en «_nombre»",
        "null is only allowed in primitive arrays, aligned with extensions in '_name'",
    )
}

fn code_not_in_value_set(code: &str, url: &str) -> Issue {
    Issue::error(
        IssueCode::CodeInvalid,
        format!(
            "El código «{}» no pertenece al conjunto de valores requerido {url}",
            quote(code)
        ),
        format!(
            "Code '{}' is not in the required value set {url}",
            quote(code)
        ),
    )
}

fn primitive_issue(primitive: defs::Primitive, value: &Json, error: PrimitiveError) -> Issue {
    let type_name = primitive.name();
    match error {
        PrimitiveError::Kind {
            expected_es,
            expected_en,
        } => Issue::error(
            IssueCode::Structure,
            format!(
                "Un valor {type_name} debe ser {expected_es}, no {}",
                kind_es(value)
            ),
            format!(
                "A {type_name} value must be {expected_en}, not {}",
                value.kind_name()
            ),
        ),
        PrimitiveError::Format { rule_es, rule_en } => {
            let text = match value {
                Json::String(s) | Json::Number(s) => quote(s),
                _ => String::new(),
            };
            Issue::error(
                IssueCode::Value,
                format!("Valor {type_name} inválido «{text}»: {rule_es}"),
                format!("Invalid {type_name} value '{text}': {rule_en}"),
            )
        }
    }
}
