//! FHIRPath Patch (R4 §3.1.0.8, `fhirpatch.html`): a `Parameters` resource whose `operation`
//! parameters add, insert, delete, replace or move elements named by FHIRPath expressions.
//!
//! Key decision: only the subset of FHIRPath that patch clients actually send is evaluated —
//! member navigation (choice elements by their base name: `Observation.value`), `[n]`,
//! `first()`, `last()`, `where(…)` with `=`/`!=` against literals combined by `and`/`or`,
//! `exists()`, `empty()`, `not()` and `$this`. Anything else is refused when the body is read
//! (a 400 naming the unsupported part), never half-applied: a patch either parses whole and
//! then runs on a copy of the resource, or nothing changes. Evaluation yields *locations* in
//! the tree (member and index steps from the root) rather than values, so that every operation
//! can write exactly where its path points.

use crate::defs;
use crate::issue::{Issue, IssueCode};
use crate::json::{Json, Object};

/// Longest path expression accepted, in bytes.
pub const PATH_BYTES_MAX: usize = 1_000;
/// Most operations in one patch.
pub const OPERATIONS_MAX: usize = 1_000;
/// Deepest nesting of `where(…)` and parentheses in one path.
const NESTING_MAX: usize = 16;
/// Deepest nesting of `part`s inside one `value`.
const PARTS_DEPTH_MAX: usize = 16;

/// A parsed FHIRPath Patch, ready to apply.
#[derive(Clone, Debug)]
pub struct FhirPathPatch {
    operations: Vec<Operation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Add,
    Insert,
    Delete,
    Replace,
    Move,
}

#[derive(Clone, Debug)]
struct Operation {
    kind: Kind,
    path_text: String,
    path: Expr,
    name: Option<String>,
    value: Option<Value>,
    index: Option<usize>,
    source: Option<usize>,
    destination: Option<usize>,
}

/// The `value` of an operation: a `value[x]` (with its type suffix, `HumanName`) or `part`s
/// naming the members of a complex value (how backbone elements are sent).
#[derive(Clone, Debug)]
enum Value {
    Typed { suffix: String, json: Json },
    Parts(Vec<(String, Value)>),
}

fn invalid(es: impl Into<String>, en: impl Into<String>) -> Issue {
    Issue::error(IssueCode::Invalid, es, en)
}

fn unsupported(es: impl Into<String>, en: impl Into<String>) -> Issue {
    Issue::error(IssueCode::NotSupported, es, en)
}

impl FhirPathPatch {
    /// Reads a `Parameters` body. Every operation and every path is checked here, so a patch
    /// that cannot run is refused before anything is read.
    pub fn from_parameters(body: &Json) -> Result<FhirPathPatch, Issue> {
        if body.get("resourceType").and_then(Json::as_str) != Some("Parameters") {
            return Err(invalid(
                "Un FHIRPath Patch es un recurso Parameters",
                "A FHIRPath Patch is a Parameters resource",
            )
            .at("resourceType"));
        }
        let parameters = body.get("parameter").map(Json::as_list).unwrap_or(&[]);
        if parameters.len() > OPERATIONS_MAX {
            return Err(Issue::error(
                IssueCode::TooCostly,
                format!("El parche tiene más de {OPERATIONS_MAX} operaciones"),
                format!("The patch has more than {OPERATIONS_MAX} operations"),
            ));
        }
        let mut operations = Vec::with_capacity(parameters.len());
        for (idx, parameter) in parameters.iter().enumerate() {
            let operation = Operation::parse(parameter)
                .map_err(|issue| relocate(issue, &format!("Parameters.parameter[{idx}]")))?;
            operations.push(operation);
        }
        Ok(FhirPathPatch { operations })
    }

    /// Applies every operation in order to `target`; on any error `target` is left as it was.
    pub fn apply(&self, target: &mut Json) -> Result<(), Issue> {
        let mut working = target.clone();
        for (idx, operation) in self.operations.iter().enumerate() {
            operation
                .apply(&mut working)
                .map_err(|issue| relocate(issue, &format!("Parameters.parameter[{idx}]")))?;
        }
        *target = working;
        Ok(())
    }
}

fn relocate(issue: Issue, at: &str) -> Issue {
    match issue.expression.clone() {
        Some(inner) => issue.at(format!("{at}.{inner}")),
        None => issue.at(at.to_string()),
    }
}

impl Operation {
    fn parse(parameter: &Json) -> Result<Operation, Issue> {
        if parameter.get("name").and_then(Json::as_str) != Some("operation") {
            return Err(invalid(
                "Cada parámetro de un FHIRPath Patch se llama «operation»",
                "Every parameter of a FHIRPath Patch is named 'operation'",
            ));
        }
        let parts = parameter.get("part").map(Json::as_list).unwrap_or(&[]);
        let part = |name: &str| {
            parts
                .iter()
                .find(|p| p.get("name").and_then(Json::as_str) == Some(name))
        };
        let text =
            |name: &str, key: &str| part(name).and_then(|p| p.get(key)).and_then(Json::as_str);
        let kind = match text("type", "valueCode") {
            Some("add") => Kind::Add,
            Some("insert") => Kind::Insert,
            Some("delete") => Kind::Delete,
            Some("replace") => Kind::Replace,
            Some("move") => Kind::Move,
            Some(other) => {
                return Err(invalid(
                    format!(
                        "Tipo de operación desconocido: «{other}» (add, insert, delete, replace, move)"
                    ),
                    format!(
                        "Unknown operation type: '{other}' (add, insert, delete, replace, move)"
                    ),
                ));
            }
            None => {
                return Err(invalid(
                    "La operación necesita «type» (valueCode)",
                    "The operation needs 'type' (valueCode)",
                ));
            }
        };
        let code = kind_code(kind);
        let path_text = text("path", "valueString").ok_or_else(|| {
            invalid(
                format!("La operación «{code}» necesita «path» (valueString)"),
                format!("The '{code}' operation needs 'path' (valueString)"),
            )
        })?;
        let path = parse_path(path_text)?;
        let integer = |name: &str| -> Result<Option<usize>, Issue> {
            match part(name) {
                None => Ok(None),
                Some(p) => p
                    .get("valueInteger")
                    .and_then(Json::as_number_text)
                    .and_then(|n| n.parse::<usize>().ok())
                    .map(Some)
                    .ok_or_else(|| {
                        invalid(
                            format!("«{name}» debe ser un valueInteger no negativo"),
                            format!("'{name}' must be a non-negative valueInteger"),
                        )
                    }),
            }
        };
        let needs = |what: &str| {
            invalid(
                format!("La operación «{code}» necesita «{what}»"),
                format!("The '{code}' operation needs '{what}'"),
            )
        };
        let operation = Operation {
            kind,
            path_text: path_text.to_string(),
            path,
            name: text("name", "valueString").map(str::to_string),
            value: part("value").map(|p| parse_value(p, 0)).transpose()?,
            index: integer("index")?,
            source: integer("source")?,
            destination: integer("destination")?,
        };
        match kind {
            Kind::Add if operation.name.is_none() => Err(needs("name")),
            Kind::Add | Kind::Insert | Kind::Replace if operation.value.is_none() => {
                Err(needs("value"))
            }
            Kind::Insert if operation.index.is_none() => Err(needs("index")),
            Kind::Move if operation.source.is_none() => Err(needs("source")),
            Kind::Move if operation.destination.is_none() => Err(needs("destination")),
            _ => Ok(operation),
        }
    }

    fn apply(&self, root: &mut Json) -> Result<(), Issue> {
        let found = evaluate(&self.path, root)?;
        let nodes: Vec<Loc> = found
            .into_iter()
            .map(|item| match item {
                Item::Node(loc) => Ok(loc),
                Item::Value(_) => Err(self.not_element()),
            })
            .collect::<Result<_, _>>()?;
        match self.kind {
            Kind::Delete => match nodes.as_slice() {
                [] => Ok(()),
                [loc] => {
                    delete(root, loc);
                    Ok(())
                }
                _ => Err(self.several(nodes.len())),
            },
            Kind::Replace => {
                let loc = self.single(&nodes)?;
                let value = self.value_json(root, &loc.element_path())?;
                replace(root, loc, value, self.value_suffix());
                Ok(())
            }
            Kind::Add => {
                let loc = self.single(&nodes)?;
                let name = self.name.as_deref().unwrap_or_default();
                self.add(root, loc, name)
            }
            Kind::Insert | Kind::Move => {
                let (array_loc, len) = self.collection(root, &nodes)?;
                let array_path = array_loc.element_path();
                if self.kind == Kind::Insert {
                    let index = self.index.unwrap_or_default();
                    if index > len {
                        return Err(self.out_of_range("index", index, len));
                    }
                    let value = self.value_json(root, &array_path)?;
                    let items = array_mut(root, &array_loc, self)?;
                    items.insert(index, value);
                    if let Some(extensions) = companion_mut(root, &array_loc) {
                        extensions.insert(index.min(extensions.len()), Json::Null);
                    }
                } else {
                    let (source, destination) = (
                        self.source.unwrap_or_default(),
                        self.destination.unwrap_or_default(),
                    );
                    if source >= len {
                        return Err(self.out_of_range("source", source, len));
                    }
                    if destination >= len {
                        return Err(self.out_of_range("destination", destination, len));
                    }
                    let items = array_mut(root, &array_loc, self)?;
                    let moved = items.remove(source);
                    items.insert(destination, moved);
                    if let Some(extensions) = companion_mut(root, &array_loc)
                        && source < extensions.len()
                    {
                        let moved = extensions.remove(source);
                        extensions.insert(destination.min(extensions.len()), moved);
                    }
                }
                Ok(())
            }
        }
    }

    fn add(&self, root: &mut Json, loc: &Loc, name: &str) -> Result<(), Issue> {
        if !matches!(loc.resolve(root), Some(Json::Object(_))) {
            return Err(self.not_element());
        }
        let parent_path = loc.element_path();
        let child_path = |member: &str| {
            if parent_path.is_empty() {
                member.to_string()
            } else {
                format!("{parent_path}.{member}")
            }
        };
        let root_type = loc.root_type(root);
        let element = |path: &str| root_type.as_deref().and_then(|t| defs::element(t, path));
        // A choice element is named by its base (`deceased`); the value's type picks the member.
        let mut member = name.to_string();
        if let Some(suffix) = self.value_suffix()
            && element(&child_path(name)).is_some_and(|e| e.is_choice() && e.name() == name)
        {
            member = format!("{name}{suffix}");
        }
        let element_path = child_path(&member);
        let is_array = element(&element_path).map(defs::Element::is_array);
        let value = self.value_json(root, &element_path)?;
        let Some(Json::Object(object)) = loc.resolve_mut(root) else {
            return Err(self.not_element());
        };
        match (object.get_mut(&member), is_array) {
            (Some(Json::Array(items)), _) => {
                items.push(value);
                Ok(())
            }
            (Some(_), _) => Err(Issue::error(
                IssueCode::Duplicate,
                format!(
                    "«{member}» ya existe en «{}»; use replace para cambiarlo",
                    self.path_text
                ),
                format!(
                    "'{member}' already exists at '{}'; use replace to change it",
                    self.path_text
                ),
            )),
            (None, Some(true)) => {
                object.insert(member, Json::Array(vec![value]));
                Ok(())
            }
            (None, _) => {
                object.insert(member, value);
                Ok(())
            }
        }
    }

    /// The array a collection path names, and its length. A path that matches nothing names
    /// an absent (empty) list when its last step is a member of one element.
    fn collection(&self, root: &mut Json, nodes: &[Loc]) -> Result<(Loc, usize), Issue> {
        if let Some(first) = nodes.first() {
            let parent = first.parent_array().ok_or_else(|| self.not_list())?;
            if nodes
                .iter()
                .any(|n| n.parent_array().as_ref() != Some(&parent))
            {
                return Err(self.not_list());
            }
            let len = match parent.resolve(root) {
                Some(Json::Array(items)) => items.len(),
                _ => return Err(self.not_list()),
            };
            return Ok((parent, len));
        }
        let Some((prefix, member)) = self.path.split_last_member() else {
            return Err(self.no_match());
        };
        let owners = evaluate(&prefix, root)?;
        let owner = match owners.as_slice() {
            [Item::Node(loc)] if matches!(loc.resolve(root), Some(Json::Object(_))) => loc.clone(),
            [] => return Err(self.no_match()),
            _ => return Err(self.not_list()),
        };
        let mut array_loc = owner.clone();
        array_loc.steps.push(Step::Key(member.clone()));
        if let Some(Json::Object(object)) = owner.resolve_mut(root) {
            object.insert(member, Json::Array(Vec::new()));
        }
        Ok((array_loc, 0))
    }

    fn value_suffix(&self) -> Option<&str> {
        match &self.value {
            Some(Value::Typed { suffix, .. }) if !suffix.is_empty() => Some(suffix),
            _ => None,
        }
    }

    /// The operation's value as JSON, shaped for the element at `element_path` (which tells
    /// which members of a value sent as `part`s are lists).
    fn value_json(&self, root: &Json, element_path: &str) -> Result<Json, Issue> {
        let value = self.value.as_ref().ok_or_else(|| {
            invalid(
                "La operación necesita «value»",
                "The operation needs 'value'",
            )
        })?;
        let root_type = root.get("resourceType").and_then(Json::as_str);
        let type_name = match root_type {
            Some(root_type) if !element_path.is_empty() => {
                defs::element_type(root_type, element_path).map(str::to_string)
            }
            _ => None,
        };
        Ok(value.to_json(type_name.as_deref()))
    }

    fn single<'a>(&self, nodes: &'a [Loc]) -> Result<&'a Loc, Issue> {
        match nodes {
            [one] => Ok(one),
            [] => Err(self.no_match()),
            _ => Err(self.several(nodes.len())),
        }
    }

    fn no_match(&self) -> Issue {
        Issue::error(
            IssueCode::NotFound,
            format!(
                "La ruta «{}» no coincide con ningún elemento",
                self.path_text
            ),
            format!("The path '{}' matches no element", self.path_text),
        )
    }

    fn several(&self, n: usize) -> Issue {
        Issue::error(
            IssueCode::MultipleMatches,
            format!(
                "La ruta «{}» coincide con {n} elementos; la operación «{}» necesita exactamente uno",
                self.path_text,
                kind_code(self.kind)
            ),
            format!(
                "The path '{}' matches {n} elements; the '{}' operation needs exactly one",
                self.path_text,
                kind_code(self.kind)
            ),
        )
    }

    fn not_element(&self) -> Issue {
        invalid(
            format!(
                "La ruta «{}» no señala un elemento del recurso",
                self.path_text
            ),
            format!(
                "The path '{}' does not point at an element of the resource",
                self.path_text
            ),
        )
    }

    fn not_list(&self) -> Issue {
        invalid(
            format!("La ruta «{}» no señala una lista", self.path_text),
            format!("The path '{}' does not point at a list", self.path_text),
        )
    }

    fn out_of_range(&self, what: &str, index: usize, len: usize) -> Issue {
        invalid(
            format!(
                "«{what}» = {index} está fuera de la lista «{}» ({len} elementos)",
                self.path_text
            ),
            format!(
                "'{what}' = {index} is outside the list '{}' ({len} items)",
                self.path_text
            ),
        )
    }
}

fn kind_code(kind: Kind) -> &'static str {
    match kind {
        Kind::Add => "add",
        Kind::Insert => "insert",
        Kind::Delete => "delete",
        Kind::Replace => "replace",
        Kind::Move => "move",
    }
}

fn parse_value(part: &Json, depth: usize) -> Result<Value, Issue> {
    if depth > PARTS_DEPTH_MAX {
        return Err(Issue::error(
            IssueCode::TooCostly,
            "Los «part» del valor están anidados demasiado hondo",
            "The value's parts are nested too deep",
        ));
    }
    let object = part
        .as_object()
        .ok_or_else(|| invalid("Cada «part» es un objeto", "Every 'part' is an object"))?;
    for (key, json) in object.iter() {
        if key == "resource" {
            return Ok(Value::Typed {
                suffix: String::new(),
                json: json.clone(),
            });
        }
        if let Some(suffix) = key.strip_prefix("value")
            && suffix.starts_with(|c: char| c.is_ascii_uppercase())
        {
            return Ok(Value::Typed {
                suffix: suffix.to_string(),
                json: json.clone(),
            });
        }
    }
    let children = object.get("part").map(Json::as_list).unwrap_or(&[]);
    if children.is_empty() {
        return Err(invalid(
            "«value» necesita un value[x] o sus «part»",
            "'value' needs a value[x] or its parts",
        ));
    }
    let mut members = Vec::with_capacity(children.len());
    for child in children {
        let name = child
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| invalid("Cada «part» necesita «name»", "Every 'part' needs a 'name'"))?;
        members.push((name.to_string(), parse_value(child, depth + 1)?));
    }
    Ok(Value::Parts(members))
}

impl Value {
    /// JSON for this value; `type_name` (`HumanName`, `Patient.contact`) tells which members
    /// of a value sent as parts are lists and which choice a member takes.
    fn to_json(&self, type_name: Option<&str>) -> Json {
        match self {
            Value::Typed { json, .. } => json.clone(),
            Value::Parts(members) => {
                let structure = type_name.and_then(defs::structure);
                let mut object = Object::new();
                for (name, value) in members {
                    let element = structure.and_then(|s| s.element(name)).map(|(_, e)| e);
                    let key = match (element, value) {
                        (Some(e), Value::Typed { suffix, .. }) if e.is_choice() => {
                            format!("{name}{suffix}")
                        }
                        _ => name.clone(),
                    };
                    let child_type = type_name
                        .and_then(|t| defs::element_type(t, &key))
                        .map(str::to_string);
                    let json = value.to_json(child_type.as_deref());
                    let is_array = element.map(defs::Element::is_array);
                    match object.get_mut(&key) {
                        Some(Json::Array(items)) => items.push(json),
                        Some(existing) => {
                            let first = std::mem::replace(existing, Json::Null);
                            *existing = Json::Array(vec![first, json]);
                        }
                        None if is_array == Some(true) => {
                            object.insert(key, Json::Array(vec![json]));
                        }
                        None => object.insert(key, json),
                    }
                }
                Json::Object(object)
            }
        }
    }
}

// ----- Locations -----

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where an element is: member and index steps from the resource's root.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Loc {
    steps: Vec<Step>,
}

impl Loc {
    fn resolve<'a>(&self, root: &'a Json) -> Option<&'a Json> {
        let mut current = root;
        for step in &self.steps {
            current = match (step, current) {
                (Step::Key(key), Json::Object(object)) => object.get(key)?,
                (Step::Index(idx), Json::Array(items)) => items.get(*idx)?,
                _ => return None,
            };
        }
        Some(current)
    }

    fn resolve_mut<'a>(&self, root: &'a mut Json) -> Option<&'a mut Json> {
        let mut current = root;
        for step in &self.steps {
            current = match (step, current) {
                (Step::Key(key), Json::Object(object)) => object.get_mut(key)?,
                (Step::Index(idx), Json::Array(items)) => items.get_mut(*idx)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The dotted element path below the root type (`name.given`), for the definitions;
    /// empty at the root.
    fn element_path(&self) -> String {
        let keys: Vec<&str> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Key(k) => Some(k.as_str()),
                Step::Index(_) => None,
            })
            .collect();
        keys.join(".")
    }

    fn root_type(&self, root: &Json) -> Option<String> {
        root.get("resourceType")
            .and_then(Json::as_str)
            .map(str::to_string)
    }

    /// The array this location is an item of.
    fn parent_array(&self) -> Option<Loc> {
        match self.steps.last() {
            Some(Step::Index(_)) => Some(Loc {
                steps: self.steps[..self.steps.len() - 1].to_vec(),
            }),
            _ => None,
        }
    }

    fn child(&self, step: Step) -> Loc {
        let mut steps = self.steps.clone();
        steps.push(step);
        Loc { steps }
    }
}

fn array_mut<'a>(
    root: &'a mut Json,
    loc: &Loc,
    operation: &Operation,
) -> Result<&'a mut Vec<Json>, Issue> {
    match loc.resolve_mut(root) {
        Some(Json::Array(items)) => Ok(items),
        _ => Err(operation.not_list()),
    }
}

/// The `_given` array beside a list of primitives `given`, which carries their ids and
/// extensions position by position and so moves with it.
fn companion_mut<'a>(root: &'a mut Json, array_loc: &Loc) -> Option<&'a mut Vec<Json>> {
    let (Step::Key(key), parent_steps) = array_loc.steps.split_last()? else {
        return None;
    };
    let parent = Loc {
        steps: parent_steps.to_vec(),
    };
    match parent.resolve_mut(root)? {
        Json::Object(object) => match object.get_mut(&format!("_{key}"))? {
            Json::Array(items) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

/// Removes the element at `loc`; a list left empty and a primitive's `_member` go with it
/// (R4 JSON has no empty arrays).
fn delete(root: &mut Json, loc: &Loc) {
    let Some((last, parent_steps)) = loc.steps.split_last() else {
        return;
    };
    let parent = Loc {
        steps: parent_steps.to_vec(),
    };
    match (last, parent.resolve_mut(root)) {
        (Step::Key(key), Some(Json::Object(object))) => {
            object.remove(key);
            object.remove(&format!("_{key}"));
        }
        (Step::Index(idx), Some(Json::Array(items))) => {
            if *idx < items.len() {
                items.remove(*idx);
            }
            let emptied = items.is_empty();
            if let Some(extensions) = companion_mut(root, &parent)
                && *idx < extensions.len()
            {
                extensions.remove(*idx);
            }
            if emptied {
                delete(root, &parent);
            }
        }
        _ => {}
    }
}

/// Replaces the element at `loc`. A choice element takes the member of the new value's type
/// (`valueQuantity` replaced by a `valueString` becomes `valueString`), keeping its place.
fn replace(root: &mut Json, loc: &Loc, value: Json, suffix: Option<&str>) {
    let root_type = loc.root_type(root);
    if let (Some(Step::Key(key)), Some(suffix), Some(root_type)) =
        (loc.steps.last(), suffix, root_type)
        && let Some(element) = defs::element(&root_type, &loc.element_path())
        && element.is_choice()
    {
        let renamed = format!("{}{suffix}", element.name());
        if &renamed != key
            && let Some(Step::Key(_)) = loc.steps.last()
        {
            let parent = Loc {
                steps: loc.steps[..loc.steps.len() - 1].to_vec(),
            };
            if let Some(Json::Object(object)) = parent.resolve_mut(root) {
                let position = object.keys().position(|k| k == key);
                object.remove(key);
                object.remove(&format!("_{key}"));
                match position {
                    Some(at) => object.insert_at(at, renamed, value),
                    None => object.insert(renamed, value),
                }
                return;
            }
        }
    }
    if let Some(slot) = loc.resolve_mut(root) {
        *slot = value;
    }
}

// ----- The FHIRPath subset -----

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    /// The start of a path: `$this` (the resource, or the item inside `where`).
    This,
    Literal(Json),
    Member(Box<Expr>, String),
    Index(Box<Expr>, usize),
    Function(Box<Expr>, Function),
    Equals(Box<Expr>, Box<Expr>, bool),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
enum Function {
    First,
    Last,
    Exists(Option<Box<Expr>>),
    Empty,
    Not,
    Where(Box<Expr>),
}

impl Expr {
    /// `Patient.contact.telecom` as (`Patient.contact`, `telecom`).
    fn split_last_member(&self) -> Option<(Expr, String)> {
        match self {
            Expr::Member(base, name) => Some(((**base).clone(), name.clone())),
            _ => None,
        }
    }
}

fn path_error(text: &str, es: &str, en: &str) -> Issue {
    unsupported(
        format!("Ruta FHIRPath no admitida «{text}»: {es}"),
        format!("Unsupported FHIRPath path '{text}': {en}"),
    )
}

fn parse_path(text: &str) -> Result<Expr, Issue> {
    if text.len() > PATH_BYTES_MAX {
        return Err(Issue::error(
            IssueCode::TooLong,
            format!("La ruta pasa de {PATH_BYTES_MAX} bytes"),
            format!("The path is longer than {PATH_BYTES_MAX} bytes"),
        ));
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        at: 0,
        depth: 0,
    };
    let expr = parser.path()?;
    if parser.at != parser.tokens.len() {
        return Err(path_error(
            text,
            "sobra texto al final",
            "unexpected text at the end",
        ));
    }
    Ok(expr)
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    String(String),
    Number(String),
    Dot,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Equals,
    NotEquals,
}

fn tokenize(text: &str) -> Result<Vec<Token>, Issue> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '.' => tokens.push(Token::Dot),
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '[' => tokens.push(Token::OpenBracket),
            ']' => tokens.push(Token::CloseBracket),
            '=' => tokens.push(Token::Equals),
            '!' if chars.peek().map(|(_, c)| *c) == Some('=') => {
                chars.next();
                tokens.push(Token::NotEquals);
            }
            '\'' => {
                let mut literal = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\'' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next().map(|(_, c)| c) {
                            Some('n') => literal.push('\n'),
                            Some('t') => literal.push('\t'),
                            Some('r') => literal.push('\r'),
                            Some(other) => literal.push(other),
                            None => break,
                        },
                        other => literal.push(other),
                    }
                }
                if !closed {
                    return Err(path_error(
                        text,
                        "una cadena sin cerrar",
                        "an unclosed string",
                    ));
                }
                tokens.push(Token::String(literal));
            }
            '`' => {
                let mut name = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == '`' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(path_error(text, "un nombre sin cerrar", "an unclosed name"));
                }
                tokens.push(Token::Ident(name));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit())) =>
            {
                let mut end = at + c.len_utf8();
                while let Some((i, d)) = chars.peek().copied() {
                    // A `.` continues a number only when a digit follows (`1.5`, not `1.first`).
                    let decimal_point =
                        d == '.' && text[i + 1..].starts_with(|n: char| n.is_ascii_digit());
                    if d.is_ascii_digit() || decimal_point {
                        end = i + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Number(text[at..end].to_string()));
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut end = at + c.len_utf8();
                while let Some((i, d)) = chars.peek().copied() {
                    if d.is_alphanumeric() || d == '_' {
                        end = i + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Ident(text[at..end].to_string()));
            }
            other => {
                return Err(path_error(
                    text,
                    &format!("el carácter «{other}»"),
                    &format!("the character '{other}'"),
                ));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn error(&self, es: &str, en: &str) -> Issue {
        path_error(self.text, es, en)
    }

    fn expect(&mut self, token: Token, es: &str, en: &str) -> Result<(), Issue> {
        if self.next() == Some(token) {
            Ok(())
        } else {
            Err(self.error(es, en))
        }
    }

    fn enter(&mut self) -> Result<(), Issue> {
        self.depth += 1;
        if self.depth > NESTING_MAX {
            return Err(self.error("demasiado anidada", "nested too deep"));
        }
        Ok(())
    }

    /// `or` has the lowest precedence, then `and`, then `=`/`!=`, then paths.
    fn condition(&mut self) -> Result<Expr, Issue> {
        self.enter()?;
        let mut left = self.conjunction()?;
        while self.peek() == Some(&Token::Ident("or".into())) {
            self.at += 1;
            let right = self.conjunction()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn conjunction(&mut self) -> Result<Expr, Issue> {
        let mut left = self.comparison()?;
        while self.peek() == Some(&Token::Ident("and".into())) {
            self.at += 1;
            let right = self.comparison()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, Issue> {
        let left = self.operand()?;
        let negated = match self.peek() {
            Some(Token::Equals) => false,
            Some(Token::NotEquals) => true,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.operand()?;
        Ok(Expr::Equals(Box::new(left), Box::new(right), negated))
    }

    fn operand(&mut self) -> Result<Expr, Issue> {
        match self.peek().cloned() {
            Some(Token::String(s)) => {
                self.at += 1;
                Ok(Expr::Literal(Json::str(s)))
            }
            Some(Token::Number(n)) => {
                self.at += 1;
                Ok(Expr::Literal(Json::Number(n)))
            }
            Some(Token::Ident(word)) if word == "true" || word == "false" => {
                self.at += 1;
                Ok(Expr::Literal(Json::Bool(word == "true")))
            }
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.condition()?;
                self.expect(Token::Close, "falta «)»", "missing ')'")?;
                self.postfix(inner)
            }
            _ => self.path(),
        }
    }

    /// A path: a first name (or `$this`), then `.name`, `.function(…)` and `[n]`.
    fn path(&mut self) -> Result<Expr, Issue> {
        let start = match self.next() {
            Some(Token::Ident(name)) if name == "$this" => Expr::This,
            Some(Token::Ident(name)) if name.starts_with('$') || name.starts_with('%') => {
                return Err(self.error(
                    &format!("la variable «{name}»"),
                    &format!("the variable '{name}'"),
                ));
            }
            Some(Token::Ident(name)) => {
                if self.peek() == Some(&Token::Open) {
                    let function = self.function(&name)?;
                    Expr::Function(Box::new(Expr::This), function)
                } else {
                    Expr::Member(Box::new(Expr::This), name)
                }
            }
            _ => return Err(self.error("se esperaba un nombre", "a name was expected")),
        };
        self.postfix(start)
    }

    fn postfix(&mut self, mut expr: Expr) -> Result<Expr, Issue> {
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    let Some(Token::Ident(name)) = self.next() else {
                        return Err(self.error(
                            "se esperaba un nombre tras «.»",
                            "a name was expected after '.'",
                        ));
                    };
                    expr = if self.peek() == Some(&Token::Open) {
                        let function = self.function(&name)?;
                        Expr::Function(Box::new(expr), function)
                    } else {
                        Expr::Member(Box::new(expr), name)
                    };
                }
                Some(Token::OpenBracket) => {
                    self.at += 1;
                    let index = match self.next() {
                        Some(Token::Number(n)) => n.parse::<usize>().ok(),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        self.error(
                            "un índice es un entero no negativo",
                            "an index is a non-negative integer",
                        )
                    })?;
                    self.expect(Token::CloseBracket, "falta «]»", "missing ']'")?;
                    expr = Expr::Index(Box::new(expr), index);
                }
                _ => return Ok(expr),
            }
        }
    }

    fn function(&mut self, name: &str) -> Result<Function, Issue> {
        self.expect(Token::Open, "falta «(»", "missing '('")?;
        let no_arguments = |parser: &mut Parser<'_>, function: Function| {
            parser.expect(
                Token::Close,
                &format!("{name}() no lleva argumentos"),
                &format!("{name}() takes no arguments"),
            )?;
            Ok(function)
        };
        match name {
            "first" => no_arguments(self, Function::First),
            "last" => no_arguments(self, Function::Last),
            "empty" => no_arguments(self, Function::Empty),
            "not" => no_arguments(self, Function::Not),
            "exists" => {
                if self.peek() == Some(&Token::Close) {
                    self.at += 1;
                    return Ok(Function::Exists(None));
                }
                let criteria = self.condition()?;
                self.expect(Token::Close, "falta «)»", "missing ')'")?;
                Ok(Function::Exists(Some(Box::new(criteria))))
            }
            "where" => {
                let criteria = self.condition()?;
                self.expect(Token::Close, "falta «)»", "missing ')'")?;
                Ok(Function::Where(Box::new(criteria)))
            }
            other => Err(self.error(
                &format!(
                    "la función {other}() (se admiten where, first, last, exists, empty, not)"
                ),
                &format!(
                    "the function {other}() (where, first, last, exists, empty and not are supported)"
                ),
            )),
        }
    }
}

/// One item of a FHIRPath collection: an element of the resource, or a computed value.
#[derive(Clone, Debug)]
enum Item {
    Node(Loc),
    Value(Json),
}

impl Item {
    fn json<'a>(&'a self, root: &'a Json) -> Option<&'a Json> {
        match self {
            Item::Node(loc) => loc.resolve(root),
            Item::Value(json) => Some(json),
        }
    }
}

fn evaluate(expr: &Expr, root: &Json) -> Result<Vec<Item>, Issue> {
    eval(expr, root, &Item::Node(Loc::default()), true)
}

/// Evaluates `expr` with `this` as its focus. `at_root` lets a path open with the resource
/// type (`Patient.name`), as patch paths do.
fn eval(expr: &Expr, root: &Json, this: &Item, at_root: bool) -> Result<Vec<Item>, Issue> {
    Ok(match expr {
        Expr::This => vec![this.clone()],
        Expr::Literal(json) => vec![Item::Value(json.clone())],
        Expr::Member(base, name) => {
            if at_root
                && **base == Expr::This
                && root.get("resourceType").and_then(Json::as_str) == Some(name.as_str())
            {
                return Ok(vec![this.clone()]);
            }
            let focus = eval(base, root, this, at_root)?;
            let mut out = Vec::new();
            for item in &focus {
                if let Item::Node(loc) = item {
                    members(root, loc, name, &mut out);
                }
            }
            out
        }
        Expr::Index(base, index) => eval(base, root, this, at_root)?
            .into_iter()
            .nth(*index)
            .into_iter()
            .collect(),
        Expr::Function(base, function) => {
            let focus = eval(base, root, this, at_root)?;
            match function {
                Function::First => focus.into_iter().take(1).collect(),
                Function::Last => focus.into_iter().last().into_iter().collect(),
                Function::Empty => vec![Item::Value(Json::Bool(focus.is_empty()))],
                Function::Exists(None) => vec![Item::Value(Json::Bool(!focus.is_empty()))],
                Function::Exists(Some(criteria)) => {
                    let mut any = false;
                    for item in &focus {
                        if truth(&eval(criteria, root, item, false)?, root) == Some(true) {
                            any = true;
                            break;
                        }
                    }
                    vec![Item::Value(Json::Bool(any))]
                }
                Function::Not => match truth(&focus, root) {
                    Some(value) => vec![Item::Value(Json::Bool(!value))],
                    None => Vec::new(),
                },
                Function::Where(criteria) => {
                    let mut kept = Vec::new();
                    for item in focus {
                        if truth(&eval(criteria, root, &item, false)?, root) == Some(true) {
                            kept.push(item);
                        }
                    }
                    kept
                }
            }
        }
        Expr::Equals(left, right, negated) => {
            let left = eval(left, root, this, at_root)?;
            let right = eval(right, root, this, at_root)?;
            if left.is_empty() || right.is_empty() {
                return Ok(Vec::new());
            }
            let same = left.len() == right.len()
                && left
                    .iter()
                    .zip(&right)
                    .all(|(a, b)| match (a.json(root), b.json(root)) {
                        (Some(a), Some(b)) => equal(a, b),
                        _ => false,
                    });
            vec![Item::Value(Json::Bool(same != *negated))]
        }
        Expr::And(left, right) => {
            let left = truth(&eval(left, root, this, at_root)?, root);
            let right = truth(&eval(right, root, this, at_root)?, root);
            match (left, right) {
                (Some(false), _) | (_, Some(false)) => vec![Item::Value(Json::Bool(false))],
                (Some(true), Some(true)) => vec![Item::Value(Json::Bool(true))],
                _ => Vec::new(),
            }
        }
        Expr::Or(left, right) => {
            let left = truth(&eval(left, root, this, at_root)?, root);
            let right = truth(&eval(right, root, this, at_root)?, root);
            match (left, right) {
                (Some(true), _) | (_, Some(true)) => vec![Item::Value(Json::Bool(true))],
                (Some(false), Some(false)) => vec![Item::Value(Json::Bool(false))],
                _ => Vec::new(),
            }
        }
    })
}

/// The children called `name` of the element at `loc`: a list's items one by one, and a
/// choice element by its base name (`value` finds `valueQuantity`).
fn members(root: &Json, loc: &Loc, name: &str, out: &mut Vec<Item>) {
    let Some(Json::Object(object)) = loc.resolve(root) else {
        return;
    };
    let mut push = |key: &str, value: &Json| match value {
        Json::Array(items) => {
            for idx in 0..items.len() {
                out.push(Item::Node(
                    loc.child(Step::Key(key.to_string()))
                        .child(Step::Index(idx)),
                ));
            }
        }
        _ => out.push(Item::Node(loc.child(Step::Key(key.to_string())))),
    };
    if let Some(value) = object.get(name) {
        push(name, value);
        return;
    }
    let root_type = root.get("resourceType").and_then(Json::as_str);
    let parent_path = loc.element_path();
    for (key, value) in object.iter() {
        let Some(suffix) = key.strip_prefix(name) else {
            continue;
        };
        if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        let path = if parent_path.is_empty() {
            key.to_string()
        } else {
            format!("{parent_path}.{key}")
        };
        let is_choice = root_type
            .and_then(|t| defs::element(t, &path))
            .is_some_and(|e| e.is_choice() && e.name() == name);
        if is_choice {
            push(key, value);
            return;
        }
    }
}

/// FHIRPath's singleton evaluation of a collection as a boolean: empty is unknown.
fn truth(items: &[Item], root: &Json) -> Option<bool> {
    match items {
        [] => None,
        [one] => match one.json(root) {
            Some(Json::Bool(value)) => Some(*value),
            // A single non-boolean item counts as true (FHIRPath §4.5 singleton evaluation).
            Some(_) => Some(true),
            None => None,
        },
        // FHIRPath makes this an error; a criteria that finds several items (`where(coding)`)
        // is read as "exists", which is what patch clients mean by it.
        _ => Some(true),
    }
}

fn equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
            (Ok(x), Ok(y)) => x == y,
            _ => x == y,
        },
        (a, b) => a.same_value(b),
    }
}

#[cfg(test)]
mod tests;
