//! Path programs: the compiled form of a search parameter's FHIRPath expression.
//!
//! The xtask resolved each expression against the R4 StructureDefinitions, so at run time a
//! program is just a few alternatives of member steps (choice types already concrete, e.g.
//! `valueQuantity`) with simple filters, each ending on a known datatype. Walking one over our
//! JSON tree allocates nothing but the output list, which keeps extraction within the write
//! path's budget.

use fhir::json::Json;

/// The FHIR datatype a path ends on; it decides how values become index entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// `code`, `string`, `id`, `uri`, `url`, `canonical`, `oid`, `uuid`, `markdown`.
    Text,
    Boolean,
    Coding,
    CodeableConcept,
    Identifier,
    ContactPoint,
    HumanName,
    Address,
    /// `date`, `dateTime`, `instant`.
    DateTime,
    Period,
    Timing,
    /// `decimal`, `integer`, `positiveInt`, `unsignedInt`.
    Decimal,
    /// `Quantity` and its profiles (`Age`, `Duration`, `Distance`, `Count`, `SimpleQuantity`).
    Quantity,
    Money,
    Range,
    Reference,
}

impl Leaf {
    pub(crate) fn from_code(code: &str) -> Option<Leaf> {
        Some(match code {
            "code" | "string" | "id" | "uri" | "url" | "canonical" | "oid" | "uuid"
            | "markdown" => Leaf::Text,
            "boolean" => Leaf::Boolean,
            "Coding" => Leaf::Coding,
            "CodeableConcept" => Leaf::CodeableConcept,
            "Identifier" => Leaf::Identifier,
            "ContactPoint" => Leaf::ContactPoint,
            "HumanName" => Leaf::HumanName,
            "Address" => Leaf::Address,
            "date" | "dateTime" | "instant" => Leaf::DateTime,
            "Period" => Leaf::Period,
            "Timing" => Leaf::Timing,
            "decimal" | "integer" | "positiveInt" | "unsignedInt" => Leaf::Decimal,
            "Quantity" | "Age" | "Duration" | "Distance" | "Count" | "SimpleQuantity"
            | "MoneyQuantity" => Leaf::Quantity,
            "Money" => Leaf::Money,
            "Range" => Leaf::Range,
            "Reference" => Leaf::Reference,
            _ => return None,
        })
    }
}

/// One step of a path (see `data/README.md` for the text encoding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Member access; arrays are flattened as FHIRPath does.
    Member(String),
    /// `where(member = 'literal')`.
    WhereEq(String, String),
    /// `where(resolve() is Type)`: keeps references whose target type is known to be `Type`.
    ResolveIs(String),
    /// `[n]` over the collection so far.
    Index(usize),
    /// `first()` over the collection so far.
    First,
}

impl Step {
    pub(crate) fn decode(text: &str) -> Option<Step> {
        if let Some(rest) = text.strip_prefix('?') {
            let (member, literal) = rest.split_once('=')?;
            return Some(Step::WhereEq(member.to_string(), literal.to_string()));
        }
        if let Some(ty) = text.strip_prefix('@') {
            return Some(Step::ResolveIs(ty.to_string()));
        }
        if let Some(n) = text.strip_prefix('#') {
            return n.parse().ok().map(Step::Index);
        }
        if text == "first()" {
            return Some(Step::First);
        }
        if text.is_empty() {
            return None;
        }
        Some(Step::Member(text.to_string()))
    }

    fn is_collection_op(&self) -> bool {
        matches!(self, Step::Index(_) | Step::First)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Path {
    pub(crate) steps: Vec<Step>,
    pub(crate) leaf: Leaf,
}

#[derive(Clone, Debug)]
pub(crate) struct Program {
    pub(crate) paths: Vec<Path>,
    /// `Patient.deceased.exists() and Patient.deceased != false`: the parameter's value is the
    /// boolean "some value exists and it is not `false`", not the values themselves.
    pub(crate) exists_not_false: bool,
}

impl Path {
    /// Appends the values this path selects in `root` to `out`.
    pub(crate) fn eval<'a>(&self, root: &'a Json, out: &mut Vec<&'a Json>) {
        if !self.steps.iter().any(Step::is_collection_op) {
            walk(root, &self.steps, out);
            return;
        }
        // Collection operators see everything selected so far, so evaluate segment by segment.
        let mut current: Vec<&'a Json> = vec![root];
        let mut rest: &[Step] = &self.steps;
        while !rest.is_empty() {
            let split = rest
                .iter()
                .position(Step::is_collection_op)
                .unwrap_or(rest.len());
            let (segment, tail) = rest.split_at(split);
            let mut next = Vec::new();
            for node in &current {
                walk(node, segment, &mut next);
            }
            current = next;
            match tail.first() {
                Some(Step::First) => current.truncate(1),
                Some(Step::Index(n)) => {
                    current = current.get(*n).map(|v| vec![*v]).unwrap_or_default();
                }
                _ => {}
            }
            rest = tail.get(1..).unwrap_or_default();
        }
        out.extend(current);
    }
}

fn walk<'a>(node: &'a Json, steps: &[Step], out: &mut Vec<&'a Json>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(node);
        return;
    };
    match step {
        Step::Member(name) => {
            if let Some(value) = node.get(name) {
                for item in value.as_list() {
                    if !matches!(item, Json::Null) {
                        walk(item, rest, out);
                    }
                }
            }
        }
        Step::WhereEq(member, literal) => {
            if node.get(member).and_then(Json::as_str) == Some(literal.as_str()) {
                walk(node, rest, out);
            }
        }
        Step::ResolveIs(ty) => {
            if reference_target_type(node) == Some(ty.as_str()) {
                walk(node, rest, out);
            }
        }
        // Handled by `Path::eval` before walking.
        Step::Index(_) | Step::First => walk(node, rest, out),
    }
}

/// The target type of a Reference as far as it can be known without resolving it: its `type`,
/// or the type segment of a relative or absolute RESTful `reference`.
pub(crate) fn reference_target_type(reference: &Json) -> Option<&str> {
    if let Some(ty) = reference.get("type").and_then(Json::as_str) {
        return Some(ty);
    }
    let text = reference.get("reference").and_then(Json::as_str)?;
    crate::extract::split_reference(text).0
}
