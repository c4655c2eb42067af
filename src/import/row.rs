//! One CSV row to one planned user: normalised, validated SCIM attributes in stored shape.
//!
//! The plan says what the row asks for, not what will happen: whether the user exists, whether a
//! group exists or a username is taken is for the runner, which has the database. What the plan
//! guarantees is that every value in it passed the profile's rules, and that every problem found is
//! an issue on the row, worded for the admin.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::email::EmailAddress;
use super::error::{IssueCode, RowIssue};
use super::names::capitalize_name;
use super::path::AttrPath;
use super::profile::{
    find_allowed, BoundColumn, ColumnLayout, ColumnSpec, GeneratedUsername, Profile, Rules, Target, Transform,
};
use super::reader::{column_letter, RawRow};

/// The email of the template's example row; a row still carrying it is refused.
pub const TEMPLATE_EXAMPLE_EMAIL: &str = "firstname.lastname@example.com";

/// The keys that find an existing user, in the order they are tried (seed 001: email, then
/// username, then external id). Emails and usernames are lower-cased: SCIM compares them
/// case-insensitively (RFC 7643 §4.1: `userName` and `emails.value` are caseExact=false);
/// `externalId` is case-exact.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchKeys {
    /// The row's primary email, lower-cased.
    pub email: Option<String>,
    /// The username written in the row (not a generated one), lower-cased.
    pub user_name: Option<String>,
    /// The external id, as written.
    pub external_id: Option<String>,
}

/// What one row asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRow {
    /// Spreadsheet row number (header = 1).
    pub row: u64,
    /// The cells as read, for `errors.csv`.
    pub cells: Vec<String>,
    /// Attributes the row sets, on create and on update, in stored shape: nested objects,
    /// multi-valued arrays, extension attributes under their schema URN.
    pub attributes: Map<String, Value>,
    /// Attributes set only when the row creates a user: column defaults for empty cells (while
    /// empty cells keep existing values), the generated username, the derived display name.
    pub create_defaults: Map<String, Value>,
    /// Attribute paths (PATCH syntax) that empty cells clear on update; only when the profile's
    /// `empty_keeps_existing` rule is off.
    pub cleared: Vec<String>,
    /// Group names: `None` when the file has no group column or the cell is empty, `Some([])` for
    /// the word `none`.
    pub groups: Option<Vec<String>>,
    /// The manager's email; the runner resolves it to the manager's id.
    pub manager_email: Option<String>,
    /// How to find the existing user.
    pub keys: MatchKeys,
    /// Problems with the row; any error means the row is not imported.
    pub issues: Vec<RowIssue>,
}

impl PlannedRow {
    fn new(row: u64, cells: Vec<String>) -> Self {
        Self {
            row,
            cells,
            attributes: Map::new(),
            create_defaults: Map::new(),
            cleared: Vec::new(),
            groups: None,
            manager_email: None,
            keys: MatchKeys::default(),
            issues: Vec::new(),
        }
    }

    /// True when an issue stops the row.
    pub fn has_errors(&self) -> bool {
        self.issues.iter().any(RowIssue::is_error)
    }

    /// The attributes of a user created from this row: `create_defaults` overlaid with
    /// `attributes`.
    pub fn creation_attributes(&self) -> Map<String, Value> {
        let mut user = self.create_defaults.clone();
        merge(&mut user, &self.attributes);
        user
    }

    /// This row with the values of an earlier row of the same person that it does not set: the
    /// person's rows merged in file order, the later row's non-empty cells winning (seed 000:
    /// "one user profile, using the details from the last entry").
    pub fn merged_over(mut self, earlier: &PlannedRow) -> PlannedRow {
        let mut attributes = earlier.attributes.clone();
        merge(&mut attributes, &self.attributes);
        self.attributes = attributes;
        let mut defaults = earlier.create_defaults.clone();
        merge(&mut defaults, &self.create_defaults);
        self.create_defaults = defaults;
        if self.groups.is_none() {
            self.groups = earlier.groups.clone();
        }
        if self.manager_email.is_none() {
            self.manager_email = earlier.manager_email.clone();
        }
        let keys = &mut self.keys;
        keys.email = keys.email.take().or_else(|| earlier.keys.email.clone());
        keys.user_name = keys.user_name.take().or_else(|| earlier.keys.user_name.clone());
        keys.external_id = keys.external_id.take().or_else(|| earlier.keys.external_id.clone());
        self
    }
}

fn merge(target: &mut Map<String, Value>, source: &Map<String, Value>) {
    for (key, value) in source {
        match (target.get_mut(key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Turns rows into plans for one file: the profile's columns placed on the file's header.
#[derive(Debug, Clone)]
pub struct Planner {
    layout: ColumnLayout,
    rules: Rules,
}

enum CellValue {
    Attribute(Value),
    Groups(Vec<String>),
    Manager(String),
}

impl Planner {
    /// Places the header's columns; the file is rejected when the issues include errors.
    pub fn new(profile: &Profile, header: &[String], header_row: u64) -> Result<Self, Vec<RowIssue>> {
        let layout = profile.layout(header, header_row)?;
        Ok(Self { layout, rules: profile.rules.clone() })
    }

    /// How the file's columns are mapped.
    pub fn layout(&self) -> &ColumnLayout {
        &self.layout
    }

    /// File-level warnings (ignored columns).
    pub fn warnings(&self) -> &[RowIssue] {
        &self.layout.warnings
    }

    /// The rules rows follow.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Plans one row.
    pub fn plan(&self, raw: RawRow) -> PlannedRow {
        let mut planned = PlannedRow::new(raw.row, raw.cells);
        if let Some(issue) = raw.malformed {
            planned.issues.push(issue);
            return planned;
        }
        for column in &self.layout.bound {
            self.plan_cell(column, &mut planned);
        }
        for &index in &self.layout.unnamed {
            if let Some(value) = planned.cells.get(index).filter(|cell| !cell.trim().is_empty()) {
                let letter = column_letter(index);
                let issue = RowIssue::warning(
                    planned.row,
                    IssueCode::UnknownColumn,
                    format!(
                        "column {letter} has no header, so its value \"{value}\" is ignored; give the column a \
                         header to import it"
                    ),
                )
                .with_value(value.clone());
                planned.issues.push(issue);
            }
        }
        self.finish(&mut planned);
        planned
    }

    fn plan_cell(&self, column: &BoundColumn, planned: &mut PlannedRow) {
        let spec = &column.spec;
        if spec.target == Target::Ignore {
            return;
        }
        let cell = planned.cells.get(column.index).map_or("", String::as_str);
        let (text, from_default) = if !cell.trim().is_empty() {
            (cell.to_owned(), false)
        } else if let Some(default) = &spec.default {
            (default.clone(), true)
        } else {
            if spec.required {
                let issue = RowIssue::error(
                    planned.row,
                    IssueCode::MissingRequiredField,
                    format!("\"{}\" is required but empty; fill it in", column.header),
                )
                .in_column(column.header.clone());
                planned.issues.push(issue);
            } else if !self.rules.empty_keeps_existing {
                if let Some(path) = spec.target.path().filter(|p| !p.is_core("userName")) {
                    planned.cleared.push(path.to_string());
                }
            }
            return;
        };
        let value = match self.cell_value(column, &text, planned.row) {
            Ok(value) => value,
            Err(issue) => {
                let issue = issue.in_column(column.header.clone()).with_value(cell.to_owned());
                planned.issues.push(issue);
                return;
            }
        };
        match value {
            CellValue::Groups(groups) => {
                planned.groups.get_or_insert_with(Vec::new).extend(groups);
            }
            CellValue::Manager(email) => planned.manager_email = Some(email),
            CellValue::Attribute(value) => {
                let Some(path) = spec.target.path() else {
                    return;
                };
                let destination = if from_default && self.rules.empty_keeps_existing {
                    &mut planned.create_defaults
                } else {
                    &mut planned.attributes
                };
                path.set(destination, value);
            }
        }
    }

    fn cell_value(&self, column: &BoundColumn, text: &str, row: u64) -> Result<CellValue, RowIssue> {
        let spec = &column.spec;
        let header = &column.header;
        let items: Vec<&str> = match spec.effective_separator() {
            Some(separator) => text.split(separator.as_char()).map(str::trim).filter(|i| !i.is_empty()).collect(),
            None => vec![text],
        };
        let mut values = Vec::with_capacity(items.len());
        for item in &items {
            let mut value = (*item).to_owned();
            for transform in &spec.transforms {
                value = apply(*transform, value);
            }
            values.push(self.item_value(column, value, row)?);
        }
        match &spec.target {
            Target::Groups => {
                let mut names: Vec<String> = Vec::with_capacity(values.len());
                for value in values {
                    let name = match value {
                        Value::String(name) => name,
                        other => other.to_string(),
                    };
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                let none = names.iter().any(|n| n.eq_ignore_ascii_case("none"));
                if none && names.len() > 1 {
                    return Err(RowIssue::error(
                        row,
                        IssueCode::InvalidValue,
                        format!("\"none\" means no groups and cannot be combined with group names in \"{header}\""),
                    ));
                }
                Ok(CellValue::Groups(if none { Vec::new() } else { names }))
            }
            target if target.is_manager_email() => {
                Ok(CellValue::Manager(values.pop().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()))
            }
            _ if spec.effective_separator().is_some() => Ok(CellValue::Attribute(Value::Array(values))),
            _ => Ok(CellValue::Attribute(values.pop().unwrap_or(Value::Null))),
        }
    }

    fn item_value(&self, column: &BoundColumn, mut value: String, row: u64) -> Result<Value, RowIssue> {
        let spec = &column.spec;
        let header = &column.header;
        let path = spec.target.path();
        let is_email = path.is_some_and(AttrPath::is_email) || spec.target.is_manager_email();
        if is_email {
            if self.rules.lowercase_emails {
                value = value.to_lowercase();
            }
            if let Err(reason) = EmailAddress::parse(&value) {
                return Err(RowIssue::error(
                    row,
                    IssueCode::InvalidEmail,
                    format!("\"{value}\" in \"{header}\" is not a valid email address: {reason}"),
                ));
            }
        }
        if self.rules.capitalize_names && path.is_some_and(AttrPath::is_person_name) {
            value = capitalize_name(&value);
        }
        if let Some(max) = spec.max_length {
            let length = value.chars().count();
            if length > max {
                return Err(RowIssue::error(
                    row,
                    IssueCode::InvalidValue,
                    format!("\"{header}\" is {length} characters long; at most {max} are allowed"),
                ));
            }
        }
        if !spec.allowed.is_empty() {
            return match find_allowed(&spec.allowed, &value) {
                Some(allowed) => Ok(allowed.stored()),
                None => Err(RowIssue::error(
                    row,
                    IssueCode::InvalidValue,
                    format!(
                        "\"{value}\" is not an allowed value for \"{header}\"; use one of: {}",
                        spec.describe_allowed()
                    ),
                )),
            };
        }
        if path.is_some_and(|p| p.is_core("active")) {
            return parse_bool(&value).map(Value::Bool).ok_or_else(|| {
                RowIssue::error(
                    row,
                    IssueCode::InvalidValue,
                    format!("\"{value}\" in \"{header}\" is not a status Roster understands; use true or false"),
                )
            });
        }
        Ok(Value::String(value))
    }

    fn finish(&self, planned: &mut PlannedRow) {
        mark_primary_email(&mut planned.attributes);
        let email = primary_email(&planned.attributes);
        let user_name = planned.attributes.get("userName").and_then(Value::as_str).map(str::to_owned);
        // An external id alone can still match an existing user (the runner refuses to create a
        // user without a username).
        let external_id =
            planned.attributes.get("externalId").is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
        if email.is_none() && user_name.is_none() && !external_id && self.identity_cells_blank(planned) {
            let header = self
                .layout
                .bound
                .iter()
                .find(|b| b.spec.target.identifies_person())
                .map(|b| b.header.clone())
                .unwrap_or_default();
            let issue = RowIssue::error(
                planned.row,
                IssueCode::MissingRequiredField,
                format!("this row has no email, username or external id; fill in \"{header}\""),
            )
            .in_column(header);
            planned.issues.push(issue);
        }
        if let (Some(email), None, true) = (&email, &user_name, self.rules.generate_username_from_email) {
            if !planned.create_defaults.contains_key("userName") {
                let generated = match self.rules.generated_username {
                    GeneratedUsername::LocalPart => email.split('@').next().unwrap_or(email).to_owned(),
                    GeneratedUsername::Email => email.clone(),
                };
                planned.create_defaults.insert("userName".to_owned(), Value::String(generated));
            }
        }
        let has_display_name =
            planned.attributes.contains_key("displayName") || planned.create_defaults.contains_key("displayName");
        if self.rules.derive_display_name && !has_display_name {
            let part = |key: &str| {
                [&planned.attributes, &planned.create_defaults]
                    .into_iter()
                    .find_map(|map| map.get("name").and_then(|n| n.get(key)).and_then(Value::as_str))
            };
            let parts: Vec<&str> = [part("givenName"), part("familyName")].into_iter().flatten().collect();
            if !parts.is_empty() {
                let derived = parts.join(" ");
                planned.create_defaults.insert("displayName".to_owned(), Value::String(derived));
            }
        }
        planned.keys = MatchKeys {
            email: email.as_deref().map(str::to_lowercase),
            user_name: user_name.as_deref().map(str::to_lowercase),
            external_id: planned.attributes.get("externalId").and_then(Value::as_str).map(str::to_owned),
        };
        if let (Some(manager), Some(own)) = (&planned.manager_email, &planned.keys.email) {
            if manager.eq_ignore_ascii_case(own) {
                let header =
                    self.layout.bound.iter().find(|b| b.spec.target.is_manager_email()).map(|b| b.header.clone());
                let mut issue = RowIssue::error(
                    planned.row,
                    IssueCode::InvalidValue,
                    format!(
                        "\"{}\" is this person's own email; a person cannot be their own manager",
                        header.as_deref().unwrap_or("Manager Email")
                    ),
                )
                .with_value(manager.clone());
                if let Some(header) = header {
                    issue = issue.in_column(header);
                }
                planned.issues.push(issue);
            }
        }
        if planned.keys.email.as_deref() == Some(TEMPLATE_EXAMPLE_EMAIL) {
            planned.issues.push(RowIssue::error(
                planned.row,
                IssueCode::InvalidValue,
                format!("this is the template's example row ({TEMPLATE_EXAMPLE_EMAIL}); delete it or replace it with a real person"),
            ));
        }
    }

    /// True when no identity cell has a value and none was already reported (as required).
    fn identity_cells_blank(&self, planned: &PlannedRow) -> bool {
        let mut identity = self.layout.bound.iter().filter(|b| b.spec.target.identifies_person());
        identity.all(|b| {
            let blank = planned.cells.get(b.index).is_none_or(|cell| cell.trim().is_empty());
            let reported = planned.issues.iter().any(|issue| issue.column.as_deref() == Some(b.header.as_str()));
            blank && !reported
        })
    }
}

/// A stored value as a column would read it from a cell: the column's transforms and the name
/// capitalisation rule applied to each of its items. A user whose stored value reads as the row's
/// value is not changed, so a value stored through SCIM as ` Ann` or `van der Berg` survives an
/// export and re-import.
pub fn normalised_text(spec: &ColumnSpec, rules: &Rules, text: &str) -> String {
    let person_name = rules.capitalize_names && spec.target.path().is_some_and(AttrPath::is_person_name);
    let normalise = |item: &str| {
        let mut value = item.to_owned();
        for transform in &spec.transforms {
            value = apply(*transform, value);
        }
        if person_name {
            value = capitalize_name(&value);
        }
        value
    };
    match spec.effective_separator() {
        Some(separator) => {
            let items: Vec<String> =
                text.split(separator.as_char()).map(str::trim).filter(|i| !i.is_empty()).map(normalise).collect();
            items.join(&separator.as_char().to_string())
        }
        None => normalise(text),
    }
}

fn apply(transform: Transform, value: String) -> String {
    match transform {
        Transform::Trim if value.trim().len() == value.len() => value,
        Transform::Trim => value.trim().to_owned(),
        Transform::Lowercase => value.to_lowercase(),
        Transform::Uppercase => value.to_uppercase(),
        Transform::Capitalize => capitalize_name(&value),
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "true" | "yes" | "1" | "y" => Some(true),
        "false" | "no" | "0" | "n" => Some(false),
        _ => None,
    }
}

fn mark_primary_email(attributes: &mut Map<String, Value>) {
    if let Some(Value::Array(emails)) = attributes.get_mut("emails") {
        let has_primary = emails.iter().any(|e| e.get("primary") == Some(&Value::Bool(true)));
        if let (false, Some(Value::Object(first))) = (has_primary, emails.first_mut()) {
            first.insert("primary".to_owned(), Value::Bool(true));
        }
    }
}

fn primary_email(attributes: &Map<String, Value>) -> Option<String> {
    let emails = attributes.get("emails")?.as_array()?;
    let primary = emails.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))).or(emails.first())?;
    primary.get("value")?.as_str().map(str::to_owned)
}
