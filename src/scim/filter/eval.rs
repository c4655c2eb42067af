//! Evaluates a parsed filter against JSON with the matching rules of RFC 7644 §3.4.2.2.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::{chain_operands, rfc3339, AttrPath, CompareOp, Connective, Filter};

const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:";

pub(super) fn matches(filter: &Filter, object: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    Evaluator { case_exact, parent: None }.eval(filter, object)
}

struct Evaluator<'a> {
    case_exact: &'a dyn Fn(&AttrPath) -> bool,
    /// The value path whose elements are being tested, when inside `attr[…]`.
    parent: Option<&'a AttrPath>,
}

impl Evaluator<'_> {
    fn eval(&self, filter: &Filter, scope: &Value) -> bool {
        match filter {
            Filter::Compare { path, op, value } => self.compare(path, *op, value, scope),
            Filter::Present(path) => resolve(path, scope).into_iter().any(is_present),
            Filter::Not(inner) => !self.eval(inner, scope),
            Filter::And(..) => {
                chain_operands(filter, Connective::And).into_iter().all(|operand| self.eval(operand, scope))
            }
            Filter::Or(..) => {
                chain_operands(filter, Connective::Or).into_iter().any(|operand| self.eval(operand, scope))
            }
            Filter::ValuePath { path, inner } => {
                let element_evaluator = Evaluator { case_exact: self.case_exact, parent: Some(path) };
                resolve(path, scope).into_iter().any(|element| element_evaluator.eval_element(inner, element))
            }
        }
    }

    /// Tests one element of a multi-valued attribute; a simple value acts as `{"value": …}`
    /// (RFC 7643 §2.4).
    fn eval_element(&self, inner: &Filter, element: &Value) -> bool {
        if element.is_object() {
            self.eval(inner, element)
        } else {
            let mut wrapper = Map::new();
            wrapper.insert("value".to_string(), element.clone());
            self.eval(inner, &Value::Object(wrapper))
        }
    }

    fn compare(&self, path: &AttrPath, op: CompareOp, expected: &Value, scope: &Value) -> bool {
        let candidates = resolve(path, scope);
        if expected.is_null() {
            return match op {
                CompareOp::Eq => candidates.is_empty(),
                CompareOp::Ne => !candidates.is_empty(),
                _ => false,
            };
        }
        if candidates.is_empty() {
            return op == CompareOp::Ne;
        }
        let mut exact_for_path = None;
        let mut exact_for_value = None;
        candidates.into_iter().any(|candidate| {
            let (actual, exact) = match candidate {
                Value::Object(members) => (
                    member_of(members, "value"),
                    *exact_for_value.get_or_insert_with(|| self.is_case_exact(path, true)),
                ),
                simple => (Some(simple), *exact_for_path.get_or_insert_with(|| self.is_case_exact(path, false))),
            };
            match actual {
                Some(actual) if !actual.is_null() => compare_values(actual, op, expected, exact),
                _ => op == CompareOp::Ne,
            }
        })
    }

    /// Asks `case_exact` about `path` as the schema knows it: prefixed by the enclosing value
    /// path, and with `.value` when a complex value stands for its `value` sub-attribute.
    fn is_case_exact(&self, path: &AttrPath, through_value: bool) -> bool {
        let mut full = match self.parent {
            Some(parent) if parent.sub_attr.is_none() && path.urn.is_none() && path.sub_attr.is_none() => {
                AttrPath { urn: parent.urn.clone(), name: parent.name.clone(), sub_attr: Some(path.name.clone()) }
            }
            _ => path.clone(),
        };
        if through_value && full.sub_attr.is_none() {
            full.sub_attr = Some("value".to_string());
        }
        (self.case_exact)(&full)
    }
}

/// The non-null values `path` reaches in `scope`, with multi-valued attributes flattened.
fn resolve<'v>(path: &AttrPath, scope: &'v Value) -> Vec<&'v Value> {
    let mut found = Vec::new();
    let Some(base) = schema_scope(path.urn.as_deref(), scope) else {
        return found;
    };
    let Some(attribute) = member(base, &path.name) else {
        return found;
    };
    match &path.sub_attr {
        None => push_values(attribute, &mut found),
        Some(sub_attr) => {
            for item in elements(attribute) {
                if let Some(value) = member(item, sub_attr) {
                    push_values(value, &mut found);
                }
            }
        }
    }
    found
}

/// Where attributes of schema `urn` live in `object`: under the URN key (extensions), or at the
/// top level for a core schema the object does not disclaim in its `schemas` list.
fn schema_scope<'v>(urn: Option<&str>, object: &'v Value) -> Option<&'v Value> {
    let Some(urn) = urn else {
        return Some(object);
    };
    if let Some(extension @ Value::Object(_)) = member(object, urn) {
        return Some(extension);
    }
    let is_core =
        urn.get(..CORE_SCHEMA_PREFIX.len()).is_some_and(|prefix| prefix.eq_ignore_ascii_case(CORE_SCHEMA_PREFIX));
    let declared = match member(object, "schemas") {
        Some(Value::Array(schemas)) => {
            schemas.iter().filter_map(Value::as_str).any(|schema| schema.eq_ignore_ascii_case(urn))
        }
        _ => true,
    };
    (is_core && declared).then_some(object)
}

fn elements(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    }
}

fn push_values<'v>(value: &'v Value, found: &mut Vec<&'v Value>) {
    found.extend(elements(value).iter().filter(|item| !item.is_null()));
}

/// The member named `name`, matched case-insensitively (RFC 7643 §2.1).
fn member<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    match value {
        Value::Object(members) => member_of(members, name),
        _ => None,
    }
}

fn member_of<'v>(members: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    members.get(name).or_else(|| members.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value))
}

/// `pr`: a value other than null, `""`, `[]` or `{}`.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_values(actual: &Value, op: CompareOp, expected: &Value, exact: bool) -> bool {
    match op {
        CompareOp::Eq => equal(actual, expected, exact),
        CompareOp::Ne => !equal(actual, expected, exact),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => match (actual, expected) {
            (Value::String(actual), Value::String(expected)) => {
                let (actual, expected) = fold_case(actual, expected, exact);
                match op {
                    CompareOp::Co => actual.contains(expected.as_ref()),
                    CompareOp::Sw => actual.starts_with(expected.as_ref()),
                    _ => actual.ends_with(expected.as_ref()),
                }
            }
            _ => false,
        },
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            order(actual, expected, exact).is_some_and(|ordering| match op {
                CompareOp::Gt => ordering == Ordering::Greater,
                CompareOp::Ge => ordering != Ordering::Less,
                CompareOp::Lt => ordering == Ordering::Less,
                _ => ordering != Ordering::Greater,
            })
        }
    }
}

fn equal(actual: &Value, expected: &Value, exact: bool) -> bool {
    match (actual, expected) {
        (Value::Bool(actual), Value::Bool(expected)) => actual == expected,
        _ => order(actual, expected, exact) == Some(Ordering::Equal),
    }
}

/// How two ordered values compare: date-times as instants, other strings lexicographically,
/// numbers numerically; `None` for booleans and mismatched types.
fn order(actual: &Value, expected: &Value, exact: bool) -> Option<Ordering> {
    match (actual, expected) {
        (Value::String(actual), Value::String(expected)) => match (rfc3339::parse(actual), rfc3339::parse(expected)) {
            (Some(actual), Some(expected)) => Some(actual.cmp(&expected)),
            _ => {
                let (actual, expected) = fold_case(actual, expected, exact);
                Some(actual.cmp(&expected))
            }
        },
        (Value::Number(actual), Value::Number(expected)) => compare_numbers(actual, expected),
        _ => None,
    }
}

fn fold_case<'s>(actual: &'s str, expected: &'s str, exact: bool) -> (Cow<'s, str>, Cow<'s, str>) {
    if exact {
        (Cow::Borrowed(actual), Cow::Borrowed(expected))
    } else {
        (Cow::Owned(actual.to_lowercase()), Cow::Owned(expected.to_lowercase()))
    }
}

fn compare_numbers(actual: &Number, expected: &Number) -> Option<Ordering> {
    if let (Some(actual), Some(expected)) = (actual.as_i64(), expected.as_i64()) {
        return Some(actual.cmp(&expected));
    }
    if let (Some(actual), Some(expected)) = (actual.as_u64(), expected.as_u64()) {
        return Some(actual.cmp(&expected));
    }
    actual.as_f64()?.partial_cmp(&expected.as_f64()?)
}
