//! Mapping profiles: which header feeds which SCIM attribute, and the rules rows follow.
//!
//! The default profile recognises the usual headers in any case and spacing. A custom profile
//! (saved per tenant as JSON, or given inline as `{"header": "target"}`) adds or overrides columns;
//! unless it says `"use_default_columns": false`, headers it does not define are still looked up in
//! the default profile. A header neither places is an `unknown_column` error that names it and
//! lists the known headers: the importer never guesses silently.
//!
//! Header matching (`"header_match": "normalized"`, the default) compares headers by their letters
//! and digits only, lower-cased: `E-mail`, `e_mail`, ` EMAIL ` and `Email` are one header, and so
//! are `FirstName` and `First Name` (seed 004's headers) or `Manager's Email` and `Manager Email`.
//! `"exact"` compares the trimmed header byte for byte, for tenants that want seed 004's strictness.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::email::EmailAddress;
use super::error::{IssueCode, ProfileError, RowIssue};
use super::path::{AttrPath, ENTERPRISE_USER, ROSTER_IMPORT_USER};
use super::reader::column_letter;

/// The header Roster adds to `errors.csv`; ignored on import so a fixed report can be re-uploaded.
pub const ERROR_COLUMN: &str = "error";

/// Where a column's values go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    /// A SCIM attribute path (core, enterprise or any extension URN).
    Attribute(AttrPath),
    /// Group membership, by group name.
    Groups,
    /// Read and kept for `errors.csv`, but not imported.
    Ignore,
}

impl TryFrom<String> for Target {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let trimmed = value.trim();
        if trimmed.eq_ignore_ascii_case("groups") {
            Ok(Self::Groups)
        } else if trimmed.eq_ignore_ascii_case("ignore") {
            Ok(Self::Ignore)
        } else {
            trimmed.parse().map(Self::Attribute)
        }
    }
}

impl From<Target> for String {
    fn from(target: Target) -> Self {
        target.to_string()
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Attribute(path) => path.fmt(f),
            Self::Groups => f.write_str("groups"),
            Self::Ignore => f.write_str("ignore"),
        }
    }
}

impl Target {
    /// The attribute path, for attribute targets.
    pub fn path(&self) -> Option<&AttrPath> {
        match self {
            Self::Attribute(path) => Some(path),
            _ => None,
        }
    }

    /// True for the enterprise `manager` attribute itself: its cell is the manager's email, which
    /// the runner resolves to the manager's id (`manager.value` targets take an id directly).
    pub fn is_manager_email(&self) -> bool {
        self.path().is_some_and(|p| p.is_enterprise("manager") && p.sub_attribute.is_none())
    }

    /// True when the column identifies a person (an email or the username).
    pub fn identifies_person(&self) -> bool {
        self.path().is_some_and(|p| p.is_email() || p.is_core("userName"))
    }
}

/// Separator between several values in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Separator {
    /// `Group A;Group B` (seed 001).
    #[serde(rename = ";")]
    Semicolon,
    /// `Group 1,Group 2` (seed 002); the cell must then be quoted in a comma-delimited file.
    #[serde(rename = ",")]
    Comma,
}

impl Separator {
    /// The separator character.
    pub fn as_char(self) -> char {
        match self {
            Self::Semicolon => ';',
            Self::Comma => ',',
        }
    }
}

/// A normalisation applied to each value of a column, in the listed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Remove surrounding whitespace.
    Trim,
    /// Lower-case the value.
    Lowercase,
    /// Upper-case the value.
    Uppercase,
    /// Capitalise as a personal name (`jANE o'neil` → `Jane O'Neil`).
    #[serde(alias = "capitalise")]
    Capitalize,
}

/// A set of accepted spellings and the value they stand for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedValue {
    /// Accepted cell values, compared case-insensitively (`Active`, `Activo`).
    pub values: Vec<String>,
    /// The value stored; the first of `values` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps_to: Option<Value>,
}

impl AllowedValue {
    /// The stored value.
    pub fn stored(&self) -> Value {
        self.maps_to.clone().unwrap_or_else(|| Value::String(self.values.first().cloned().unwrap_or_default()))
    }
}

fn default_transforms() -> Vec<Transform> {
    vec![Transform::Trim]
}

fn is_default_transforms(transforms: &[Transform]) -> bool {
    transforms == [Transform::Trim]
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// One column of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The header as written in templates and exports.
    pub header: String,
    /// Other headers that mean the same column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Where the values go.
    pub target: Target,
    /// The column must be in the header and its cells must not be empty (unless `default`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// Cell text used when a cell is empty, read like a cell (translations apply). For an
    /// attribute it applies when a user is created; on update the existing value is kept unless
    /// the rules say empty cells clear values. For group and manager columns it applies to every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Accepted values with translations; empty means any value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<AllowedValue>,
    /// Splits a cell into several values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<Separator>,
    /// Normalisations applied to each value, in order; `["trim"]` when absent.
    #[serde(default = "default_transforms", skip_serializing_if = "is_default_transforms")]
    pub transforms: Vec<Transform>,
    /// Longest accepted value, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// For a multi-valued attribute: a matched user keeps the values it has and gains the row's
    /// new ones (seed 002: "the new identifier will be added to their existing identifiers");
    /// otherwise the row's values replace the user's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub additive: bool,
}

impl ColumnSpec {
    /// A plain column: optional, no default, any value, trimmed.
    pub fn new(header: &str, target: Target) -> Self {
        Self {
            header: header.to_owned(),
            aliases: Vec::new(),
            target,
            required: false,
            default: None,
            allowed: Vec::new(),
            separator: None,
            transforms: default_transforms(),
            max_length: None,
            additive: false,
        }
    }

    /// The separator in force: the configured one, or `;` for group columns.
    pub fn effective_separator(&self) -> Option<Separator> {
        self.separator.or(match self.target {
            Target::Groups => Some(Separator::Semicolon),
            _ => None,
        })
    }

    /// The allowed values as an admin reads them: `Active/Activo, Inactive/Archived`.
    pub fn describe_allowed(&self) -> String {
        self.allowed.iter().map(|a| a.values.join("/")).collect::<Vec<_>>().join(", ")
    }

    fn validate(&self) -> Result<(), ProfileError> {
        let invalid =
            |reason: &str| ProfileError::InvalidColumn { header: self.header.clone(), reason: reason.to_owned() };
        if self.header.trim().is_empty() {
            return Err(invalid("the header is empty"));
        }
        if self.allowed.iter().any(|a| a.values.is_empty()) {
            return Err(invalid("an \"allowed\" entry has no values"));
        }
        if self.max_length == Some(0) {
            return Err(invalid("\"max_length\" must be at least 1"));
        }
        if self.required && self.target == Target::Ignore {
            return Err(invalid("an ignored column cannot be required"));
        }
        if let Target::Attribute(path) = &self.target {
            if self.separator.is_some() && path.is_singular() {
                return Err(invalid(&format!("\"{path}\" holds a single value; remove \"separator\"")));
            }
            if path.is_core("active") {
                for allowed in &self.allowed {
                    if !allowed.stored().is_boolean() {
                        return Err(invalid("values allowed for \"active\" must map to true or false"));
                    }
                }
            }
        }
        if let Some(default) = &self.default {
            if !self.allowed.is_empty() && find_allowed(&self.allowed, default).is_none() {
                return Err(invalid(&format!(
                    "the default \"{default}\" is not one of the allowed values ({})",
                    self.describe_allowed()
                )));
            }
        }
        Ok(())
    }
}

/// The allowed entry whose spellings include `value` (case-insensitive, trimmed).
pub fn find_allowed<'a>(allowed: &'a [AllowedValue], value: &str) -> Option<&'a AllowedValue> {
    allowed.iter().find(|a| a.values.iter().any(|v| eq_ignore_case(v.trim(), value.trim())))
}

/// Unicode case-insensitive equality (lower-case mapping), without allocating.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.chars().flat_map(char::to_lowercase).eq(b.chars().flat_map(char::to_lowercase))
}

/// How headers are compared with the profile's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderMatch {
    /// Letters and digits only, case-insensitive.
    #[default]
    Normalized,
    /// Trimmed, byte for byte (seed 004).
    Exact,
}

/// How group cells change memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMode {
    /// Listed groups are added to the user's memberships (seed 002).
    #[default]
    Add,
    /// Listed groups replace the memberships earlier imports created; memberships set by hand or
    /// by an identity provider are never touched (seed 001).
    ReplaceImported,
}

/// What happens to a group name that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownGroups {
    /// The row fails with `unknown_group` (seed 002: "groups must exist"). The default, because
    /// a typo would otherwise create a group nobody asked for.
    #[default]
    Error,
    /// The group is created.
    Create,
}

/// What a generated username is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratedUsername {
    /// The part of the email before the `@` (seed 001).
    #[default]
    LocalPart,
    /// The whole email address (seed 004: "some apps require the email address as username").
    Email,
}

/// Rules that apply to every row; each can be switched per profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Store emails in lower case (seed 001). Off for directories where case matters (seed 004).
    pub lowercase_emails: bool,
    /// Give new users without a username one made from their email (seed 001).
    pub generate_username_from_email: bool,
    /// What the generated username is made of.
    pub generated_username: GeneratedUsername,
    /// Capitalise first, middle and last names (seed 001).
    pub capitalize_names: bool,
    /// An empty cell keeps the existing value on update (seed 001); off, it clears the value.
    pub empty_keeps_existing: bool,
    /// Give new users without a display name "First Last".
    pub derive_display_name: bool,
    /// How group cells change memberships.
    pub group_mode: GroupMode,
    /// What happens to group names that do not exist.
    pub unknown_groups: UnknownGroups,
    /// Maximum data rows per file (seed 002: 2,000); the tenant's own limit applies as well.
    pub max_rows: Option<u64>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            lowercase_emails: true,
            generate_username_from_email: true,
            generated_username: GeneratedUsername::LocalPart,
            capitalize_names: true,
            empty_keeps_existing: true,
            derive_display_name: true,
            group_mode: GroupMode::Add,
            unknown_groups: UnknownGroups::Error,
            max_rows: None,
        }
    }
}

/// A named column mapping with its rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The name the tenant saved it under (taken from the URL when a profile is saved; an inline
    /// profile needs none).
    #[serde(default)]
    pub name: String,
    /// The profile's own columns, checked before the default profile's.
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
    /// Rules for every row.
    #[serde(default)]
    pub rules: Rules,
    /// Headers that neither this profile nor the default one places are ignored with a warning
    /// instead of rejecting the file.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_unknown_columns: bool,
    /// Also recognise the default profile's headers.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub use_default_columns: bool,
    /// How headers are compared.
    #[serde(default)]
    pub header_match: HeaderMatch,
}

const STATUS_ACTIVE: &[&str] = &["Active", "Activo", "Actif", "Aktiv", "Ativo", "Attivo", "Enabled"];
const STATUS_INACTIVE: &[&str] =
    &["Inactive", "Archived", "Inactivo", "Inactif", "Inaktiv", "Inativo", "Archivado", "Disabled", "Suspended"];

fn default_column(header: &str, aliases: &[&str], target: &str) -> ColumnSpec {
    let target = Target::try_from(target.to_owned()).expect("the default profile's targets are valid paths");
    ColumnSpec { aliases: aliases.iter().map(|a| (*a).to_owned()).collect(), ..ColumnSpec::new(header, target) }
}

impl Profile {
    /// The built-in profile: the usual headers, in the order of templates and exports.
    pub fn default_profile() -> Self {
        let enterprise = |attr: &str| format!("{ENTERPRISE_USER}:{attr}");
        let status = ColumnSpec {
            allowed: vec![
                AllowedValue {
                    values: STATUS_ACTIVE.iter().map(|s| (*s).to_owned()).collect(),
                    maps_to: Some(Value::Bool(true)),
                },
                AllowedValue {
                    values: STATUS_INACTIVE.iter().map(|s| (*s).to_owned()).collect(),
                    maps_to: Some(Value::Bool(false)),
                },
            ],
            ..default_column("Status", &["Current Status"], "active")
        };
        let columns = vec![
            default_column("Display Name", &["Name", "Full Name"], "displayName"),
            default_column("First Name", &["Given Name"], "name.givenName"),
            default_column("Last Name", &["Family Name", "Surname"], "name.familyName"),
            default_column(
                "Email",
                &["Primary Email", "Email Address", "Work Email"],
                "emails[type eq \"work\"].value",
            ),
            default_column("Username", &["Login"], "userName"),
            default_column(
                "Mobile",
                &["Phone", "Mobile Phone", "Mobile Number", "Phone Number"],
                "phoneNumbers[type eq \"mobile\"].value",
            ),
            ColumnSpec { separator: Some(Separator::Semicolon), ..default_column("Roles", &["Role"], "roles") },
            status,
            default_column("Groups", &["Group"], "groups"),
            default_column("Department", &[], &enterprise("department")),
            default_column("Job Title", &["Title"], "title"),
            default_column("Employee ID", &["Employee Number"], &enterprise("employeeNumber")),
            default_column("Manager Email", &["Manager's Email"], &enterprise("manager")),
            default_column("Language", &["Preferred Language"], "preferredLanguage"),
            default_column("Time Zone", &[], "timezone"),
            ColumnSpec {
                transforms: Vec::new(),
                ..default_column("UPN", &["User Principal Name"], &format!("{ROSTER_IMPORT_USER}:upn"))
            },
            default_column("External ID", &[], "externalId"),
        ];
        Self {
            name: "default".to_owned(),
            columns,
            rules: Rules::default(),
            ignore_unknown_columns: false,
            use_default_columns: false,
            header_match: HeaderMatch::Normalized,
        }
    }

    /// Parses a saved or inline profile and validates it. A JSON object with `name`, `columns` or
    /// `rules` is a full profile; any other object is an inline mapping `{"header": "target"}`
    /// layered over the default profile.
    pub fn from_json(json: &str) -> Result<Self, ProfileError> {
        let value: Value = serde_json::from_str(json).map_err(|e| ProfileError::Json(e.to_string()))?;
        let object = value.as_object().ok_or_else(|| ProfileError::Json("a profile is a JSON object".to_owned()))?;
        let full = ["name", "columns", "rules"].iter().any(|key| object.contains_key(*key));
        let profile = if full {
            serde_json::from_value(value).map_err(|e| ProfileError::Json(e.to_string()))?
        } else {
            let mut mapping = Vec::with_capacity(object.len());
            for (header, target) in object {
                let target = target.as_str().ok_or_else(|| {
                    ProfileError::Json(format!("the target of \"{header}\" must be a string such as \"userName\""))
                })?;
                mapping.push((header.clone(), target.to_owned()));
            }
            Self::from_inline(mapping)?
        };
        profile.validate()?;
        Ok(profile)
    }

    /// An inline mapping (header → target) layered over the default profile, with default rules.
    pub fn from_inline(mapping: impl IntoIterator<Item = (String, String)>) -> Result<Self, ProfileError> {
        let mut columns = Vec::new();
        for (header, target) in mapping {
            let target = Target::try_from(target)
                .map_err(|reason| ProfileError::InvalidTarget { header: header.clone(), reason })?;
            columns.push(ColumnSpec::new(&header, target));
        }
        Ok(Self {
            name: "inline".to_owned(),
            columns,
            rules: Rules::default(),
            ignore_unknown_columns: false,
            use_default_columns: true,
            header_match: HeaderMatch::Normalized,
        })
    }

    /// Checks what serde cannot: duplicate headers, allowed values, separators, defaults.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut seen = HashMap::new();
        for column in &self.columns {
            column.validate()?;
            for header in std::iter::once(&column.header).chain(&column.aliases) {
                if seen.insert(self.key(header), ()).is_some() {
                    return Err(ProfileError::DuplicateHeader(header.clone()));
                }
            }
        }
        Ok(())
    }

    /// The columns of this profile's template and export: its own, or the default profile's when
    /// it defines none.
    pub fn template_columns(&self) -> Vec<ColumnSpec> {
        if self.columns.is_empty() {
            Self::default_profile().columns
        } else {
            self.columns.clone()
        }
    }

    fn key(&self, header: &str) -> String {
        match self.header_match {
            HeaderMatch::Normalized => header_key(header),
            HeaderMatch::Exact => header.trim().to_owned(),
        }
    }

    /// Places each column of a file's header, or says why the file cannot be imported with this
    /// profile (unknown or duplicate columns, required columns missing, no column identifying people).
    pub fn layout(&self, header: &[String], header_row: u64) -> Result<ColumnLayout, Vec<RowIssue>> {
        let defaults = if self.use_default_columns { Self::default_profile().columns } else { Vec::new() };
        let mut lookup: HashMap<String, &ColumnSpec> = HashMap::new();
        for column in self.columns.iter().chain(&defaults) {
            for name in std::iter::once(&column.header).chain(&column.aliases) {
                lookup.entry(self.key(name)).or_insert(column);
            }
        }
        let known: Vec<&str> = {
            let mut seen = Vec::new();
            for column in self.columns.iter().chain(&defaults) {
                if !seen.iter().any(|h: &&str| header_key(h) == header_key(&column.header)) {
                    seen.push(column.header.as_str());
                }
            }
            seen
        };
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut bound: Vec<BoundColumn> = Vec::new();
        let mut unnamed = Vec::new();
        for (index, name) in header.iter().enumerate() {
            if name.is_empty() {
                unnamed.push(index);
                continue;
            }
            if let Some(spec) = lookup.get(&self.key(name)) {
                bound.push(BoundColumn { index, header: name.clone(), spec: (*spec).clone() });
                continue;
            }
            if header_key(name) == ERROR_COLUMN {
                continue;
            }
            let suggestion = self.suggest(name, &lookup);
            let hint = suggestion.map(|s| format!(" (did you mean \"{s}\"?)")).unwrap_or_default();
            let exact = if self.header_match == HeaderMatch::Exact { " (headers must match exactly)" } else { "" };
            if self.ignore_unknown_columns {
                warnings.push(
                    RowIssue::warning(
                        header_row,
                        IssueCode::UnknownColumn,
                        format!("header \"{name}\" is not a known column{hint}; its values are ignored"),
                    )
                    .in_column(name.clone()),
                );
            } else {
                errors.push(
                    RowIssue::error(
                        header_row,
                        IssueCode::UnknownColumn,
                        format!(
                            "header \"{name}\" is not a known column{exact}{hint}; known columns: {}. Rename the \
                             header, map it in the import profile, or remove the column",
                            known.join(", ")
                        ),
                    )
                    .in_column(name.clone()),
                );
            }
        }
        if let Some(cell) = header.iter().find(|cell| EmailAddress::parse(cell).is_ok()) {
            errors.push(RowIssue::error(
                header_row,
                IssueCode::MalformedCsv,
                format!(
                    "the first row contains \"{cell}\", which looks like a person rather than a header; add a \
                     header row naming the columns, e.g. \"Email,Display Name\""
                ),
            ));
        }
        let mut by_target: BTreeMap<String, Vec<&BoundColumn>> = BTreeMap::new();
        for column in &bound {
            if !matches!(column.spec.target, Target::Ignore | Target::Groups) {
                by_target.entry(column.spec.target.to_string()).or_default().push(column);
            }
        }
        for (target, columns) in by_target.iter().filter(|(_, columns)| columns.len() > 1) {
            let names: Vec<String> =
                columns.iter().map(|c| format!("\"{}\" ({})", c.header, column_letter(c.index))).collect();
            errors.push(
                RowIssue::error(
                    header_row,
                    IssueCode::MalformedCsv,
                    format!(
                        "columns {} all set {target}; keep one of them or map the others elsewhere",
                        names.join(" and ")
                    ),
                )
                .in_column(columns[1].header.clone()),
            );
        }
        for column in self.columns.iter().filter(|c| c.required) {
            if !bound.iter().any(|b| b.spec.header == column.header) {
                errors.push(
                    RowIssue::error(
                        header_row,
                        IssueCode::MissingRequiredField,
                        format!(
                            "required column \"{}\" is missing from the header; found: {}",
                            column.header,
                            header.join(", ")
                        ),
                    )
                    .in_column(column.header.clone()),
                );
            }
        }
        if !bound.iter().any(|b| b.spec.target.identifies_person()) {
            errors.push(RowIssue::error(
                header_row,
                IssueCode::MissingRequiredField,
                format!(
                    "the file needs an \"Email\" or a \"Username\" column to tell who each row is; found: {}",
                    header.join(", ")
                ),
            ));
        }
        if errors.is_empty() {
            Ok(ColumnLayout { width: header.len(), header: header.to_vec(), bound, unnamed, warnings })
        } else {
            errors.extend(warnings);
            Err(errors)
        }
    }

    fn suggest(&self, name: &str, lookup: &HashMap<String, &ColumnSpec>) -> Option<String> {
        let key = header_key(name);
        let mut best: Option<(usize, &str)> = None;
        for spec in lookup.values() {
            for candidate in std::iter::once(&spec.header).chain(&spec.aliases) {
                let distance = edit_distance(&key, &header_key(candidate));
                let limit = if key.chars().count() <= 4 { 1 } else { 2 };
                let better = best.is_none_or(|(d, h)| distance < d || (distance == d && spec.header.as_str() < h));
                if distance <= limit && better {
                    best = Some((distance, spec.header.as_str()));
                }
            }
        }
        best.map(|(_, header)| header.to_owned())
    }
}

/// A file column placed by the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundColumn {
    /// Zero-based position in the file.
    pub index: usize,
    /// The header as written in the file.
    pub header: String,
    /// The profile column it matched.
    pub spec: ColumnSpec,
}

/// How a file's columns are mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnLayout {
    /// Number of columns in the header.
    pub width: usize,
    /// The file's header.
    pub header: Vec<String>,
    /// Columns that feed attributes, groups or are explicitly ignored.
    pub bound: Vec<BoundColumn>,
    /// Positions of columns without a header; a value under one is ignored with a warning.
    pub unnamed: Vec<usize>,
    /// File-level warnings (ignored unknown columns).
    pub warnings: Vec<RowIssue>,
}

/// The comparison key of a header: its letters and digits, lower-cased.
pub fn header_key(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Optimal string alignment distance: edits, with a swap of neighbours counting as one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn header(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    fn targets(layout: &ColumnLayout) -> Vec<String> {
        layout.bound.iter().map(|b| b.spec.target.to_string()).collect()
    }

    #[test]
    fn the_default_profile_recognises_headers_in_any_case_and_spacing() {
        let cases = [
            ("display name", "displayName"),
            ("DISPLAY_NAME", "displayName"),
            ("  Display   Name ", "displayName"),
            ("Name", "displayName"),
            ("first name", "name.givenName"),
            ("FirstName", "name.givenName"),
            ("given-name", "name.givenName"),
            ("Last Name", "name.familyName"),
            ("family_name", "name.familyName"),
            ("Email", "emails[type eq \"work\"].value"),
            ("Primary Email", "emails[type eq \"work\"].value"),
            ("E-mail", "emails[type eq \"work\"].value"),
            ("email address", "emails[type eq \"work\"].value"),
            ("Username", "userName"),
            ("User Name", "userName"),
            ("login", "userName"),
            ("Mobile", "phoneNumbers[type eq \"mobile\"].value"),
            ("phone", "phoneNumbers[type eq \"mobile\"].value"),
            ("Mobile Phone", "phoneNumbers[type eq \"mobile\"].value"),
            ("MobileNumber", "phoneNumbers[type eq \"mobile\"].value"),
            ("Role", "roles"),
            ("roles", "roles"),
            ("Status", "active"),
            ("Current Status", "active"),
            ("Groups", "groups"),
            ("Group(s)", "groups"),
            ("Department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            ("Job Title", "title"),
            ("title", "title"),
            ("Employee ID", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            ("employee number", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"),
            ("Manager Email", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            ("Manager’s Email", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
            ("Language", "preferredLanguage"),
            ("Preferred Language", "preferredLanguage"),
            ("Time Zone", "timezone"),
            ("TimeZone", "timezone"),
            ("UPN", "urn:roster:params:scim:schemas:extension:import:2.0:User:upn"),
            ("External ID", "externalId"),
            ("external_id", "externalId"),
        ];
        let profile = Profile::default_profile();
        for (name, target) in cases {
            let file = header(&["Email", name]);
            let file =
                if name.to_lowercase().contains("mail") && !name.contains("Manager") { header(&[name]) } else { file };
            let layout = profile.layout(&file, 1).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(targets(&layout).last().map(String::as_str), Some(target), "{name}");
        }
    }

    #[test]
    fn an_unknown_header_is_an_error_naming_it_and_listing_known_headers() {
        let errors = Profile::default_profile().layout(&header(&["Emial", "Name", "Shoe Size"]), 1).unwrap_err();
        let unknown: Vec<&RowIssue> = errors.iter().filter(|e| e.code == IssueCode::UnknownColumn).collect();
        assert_eq!(unknown.len(), 2);
        assert_eq!(unknown[0].column.as_deref(), Some("Emial"));
        assert!(
            unknown[0].message.starts_with(
                "header \"Emial\" is not a known column (did you mean \"Email\"?); known columns: Display Name, \
                 First Name, Last Name, Email, Username"
            ),
            "{}",
            unknown[0].message
        );
        assert!(!unknown[1].message.contains("did you mean"), "{}", unknown[1].message);
        let missing = errors.iter().find(|e| e.code == IssueCode::MissingRequiredField).unwrap();
        assert!(missing.message.contains("needs an \"Email\" or a \"Username\" column"), "{}", missing.message);
    }

    #[test]
    fn unknown_headers_can_be_ignored_with_a_warning() {
        let profile = Profile { ignore_unknown_columns: true, ..Profile::from_inline(Vec::new()).unwrap() };
        let layout = profile.layout(&header(&["Email", "Shoe Size"]), 1).unwrap();
        assert_eq!(layout.bound.len(), 1);
        assert_eq!(layout.warnings.len(), 1);
        assert_eq!(layout.warnings[0].code, IssueCode::UnknownColumn);
    }

    #[test]
    fn the_error_column_of_an_errors_report_is_ignored() {
        let layout = Profile::default_profile().layout(&header(&["Email", "error"]), 1).unwrap();
        assert_eq!(targets(&layout), vec!["emails[type eq \"work\"].value"]);
        assert!(layout.warnings.is_empty());
    }

    #[test]
    fn two_columns_for_one_attribute_are_rejected() {
        let errors = Profile::default_profile().layout(&header(&["Email", "E-mail"]), 1).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("\"Email\" (A) and \"E-mail\" (B)"), "{}", errors[0].message);
    }

    #[test]
    fn a_header_row_that_is_data_says_so() {
        let errors = Profile::default_profile().layout(&header(&["jane@example.com", "Jane"]), 1).unwrap_err();
        assert!(errors.iter().any(|e| e.message.contains("looks like a person rather than a header")));
    }

    #[test]
    fn custom_columns_come_first_and_defaults_still_apply() {
        let profile = Profile::from_json(
            r#"{"Correo": "emails[type eq \"work\"].value", "Equipos": "groups", "Notas": "ignore"}"#,
        )
        .unwrap();
        let layout = profile.layout(&header(&["Correo", "Equipos", "Notas", "Display Name"]), 1).unwrap();
        assert_eq!(targets(&layout), vec!["emails[type eq \"work\"].value", "groups", "ignore", "displayName"]);
    }

    #[test]
    fn required_columns_must_be_in_the_header() {
        let profile = Profile::from_json(
            r#"{"name": "hub", "columns": [{"header": "Username", "target": "userName", "required": true},
                {"header": "Email", "target": "emails[type eq \"work\"].value", "required": true}]}"#,
        )
        .unwrap();
        let errors = profile.layout(&header(&["Email"]), 1).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].code, errors[0].column.as_deref()), (IssueCode::MissingRequiredField, Some("Username")));
    }

    #[test]
    fn exact_header_matching_rejects_other_spellings() {
        let profile = Profile::from_json(
            r#"{"name": "hub", "header_match": "exact", "use_default_columns": false,
                "columns": [{"header": "FirstName", "target": "name.givenName"},
                            {"header": "Email", "target": "emails[type eq \"work\"].value"}]}"#,
        )
        .unwrap();
        assert!(profile.layout(&header(&["Email", "FirstName"]), 1).is_ok());
        let errors = profile.layout(&header(&["Email", "firstname"]), 1).unwrap_err();
        assert!(
            errors[0].message.contains("(headers must match exactly) (did you mean \"FirstName\"?)"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn profiles_round_trip_through_json() {
        let profile = Profile::default_profile();
        let json = serde_json::to_string(&profile).unwrap();
        assert_eq!(Profile::from_json(&json).unwrap(), profile);
        let status = serde_json::to_value(&profile.columns[7]).unwrap();
        assert_eq!(status["target"], json!("active"));
        assert_eq!(status["allowed"][0]["maps_to"], json!(true));
    }

    #[test]
    fn invalid_profiles_are_refused_with_the_reason() {
        let cases = [
            (r#"{"name": "x", "columns": [{"header": "Pwd", "target": "password"}]}"#, "passwords cannot be imported"),
            (
                r#"{"name": "x", "columns": [{"header": "A", "target": "userName", "requried": true}]}"#,
                "unknown field `requried`",
            ),
            (
                r#"{"name": "x", "columns": [{"header": "A", "target": "userName", "separator": ";"}]}"#,
                "holds a single value",
            ),
            (
                r#"{"name": "x", "columns": [{"header": "A", "target": "displayName"}, {"header": "a", "target": "title"}]}"#,
                "defined twice",
            ),
            (
                r#"{"name": "x", "columns": [{"header": "S", "target": "active", "allowed": [{"values": ["On"], "maps_to": "yes"}]}]}"#,
                "true or false",
            ),
            (
                r#"{"name": "x", "columns": [{"header": "R", "target": "roles", "default": "Root", "allowed": [{"values": ["User"]}]}]}"#,
                "not one of the allowed values (User)",
            ),
            (r#"{"name": "x", "rules": {"group_mode": "replace"}}"#, "unknown variant `replace`"),
            (r#"{"Dept": 3}"#, "must be a string"),
            (r#"{"Dept": "department"}"#, "not a core SCIM User attribute"),
            ("[]", "a profile is a JSON object"),
        ];
        for (json, expected) in cases {
            let error = Profile::from_json(json).unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn edit_distance_counts_a_swap_as_one_edit() {
        assert_eq!(edit_distance("emial", "email"), 1);
        assert_eq!(edit_distance("email", "email"), 0);
        assert_eq!(edit_distance("mail", "email"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
