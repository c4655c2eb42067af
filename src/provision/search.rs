//! The listing use case behind `GET /Users`, `GET /Groups` and the three `POST /.search`
//! endpoints (RFC 7644 §3.4.2, §3.4.3): filter, sort, and index or cursor paging (RFC 9865).
//!
//! A listing at the root spans Users then Groups: each resource type in turn, in the requested
//! order within it. A filter or `sortBy` naming an attribute one type lacks treats it as absent
//! on that type, and is 400 only when no type has it.

use chrono::Utc;

use super::{attach_relations, ProvisionResult, Provisioner, ResourceView};
use crate::scim::cursor::{invalid_cursor, Cursor, Direction, QueryFingerprint, SortKey};
use crate::scim::filter::Filter;
use crate::scim::render::endpoint;
use crate::scim::schema::ResourceKind;
use crate::store::{
    check_filter, check_sort, KeyedResource, PagePosition, PageQuery, Repository, SortSpec, UnknownAttributes,
};
use crate::tenant::TenantId;

/// The resources a listing spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchScope {
    /// One resource type's endpoint (`/Users`, `/Groups`).
    One(ResourceKind),
    /// The server root (`/.search`): Users, then Groups.
    All,
}

impl SearchScope {
    fn kinds(self) -> &'static [ResourceKind] {
        match self {
            SearchScope::One(ResourceKind::User) => &[ResourceKind::User],
            SearchScope::One(ResourceKind::Group) => &[ResourceKind::Group],
            SearchScope::All => &[ResourceKind::User, ResourceKind::Group],
        }
    }

    fn name(self) -> &'static str {
        match self {
            SearchScope::One(kind) => endpoint(kind),
            SearchScope::All => "",
        }
    }
}

/// How a listing is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// RFC 7644 §3.4.2.4: from the 1-based `startIndex`.
    Index { start_index: u64 },
    /// RFC 9865: `""` for the first page, else a `nextCursor` or `previousCursor`.
    Cursor(String),
}

/// A listing request, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub filter: Option<Filter>,
    pub sort: Option<SortSpec>,
    pub paging: Paging,
    /// At most this many resources.
    pub count: u64,
    /// How long a cursor stays valid (RFC 9865 `cursorTimeout`).
    pub cursor_timeout_secs: u64,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub total_results: u64,
    /// Set for index paging.
    pub start_index: Option<u64>,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
    pub resources: Vec<ResourceView>,
}

/// The rows of a page, each with its resource type.
type TaggedRows = Vec<(ResourceKind, KeyedResource)>;

impl Provisioner {
    /// Lists resources in SQL (RFC 7644 §3.4.2). `relations` says, per resource type, whether
    /// the response shows `groups` / `members`, so they need loading.
    pub fn search(
        &self,
        tenant: &TenantId,
        scope: SearchScope,
        query: &SearchQuery,
        relations: &dyn Fn(ResourceKind) -> bool,
    ) -> ProvisionResult<SearchPage> {
        let unknown = self.check_attributes(scope, query)?;
        let walk = Walk { tenant, scope, query, unknown };
        self.store.read(|repo| {
            let mut page = match &query.paging {
                Paging::Index { start_index } => walk.index_page(repo, *start_index)?,
                Paging::Cursor(text) => walk.cursor_page(repo, text)?,
            };
            let mut resources = Vec::with_capacity(page.rows.len());
            let mut rows = std::mem::take(&mut page.rows).into_iter().peekable();
            while let Some((kind, _)) = rows.peek() {
                let kind = *kind;
                let mut of_kind = Vec::new();
                while let Some((_, row)) = rows.next_if(|(k, _)| *k == kind) {
                    of_kind.push(row.resource);
                }
                resources.extend(attach_relations(repo, tenant, kind, of_kind, relations(kind))?);
            }
            Ok(SearchPage {
                total_results: page.total_results,
                start_index: page.start_index,
                next_cursor: page.next_cursor,
                previous_cursor: page.previous_cursor,
                resources,
            })
        })
    }

    /// For one resource type, unknown attributes are 400; across types, an attribute is
    /// absent where a type lacks it, and 400 only when every type does.
    fn check_attributes(&self, scope: SearchScope, query: &SearchQuery) -> ProvisionResult<UnknownAttributes> {
        let schemas = scope.kinds().iter().map(|kind| self.schemas.resource(*kind));
        let mut first_error = None;
        let mut fits_some_type = false;
        for schema in schemas {
            let filter_fits = query.filter.as_ref().map_or(Ok(()), |filter| check_filter(schema, filter));
            let sort_fits = query.sort.as_ref().map_or(Ok(()), |sort| check_sort(schema, &sort.path));
            match filter_fits.and(sort_fits) {
                Ok(()) => fits_some_type = true,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match (scope, first_error) {
            (_, None) => Ok(UnknownAttributes::Reject),
            (SearchScope::All, Some(_)) if fits_some_type => Ok(UnknownAttributes::Absent),
            (_, Some(error)) => Err(error.into()),
        }
    }
}

/// A page before rendering.
struct RawPage {
    total_results: u64,
    start_index: Option<u64>,
    next_cursor: Option<String>,
    previous_cursor: Option<String>,
    rows: TaggedRows,
}

/// One listing request over the resource types of its scope, in order.
struct Walk<'a> {
    tenant: &'a TenantId,
    scope: SearchScope,
    query: &'a SearchQuery,
    unknown: UnknownAttributes,
}

impl Walk<'_> {
    fn page_query(&self, position: PagePosition, limit: u64) -> PageQuery {
        PageQuery {
            filter: self.query.filter.clone(),
            sort: self.query.sort.clone(),
            unknown_attributes: self.unknown,
            position,
            skip: 0,
            limit,
            count_total: false,
        }
    }

    fn count(&self, repo: &mut dyn Repository) -> ProvisionResult<Vec<u64>> {
        let mut counts = Vec::with_capacity(self.scope.kinds().len());
        for kind in self.scope.kinds() {
            let query = PageQuery { count_total: true, ..self.page_query(PagePosition::Start, 0) };
            counts.push(repo.list_page(self.tenant, *kind, &query)?.total_results.unwrap_or(0));
        }
        Ok(counts)
    }

    /// `startIndex` paging: skip `start_index - 1` matches across the scope's types.
    fn index_page(&self, repo: &mut dyn Repository, start_index: u64) -> ProvisionResult<RawPage> {
        let counts = self.count(repo)?;
        let mut skip = start_index.saturating_sub(1);
        let mut rows = Vec::new();
        for (kind, total) in self.scope.kinds().iter().zip(&counts) {
            let wanted = self.query.count.saturating_sub(rows.len() as u64);
            if wanted == 0 {
                break;
            }
            if skip >= *total {
                skip -= total;
                continue;
            }
            let query = PageQuery { skip, ..self.page_query(PagePosition::Start, wanted) };
            rows.extend(repo.list_page(self.tenant, *kind, &query)?.rows.into_iter().map(|row| (*kind, row)));
            skip = 0;
        }
        Ok(RawPage {
            total_results: counts.iter().sum(),
            start_index: Some(start_index),
            next_cursor: None,
            previous_cursor: None,
            rows,
        })
    }

    /// Cursor paging (RFC 9865): a keyset read after or before the cursor's row, so its cost
    /// does not depend on how deep the page is.
    fn cursor_page(&self, repo: &mut dyn Repository, text: &str) -> ProvisionResult<RawPage> {
        let fingerprint = QueryFingerprint::of(
            self.scope.name(),
            self.tenant.as_str(),
            self.query.filter.as_ref(),
            self.query.sort.as_ref().map(|s| (&s.path, s.descending)),
        );
        let now = Utc::now().timestamp();
        let kinds = self.scope.kinds();
        let cursor = match text {
            "" => None,
            text => Some(Cursor::decode(text, &fingerprint, now, self.query.cursor_timeout_secs)?),
        };
        let total_results = match cursor.as_ref().and_then(|c| c.total_results) {
            Some(total) => total,
            None => self.count(repo)?.iter().sum(),
        };
        let count = self.query.count;
        let mut page =
            RawPage { total_results, start_index: None, next_cursor: None, previous_cursor: None, rows: vec![] };
        if count == 0 {
            return Ok(page);
        }
        let (rows, has_previous, has_next) = match cursor {
            None => self.read_forward(repo, 0, PagePosition::Start, false)?,
            Some(cursor) => {
                let segment = kinds
                    .iter()
                    .position(|k| *k == cursor.resource_type)
                    .ok_or_else(|| invalid_cursor("the cursor belongs to another endpoint"))?;
                match cursor.direction {
                    Direction::Next => self.read_forward(repo, segment, PagePosition::After(cursor.key), true)?,
                    Direction::Previous => self.read_backward(repo, segment, cursor.key)?,
                }
            }
        };
        let issue = |direction: Direction, (kind, row): &(ResourceKind, KeyedResource)| {
            let cursor = Cursor {
                direction,
                resource_type: *kind,
                key: row.key.clone(),
                total_results: Some(total_results),
                issued_at: now,
            };
            cursor.encode(&fingerprint)
        };
        page.next_cursor = rows.last().filter(|_| has_next).map(|row| issue(Direction::Next, row));
        page.previous_cursor = rows.first().filter(|_| has_previous).map(|row| issue(Direction::Previous, row));
        page.rows = rows;
        Ok(page)
    }

    /// Up to `count` rows from `position` in type `segment`, continuing into the next types;
    /// returns them with whether rows precede and follow them.
    fn read_forward(
        &self,
        repo: &mut dyn Repository,
        segment: usize,
        position: PagePosition,
        has_previous: bool,
    ) -> ProvisionResult<(TaggedRows, bool, bool)> {
        let count = self.query.count;
        let kinds = self.scope.kinds();
        let mut rows = Vec::new();
        let mut position = position;
        for kind in &kinds[segment..] {
            let wanted = count + 1 - rows.len() as u64;
            let page = repo.list_page(self.tenant, *kind, &self.page_query(position, wanted))?;
            rows.extend(page.rows.into_iter().map(|row| (*kind, row)));
            if rows.len() as u64 > count {
                break;
            }
            position = PagePosition::Start;
        }
        let has_next = rows.len() as u64 > count;
        rows.truncate(usize::try_from(count).unwrap_or(usize::MAX));
        Ok((rows, has_previous, has_next))
    }

    /// The `count` rows before `key` in type `segment`, reaching back into earlier types. Near
    /// the beginning, where fewer than `count` rows remain, it answers the first page instead.
    fn read_backward(
        &self,
        repo: &mut dyn Repository,
        segment: usize,
        key: SortKey,
    ) -> ProvisionResult<(TaggedRows, bool, bool)> {
        let count = self.query.count;
        let kinds = self.scope.kinds();
        let mut rows: TaggedRows = Vec::new();
        let mut position = PagePosition::Before(key);
        for kind in kinds[..=segment].iter().rev() {
            let wanted = count + 1 - rows.len() as u64;
            let page = repo.list_page(self.tenant, *kind, &self.page_query(position, wanted))?;
            let mut earlier: TaggedRows = page.rows.into_iter().map(|row| (*kind, row)).collect();
            earlier.append(&mut rows);
            rows = earlier;
            if rows.len() as u64 > count {
                break;
            }
            position = PagePosition::End;
        }
        let found = rows.len() as u64;
        if found > count {
            rows.drain(..rows.len() - usize::try_from(count).unwrap_or(usize::MAX));
            return Ok((rows, true, true));
        }
        if found == count {
            return Ok((rows, false, true));
        }
        self.read_forward(repo, 0, PagePosition::Start, false)
    }
}
