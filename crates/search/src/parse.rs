//! Parsing FHIR search URLs (`?name=gomez&birthdate=ge1990&_sort=-date`) into a [`SearchQuery`].
//!
//! Parsing never panics and never stops at the first problem: every malformed value is
//! reported (as a bilingual `Issue` naming the parameter) so a client can fix them all at once.
//! Unknown or unsupported parameters follow `Prefer: handling`: lenient ignores them with a
//! warning, strict rejects the search. Malformed values, unknown prefixes and modifiers the
//! parameter's type does not allow are errors in both modes (R4: a server SHALL reject
//! unsupported modifiers).

use fhir::issue::{Issue, IssueCode};

use crate::datetime::date_range;
use crate::decimal::decimal_range;
use crate::normalize::normalize_string;
use crate::query::{
    Chain, Clause, Col, Filter, Handling, Has, Include, Op, Predicate, SearchQuery, SortBy,
    SortKey, Summary, Total, Value, all, any, cmp, range_predicate,
};
use crate::registry::{ParamKind, Prefix, Registry, SearchParam, registry};

/// How many chained hops one parameter may have (`subject:Patient.organization.name` is 2).
/// R4 allows any depth; each hop is a join, and three covers real clinical queries while
/// bounding the cost of a hostile URL.
pub const CHAIN_DEPTH_MAX: usize = 3;

/// How many comma-separated values one parameter may have; each becomes an OR-ed predicate.
pub const VALUES_PER_PARAM_MAX: usize = 100;

/// Parses the search parameters of a search on `rtype`.
///
/// `now_ms` (UTC epoch ms, from the caller's clock) is only used by the `ap` prefix on dates.
/// On success returns the query and warnings (ignored parameters); on failure, the errors
/// (to be answered with 400 and an OperationOutcome).
pub fn parse(
    rtype: &str,
    params: &[(String, String)],
    handling: Handling,
    now_ms: i64,
) -> Result<(SearchQuery, Vec<Issue>), Vec<Issue>> {
    let reg = registry();
    if !reg.is_resource_type(rtype) {
        return Err(vec![Issue::error(
            IssueCode::NotSupported,
            format!("El tipo de recurso '{rtype}' no existe en FHIR R4."),
            format!("Unknown resource type '{rtype}'."),
        )]);
    }
    let mut ctx = Ctx {
        reg,
        handling,
        now_ms,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let mut query = SearchQuery {
        resource_type: rtype.to_string(),
        ..SearchQuery::default()
    };
    for (key, value) in params {
        let name = key.split(':').next().unwrap_or_default();
        let result = match name {
            "_include" | "_revinclude" => ctx.include(rtype, key, value, &mut query),
            "_sort" => ctx.sort(rtype, key, value, &mut query),
            "_count" => value
                .parse::<u32>()
                .map(|n| query.count = Some(n))
                .map_err(|_| {
                    invalid(
                        key,
                        "debe ser un número entero no negativo",
                        "must be a non-negative integer",
                    )
                }),
            "_summary" => parse_summary(key, value).map(|s| query.summary = Some(s)),
            "_total" => parse_total(key, value).map(|t| query.total = Some(t)),
            "_elements" => parse_elements(key, value).map(|e| query.elements = e),
            "_cursor" => {
                query.cursor = Some(value.clone());
                Ok(())
            }
            // Output format parameters belong to the REST layer, not to the search.
            "_format" | "_pretty" => Ok(()),
            _ if value.is_empty() => Err(Problem::Ignored(Issue::warning(
                IssueCode::Informational,
                format!("El parámetro '{key}' no tiene valor; se ignoró."),
                format!("Search parameter '{key}' has no value; it was ignored."),
            ))),
            _ => ctx
                .filter(rtype, key, value, 0)
                .map(|filter| query.filters.push(filter)),
        };
        if let Err(problem) = result {
            ctx.report(problem.naming(key));
        }
    }
    if ctx.errors.is_empty() {
        Ok((query, ctx.warnings))
    } else {
        Err(ctx.errors)
    }
}

/// Why one parameter could not be used.
enum Problem {
    /// Unknown or unsupported parameter: a warning or an error depending on `Handling`.
    Unknown { es: String, en: String },
    /// Always an error.
    Invalid(Issue),
    /// Always a warning.
    Ignored(Issue),
}

impl Problem {
    /// Makes sure the messages name the parameter as the client wrote it: problems found deep
    /// in a chain (`subject:Patient.organization.name`) are reported with the inner key.
    fn naming(self, key: &str) -> Problem {
        let add = |es: &mut String, en: &mut String| {
            if !es.contains(key) {
                es.push_str(&format!(" (parámetro '{key}')"));
            }
            if !en.contains(key) {
                en.push_str(&format!(" (parameter '{key}')"));
            }
        };
        match self {
            Problem::Unknown { mut es, mut en } => {
                add(&mut es, &mut en);
                Problem::Unknown { es, en }
            }
            Problem::Invalid(mut issue) => {
                add(&mut issue.message_es, &mut issue.message_en);
                Problem::Invalid(issue)
            }
            Problem::Ignored(mut issue) => {
                add(&mut issue.message_es, &mut issue.message_en);
                Problem::Ignored(issue)
            }
        }
    }
}

fn invalid(key: &str, es: &str, en: &str) -> Problem {
    Problem::Invalid(Issue::error(
        IssueCode::Invalid,
        format!("Valor inválido en el parámetro de búsqueda '{key}': {es}."),
        format!("Invalid search parameter '{key}': {en}."),
    ))
}

fn not_supported(key: &str, es: &str, en: &str) -> Problem {
    Problem::Invalid(Issue::error(
        IssueCode::NotSupported,
        format!("Parámetro de búsqueda '{key}': {es}."),
        format!("Search parameter '{key}': {en}."),
    ))
}

struct Ctx {
    reg: &'static Registry,
    handling: Handling,
    now_ms: i64,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
}

impl Ctx {
    fn report(&mut self, problem: Problem) {
        match problem {
            Problem::Invalid(issue) => self.errors.push(issue),
            Problem::Ignored(issue) => self.warnings.push(issue),
            Problem::Unknown { es, en } => match self.handling {
                Handling::Lenient => self.warnings.push(Issue::warning(
                    IssueCode::NotSupported,
                    format!("{es} Se ignoró."),
                    format!("{en} It was ignored."),
                )),
                Handling::Strict => {
                    self.errors
                        .push(Issue::error(IssueCode::NotSupported, es, en));
                }
            },
        }
    }

    fn unknown(&self, rtype: &str, key: &str, code: &str) -> Problem {
        match self.reg.unsupported(rtype, code) {
            Some(unsupported) => Problem::Unknown {
                es: format!(
                    "El parámetro de búsqueda '{key}' de {rtype} no está soportado por este servidor."
                ),
                en: format!(
                    "Search parameter '{key}' of {rtype} is not supported ({}).",
                    unsupported.reason
                ),
            },
            None => Problem::Unknown {
                es: format!("El parámetro de búsqueda '{key}' no existe para {rtype}."),
                en: format!("Unknown search parameter '{key}' for {rtype}."),
            },
        }
    }

    /// A filter parameter (`code[:modifier][.chain]=value`, `_has:…`, `_id`, `_lastUpdated`).
    fn filter(&self, rtype: &str, key: &str, value: &str, depth: usize) -> Result<Filter, Problem> {
        if depth > CHAIN_DEPTH_MAX {
            return Err(not_supported(
                key,
                &format!("se permiten a lo sumo {CHAIN_DEPTH_MAX} encadenamientos"),
                &format!("at most {CHAIN_DEPTH_MAX} chained hops are supported"),
            ));
        }
        if let Some(rest) = key.strip_prefix("_has:") {
            return self.has(rtype, key, rest, value, depth);
        }
        let (head, chain_rest) = match key.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (key, None),
        };
        let (code, modifier) = match head.split_once(':') {
            Some((code, modifier)) => (code, Some(modifier)),
            None => (head, None),
        };
        if let Some(rest) = chain_rest {
            return self.chain(rtype, key, code, modifier, rest, value, depth);
        }
        let values = split_values(key, value)?;
        match code {
            "_id" => {
                if let Some(m) = modifier {
                    return Err(bad_modifier(key, m, "_id"));
                }
                Ok(Filter::Id {
                    ids: values.iter().map(|v| unescape(v)).collect(),
                })
            }
            "_lastUpdated" => {
                if let Some(m) = modifier {
                    return Err(bad_modifier(key, m, "_lastUpdated"));
                }
                let mut any_of = Vec::new();
                for v in &values {
                    any_of.push(self.date_predicate(
                        key,
                        &[],
                        v,
                        (Col::LastUpdatedMs, Col::LastUpdatedMs),
                    )?);
                }
                Ok(Filter::LastUpdated { any_of })
            }
            _ => {
                let param = self
                    .reg
                    .param(rtype, code)
                    .ok_or_else(|| self.unknown(rtype, key, code))?;
                self.clause(key, param, modifier, &values)
                    .map(Filter::Param)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn chain(
        &self,
        rtype: &str,
        key: &str,
        code: &str,
        modifier: Option<&str>,
        rest: &str,
        value: &str,
        depth: usize,
    ) -> Result<Filter, Problem> {
        let param = self
            .reg
            .param(rtype, code)
            .ok_or_else(|| self.unknown(rtype, key, code))?;
        if param.kind != ParamKind::Reference {
            return Err(invalid(
                key,
                &format!(
                    "solo se puede encadenar desde un parámetro de referencia y '{code}' no lo es"
                ),
                &format!(
                    "only reference parameters can be chained and '{code}' is a {}",
                    param.kind.code()
                ),
            ));
        }
        let inner_code = rest
            .strip_prefix("_has:")
            .map(|_| "_has")
            .unwrap_or_else(|| rest.split([':', '.']).next().unwrap_or_default());
        let has_inner = |ty: &str| {
            matches!(inner_code, "_id" | "_lastUpdated" | "_has")
                || self.reg.param(ty, inner_code).is_some()
        };
        let target = match modifier {
            Some(ty) => {
                if !self.reg.is_resource_type(ty) || !targets_allow(param, ty) {
                    return Err(invalid(
                        key,
                        &format!("'{ty}' no es un tipo de destino de '{code}'"),
                        &format!("'{ty}' is not a target type of '{code}'"),
                    ));
                }
                if !has_inner(ty) {
                    return Err(self.unknown(ty, key, inner_code));
                }
                ty.to_string()
            }
            None => {
                let candidates: Vec<&String> =
                    param.targets.iter().filter(|ty| has_inner(ty)).collect();
                match candidates.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        return Err(Problem::Unknown {
                            es: format!(
                                "Ningún tipo de destino de '{code}' tiene el parámetro '{inner_code}' (en '{key}')."
                            ),
                            en: format!(
                                "No target type of '{code}' has a search parameter '{inner_code}' (in '{key}')."
                            ),
                        });
                    }
                    several => {
                        let names: Vec<&str> = several.iter().map(|s| s.as_str()).collect();
                        return Err(invalid(
                            key,
                            &format!(
                                "el encadenamiento es ambiguo ({}); indique el tipo, p. ej. '{code}:{}.{rest}'",
                                names.join(", "),
                                names[0]
                            ),
                            &format!(
                                "the chain is ambiguous ({}); name the type, e.g. '{code}:{}.{rest}'",
                                names.join(", "),
                                names[0]
                            ),
                        ));
                    }
                }
            }
        };
        let inner = self.filter(&target, rest, value, depth + 1)?;
        Ok(Filter::Param(Clause {
            param,
            negate: false,
            missing: None,
            any_of: vec![cmp(Col::TargetType, Op::Eq, Value::Str(target.clone()))],
            chain: Some(Box::new(Chain {
                resource_type: target,
                filter: inner,
            })),
        }))
    }

    fn has(
        &self,
        rtype: &str,
        key: &str,
        rest: &str,
        value: &str,
        depth: usize,
    ) -> Result<Filter, Problem> {
        let mut parts = rest.splitn(3, ':');
        let (Some(source), Some(ref_code), Some(inner_key)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(
                key,
                "la forma es _has:Tipo:referencia:parámetro",
                "the form is _has:Type:reference:parameter",
            ));
        };
        if !self.reg.is_resource_type(source) {
            return Err(invalid(
                key,
                &format!("'{source}' no es un tipo de recurso"),
                &format!("'{source}' is not a resource type"),
            ));
        }
        let reference = self
            .reg
            .param(source, ref_code)
            .ok_or_else(|| self.unknown(source, key, ref_code))?;
        if reference.kind != ParamKind::Reference || !targets_allow(reference, rtype) {
            return Err(invalid(
                key,
                &format!("'{source}:{ref_code}' no es una referencia a {rtype}"),
                &format!("'{source}:{ref_code}' is not a reference to {rtype}"),
            ));
        }
        let filter = self.filter(source, inner_key, value, depth + 1)?;
        Ok(Filter::Has(Box::new(Has {
            resource_type: source.to_string(),
            reference,
            filter,
        })))
    }

    fn clause(
        &self,
        key: &str,
        param: &'static SearchParam,
        modifier: Option<&str>,
        values: &[&str],
    ) -> Result<Clause, Problem> {
        let mut clause = Clause {
            param,
            negate: false,
            missing: None,
            chain: None,
            any_of: Vec::new(),
        };
        if modifier == Some("missing") {
            clause.missing = Some(match values {
                ["true"] => true,
                ["false"] => false,
                _ => {
                    return Err(invalid(
                        key,
                        ":missing acepta solo 'true' o 'false'",
                        ":missing takes only 'true' or 'false'",
                    ));
                }
            });
            return Ok(clause);
        }
        let kind = param.kind;
        // Check the modifier once, before the values.
        let modifier_ok = match (kind, modifier) {
            (_, None) => true,
            (ParamKind::String, Some("exact" | "contains")) => true,
            (ParamKind::Token, Some("not" | "text")) => true,
            (ParamKind::Reference, Some("identifier")) => true,
            (ParamKind::Reference, Some(ty)) => {
                self.reg.is_resource_type(ty) && targets_allow(param, ty)
            }
            (ParamKind::Uri, Some("below" | "above")) => true,
            _ => false,
        };
        if !modifier_ok {
            return Err(bad_modifier(key, modifier.unwrap_or_default(), kind.code()));
        }
        clause.negate = modifier == Some("not");
        for v in values {
            let predicate = match kind {
                ParamKind::Token => token_predicate(key, modifier, v)?,
                ParamKind::String => string_predicate(modifier, v),
                ParamKind::Date => {
                    self.date_predicate(key, &param.comparators, v, (Col::LowMs, Col::HighMs))?
                }
                ParamKind::Number => number_predicate(key, &param.comparators, v)?,
                ParamKind::Quantity => quantity_predicate(key, &param.comparators, v)?,
                ParamKind::Reference => self.reference_predicate(key, param, modifier, v)?,
                ParamKind::Uri => uri_predicate(modifier, v),
            };
            clause.any_of.push(predicate);
        }
        Ok(clause)
    }

    fn date_predicate(
        &self,
        key: &str,
        comparators: &[Prefix],
        value: &str,
        cols: (Col, Col),
    ) -> Result<Predicate, Problem> {
        let (prefix, rest) = split_prefix(key, comparators, value)?;
        let (s_lo, s_hi) = date_range(rest).ok_or_else(|| {
            invalid(
                key,
                &format!("'{rest}' no es una fecha válida (AAAA, AAAA-MM, AAAA-MM-DD o AAAA-MM-DDThh:mm[:ss][zona])"),
                &format!("'{rest}' is not a valid date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][zone])"),
            )
        })?;
        let widen = s_lo.saturating_sub(self.now_ms).saturating_abs() / 10;
        Ok(range_predicate(
            prefix,
            cols,
            (s_lo, s_hi),
            (s_lo.saturating_sub(widen), s_hi.saturating_add(widen)),
            Value::Int,
        ))
    }

    fn reference_predicate(
        &self,
        key: &str,
        param: &SearchParam,
        modifier: Option<&str>,
        value: &str,
    ) -> Result<Predicate, Problem> {
        if modifier == Some("identifier") {
            let (system, code) = token_parts(key, value)?;
            return Ok(system_code(
                Col::IdentifierSystem,
                Col::IdentifierValue,
                system,
                code,
            ));
        }
        let value = unescape(value);
        let without_version = value
            .split_once("/_history/")
            .map_or(value.as_str(), |(head, _)| head);
        if value.contains("://") || value.starts_with("urn:") {
            // Canonical references may carry `|version`; a versionless search matches any.
            let mut options = vec![cmp(Col::Url, Op::Eq, Value::Str(value.clone()))];
            if !value.contains('|') {
                options.push(cmp(
                    Col::Url,
                    Op::StartsWith,
                    Value::Str(format!("{value}|")),
                ));
            }
            return Ok(any(options));
        }
        let (ty, id) = match without_version.split_once('/') {
            Some((ty, id)) => (Some(ty), id),
            None => (modifier, without_version),
        };
        if let Some(ty) = ty {
            if !self.reg.is_resource_type(ty) || !targets_allow(param, ty) {
                return Err(invalid(
                    key,
                    &format!("'{ty}' no es un tipo de destino de '{}'", param.code),
                    &format!("'{ty}' is not a target type of '{}'", param.code),
                ));
            }
            if modifier.is_some_and(|m| m != ty) {
                return Err(invalid(
                    key,
                    &format!("el tipo '{ty}' no coincide con el modificador"),
                    &format!("type '{ty}' does not match the modifier"),
                ));
            }
        }
        if id.is_empty() || id.contains('/') {
            return Err(invalid(
                key,
                &format!("'{value}' no es una referencia válida (id, Tipo/id o URL)"),
                &format!("'{value}' is not a valid reference (id, Type/id or URL)"),
            ));
        }
        let id_cmp = cmp(Col::TargetId, Op::Eq, Value::Str(id.to_string()));
        Ok(match ty {
            Some(ty) => all(vec![
                cmp(Col::TargetType, Op::Eq, Value::Str(ty.to_string())),
                id_cmp,
            ]),
            None => id_cmp,
        })
    }

    fn include(
        &self,
        rtype: &str,
        key: &str,
        value: &str,
        query: &mut SearchQuery,
    ) -> Result<(), Problem> {
        let reverse = key.starts_with("_revinclude");
        let iterate = match key.split_once(':').map(|(_, m)| m) {
            None => false,
            Some("iterate" | "recurse") => true,
            Some(other) => {
                return Err(bad_modifier(
                    key,
                    other,
                    key.split(':').next().unwrap_or(key),
                ));
            }
        };
        let parts: Vec<&str> = value.split(':').collect();
        let include = match parts.as_slice() {
            ["*"] if !reverse => Include {
                source_type: rtype.to_string(),
                param: None,
                target_type: None,
                iterate,
            },
            [source, "*"] if !reverse && self.reg.is_resource_type(source) => Include {
                source_type: source.to_string(),
                param: None,
                target_type: None,
                iterate,
            },
            [source, code] | [source, code, _] => {
                if !self.reg.is_resource_type(source) {
                    return Err(invalid(
                        key,
                        &format!("'{source}' no es un tipo de recurso"),
                        &format!("'{source}' is not a resource type"),
                    ));
                }
                let param = self
                    .reg
                    .param(source, code)
                    .ok_or_else(|| self.unknown(source, key, code))?;
                if param.kind != ParamKind::Reference {
                    return Err(invalid(
                        key,
                        &format!("'{source}:{code}' no es un parámetro de referencia"),
                        &format!("'{source}:{code}' is not a reference parameter"),
                    ));
                }
                let target_type = parts.get(2).map(|t| t.to_string());
                if let Some(t) = &target_type
                    && (!self.reg.is_resource_type(t) || !targets_allow(param, t))
                {
                    return Err(invalid(
                        key,
                        &format!("'{t}' no es un tipo de destino de '{source}:{code}'"),
                        &format!("'{t}' is not a target type of '{source}:{code}'"),
                    ));
                }
                let applies = if reverse {
                    iterate || targets_allow(param, rtype)
                } else {
                    iterate || *source == rtype
                };
                if !applies {
                    return Err(Problem::Unknown {
                        es: format!(
                            "'{key}={value}' no se aplica a una búsqueda de {rtype} (¿faltó :iterate?)."
                        ),
                        en: format!(
                            "'{key}={value}' does not apply to a {rtype} search (missing :iterate?)."
                        ),
                    });
                }
                Include {
                    source_type: source.to_string(),
                    param: Some(param),
                    target_type,
                    iterate,
                }
            }
            _ => {
                return Err(if reverse && value == "*" {
                    Problem::Unknown {
                        es: "_revinclude=* no está soportado.".into(),
                        en: "_revinclude=* is not supported.".into(),
                    }
                } else {
                    invalid(
                        key,
                        "la forma es Tipo:parámetro[:TipoDestino]",
                        "the form is Type:parameter[:TargetType]",
                    )
                });
            }
        };
        if reverse {
            query.revinclude.push(include);
        } else {
            query.include.push(include);
        }
        Ok(())
    }

    fn sort(
        &mut self,
        rtype: &str,
        key: &str,
        value: &str,
        query: &mut SearchQuery,
    ) -> Result<(), Problem> {
        let mut keys = Vec::new();
        for part in value.split(',') {
            let part = part.trim();
            let (descending, code) = match part.strip_prefix('-') {
                Some(code) => (true, code),
                None => (false, part),
            };
            let by = match code {
                "" => return Err(invalid(key, "hay una clave vacía", "a sort key is empty")),
                "_id" => SortBy::Id,
                "_lastUpdated" => SortBy::LastUpdated,
                _ => match self.reg.param(rtype, code) {
                    Some(param) => SortBy::Param(param),
                    None => {
                        // Skip this key only; the others still sort.
                        let problem = self.unknown(rtype, &format!("{key}={code}"), code);
                        self.report(problem);
                        continue;
                    }
                },
            };
            keys.push(SortKey { by, descending });
        }
        query.sort = keys;
        Ok(())
    }
}

fn bad_modifier(key: &str, modifier: &str, what: &str) -> Problem {
    not_supported(
        key,
        &format!("el modificador ':{modifier}' no es válido o no está soportado para {what}"),
        &format!("modifier ':{modifier}' is not valid or not supported for {what}"),
    )
}

/// Whether a reference parameter may point at `ty` (no declared targets: any type).
fn targets_allow(param: &SearchParam, ty: &str) -> bool {
    param.targets.is_empty() || param.targets.iter().any(|t| t == ty || t == "Resource")
}

/// Splits on unescaped `sep` (R4 escapes `,` `|` `$` `\` with a backslash).
fn split_unescaped(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (idx, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&text[start..idx]);
            start = idx + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next @ (',' | '|' | '$' | '\\')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn split_values<'a>(key: &str, value: &'a str) -> Result<Vec<&'a str>, Problem> {
    let values = split_unescaped(value, ',');
    if values.len() > VALUES_PER_PARAM_MAX {
        return Err(not_supported(
            key,
            &format!("se permiten a lo sumo {VALUES_PER_PARAM_MAX} valores separados por comas"),
            &format!("at most {VALUES_PER_PARAM_MAX} comma-separated values are supported"),
        ));
    }
    if values.iter().any(|v| v.is_empty()) {
        return Err(invalid(
            key,
            "contiene un valor vacío",
            "contains an empty value",
        ));
    }
    Ok(values)
}

/// Splits `system|code` (either side may be empty, not both); `code` alone has no system part.
fn token_parts(key: &str, value: &str) -> Result<(Option<String>, Option<String>), Problem> {
    let parts = split_unescaped(value, '|');
    let (system, code) = match parts.as_slice() {
        [code] => (None, Some(unescape(code))),
        [system, code] => (
            Some(unescape(system)),
            (!code.is_empty()).then(|| unescape(code)),
        ),
        _ => {
            return Err(invalid(
                key,
                "un token tiene la forma [sistema]|[código]; escape '|' como '\\|'",
                "a token is [system]|[code]; escape '|' as '\\|'",
            ));
        }
    };
    if system.as_deref().is_some_and(str::is_empty) && code.is_none() {
        return Err(invalid(
            key,
            "'|' sin sistema ni código",
            "'|' with neither system nor code",
        ));
    }
    Ok((system, code))
}

/// `system|code` semantics over two columns: `code` alone ignores the system, `|code` requires
/// no system, `system|` any code in the system.
fn system_code(
    sys_col: Col,
    code_col: Col,
    system: Option<String>,
    code: Option<String>,
) -> Predicate {
    let mut preds = Vec::new();
    match system.as_deref() {
        None => {}
        Some("") => preds.push(Predicate::IsNull(sys_col)),
        Some(s) => preds.push(cmp(sys_col, Op::Eq, Value::Str(s.to_string()))),
    }
    if let Some(code) = code {
        preds.push(cmp(code_col, Op::Eq, Value::Str(code)));
    }
    all(preds)
}

fn token_predicate(key: &str, modifier: Option<&str>, value: &str) -> Result<Predicate, Problem> {
    if modifier == Some("text") {
        // R4 `:text` is a string search on the display/text; this server matches it as
        // "contains" on the folded text, which is what clinicians expect from a text box.
        return Ok(cmp(
            Col::Text,
            Op::Contains,
            Value::Str(normalize_string(&unescape(value))),
        ));
    }
    let (system, code) = token_parts(key, value)?;
    Ok(system_code(Col::System, Col::Code, system, code))
}

fn string_predicate(modifier: Option<&str>, value: &str) -> Predicate {
    let value = unescape(value);
    match modifier {
        Some("exact") => cmp(Col::Exact, Op::Eq, Value::Str(value)),
        Some("contains") => cmp(
            Col::Normalized,
            Op::Contains,
            Value::Str(normalize_string(&value)),
        ),
        // R4 default: starts with, case- and accent-insensitive.
        _ => cmp(
            Col::Normalized,
            Op::StartsWith,
            Value::Str(normalize_string(&value)),
        ),
    }
}

fn uri_predicate(modifier: Option<&str>, value: &str) -> Predicate {
    let value = unescape(value);
    match modifier {
        Some("below") => cmp(Col::Uri, Op::StartsWith, Value::Str(value)),
        Some("above") => {
            // The stored uri must be a prefix of the value at a path boundary: enumerate them.
            let scheme_end = value.find("://").map_or(0, |i| i + 3);
            let mut options = Vec::new();
            for (idx, c) in value.char_indices().skip(scheme_end) {
                if c == '/' {
                    options.push(cmp(Col::Uri, Op::Eq, Value::Str(value[..idx].to_string())));
                }
            }
            options.push(cmp(Col::Uri, Op::Eq, Value::Str(value)));
            any(options)
        }
        _ => cmp(Col::Uri, Op::Eq, Value::Str(value)),
    }
}

/// Splits a leading two-letter prefix off a date/number/quantity value.
fn split_prefix<'a>(
    key: &str,
    allowed: &[Prefix],
    value: &'a str,
) -> Result<(Prefix, &'a str), Problem> {
    let head = value
        .get(..2)
        .filter(|h| h.bytes().all(|b| b.is_ascii_alphabetic()));
    let Some(head) = head else {
        return Ok((Prefix::Eq, value));
    };
    let prefix = Prefix::from_code(head).ok_or_else(|| {
        invalid(
            key,
            &format!("'{head}' no es un prefijo válido (eq, ne, lt, le, gt, ge, sa, eb, ap)"),
            &format!("'{head}' is not a valid prefix (eq, ne, lt, le, gt, ge, sa, eb, ap)"),
        )
    })?;
    if !allowed.is_empty() && !allowed.contains(&prefix) {
        return Err(not_supported(
            key,
            &format!("el prefijo '{head}' no se permite en este parámetro"),
            &format!("prefix '{head}' is not allowed on this parameter"),
        ));
    }
    Ok((prefix, &value[2..]))
}

/// An inclusive `(low, high)` range of a number.
type Bounds = (f64, f64);

/// The search range of a number and the range `ap` widens it to (10 % of the value).
fn number_range(key: &str, text: &str) -> Result<(Bounds, Bounds), Problem> {
    let (v, lo, hi) = decimal_range(text).ok_or_else(|| {
        invalid(
            key,
            &format!("'{text}' no es un número válido"),
            &format!("'{text}' is not a valid number"),
        )
    })?;
    let widen = 0.1 * v.abs();
    Ok(((lo, hi), (lo - widen, hi + widen)))
}

/// The search range a prefix compares with: `eq`, `ne` and `ap` use the value's implicit
/// precision (`100` is [99.5, 100.5]); the ordering prefixes compare with the exact value
/// (R4: `lt100` is "less than exactly 100", so 99.7 matches).
fn number_search_range(prefix: Prefix, key: &str, text: &str) -> Result<(Bounds, Bounds), Problem> {
    let (range, widened) = number_range(key, text)?;
    Ok(match prefix {
        Prefix::Eq | Prefix::Ne | Prefix::Ap => (range, widened),
        Prefix::Lt | Prefix::Le | Prefix::Gt | Prefix::Ge | Prefix::Sa | Prefix::Eb => {
            let exact = decimal_range(text).map_or(range.0, |(v, _, _)| v);
            ((exact, exact), widened)
        }
    })
}

fn number_predicate(key: &str, comparators: &[Prefix], value: &str) -> Result<Predicate, Problem> {
    let (prefix, rest) = split_prefix(key, comparators, value)?;
    let (range, widened) = number_search_range(prefix, key, rest)?;
    Ok(range_predicate(
        prefix,
        (Col::Low, Col::High),
        range,
        widened,
        Value::Float,
    ))
}

fn quantity_predicate(
    key: &str,
    comparators: &[Prefix],
    value: &str,
) -> Result<Predicate, Problem> {
    let (prefix, rest) = split_prefix(key, comparators, value)?;
    let parts = split_unescaped(rest, '|');
    if parts.len() > 3 || parts.len() == 2 {
        return Err(invalid(
            key,
            "una cantidad tiene la forma [prefijo]número[|sistema|código]",
            "a quantity is [prefix]number[|system|code]",
        ));
    }
    let (range, widened) = number_search_range(prefix, key, parts[0])?;
    let mut preds = vec![range_predicate(
        prefix,
        (Col::Low, Col::High),
        range,
        widened,
        Value::Float,
    )];
    let system = parts.get(1).map(|s| unescape(s)).filter(|s| !s.is_empty());
    let code = parts.get(2).map(|s| unescape(s)).filter(|s| !s.is_empty());
    match (system, code) {
        (Some(system), code) => {
            preds.push(cmp(Col::System, Op::Eq, Value::Str(system)));
            if let Some(code) = code {
                preds.push(cmp(Col::Code, Op::Eq, Value::Str(code)));
            }
        }
        // R4: without a system, the code matches Quantity.code or Quantity.unit.
        (None, Some(code)) => preds.push(any(vec![
            cmp(Col::Code, Op::Eq, Value::Str(code.clone())),
            cmp(Col::Unit, Op::Eq, Value::Str(code)),
        ])),
        (None, None) => {}
    }
    Ok(all(preds))
}

fn parse_summary(key: &str, value: &str) -> Result<Summary, Problem> {
    Ok(match value {
        "true" => Summary::True,
        "text" => Summary::Text,
        "data" => Summary::Data,
        "count" => Summary::Count,
        "false" => Summary::False,
        _ => {
            return Err(invalid(
                key,
                "use true, text, data, count o false",
                "use true, text, data, count or false",
            ));
        }
    })
}

fn parse_total(key: &str, value: &str) -> Result<Total, Problem> {
    Ok(match value {
        "none" => Total::None,
        "estimate" => Total::Estimate,
        "accurate" => Total::Accurate,
        _ => {
            return Err(invalid(
                key,
                "use none, estimate o accurate",
                "use none, estimate or accurate",
            ));
        }
    })
}

fn parse_elements(key: &str, value: &str) -> Result<Vec<String>, Problem> {
    let mut elements = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ok = part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !ok {
            return Err(invalid(
                key,
                &format!("'{part}' no es un nombre de elemento"),
                &format!("'{part}' is not an element name"),
            ));
        }
        elements.push(part.to_string());
    }
    Ok(elements)
}
