//! Query parameters of a listing and the `ListResponse` message (RFC 7644 §3.4.2).

use serde_json::{json, Value};

use super::error::ScimError;
use super::filter::{parse_attr_path, parse_filter, AttrPath, Filter};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Paging limits, advertised in `/ServiceProviderConfig` as `filter.maxResults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    pub default_count: u64,
    pub max_count: u64,
}

impl Default for PageLimits {
    fn default() -> PageLimits {
        PageLimits { default_count: 100, max_count: 1000 }
    }
}

/// The raw listing parameters, as they arrive in a query string or a `.search` body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
}

/// Parsed and bounded listing parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    /// 1-based; values below 1 are treated as 1 (RFC 7644 §3.4.2.4).
    pub start_index: u64,
    /// 0..=max_count; a negative count is treated as 0, a larger one is capped.
    pub count: u64,
}

impl ListParams {
    pub fn parse(&self, limits: PageLimits) -> Result<ListRequest, ScimError> {
        let filter = match self.filter.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => Some(parse_filter(text)?),
            _ => None,
        };
        let sort_by = match self.sort_by.as_deref().map(str::trim) {
            Some(text) if !text.is_empty() => {
                Some(parse_attr_path(text).map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail)))?)
            }
            _ => None,
        };
        let descending = match self.sort_order.as_deref().map(str::trim) {
            None | Some("") => false,
            Some(order) if order.eq_ignore_ascii_case("ascending") => false,
            Some(order) if order.eq_ignore_ascii_case("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be \"ascending\" or \"descending\", not \"{other}\""
                )))
            }
        };
        let start_index = u64::try_from(self.start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count =
            self.count.map_or(limits.default_count, |c| u64::try_from(c.max(0)).unwrap_or(0)).min(limits.max_count);
        Ok(ListRequest { filter, sort_by, descending, start_index, count })
    }
}

/// Builds a `ListResponse` body.
pub fn list_response(total_results: u64, start_index: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
