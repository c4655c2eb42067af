//! Query parameters of a listing, the `.search` request body and the `ListResponse` message
//! (RFC 7644 §3.4.2, §3.4.3; cursors: RFC 9865).

use serde_json::{json, Value};

use super::error::ScimError;
use super::filter::{parse_attr_path, parse_filter, AttrPath, Filter};

pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Paging limits, advertised in `/ServiceProviderConfig` as `filter.maxResults` and in its
/// `pagination` object (RFC 9865 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    pub default_count: u64,
    pub max_count: u64,
    /// How long a cursor stays valid between page requests (`cursorTimeout`), in seconds.
    pub cursor_timeout_secs: u64,
}

impl Default for PageLimits {
    fn default() -> PageLimits {
        PageLimits { default_count: 100, max_count: 1000, cursor_timeout_secs: 3600 }
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
    /// RFC 9865 `cursor`: present (even empty) asks for cursor paging.
    pub cursor: Option<String>,
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
    /// RFC 9865 cursor paging: `Some("")` for the first page, else a cursor from a response.
    pub cursor: Option<String>,
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
        let cursor = self.cursor.as_deref().map(|c| c.trim().to_string());
        if cursor.is_some() && self.start_index.is_some() {
            return Err(ScimError::invalid_value(
                "startIndex and cursor select different paging methods: send one of them (RFC 9865)",
            ));
        }
        Ok(ListRequest { filter, sort_by, descending, start_index, count, cursor })
    }

    /// Reads a `SearchRequest` body (RFC 7644 §3.4.3) into listing parameters plus the
    /// `attributes` / `excludedAttributes` lists (comma-joined, as in a query string). Member
    /// names are case-insensitive (RFC 7643 §2.1); unknown members are ignored.
    pub fn from_search_request(body: &Value) -> Result<SearchRequest, ScimError> {
        let Value::Object(members) = body else {
            return Err(ScimError::invalid_syntax("a SearchRequest must be a JSON object"));
        };
        let member = |name: &str| members.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v);
        let declares_schema = member("schemas")
            .and_then(Value::as_array)
            .is_some_and(|schemas| schemas.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST_SCHEMA)));
        if !declares_schema {
            return Err(ScimError::invalid_syntax(format!("\"schemas\" must contain \"{SEARCH_REQUEST_SCHEMA}\"")));
        }
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match member(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(ScimError::invalid_value(format!("\"{name}\" must be a string, not {other}"))),
            }
        };
        let integer = |name: &str| -> Result<Option<i64>, ScimError> {
            match member(name) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => value
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("\"{name}\" must be an integer, not {value}"))),
            }
        };
        let names = |name: &str| -> Result<Option<String>, ScimError> {
            match member(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .map(|list| Some(list.join(",")))
                    .ok_or_else(|| ScimError::invalid_value(format!("\"{name}\" must be an array of attribute names"))),
                Some(other) => {
                    Err(ScimError::invalid_value(format!("\"{name}\" must be an array of strings, not {other}")))
                }
            }
        };
        Ok(SearchRequest {
            params: ListParams {
                filter: text("filter")?,
                sort_by: text("sortBy")?,
                sort_order: text("sortOrder")?,
                start_index: integer("startIndex")?,
                count: integer("count")?,
                cursor: text("cursor")?,
            },
            attributes: names("attributes")?,
            excluded_attributes: names("excludedAttributes")?,
        })
    }
}

/// A `SearchRequest` body (RFC 7644 §3.4.3) as listing parameters plus projection lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub params: ListParams,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

/// Builds a `ListResponse` body for cursor paging (RFC 9865 §2): no `startIndex`, and
/// `nextCursor` on every page but the last.
pub fn cursor_list_response(
    total_results: u64,
    next_cursor: Option<String>,
    previous_cursor: Option<String>,
    resources: Vec<Value>,
) -> Value {
    let mut body = json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "itemsPerPage": resources.len(),
    });
    if let Some(next) = next_cursor {
        body["nextCursor"] = Value::String(next);
    }
    if let Some(previous) = previous_cursor {
        body["previousCursor"] = Value::String(previous);
    }
    body["Resources"] = Value::Array(resources);
    body
}

/// Builds a `ListResponse` body.
pub fn list_response(total_results: u64, start_index: u64, resources: Vec<Value>) -> Value {
    let mut body = json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total_results,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
    });
    // Moved in, not through `json!`, which would deep-copy every resource.
    body["Resources"] = Value::Array(resources);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_request_reads_like_the_query_string() {
        let body = json!({
            "schemas": [SEARCH_REQUEST_SCHEMA],
            "attributes": ["displayName", "userName"],
            "excludedattributes": "emails",
            "filter": "displayName sw \"smith\"",
            "SortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 3,
            "count": 10
        });
        let request = ListParams::from_search_request(&body).unwrap();
        assert_eq!(request.attributes.as_deref(), Some("displayName,userName"));
        assert_eq!(request.excluded_attributes.as_deref(), Some("emails"));
        let parsed = request.params.parse(PageLimits::default()).unwrap();
        assert_eq!((parsed.start_index, parsed.count, parsed.descending), (3, 10, true));
        assert!(parsed.filter.is_some() && parsed.cursor.is_none());
    }

    #[test]
    fn bad_search_requests_name_the_problem() {
        let cases = [
            (json!([]), "JSON object"),
            (json!({"filter": "userName pr"}), "schemas"),
            (json!({"schemas": [SEARCH_REQUEST_SCHEMA], "count": "ten"}), "count"),
            (json!({"schemas": [SEARCH_REQUEST_SCHEMA], "filter": 7}), "filter"),
            (json!({"schemas": [SEARCH_REQUEST_SCHEMA], "attributes": [1]}), "attributes"),
        ];
        for (body, mention) in cases {
            let error = ListParams::from_search_request(&body).unwrap_err();
            assert_eq!(error.status, 400, "{body}");
            assert!(error.detail.contains(mention), "{body}: {}", error.detail);
        }
    }

    #[test]
    fn cursor_and_start_index_cannot_be_combined() {
        let params = ListParams { cursor: Some(String::new()), start_index: Some(1), ..ListParams::default() };
        assert!(params.parse(PageLimits::default()).unwrap_err().detail.contains("cursor"));
        let first_page = ListParams { cursor: Some(String::new()), ..ListParams::default() };
        assert_eq!(first_page.parse(PageLimits::default()).unwrap().cursor.as_deref(), Some(""));
    }
}
