//! The read path: the read guard (`Ehr::check_read`) applied to everything a read returns —
//! search matches, includes, history entries, `$everything`, audit events — and then, from
//! what passed it and only from that, the totals, the includes and the paging cursors.
//!
//! Why in one place: a page is built in steps (match, filter, include, count, link), and each
//! step can leak what an earlier step hid. A next link built from the last row the store read
//! carried the sort value of a hidden row; an include computed before filtering named what a
//! hidden match points at. Here the order is fixed: the store reads, the guard filters, the
//! includes are asked for the visible matches only, and cursors are built from rows that were
//! shown and sealed ([`cursor`]).

pub(crate) mod cursor;

use auth::policy::Basis;
use store::{HistoryRequest, IncludeLevel, StoredResource};

use crate::{Ehr, Error, Requester};
use cursor::CursorKind;

/// One page of a read, as the REST layer renders it.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub matches: Vec<StoredResource>,
    /// Resources included alongside (`_include`/`_revinclude`): only what the visible matches
    /// reference, and only what the requester may see.
    pub included: Vec<StoredResource>,
    /// The total, when asked for and when every match was decided (never after filtering).
    pub total: Option<u64>,
    /// `_cursor` values for the next and previous pages (sealed; see [`cursor`]).
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// Store pages read at most to fill one page with entries the requester may see. Beyond this
/// the page is returned short, with a next link (built from a hidden row and sealed).
const FILL_ROUNDS_MAX: usize = 8;

/// One row read for a search page: the resource, its position in the sort order, and the
/// patient it showed (for the audit entry).
struct Row {
    stored: StoredResource,
    position: String,
    patient: Option<(String, bool)>,
}

impl Ehr {
    /// Keeps the resources the requester may read, in order; records each patient touched (and
    /// whether by break-glass) for the audit entry. Returns how many were dropped.
    pub(crate) fn filter_readable(
        &self,
        who: &Requester,
        resources: &mut Vec<StoredResource>,
        seen_patients: &mut Vec<(String, bool)>,
    ) -> Result<usize, Error> {
        let before = resources.len();
        let mut kept = Vec::with_capacity(resources.len());
        for stored in resources.drain(..) {
            if let Ok(checked) = self.check_read(who, &stored)? {
                if let Some(patient) = checked.patient_id {
                    let glass = checked.basis == Basis::BreakGlass;
                    if !seen_patients.iter().any(|(p, _)| *p == patient) {
                        seen_patients.push((patient, glass));
                    }
                }
                kept.push(stored);
            }
        }
        *resources = kept;
        Ok(before - resources.len())
    }

    pub(crate) fn seal_cursor(
        &self,
        kind: CursorKind,
        who: &Requester,
        scope: &str,
        position: &str,
    ) -> Result<String, Error> {
        let guard = self.cursor_key()?;
        let key = guard
            .as_ref()
            .ok_or_else(|| Error::Internal("no paging cursor key".into()))?;
        Ok(key.seal(kind, &who.principal.user, scope, position))
    }

    pub(crate) fn open_cursor(
        &self,
        kind: CursorKind,
        who: &Requester,
        scope: &str,
        cursor: &str,
    ) -> Result<String, Error> {
        let guard = self.cursor_key()?;
        let key = guard
            .as_ref()
            .ok_or_else(|| Error::Internal("no paging cursor key".into()))?;
        key.open(kind, &who.principal.user, scope, cursor)
    }

    /// A search page as the requester may see it. `query.cursor` is the opened position
    /// (`n…`/`p…`), `scope` what cursors are bound to, `basis` the type-level decision.
    pub(crate) fn search_visible(
        &self,
        who: &Requester,
        query: &search::SearchQuery,
        scope: &str,
        basis: Basis,
        patients: &mut Vec<(String, bool)>,
    ) -> Result<Page, Error> {
        let filtering = who.reads_filtered();
        let page_size = query
            .count
            .map_or(store::PAGE_SIZE_DEFAULT, |c| c as usize)
            .min(store::PAGE_SIZE_MAX);
        let backward = query.cursor.as_deref().is_some_and(|c| c.starts_with('p'));
        let direction = if backward { 'p' } else { 'n' };
        let mut scan = query.clone();
        scan.include.clear();
        scan.revinclude.clear();
        // One row more than a page, so that the usual page also proves whether another one
        // follows (a visible row beyond it), without a second read.
        scan.count = Some((page_size + usize::from(filtering)).min(store::PAGE_SIZE_MAX) as u32);
        let mut rows: Vec<Row> = Vec::new();
        let mut total = None;
        let mut more = false;
        let mut last_scanned: Option<String> = None;
        for round in 0..FILL_ROUNDS_MAX {
            let page = self.store().search(&scan)?;
            if round == 0 {
                total = page.total;
                if query.summary == Some(search::Summary::Count) {
                    break;
                }
            }
            let mut read: Vec<Row> = page
                .matches
                .into_iter()
                .zip(page.positions)
                .map(|(stored, position)| Row {
                    stored,
                    position,
                    patient: None,
                })
                .collect();
            // The store answers in sort order; a backward read is scanned from its end.
            if backward {
                read.reverse();
            }
            if let Some(last) = read.last() {
                last_scanned = Some(last.position.clone());
            }
            for mut row in read {
                if !filtering {
                    rows.push(row);
                    continue;
                }
                if let Ok(checked) = self.check_read(who, &row.stored)? {
                    row.patient = checked
                        .patient_id
                        .map(|p| (p, checked.basis == Basis::BreakGlass));
                    rows.push(row);
                }
            }
            if rows.len() > page_size {
                more = true;
                break;
            }
            if !filtering {
                more = page.more;
                break;
            }
            if !page.more {
                break;
            }
            if round + 1 == FILL_ROUNDS_MAX {
                // Hidden rows all the way: give the requester a way on, without saying more.
                more = true;
                break;
            }
            let Some(position) = &last_scanned else {
                break;
            };
            scan.cursor = Some(format!("{direction}{position}"));
            scan.total = Some(search::Total::None);
        }
        rows.truncate(page_size);
        if backward {
            rows.reverse();
        }
        let (first, last) = (
            rows.first().map(|r| r.position.clone()),
            rows.last().map(|r| r.position.clone()),
        );
        let came_from_elsewhere = query.cursor.is_some();
        let (has_next, has_previous) = if backward {
            (came_from_elsewhere, more)
        } else {
            (more, came_from_elsewhere)
        };
        let next = match (has_next, &last, &last_scanned) {
            (true, Some(position), _) => Some(format!("n{position}")),
            (true, None, Some(position)) if !backward => Some(format!("n{position}")),
            _ => None,
        };
        let previous = match (has_previous, &first) {
            (true, Some(position)) => Some(format!("p{position}")),
            _ => None,
        };
        let mut matches = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(patient) = row.patient
                && !patients.iter().any(|(p, _)| *p == patient.0)
            {
                patients.push(patient);
            }
            matches.push(row.stored);
        }
        // A total counts what the store matched; after filtering it would count hidden rows.
        // Scope restrictions filter whatever the basis.
        if filtering
            && (matches!(basis, Basis::FilterEachResult | Basis::OwnRecord)
                || who.principal.scopes.has_restrictions())
        {
            total = None;
        }
        let included = self.visible_includes(who, query, &matches, patients)?;
        Ok(Page {
            matches,
            included,
            total,
            next: next
                .map(|p| self.seal_cursor(CursorKind::Search, who, scope, &p))
                .transpose()?,
            previous: previous
                .map(|p| self.seal_cursor(CursorKind::Search, who, scope, &p))
                .transpose()?,
        })
    }

    /// `_include`/`_revinclude` from the visible matches, then `:iterate` from the visible
    /// included resources; each level filtered by the read guard.
    fn visible_includes(
        &self,
        who: &Requester,
        query: &search::SearchQuery,
        matches: &[StoredResource],
        patients: &mut Vec<(String, bool)>,
    ) -> Result<Vec<StoredResource>, Error> {
        if matches.is_empty() || (query.include.is_empty() && query.revinclude.is_empty()) {
            return Ok(Vec::new());
        }
        let filtering = who.reads_filtered();
        let mut first = self
            .store()
            .includes(query, matches, IncludeLevel::Matches)?;
        if filtering {
            self.filter_readable(who, &mut first, patients)?;
        }
        let iterate = query
            .include
            .iter()
            .chain(&query.revinclude)
            .any(|i| i.iterate);
        let mut included = first;
        if iterate && !included.is_empty() {
            let mut second = self
                .store()
                .includes(query, &included, IncludeLevel::Iterate)?;
            let shown: std::collections::HashSet<(String, String)> = matches
                .iter()
                .chain(included.iter())
                .map(|r| (r.resource_type.clone(), r.id.clone()))
                .collect();
            second.retain(|r| !shown.contains(&(r.resource_type.clone(), r.id.clone())));
            if filtering {
                self.filter_readable(who, &mut second, patients)?;
            }
            included.extend(second);
        }
        included.truncate(store::INCLUDED_MAX);
        Ok(included)
    }

    /// A history page: entries the requester may read, newest first, refilled past hidden
    /// ones; the cursor is the position of the last entry shown.
    pub(crate) fn history_visible(
        &self,
        who: &Requester,
        mut request: HistoryRequest,
        instance: bool,
        scope: &str,
        patients: &mut Vec<(String, bool)>,
    ) -> Result<Page, Error> {
        let count = request.count;
        // One more than a page proves whether another follows.
        request.count = count + 1;
        let mut entries = Vec::with_capacity(count + 1);
        let mut exhausted = false;
        for _ in 0..FILL_ROUNDS_MAX {
            let mut page = self.store().history(&request)?;
            exhausted = page.len() < request.count;
            let last_seq = page.last().map(|e| e.change_seq);
            if who.reads_filtered() {
                // Delete markers carry no content to decide on: outside an instance's own
                // history they are shown only to system principals.
                page.retain(|e| !e.deleted || instance);
                self.filter_readable(who, &mut page, patients)?;
            }
            entries.extend(page);
            match last_seq {
                Some(seq) if !exhausted && entries.len() <= count => {
                    request.before_seq = Some(seq);
                }
                _ => break,
            }
        }
        let more = entries.len() > count || !exhausted;
        entries.truncate(count);
        let next = match entries.last() {
            Some(last) if more => Some(self.seal_cursor(
                CursorKind::History,
                who,
                scope,
                &last.change_seq.to_string(),
            )?),
            _ => None,
        };
        Ok(Page {
            matches: entries,
            next,
            ..Page::default()
        })
    }

    /// One page of a list decided in full (`$everything`): an offset, sealed.
    pub(crate) fn offset_page(
        &self,
        who: &Requester,
        all: Vec<StoredResource>,
        cursor: Option<&str>,
        count: usize,
        scope: &str,
    ) -> Result<Page, Error> {
        let offset = match cursor {
            None => 0,
            Some(cursor) => self
                .open_cursor(CursorKind::Everything, who, scope, cursor)?
                .parse::<usize>()
                .map_err(|_| Error::Internal("sealed offset is not a number".into()))?,
        };
        let total = all.len();
        let end = offset.saturating_add(count).min(total);
        let next = (end < total)
            .then(|| self.seal_cursor(CursorKind::Everything, who, scope, &end.to_string()))
            .transpose()?;
        let previous = (offset > 0)
            .then(|| {
                self.seal_cursor(
                    CursorKind::Everything,
                    who,
                    scope,
                    &offset.saturating_sub(count).to_string(),
                )
            })
            .transpose()?;
        let matches = all
            .into_iter()
            .skip(offset.min(total))
            .take(count)
            .collect();
        Ok(Page {
            matches,
            included: Vec::new(),
            total: Some(total as u64),
            next,
            previous,
        })
    }
}
