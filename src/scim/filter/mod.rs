//! The SCIM filter language (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2): parsing,
//! canonical printing and in-memory evaluation against JSON resources.

mod eval;
mod lex;
mod parse;
mod rfc3339;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::scim::error::ScimError;

/// The longest filter or path text accepted, in bytes.
///
/// Bounds parse time and memory for any input; longer input is rejected before it is read.
pub const MAX_FILTER_LEN: usize = 4096;

/// The deepest nesting of parentheses, `not` and value-filter brackets accepted.
///
/// Bounds the parser's recursion, so no input can exhaust the stack.
pub const MAX_NESTING_DEPTH: usize = 32;

/// `[schemaUrn:]attr[.subAttr]`; names kept as written, compared case-insensitively.
///
/// RFC 7644 §3.4.2.2 `attrPath`; attribute names are case-insensitive (RFC 7643 §2.1).
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}

/// A comparison operator of RFC 7644 §3.4.2.2, Table 3 (`pr` is `Filter::Present`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// The operator's keyword in the canonical lower-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| word.eq_ignore_ascii_case(op.as_str()))
    }
}

/// A parsed filter expression (RFC 7644 §3.4.2.2, Figure 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// value is a JSON string, number, bool or null
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: serde_json::Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: paths inside `inner` are relative to each element of `path`.
    ValuePath {
        path: AttrPath,
        inner: Box<Filter>,
    },
}

/// A PATCH `path` (RFC 7644 §3.5.2): attrPath | valuePath ["." subAttr]
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub_attr: Option<String>,
}

/// Parses a `filter` query parameter or `/.search` filter (RFC 7644 §3.4.2.2).
///
/// Keywords, operators and `true`/`false`/`null` are case-insensitive. Beyond the RFC grammar it
/// accepts `not` without parentheses and the Microsoft Entra ID form
/// `emails[type eq "work"].value eq "x"`, read as `emails[type eq "work" and value eq "x"]`.
/// Errors are 400 `invalidFilter` (RFC 7644 §3.12) whose detail names the problem and its
/// position, a 0-based character offset into `input`.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    parse::filter(input).map_err(ScimError::invalid_filter)
}

/// Parses one attribute path, as used by `sortBy` and `attributes` (RFC 7644 §3.4.2.3, §3.9).
///
/// Errors are 400 `invalidFilter`, the type RFC 7644 §3.12 gives to bad query parameters.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, ScimError> {
    parse::attr_path(input).map_err(ScimError::invalid_filter)
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2).
///
/// Errors are 400 `invalidPath` (RFC 7644 §3.12).
pub fn parse_patch_path(input: &str) -> Result<PatchPath, ScimError> {
    parse::patch_path(input).map_err(ScimError::invalid_path)
}

/// In-memory evaluation against one JSON object (a resource, or one element of a multi-valued attr).
///
/// Follows RFC 7644 §3.4.2.2: attribute names match case-insensitively; a comparison on a
/// multi-valued attribute holds when any value satisfies it; a complex value compared directly
/// stands for its `value` sub-attribute; strings compare case-insensitively unless `case_exact`
/// says otherwise; strings that are both RFC 3339 date-times compare as instants; `pr` needs a
/// value other than null, `""`, `[]` or `{}`; `ne` holds on a missing attribute.
///
/// `case_exact` receives the path being compared, qualified by the enclosing value path
/// (`emails[value eq "x"]` asks about `emails.value`) and extended with `.value` when a complex
/// value stands for its `value` sub-attribute, so it can be answered from the schema.
pub fn matches(filter: &Filter, object: &serde_json::Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    eval::matches(filter, object, case_exact)
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prints `[urn:]name[.subAttr]`, which `parse_attr_path` reads back.
impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub_attr) = &self.sub_attr {
            write!(f, ".{sub_attr}")?;
        }
        Ok(())
    }
}

/// Prints the canonical form: lower-case keywords, single spaces, JSON values, `not (…)`, and
/// parentheses only where precedence or association needs them, so `parse_filter` reads back an
/// equal `Filter`.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, inner } => write!(f, "{path}[{inner}]"),
            Filter::And(..) => write_chain(f, self, Connective::And),
            Filter::Or(..) => write_chain(f, self, Connective::Or),
        }
    }
}

/// Prints `attr[filter].subAttr`, which `parse_patch_path` reads back.
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub_attr) = &self.sub_attr {
            write!(f, ".{sub_attr}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Connective {
    And,
    Or,
}

/// The operands of a left-associated run of one connective, leftmost first, found without
/// recursion so that long `a and b and c …` chains cost no stack.
fn chain_operands(filter: &Filter, connective: Connective) -> Vec<&Filter> {
    let mut operands = Vec::new();
    let mut node = filter;
    while let (Filter::And(left, right), Connective::And) | (Filter::Or(left, right), Connective::Or) =
        (node, connective)
    {
        operands.push(right.as_ref());
        node = left;
    }
    operands.push(node);
    operands.reverse();
    operands
}

fn write_chain(f: &mut fmt::Formatter<'_>, filter: &Filter, connective: Connective) -> fmt::Result {
    let separator = match connective {
        Connective::And => " and ",
        Connective::Or => " or ",
    };
    for (index, operand) in chain_operands(filter, connective).into_iter().enumerate() {
        let needs_parens = match (connective, operand) {
            (_, Filter::Or(..)) => true,
            (Connective::And, Filter::And(..)) => index > 0,
            _ => false,
        };
        if index > 0 {
            f.write_str(separator)?;
        }
        if needs_parens {
            write!(f, "({operand})")?;
        } else {
            write!(f, "{operand}")?;
        }
    }
    Ok(())
}
