//! SCIM schema definitions (RFC 7643 §2, §4, §7, §8.7): the standard User, Enterprise User and
//! Group schemas, their `/Schemas` representation, and the registry of schemas per resource type.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::scim::error::ScimError;
use crate::scim::filter::AttrPath;

/// URN of the core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

const SCHEMA_RESOURCE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// Whether and when a client may write an attribute (RFC 7643 §7, "mutability").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute appears in a response (RFC 7643 §7, "returned").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// The scope in which an attribute's value must be unique (RFC 7643 §7, "uniqueness").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl AttrType {
    /// The wire spelling used in a schema representation (RFC 7643 §7, "type").
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            AttrType::String,
            AttrType::Boolean,
            AttrType::Decimal,
            AttrType::Integer,
            AttrType::DateTime,
            AttrType::Binary,
            AttrType::Reference,
            AttrType::Complex,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

impl Mutability {
    /// The wire spelling used in a schema representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Mutability::ReadOnly, Mutability::ReadWrite, Mutability::Immutable, Mutability::WriteOnly]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

impl Returned {
    /// The wire spelling used in a schema representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Returned::Always, Returned::Never, Returned::Default, Returned::Request].into_iter().find(|r| r.as_str() == s)
    }
}

impl Uniqueness {
    /// The wire spelling used in a schema representation.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Uniqueness::None, Uniqueness::Server, Uniqueness::Global].into_iter().find(|u| u.as_str() == s)
    }
}

/// One attribute (or sub-attribute) definition with its characteristics (RFC 7643 §2.2, §7).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    pub name: String,
    pub attr_type: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A single-valued, optional, case-insensitive, readWrite attribute returned by default:
    /// the defaults of RFC 7643 §2.2.
    pub(crate) fn new(name: &str, attr_type: AttrType, description: &str) -> Self {
        Self {
            name: name.to_string(),
            attr_type,
            multi_valued: false,
            description: description.to_string(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    pub(crate) fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    pub(crate) fn mandatory(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    pub(crate) fn access(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }

    pub(crate) fn returned_as(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }

    pub(crate) fn unique(mut self, uniqueness: Uniqueness) -> Self {
        self.uniqueness = uniqueness;
        self
    }

    pub(crate) fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| v.to_string()).collect();
        self
    }

    pub(crate) fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|t| t.to_string()).collect();
        self
    }

    pub(crate) fn subs(mut self, sub_attributes: Vec<AttributeDef>) -> Self {
        self.sub_attributes = sub_attributes;
        self
    }

    /// The sub-attribute called `name`, matched case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes.iter().find(|s| s.name.eq_ignore_ascii_case(name))
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("name".into(), json!(self.name));
        out.insert("type".into(), json!(self.attr_type.as_str()));
        out.insert("multiValued".into(), json!(self.multi_valued));
        out.insert("description".into(), json!(self.description));
        out.insert("required".into(), json!(self.required));
        out.insert("caseExact".into(), json!(self.case_exact));
        if !self.canonical_values.is_empty() {
            out.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        if !self.reference_types.is_empty() {
            out.insert("referenceTypes".into(), json!(self.reference_types));
        }
        out.insert("mutability".into(), json!(self.mutability.as_str()));
        out.insert("returned".into(), json!(self.returned.as_str()));
        out.insert("uniqueness".into(), json!(self.uniqueness.as_str()));
        if self.attr_type == AttrType::Complex {
            let subs: Vec<Value> = self.sub_attributes.iter().map(|s| s.to_json()).collect();
            out.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(out)
    }

    fn from_json(v: &Value, schema_id: &str, parent: Option<&str>) -> Result<Self, ScimError> {
        let fail = |path: &str, problem: String| {
            ScimError::invalid_value(format!("schema '{schema_id}': attribute '{path}': {problem}"))
        };
        let obj = v.as_object().ok_or_else(|| {
            let at = parent.map(|p| format!(" in '{p}'")).unwrap_or_default();
            ScimError::invalid_value(format!("schema '{schema_id}': attribute definition{at} is not a JSON object"))
        })?;
        let name = match obj.get("name") {
            Some(Value::String(n)) if !n.is_empty() => n.clone(),
            _ => {
                let at = parent.map(|p| format!(" in '{p}'")).unwrap_or_default();
                return Err(ScimError::invalid_value(format!(
                    "schema '{schema_id}': attribute definition{at} has no \"name\" string"
                )));
            }
        };
        let path = match parent {
            Some(p) => format!("{p}.{name}"),
            None => name.clone(),
        };
        let text = |key: &str| -> Result<Option<&str>, ScimError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(fail(&path, format!("\"{key}\" must be a string"))),
            }
        };
        let flag = |key: &str| -> Result<bool, ScimError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(fail(&path, format!("\"{key}\" must be a boolean"))),
            }
        };
        let strings = |key: &str| -> Result<Vec<String>, ScimError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| fail(&path, format!("\"{key}\" must be an array of strings")))
                    })
                    .collect(),
                Some(_) => Err(fail(&path, format!("\"{key}\" must be an array of strings"))),
            }
        };
        let keyword = |key: &str, default: &'static str| -> Result<String, ScimError> {
            Ok(text(key)?.unwrap_or(default).to_string())
        };

        let type_name = keyword("type", "string")?;
        let attr_type =
            AttrType::parse(&type_name).ok_or_else(|| fail(&path, format!("unknown type '{type_name}'")))?;
        let mutability_name = keyword("mutability", "readWrite")?;
        let mutability = Mutability::parse(&mutability_name)
            .ok_or_else(|| fail(&path, format!("unknown mutability '{mutability_name}'")))?;
        let returned_name = keyword("returned", "default")?;
        let returned = Returned::parse(&returned_name)
            .ok_or_else(|| fail(&path, format!("unknown returned '{returned_name}'")))?;
        let uniqueness_name = keyword("uniqueness", "none")?;
        let uniqueness = Uniqueness::parse(&uniqueness_name)
            .ok_or_else(|| fail(&path, format!("unknown uniqueness '{uniqueness_name}'")))?;

        let sub_attributes = match obj.get("subAttributes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| AttributeDef::from_json(item, schema_id, Some(&path)))
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(fail(&path, "\"subAttributes\" must be an array".into())),
        };
        if attr_type == AttrType::Complex {
            if parent.is_some() {
                return Err(fail(&path, "a sub-attribute cannot be complex (RFC 7643 §2.3.8)".into()));
            }
            if sub_attributes.is_empty() {
                return Err(fail(&path, "a complex attribute needs subAttributes".into()));
            }
            check_unique_names(&sub_attributes, schema_id)?;
        } else if !sub_attributes.is_empty() {
            return Err(fail(&path, format!("only complex attributes have subAttributes, not '{type_name}'")));
        }

        Ok(AttributeDef {
            name,
            attr_type,
            multi_valued: flag("multiValued")?,
            description: text("description")?.unwrap_or_default().to_string(),
            required: flag("required")?,
            case_exact: flag("caseExact")?,
            mutability,
            returned,
            uniqueness,
            canonical_values: strings("canonicalValues")?,
            reference_types: strings("referenceTypes")?,
            sub_attributes,
        })
    }
}

fn check_unique_names(attributes: &[AttributeDef], schema_id: &str) -> Result<(), ScimError> {
    for (i, a) in attributes.iter().enumerate() {
        if attributes[..i].iter().any(|b| b.name.eq_ignore_ascii_case(&a.name)) {
            return Err(ScimError::invalid_value(format!(
                "schema '{schema_id}': attribute '{}' is defined twice (names are case-insensitive)",
                a.name
            )));
        }
    }
    Ok(())
}

/// One schema: its URN, name, description and attribute definitions (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The top-level attribute called `name`, matched case-insensitively (RFC 7643 §2.1).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The `/Schemas/{id}` resource representation (RFC 7643 §7, example in §8.7.1).
    pub fn to_json(&self, base_url: &str) -> Value {
        let attributes: Vec<Value> = self.attributes.iter().map(|a| a.to_json()).collect();
        json!({
            "schemas": [SCHEMA_RESOURCE_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": attributes,
            "meta": {
                "resourceType": "Schema",
                "location": format!("{}/Schemas/{}", base_url.trim_end_matches('/'), self.id),
            },
        })
    }

    /// Parses the RFC 7643 §7 representation, e.g. an operator-provided extension schema file.
    ///
    /// Missing characteristics take the RFC 7643 §2.2 defaults; `schemas` and `meta` are ignored.
    /// Errors (400 invalidValue) name the schema and the attribute path at fault.
    pub fn from_json(v: &Value) -> Result<SchemaDef, ScimError> {
        let obj = v.as_object().ok_or_else(|| ScimError::invalid_value("schema definition is not a JSON object"))?;
        let id = match obj.get("id") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            _ => return Err(ScimError::invalid_value("schema definition has no \"id\" string (the schema URN)")),
        };
        let text = |key: &str| -> Result<String, ScimError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(ScimError::invalid_value(format!("schema '{id}': \"{key}\" must be a string"))),
            }
        };
        let name = text("name")?;
        let description = text("description")?;
        let attributes = match obj.get("attributes") {
            Some(Value::Array(items)) => {
                items.iter().map(|item| AttributeDef::from_json(item, &id, None)).collect::<Result<Vec<_>, _>>()?
            }
            _ => return Err(ScimError::invalid_value(format!("schema '{id}': \"attributes\" must be an array"))),
        };
        check_unique_names(&attributes, &id)?;
        Ok(SchemaDef { id, name, description, attributes })
    }
}

/// The kinds of resource the server serves (RFC 7643 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

/// The core schema + extensions of one resource type, plus the common attributes id/externalId/meta.
///
/// Each extension carries whether the resource type requires it (RFC 7643 §6, `schemaExtensions`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    pub kind: ResourceKind,
    pub core: SchemaDef,
    pub extensions: Vec<(SchemaDef, bool)>,
}

/// An attribute path resolved against a resource schema.
///
/// `schema_id` is the schema whose attributes sit at that place in the JSON: the extension URN
/// for extension attributes, the core URN for core and common attributes (RFC 7643 §3.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolvedAttr<'a> {
    pub schema_id: &'a str,
    pub def: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

/// The attributes every resource has whatever its schema (RFC 7643 §3.1).
pub fn common_attributes() -> &'static [AttributeDef] {
    static COMMON: OnceLock<Vec<AttributeDef>> = OnceLock::new();
    COMMON.get_or_init(|| {
        use AttrType::*;
        let meta_sub = |name: &str, t: AttrType, description: &str| {
            AttributeDef::new(name, t, description).access(Mutability::ReadOnly)
        };
        vec![
            AttributeDef::new("id", String, "Unique identifier assigned by the service provider.")
                .exact()
                .access(Mutability::ReadOnly)
                .returned_as(Returned::Always)
                .unique(Uniqueness::Server),
            AttributeDef::new("externalId", String, "Identifier assigned by the provisioning client.").exact(),
            AttributeDef::new("meta", Complex, "Resource metadata maintained by the service provider.")
                .access(Mutability::ReadOnly)
                .subs(vec![
                    meta_sub("resourceType", String, "Name of the resource type.").exact(),
                    meta_sub("created", DateTime, "When the resource was added."),
                    meta_sub("lastModified", DateTime, "When the resource was last updated."),
                    meta_sub("location", Reference, "URI of the resource.").exact().refs(&["uri"]),
                    meta_sub("version", String, "Entity tag of the resource version.").exact(),
                ]),
        ]
    })
}

fn common_attribute(name: &str) -> Option<&'static AttributeDef> {
    common_attributes().iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

impl ResourceSchema {
    /// Resolve a path: with a URN prefix, against that schema; without, against the core schema,
    /// then the common attributes (id, externalId, meta).
    ///
    /// RFC 7644 §3.10: attribute names without a URN are relative to the core schema.
    pub fn resolve(&self, path: &AttrPath) -> Option<ResolvedAttr<'_>> {
        let (schema_id, def) = match &path.urn {
            Some(urn) if urn.eq_ignore_ascii_case(&self.core.id) => {
                (self.core.id.as_str(), self.core.attribute(&path.name).or_else(|| common_attribute(&path.name))?)
            }
            Some(urn) => {
                let extension = self.extension(urn)?;
                (extension.id.as_str(), extension.attribute(&path.name)?)
            }
            None => (self.core.id.as_str(), self.core.attribute(&path.name).or_else(|| common_attribute(&path.name))?),
        };
        let sub = match &path.sub_attr {
            Some(sub_name) => Some(def.sub_attribute(sub_name)?),
            None => None,
        };
        Some(ResolvedAttr { schema_id, def, sub })
    }

    /// The extension schema with URN `urn`, matched case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions.iter().map(|(schema, _)| schema).find(|schema| schema.id.eq_ignore_ascii_case(urn))
    }

    /// Whether the resource type requires the extension with URN `urn`.
    pub fn extension_required(&self, urn: &str) -> bool {
        self.extensions.iter().any(|(schema, required)| *required && schema.id.eq_ignore_ascii_case(urn))
    }
}

/// All schemas the server knows (core + enterprise + operator-registered extensions).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaRegistry {
    pub user: ResourceSchema,
    pub group: ResourceSchema,
}

impl SchemaRegistry {
    /// User (with the optional Enterprise User extension) and Group, as in RFC 7643 §8.6.
    pub fn standard() -> SchemaRegistry {
        SchemaRegistry {
            user: ResourceSchema {
                kind: ResourceKind::User,
                core: user_schema(),
                extensions: vec![(enterprise_user_schema(), false)],
            },
            group: ResourceSchema { kind: ResourceKind::Group, core: group_schema(), extensions: Vec::new() },
        }
    }

    /// Adds an extension schema to one resource type.
    ///
    /// Fails with 400 invalidValue when a schema with the same URN is already known.
    pub fn with_extension(
        mut self,
        kind: ResourceKind,
        schema: SchemaDef,
        required: bool,
    ) -> Result<SchemaRegistry, ScimError> {
        if self.schemas().iter().any(|known| known.id.eq_ignore_ascii_case(&schema.id)) {
            return Err(ScimError::invalid_value(format!("schema '{}' is already registered", schema.id)));
        }
        let target = match kind {
            ResourceKind::User => &mut self.user,
            ResourceKind::Group => &mut self.group,
        };
        target.extensions.push((schema, required));
        Ok(self)
    }

    /// The schema set of one resource type.
    pub fn resource(&self, kind: ResourceKind) -> &ResourceSchema {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// Every known schema, cores first, for `GET /Schemas` (RFC 7644 §4).
    pub fn schemas(&self) -> Vec<&SchemaDef> {
        let mut all = vec![&self.user.core, &self.group.core];
        for resource in [&self.user, &self.group] {
            all.extend(resource.extensions.iter().map(|(schema, _)| schema));
        }
        all
    }
}

/// The `value`/`display`/`type`/`primary` sub-attributes shared by the User's multi-valued
/// attributes (RFC 7643 §2.4).
fn plural_subs(value: AttributeDef, type_values: &[&str]) -> Vec<AttributeDef> {
    vec![
        value,
        AttributeDef::new("display", AttrType::String, "A human-readable name, primarily used for display purposes."),
        AttributeDef::new("type", AttrType::String, "A label indicating the attribute's function.")
            .canonical(type_values),
        AttributeDef::new(
            "primary",
            AttrType::Boolean,
            "Whether this is the preferred value; 'true' appears no more than once.",
        ),
    ]
}

fn plural(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    AttributeDef::new(name, AttrType::Complex, description).multi().subs(plural_subs(value, types))
}

/// The core User schema (RFC 7643 §4.1, characteristics as in §8.7.1).
pub(crate) fn user_schema() -> SchemaDef {
    use AttrType::*;
    let s = |name: &str, description: &str| AttributeDef::new(name, String, description);
    SchemaDef {
        id: USER_SCHEMA.to_string(),
        name: "User".to_string(),
        description: "User Account".to_string(),
        attributes: vec![
            s("userName", "Unique identifier for the User, used to authenticate to the service provider.")
                .mandatory()
                .unique(Uniqueness::Server),
            AttributeDef::new("name", Complex, "The components of the user's real name.").subs(vec![
                s("formatted", "The full name, formatted for display."),
                s("familyName", "The family name, or last name in most Western languages."),
                s("givenName", "The given name, or first name in most Western languages."),
                s("middleName", "The middle name(s)."),
                s("honorificPrefix", "The honorific prefix(es), or title (e.g. 'Ms.')."),
                s("honorificSuffix", "The honorific suffix(es) (e.g. 'III')."),
            ]),
            s("displayName", "The name of the User, suitable for display to end-users."),
            s("nickName", "The casual way to address the user in real life."),
            AttributeDef::new("profileUrl", Reference, "URL of the User's online profile.").refs(&["external"]),
            s("title", "The user's title, such as 'Vice President'."),
            s("userType", "Relationship between the organization and the user, e.g. 'Employee'."),
            s("preferredLanguage", "The User's preferred written or spoken language, e.g. 'en-US'."),
            s("locale", "The User's default location for localizing currency, dates and numbers."),
            s("timezone", "The User's time zone in IANA format, e.g. 'America/Los_Angeles'."),
            AttributeDef::new("active", Boolean, "The User's administrative status."),
            s("password", "The User's cleartext password, for setting or resetting it.")
                .access(Mutability::WriteOnly)
                .returned_as(Returned::Never),
            plural(
                "emails",
                "Email addresses for the User.",
                s("value", "Email address for the User."),
                &["work", "home", "other"],
            ),
            plural(
                "phoneNumbers",
                "Phone numbers for the User.",
                s("value", "Phone number of the User."),
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            plural(
                "ims",
                "Instant messaging addresses for the User.",
                s("value", "Instant messaging address for the User."),
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            plural(
                "photos",
                "URLs of photos of the User.",
                AttributeDef::new("value", Reference, "URL of a photo of the User.").refs(&["external"]),
                &["photo", "thumbnail"],
            ),
            AttributeDef::new("addresses", Complex, "Physical mailing addresses for the User.").multi().subs(vec![
                s("formatted", "The full mailing address, formatted for display."),
                s("streetAddress", "The full street address component."),
                s("locality", "The city or locality component."),
                s("region", "The state or region component."),
                s("postalCode", "The zip code or postal code component."),
                s("country", "The country name component."),
                s("type", "A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
                AttributeDef::new("primary", Boolean, "Whether this is the preferred mailing address."),
            ]),
            AttributeDef::new("groups", Complex, "The groups the user belongs to, directly or indirectly.")
                .multi()
                .access(Mutability::ReadOnly)
                .subs(vec![
                    s("value", "The identifier of the User's group.").access(Mutability::ReadOnly),
                    AttributeDef::new("$ref", Reference, "The URI of the Group resource.")
                        .refs(&["User", "Group"])
                        .access(Mutability::ReadOnly),
                    s("display", "A human-readable name, primarily used for display purposes.")
                        .access(Mutability::ReadOnly),
                    s("type", "Whether the membership is direct or indirect.")
                        .canonical(&["direct", "indirect"])
                        .access(Mutability::ReadOnly),
                ]),
            plural(
                "entitlements",
                "Entitlements for the User: things the User has.",
                s("value", "The value of an entitlement."),
                &[],
            ),
            plural(
                "roles",
                "Roles for the User: who the User is, e.g. 'Student'.",
                s("value", "The value of a role."),
                &[],
            ),
            plural(
                "x509Certificates",
                "Certificates issued to the User.",
                AttributeDef::new("value", Binary, "The value of an X.509 certificate (DER, base64)."),
                &[],
            ),
        ],
    }
}

/// The Enterprise User extension (RFC 7643 §4.3, characteristics as in §8.7.1).
pub(crate) fn enterprise_user_schema() -> SchemaDef {
    use AttrType::*;
    let s = |name: &str, description: &str| AttributeDef::new(name, String, description);
    SchemaDef {
        id: ENTERPRISE_USER_SCHEMA.to_string(),
        name: "EnterpriseUser".to_string(),
        description: "Enterprise User".to_string(),
        attributes: vec![
            s("employeeNumber", "Identifier assigned to a person, typically based on order of hire."),
            s("costCenter", "Identifies the name of a cost center."),
            s("organization", "Identifies the name of an organization."),
            s("division", "Identifies the name of a division."),
            s("department", "Identifies the name of a department."),
            AttributeDef::new("manager", Complex, "The User's manager, referencing the 'id' of another User.").subs(
                vec![
                    s("value", "The id of the SCIM resource representing the User's manager."),
                    AttributeDef::new(
                        "$ref",
                        Reference,
                        "The URI of the SCIM resource representing the User's manager.",
                    )
                    .refs(&["User"]),
                    s("displayName", "The displayName of the User's manager.").access(Mutability::ReadOnly),
                ],
            ),
        ],
    }
}

/// The core Group schema (RFC 7643 §4.2, characteristics as in §8.7.1).
///
/// `displayName` is required as §4.2 says (the §8.7.1 listing's `"required": false` is an erratum);
/// `members.display` is added beside the §8.7.1 sub-attributes because clients send it (§4.2 names it).
pub(crate) fn group_schema() -> SchemaDef {
    use AttrType::*;
    let member_part = |name: &str, t: AttrType, description: &str| {
        AttributeDef::new(name, t, description).access(Mutability::Immutable)
    };
    SchemaDef {
        id: GROUP_SCHEMA.to_string(),
        name: "Group".to_string(),
        description: "Group".to_string(),
        attributes: vec![
            AttributeDef::new("displayName", String, "A human-readable name for the Group.").mandatory(),
            AttributeDef::new("members", Complex, "A list of members of the Group.").multi().subs(vec![
                member_part("value", String, "Identifier of the member of this Group."),
                member_part("$ref", Reference, "The URI of the member resource.").refs(&["User", "Group"]),
                member_part("display", String, "A human-readable name for the member."),
                member_part("type", String, "The type of the member resource.").canonical(&["User", "Group"]),
            ]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_attr_path;

    type Resolved<'a> = Option<(&'a str, &'a str, Option<&'a str>)>;

    fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath { urn: urn.map(str::to_string), name: name.to_string(), sub_attr: sub.map(str::to_string) }
    }

    #[test]
    fn standard_schemas_round_trip_through_json() {
        for schema in [user_schema(), enterprise_user_schema(), group_schema()] {
            let rendered = schema.to_json("https://example.com/v2");
            let parsed = SchemaDef::from_json(&rendered).unwrap();
            assert_eq!(parsed, schema, "round trip of {}", schema.id);
        }
    }

    #[test]
    fn to_json_renders_rfc7643_section7_representation() {
        let rendered = user_schema().to_json("https://example.com/v2/");
        assert_eq!(rendered["schemas"], json!([SCHEMA_RESOURCE_SCHEMA]));
        assert_eq!(rendered["id"], json!(USER_SCHEMA));
        assert_eq!(rendered["name"], json!("User"));
        assert_eq!(
            rendered["meta"],
            json!({
                "resourceType": "Schema",
                "location": "https://example.com/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"
            })
        );
        let attributes = rendered["attributes"].as_array().unwrap();
        let user_name = &attributes[0];
        assert_eq!(
            user_name,
            &json!({
                "name": "userName", "type": "string", "multiValued": false,
                "description": user_name["description"], "required": true, "caseExact": false,
                "mutability": "readWrite", "returned": "default", "uniqueness": "server"
            })
        );
        let emails = attributes.iter().find(|a| a["name"] == "emails").unwrap();
        assert_eq!(emails["multiValued"], json!(true));
        let email_type = &emails["subAttributes"][2];
        assert_eq!(email_type["name"], json!("type"));
        assert_eq!(email_type["canonicalValues"], json!(["work", "home", "other"]));
    }

    fn characteristics(def: &AttributeDef) -> String {
        format!(
            "{} multi={} required={} caseExact={} {} {} {}",
            def.attr_type.as_str(),
            def.multi_valued,
            def.required,
            def.case_exact,
            def.mutability.as_str(),
            def.returned.as_str(),
            def.uniqueness.as_str()
        )
    }

    /// Characteristics from RFC 7643 §8.7.1 (and §4.2 for Group displayName).
    #[test]
    fn standard_characteristics_match_rfc7643() {
        let registry = SchemaRegistry::standard();
        let cases = [
            (
                ResourceKind::User,
                "userName",
                "string multi=false required=true caseExact=false readWrite default server",
            ),
            (ResourceKind::User, "password", "string multi=false required=false caseExact=false writeOnly never none"),
            (ResourceKind::User, "id", "string multi=false required=false caseExact=true readOnly always server"),
            (
                ResourceKind::User,
                "externalId",
                "string multi=false required=false caseExact=true readWrite default none",
            ),
            (
                ResourceKind::User,
                "name.familyName",
                "string multi=false required=false caseExact=false readWrite default none",
            ),
            (ResourceKind::User, "groups", "complex multi=true required=false caseExact=false readOnly default none"),
            (
                ResourceKind::User,
                "groups.$ref",
                "reference multi=false required=false caseExact=false readOnly default none",
            ),
            (ResourceKind::User, "active", "boolean multi=false required=false caseExact=false readWrite default none"),
            (
                ResourceKind::User,
                "profileUrl",
                "reference multi=false required=false caseExact=false readWrite default none",
            ),
            (ResourceKind::User, "emails", "complex multi=true required=false caseExact=false readWrite default none"),
            (
                ResourceKind::User,
                "x509Certificates.value",
                "binary multi=false required=false caseExact=false readWrite default none",
            ),
            (
                ResourceKind::User,
                "addresses.primary",
                "boolean multi=false required=false caseExact=false readWrite default none",
            ),
            (
                ResourceKind::User,
                "meta.lastModified",
                "dateTime multi=false required=false caseExact=false readOnly default none",
            ),
            (
                ResourceKind::User,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                "string multi=false required=false caseExact=false readWrite default none",
            ),
            (
                ResourceKind::User,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
                "string multi=false required=false caseExact=false readOnly default none",
            ),
            (
                ResourceKind::Group,
                "displayName",
                "string multi=false required=true caseExact=false readWrite default none",
            ),
            (
                ResourceKind::Group,
                "members",
                "complex multi=true required=false caseExact=false readWrite default none",
            ),
            (
                ResourceKind::Group,
                "members.value",
                "string multi=false required=false caseExact=false immutable default none",
            ),
        ];
        for (kind, input, expected) in cases {
            let resolved = registry
                .resource(kind)
                .resolve(&parse_attr_path(input).unwrap())
                .unwrap_or_else(|| panic!("{input} does not resolve"));
            assert_eq!(characteristics(resolved.sub.unwrap_or(resolved.def)), expected, "{input}");
        }

        let user = registry.resource(ResourceKind::User);
        let canonical = |input: &str| {
            let resolved = user.resolve(&parse_attr_path(input).unwrap()).unwrap();
            resolved.sub.unwrap_or(resolved.def).canonical_values.join(",")
        };
        assert_eq!(canonical("ims.type"), "aim,gtalk,icq,xmpp,msn,skype,qq,yahoo");
        assert_eq!(canonical("phoneNumbers.type"), "work,home,mobile,fax,pager,other");
        assert_eq!(canonical("photos.type"), "photo,thumbnail");
        assert_eq!(canonical("groups.type"), "direct,indirect");
        let references = |input: &str| {
            let resolved = user.resolve(&parse_attr_path(input).unwrap()).unwrap();
            resolved.sub.unwrap_or(resolved.def).reference_types.join(",")
        };
        assert_eq!(references("photos.value"), "external");
        assert_eq!(references("groups.$ref"), "User,Group");
        assert_eq!(references("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref"), "User");
    }

    #[test]
    fn user_schema_has_every_rfc7643_attribute() {
        let expected = [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ];
        let schema = user_schema();
        let names: Vec<&str> = schema.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn resolve_cases() {
        let registry = SchemaRegistry::standard();
        let user = registry.resource(ResourceKind::User);
        let cases: Vec<(AttrPath, Resolved)> = vec![
            (path(None, "USERNAME", None), Some((USER_SCHEMA, "userName", None))),
            (path(None, "name", Some("GIVENNAME")), Some((USER_SCHEMA, "name", Some("givenName")))),
            (path(None, "meta", Some("created")), Some((USER_SCHEMA, "meta", Some("created")))),
            (path(Some(USER_SCHEMA), "emails", Some("value")), Some((USER_SCHEMA, "emails", Some("value")))),
            (
                path(Some("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER"), "manager", Some("value")),
                Some((ENTERPRISE_USER_SCHEMA, "manager", Some("value"))),
            ),
            (path(None, "employeeNumber", None), None),
            (path(None, "name", Some("nope")), None),
            (path(None, "nope", None), None),
            (path(Some("urn:example:unknown"), "userName", None), None),
        ];
        for (input, expected) in cases {
            let got = user.resolve(&input).map(|r| (r.schema_id, r.def.name.as_str(), r.sub.map(|s| s.name.as_str())));
            assert_eq!(got, expected, "{input:?}");
        }
    }

    #[test]
    fn from_json_defaults_and_errors() {
        let minimal = json!({
            "id": "urn:example:ext:1.0:User",
            "attributes": [{ "name": "badge" }]
        });
        let parsed = SchemaDef::from_json(&minimal).unwrap();
        assert_eq!(parsed.attributes[0], AttributeDef::new("badge", AttrType::String, ""));

        let cases = [
            (json!([]), "not a JSON object"),
            (json!({ "attributes": [] }), "no \"id\""),
            (json!({ "id": "urn:x", "attributes": {} }), "\"attributes\" must be an array"),
            (json!({ "id": "urn:x", "attributes": [{ "type": "string" }] }), "no \"name\""),
            (
                json!({ "id": "urn:x", "attributes": [{ "name": "a", "type": "text" }] }),
                "attribute 'a': unknown type 'text'",
            ),
            (json!({ "id": "urn:x", "attributes": [{ "name": "a", "mutability": "rw" }] }), "unknown mutability 'rw'"),
            (json!({ "id": "urn:x", "attributes": [{ "name": "a", "returned": "sometimes" }] }), "unknown returned"),
            (json!({ "id": "urn:x", "attributes": [{ "name": "a", "uniqueness": "local" }] }), "unknown uniqueness"),
            (
                json!({ "id": "urn:x", "attributes": [{ "name": "a", "required": "yes" }] }),
                "\"required\" must be a boolean",
            ),
            (json!({ "id": "urn:x", "attributes": [{ "name": "a", "canonicalValues": [1] }] }), "array of strings"),
            (json!({ "id": "urn:x", "attributes": [{ "name": "a", "type": "complex" }] }), "needs subAttributes"),
            (
                json!({ "id": "urn:x", "attributes": [{ "name": "a", "type": "complex", "subAttributes": [
                    { "name": "b", "type": "complex", "subAttributes": [{ "name": "c" }] }
                ] }] }),
                "attribute 'a.b': a sub-attribute cannot be complex",
            ),
            (
                json!({ "id": "urn:x", "attributes": [{ "name": "a", "subAttributes": [{ "name": "b" }] }] }),
                "only complex attributes have subAttributes",
            ),
            (json!({ "id": "urn:x", "attributes": [{ "name": "a" }, { "name": "A" }] }), "defined twice"),
        ];
        for (input, expected) in cases {
            let err = SchemaDef::from_json(&input).unwrap_err();
            assert_eq!(err.status, 400, "{input}");
            assert!(err.detail.contains(expected), "{input}: {}", err.detail);
        }
    }

    #[test]
    fn registry_lists_and_extends_schemas() {
        let registry = SchemaRegistry::standard();
        let ids: Vec<&str> = registry.schemas().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, vec![USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]);

        let extension = SchemaDef::from_json(&json!({
            "id": "urn:example:params:scim:schemas:extension:lab:2.0:Group",
            "attributes": [{ "name": "costCode" }]
        }))
        .unwrap();
        let extended = registry.clone().with_extension(ResourceKind::Group, extension.clone(), true).unwrap();
        let group = extended.resource(ResourceKind::Group);
        assert!(group.extension("URN:EXAMPLE:params:scim:schemas:extension:lab:2.0:Group").is_some());
        assert!(group.extension_required(&extension.id));
        assert_eq!(extended.schemas().len(), 4);

        let duplicate = extended.with_extension(ResourceKind::User, extension, false);
        assert!(duplicate.unwrap_err().detail.contains("already registered"));
        let core_clash = registry.with_extension(ResourceKind::User, group_schema(), false);
        assert!(core_clash.is_err());
    }
}
