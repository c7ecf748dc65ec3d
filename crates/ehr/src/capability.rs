//! The CapabilityStatement: generated from what the node really implements — the R4 types
//! the validator knows and the search parameters the index extractor supports — so that it
//! never lists something that is not there.

use fhir::Json;

/// The AuditEvent search parameters the audit trail answers (`audit_events.rs`).
const AUDIT_EVENT_PARAMS: [&str; 5] = ["patient", "agent", "date", "action", "entity"];

/// The NamingSystem search parameters the catalogue answers (`naming.rs`).
const NAMING_SYSTEM_PARAMS: [&str; 3] = ["value", "kind", "name"];

/// Builds the CapabilityStatement for a server whose FHIR base is `base_url`.
pub fn capability_statement(base_url: &str, software_version: &str, now_text: &str) -> Json {
    let registry = search::registry();
    // `_revinclude` on type T takes `S:param` for every reference parameter of every type S
    // whose targets include T: the reverse of each type's own reference parameters.
    let mut reverse: std::collections::BTreeMap<String, Vec<Json>> = Default::default();
    for source_type in fhir::defs::resource_types() {
        if source_type == "AuditEvent" {
            // The audit trail is not in the search indexes (see `audit_events.rs`).
            continue;
        }
        for param in registry.params(source_type) {
            if param.kind != search::ParamKind::Reference {
                continue;
            }
            for target in &param.targets {
                reverse
                    .entry(target.clone())
                    .or_default()
                    .push(Json::str(format!("{source_type}:{}", param.code)));
            }
        }
    }
    let mut resources = Vec::new();
    for resource_type in fhir::defs::resource_types() {
        let mut params = Vec::new();
        let mut includes = Vec::new();
        let audit = resource_type == "AuditEvent";
        let naming = resource_type == auth::policy::NAMING_SYSTEM_TYPE;
        for param in registry.params(resource_type) {
            if audit && !AUDIT_EVENT_PARAMS.contains(&param.code.as_str()) {
                continue;
            }
            if naming && !NAMING_SYSTEM_PARAMS.contains(&param.code.as_str()) {
                continue;
            }
            params.push(Json::object([
                ("name", Json::str(param.code.clone())),
                ("definition", Json::str(param.url.clone())),
                ("type", Json::str(param.kind.code())),
            ]));
            if param.kind == search::ParamKind::Reference && !audit && !naming {
                includes.push(Json::str(format!("{resource_type}:{}", param.code)));
            }
        }
        let mut members = vec![
            ("type", Json::str(resource_type)),
            (
                "interaction",
                Json::Array(
                    if audit || naming {
                        // Written by the server only (AuditEvent), or defined by the software
                        // (NamingSystem): never written through the API.
                        &["read", "search-type"][..]
                    } else {
                        &[
                            "read",
                            "vread",
                            "update",
                            "patch",
                            "delete",
                            "history-instance",
                            "history-type",
                            "create",
                            "search-type",
                        ][..]
                    }
                    .iter()
                    .map(|code| Json::object([("code", Json::str(*code))]))
                    .collect(),
                ),
            ),
            ("versioning", Json::str("versioned-update")),
            ("readHistory", Json::Bool(true)),
            ("updateCreate", Json::Bool(true)),
            ("conditionalCreate", Json::Bool(true)),
            ("conditionalRead", Json::str("not-supported")),
            ("conditionalUpdate", Json::Bool(true)),
            ("conditionalDelete", Json::str("single")),
        ];
        if audit || naming {
            // Nothing to version, update or delete conditionally through the API.
            members.retain(|(key, _)| matches!(*key, "type" | "interaction"));
        }
        if resource_type == auth::policy::SUBSCRIPTION_TYPE {
            // Which form of Subscriptions this server speaks (issue 17, `ehr::notify`).
            members.push((
                "documentation",
                Json::str(
                    "Suscripciones R4 por criterio (criteria = una búsqueda, p. ej. Appointment?status=booked); canales rest-hook (https, o http solo a 127.0.0.1) y websocket (/fhir/$subscription-websocket). Solo se entrega lo que el dueño puede leer. / R4 criteria-based Subscriptions (criteria = a search URL); channels rest-hook (https, or http to loopback only) and websocket (/fhir/$subscription-websocket). Only what the owner may read is delivered.",
                ),
            ));
        }
        if !includes.is_empty() {
            members.push(("searchInclude", Json::Array(includes)));
        }
        if let Some(revincludes) = reverse.remove(resource_type)
            && !audit
            && !naming
        {
            members.push(("searchRevInclude", Json::Array(revincludes)));
        }
        if !params.is_empty() {
            members.push(("searchParam", Json::Array(params)));
        }
        let mut operations = vec![operation("validate", "Resource-validate")];
        if resource_type == "Patient" {
            for (name, definition) in [
                ("everything", "Patient-everything"),
                ("match", "Patient-match"),
                // R4 has no OperationDefinition for merge; the R5 one is the reference.
                ("merge", "Patient-merge"),
                ("unmerge", "Patient-unmerge"),
            ] {
                operations.push(operation(name, definition));
            }
            operations.push(Json::object([
                ("name", Json::str("summary")),
                (
                    "definition",
                    Json::str("http://hl7.org/fhir/uv/ips/OperationDefinition/summary"),
                ),
            ]));
        }
        // `Composition/{id}/$document` (with `persist`), and a stored document read back by
        // the same name at `Bundle/{id}/$document`.
        if matches!(resource_type, "Composition" | "Bundle") {
            operations.push(operation("document", "Composition-document"));
        }
        // Bulk Data Access IG v2 (`$export` of the type's patients, or the group's).
        let bulk = match resource_type {
            "Patient" => Some("patient-export"),
            "Group" => Some("group-export"),
            _ => None,
        };
        if let Some(definition) = bulk {
            operations.push(Json::object([
                ("name", Json::str("export")),
                (
                    "definition",
                    Json::str(format!(
                        "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/{definition}"
                    )),
                ),
            ]));
        }
        // This node's own operations (Spanish names; `$break-glass` is the English alias of
        // `$acceso-emergencia`).
        let own: &[&str] = match resource_type {
            "Patient" => &[
                "acceso-emergencia",
                "break-glass",
                "iniciar-atencion",
                "cambio-unidad",
            ],
            "Schedule" => &["generar-espacios"],
            "Encounter" => &["llegada", "siguiente", "triage", "terminar"],
            _ => &[],
        };
        for name in own {
            operations.push(own_operation(name));
        }
        let terminology: &[(&str, &str)] = match resource_type {
            "CodeSystem" => &[
                ("lookup", "CodeSystem-lookup"),
                ("validate-code", "CodeSystem-validate-code"),
            ],
            "ValueSet" => &[
                ("expand", "ValueSet-expand"),
                ("validate-code", "ValueSet-validate-code"),
            ],
            "ConceptMap" => &[("translate", "ConceptMap-translate")],
            _ => &[],
        };
        for (name, definition) in terminology {
            operations.push(operation(name, definition));
        }
        members.push(("operation", Json::Array(operations)));
        resources.push(Json::object(members));
    }
    Json::object([
        ("resourceType", Json::str("CapabilityStatement")),
        ("status", Json::str("active")),
        ("date", Json::str(now_text)),
        ("publisher", Json::str("Expediente")),
        ("kind", Json::str("instance")),
        (
            "software",
            Json::object([
                ("name", Json::str("Expediente")),
                ("version", Json::str(software_version)),
            ]),
        ),
        (
            "implementation",
            Json::object([
                (
                    "description",
                    Json::str("Nodo Expediente (expediente digital)"),
                ),
                ("url", Json::str(base_url)),
            ]),
        ),
        ("fhirVersion", Json::str("4.0.1")),
        (
            "format",
            Json::Array(vec![Json::str("application/fhir+json"), Json::str("json")]),
        ),
        (
            // What PATCH takes (`rest::patch`): JSON Patch, merge patch and FHIRPath Patch
            // (a Parameters resource), on instances, by condition and inside Bundles.
            "patchFormat",
            Json::Array(vec![
                Json::str("application/json-patch+json"),
                Json::str("application/merge-patch+json"),
                Json::str("application/fhir+json"),
            ]),
        ),
        (
            "rest",
            Json::Array(vec![Json::object([
                ("mode", Json::str("server")),
                (
                    "security",
                    Json::object([
                        (
                            "extension",
                            Json::Array(vec![Json::object([
                                (
                                    "url",
                                    Json::str(
                                        "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                    ),
                                ),
                                ("extension", Json::Array(oauth_uris(base_url))),
                            ])]),
                        ),
                        (
                            "service",
                            Json::Array(vec![Json::object([(
                                "coding",
                                Json::Array(vec![Json::object([
                                    (
                                        "system",
                                        Json::str(
                                            "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        ),
                                    ),
                                    ("code", Json::str("SMART-on-FHIR")),
                                ])]),
                            )])]),
                        ),
                        (
                            "description",
                            Json::str(
                                "Token Bearer obligatorio: SMART App Launch v2 (código de autorización con PKCE S256 en /auth/authorize, servicios con private_key_jwt; ver /.well-known/smart-configuration), o OAuth2 password y client_credentials en /auth/token. Bearer token required: SMART App Launch v2 (authorization code with PKCE S256 at /auth/authorize, backend services with private_key_jwt; see /.well-known/smart-configuration), or OAuth2 password and client_credentials at /auth/token.",
                            ),
                        ),
                    ]),
                ),
                ("resource", Json::Array(resources)),
                (
                    "operation",
                    Json::Array(vec![
                        Json::object([
                            ("name", Json::str("export")),
                            (
                                "definition",
                                Json::str(
                                    "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                                ),
                            ),
                        ]),
                        own_operation("estadisticas"),
                        own_operation("aggregates"),
                        // The websocket channel of Subscriptions (`ehr::notify`).
                        own_operation("subscription-websocket"),
                    ]),
                ),
                (
                    "interaction",
                    Json::Array(
                        ["transaction", "batch", "history-system"]
                            .iter()
                            .map(|code| Json::object([("code", Json::str(*code))]))
                            .collect(),
                    ),
                ),
            ])]),
        ),
    ])
}

fn operation(name: &str, definition: &str) -> Json {
    Json::object([
        ("name", Json::str(name)),
        (
            "definition",
            Json::str(format!(
                "http://hl7.org/fhir/OperationDefinition/{definition}"
            )),
        ),
    ])
}

/// An operation of this node, named by its canonical URL under the national namespace.
fn own_operation(name: &str) -> Json {
    Json::object([
        ("name", Json::str(name)),
        (
            "definition",
            Json::str(format!(
                "https://expediente.salud.gob.mx/fhir/OperationDefinition/{name}"
            )),
        ),
    ])
}

/// The SMART `oauth-uris` extension's members: every endpoint named here answers (the
/// capability test walks them).
fn oauth_uris(base_url: &str) -> Vec<Json> {
    let origin = base_url.trim_end_matches('/').trim_end_matches("/fhir");
    [
        ("authorize", "auth/authorize"),
        ("token", "auth/token"),
        ("introspect", "auth/introspect"),
        ("revoke", "auth/revoke"),
    ]
    .into_iter()
    .map(|(name, path)| {
        Json::object([
            ("url", Json::str(name)),
            ("valueUri", Json::str(format!("{origin}/{path}"))),
        ])
    })
    .collect()
}
