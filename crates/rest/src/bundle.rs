//! Assembling response Bundles (searchset, history) as text around the stored bodies, and
//! subsetting resources for `_elements` / `_summary`.

use std::borrow::Cow;

use fhir::{Issue, Json};
use store::StoredResource;

/// How much of each resource to return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subset {
    Full,
    /// `_elements=a,b`: these top-level elements plus the mandatory ones.
    Elements(Vec<String>),
    /// `_summary=text`: text, id, meta and mandatory elements.
    Text,
    /// `_summary=data`: everything but the narrative.
    Data,
    /// `_summary=true`: the elements R4 marks as summary.
    Summary,
}

impl Subset {
    pub fn from_params(summary: Option<&str>, elements: Option<&str>) -> Subset {
        match summary {
            Some("text") => return Subset::Text,
            Some("data") => return Subset::Data,
            Some("true") => return Subset::Summary,
            _ => {}
        }
        match elements {
            Some(list) if !list.trim().is_empty() => Subset::Elements(
                list.split(',')
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect(),
            ),
            _ => Subset::Full,
        }
    }
}

/// Whether a top-level JSON member stands for an element with `min >= 1` (always returned).
fn is_mandatory(resource_type: &str, json_name: &str) -> bool {
    let Some(structure) = fhir::defs::structure(resource_type) else {
        return false;
    };
    structure
        .member(json_name)
        .and_then(|member| structure.elements().get(usize::from(member.element)))
        .is_some_and(|element| element.min() > 0)
}

/// Whether a top-level member is part of the R4 summary view.
fn is_summary(resource_type: &str, json_name: &str) -> bool {
    let Some(structure) = fhir::defs::structure(resource_type) else {
        return false;
    };
    structure
        .member(json_name)
        .and_then(|member| structure.elements().get(usize::from(member.element)))
        .is_some_and(|element| element.is_summary() || element.min() > 0)
}

/// The `SUBSETTED` tag R4 asks servers to add to partial resources.
fn subsetted_tag() -> Json {
    Json::object([
        (
            "system",
            Json::str("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
        ),
        ("code", Json::str("SUBSETTED")),
    ])
}

/// The body to send for a stored resource under a subset rule.
pub(crate) fn render<'a>(stored: &'a StoredResource, subset: &Subset) -> Cow<'a, str> {
    if *subset == Subset::Full {
        return Cow::Borrowed(&stored.body);
    }
    let Ok(Json::Object(mut object)) = fhir::json::parse_str(&stored.body) else {
        return Cow::Borrowed(&stored.body);
    };
    let resource_type = stored.resource_type.clone();
    let always = ["resourceType", "id", "meta"];
    match subset {
        Subset::Full => {}
        Subset::Data => {
            object.remove("text");
        }
        Subset::Text => object.retain(|key, _| {
            always.contains(&key) || key == "text" || is_mandatory(&resource_type, key)
        }),
        Subset::Elements(keep) => object.retain(|key, _| {
            always.contains(&key)
                || keep.iter().any(|k| k == key)
                || is_mandatory(&resource_type, key)
        }),
        Subset::Summary => {
            object.retain(|key, _| always.contains(&key) || is_summary(&resource_type, key))
        }
    }
    let mut meta = match object.remove("meta") {
        Some(Json::Object(meta)) => meta,
        _ => fhir::Object::new(),
    };
    let mut tags = match meta.remove("tag") {
        Some(Json::Array(tags)) => tags,
        _ => Vec::new(),
    };
    tags.push(subsetted_tag());
    meta.insert("tag", Json::Array(tags));
    object.insert_at(2, "meta", Json::Object(meta));
    Cow::Owned(Json::Object(object).to_json_string())
}

fn quoted(text: &str) -> String {
    Json::str(text).to_json_string()
}

/// Incrementally writes a Bundle as JSON text.
pub(crate) struct BundleText {
    out: String,
    entries: usize,
}

impl BundleText {
    pub fn new(kind: &str, total: Option<u64>, links: &[(&str, String)]) -> BundleText {
        let mut out = String::with_capacity(16 * 1024);
        out.push_str("{\"resourceType\":\"Bundle\",\"type\":");
        out.push_str(&quoted(kind));
        if let Some(total) = total {
            out.push_str(&format!(",\"total\":{total}"));
        }
        if !links.is_empty() {
            out.push_str(",\"link\":[");
            for (idx, (relation, url)) in links.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                out.push_str("{\"relation\":");
                out.push_str(&quoted(relation));
                out.push_str(",\"url\":");
                out.push_str(&quoted(url));
                out.push('}');
            }
            out.push(']');
        }
        out.push_str(",\"entry\":[");
        BundleText { out, entries: 0 }
    }

    fn start_entry(&mut self) {
        if self.entries > 0 {
            self.out.push(',');
        }
        self.entries += 1;
    }

    /// A searchset entry (`mode` is `match` or `include`).
    pub fn search_entry(&mut self, base: &str, stored: &StoredResource, body: &str, mode: &str) {
        self.start_entry();
        self.out.push_str("{\"fullUrl\":");
        self.out.push_str(&quoted(&format!(
            "{base}/{}/{}",
            stored.resource_type, stored.id
        )));
        self.out.push_str(",\"resource\":");
        self.out.push_str(body);
        self.out.push_str(",\"search\":{\"mode\":");
        self.out.push_str(&quoted(mode));
        self.out.push_str("}}");
    }

    /// An `OperationOutcome` entry carrying warnings (e.g. ignored search parameters).
    pub fn outcome_entry(&mut self, issues: &[Issue]) {
        if issues.is_empty() {
            return;
        }
        self.start_entry();
        self.out.push_str("{\"resource\":");
        self.out
            .push_str(&fhir::operation_outcome(issues, fhir::Lang::Both).to_json_string());
        self.out.push_str(",\"search\":{\"mode\":\"outcome\"}}");
    }

    /// A history entry: the version, and the request that made it.
    pub fn history_entry(&mut self, base: &str, stored: &StoredResource) {
        self.start_entry();
        let url = format!("{}/{}", stored.resource_type, stored.id);
        self.out.push_str("{\"fullUrl\":");
        self.out.push_str(&quoted(&format!("{base}/{url}")));
        if !stored.deleted {
            self.out.push_str(",\"resource\":");
            self.out.push_str(&stored.body);
        }
        let (method, status) = if stored.deleted {
            ("DELETE", "204 No Content")
        } else if stored.version_id == 1 {
            ("POST", "201 Created")
        } else {
            ("PUT", "200 OK")
        };
        let request_url = if method == "POST" {
            stored.resource_type.clone()
        } else {
            url
        };
        self.out.push_str(&format!(
            ",\"request\":{{\"method\":\"{method}\",\"url\":{}}},\"response\":{{\"status\":\"{status}\",\"etag\":\"W/\\\"{}\\\"\",\"lastModified\":{}}}}}",
            quoted(&request_url),
            stored.version_id,
            quoted(&stored.last_updated)
        ));
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("]}");
        self.out
    }
}
