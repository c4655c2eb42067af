//! Schema-driven canonicalisation, type checking and equality of attribute values (RFC 7643 §2).

use serde_json::{Map, Value};

use crate::scim::error::ScimError;
use crate::scim::schema::{AttrType, AttributeDef, Mutability};

use super::get_ci;

/// Where a value comes from, which decides how `readOnly` sub-attributes are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Sent by a client: `readOnly` sub-attributes are ignored (RFC 7643 §2.2, RFC 7644 §3.5.1).
    Request,
    /// Already part of the resource: kept as they are.
    Stored,
}

/// Whether a value counts as assigned: null, `[]` and `{}` are all unassigned (RFC 7643 §2.5).
pub(super) fn is_assigned(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(members)) => !members.is_empty(),
        Some(_) => true,
    }
}

/// The canonical form of a whole attribute value (a list when multi-valued); `None` when unassigned.
pub(super) fn canonical_attribute(
    def: &AttributeDef,
    value: &Value,
    origin: Origin,
) -> Result<Option<Value>, ScimError> {
    if !def.multi_valued {
        return canonical_element(def, value, origin);
    }
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(element) = canonical_element(def, item, origin)? {
                    out.push(element);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Array(out)))
        }
        _ => Err(ScimError::invalid_value(format!("attribute '{}' is multi-valued and needs an array", def.name))),
    }
}

/// The canonical elements a client supplied for a multi-valued attribute: an array, or one element.
pub(super) fn canonical_elements(def: &AttributeDef, value: &Value) -> Result<Vec<Value>, ScimError> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(element) = canonical_element(def, item, Origin::Request)? {
            out.push(element);
        }
    }
    Ok(out)
}

/// The canonical form of one value of `def` (one element when multi-valued); `None` when unassigned.
pub(super) fn canonical_element(def: &AttributeDef, value: &Value, origin: Origin) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if def.attr_type != AttrType::Complex {
        check_scalar(def, value)?;
        return Ok(Some(value.clone()));
    }
    let members = canonical_complex(def, value, origin, false)?;
    Ok((!members.is_empty()).then_some(Value::Object(members)))
}

/// The sub-attributes of a complex value under their canonical names.
///
/// With `keep_unassigned`, sub-attributes set to null (or `[]`) stay in the result as `null`, so that
/// a merge can tell "make unassigned" apart from "not mentioned" (RFC 7644 §3.5.2.3).
pub(super) fn canonical_complex(
    def: &AttributeDef,
    value: &Value,
    origin: Origin,
    keep_unassigned: bool,
) -> Result<Map<String, Value>, ScimError> {
    let object = value
        .as_object()
        .ok_or_else(|| ScimError::invalid_value(format!("attribute '{}' is complex and needs an object", def.name)))?;
    let mut out = Map::new();
    for (key, sub_value) in object {
        let sub = def.sub_attribute(key).ok_or_else(|| {
            ScimError::invalid_value(format!("attribute '{}' has no sub-attribute '{key}'", def.name))
        })?;
        if origin == Origin::Request && sub.mutability == Mutability::ReadOnly {
            continue;
        }
        match canonical_attribute(sub, sub_value, origin)? {
            Some(canonical) => {
                out.insert(sub.name.clone(), canonical);
            }
            None if keep_unassigned => {
                out.insert(sub.name.clone(), Value::Null);
            }
            None => {}
        }
    }
    Ok(out)
}

/// Checks that a non-complex value has the JSON shape of its SCIM type (RFC 7643 §2.3).
fn check_scalar(def: &AttributeDef, value: &Value) -> Result<(), ScimError> {
    let valid = match def.attr_type {
        AttrType::String | AttrType::Reference | AttrType::Binary => value.is_string(),
        AttrType::Boolean => value.is_boolean(),
        AttrType::Integer => value.is_i64() || value.is_u64(),
        AttrType::Decimal => value.is_number(),
        AttrType::DateTime => value.as_str().is_some_and(is_xsd_date_time),
        AttrType::Complex => value.is_object(),
    };
    if valid {
        Ok(())
    } else {
        Err(ScimError::invalid_value(format!(
            "attribute '{}' needs a value of type {}",
            def.name,
            type_name(def.attr_type)
        )))
    }
}

/// Whether `text` is an `xsd:dateTime`, with or without a zone offset (RFC 7643 §2.3.5).
fn is_xsd_date_time(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
        || chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

fn type_name(attr_type: AttrType) -> &'static str {
    match attr_type {
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

/// Whether two whole attribute values are equal, unassigned values being equal to each other.
///
/// Multi-valued attributes compare as sets (RFC 7643 §2.4 gives their values no order).
pub(super) fn attribute_equal(def: &AttributeDef, a: Option<&Value>, b: Option<&Value>) -> bool {
    match (is_assigned(a), is_assigned(b)) {
        (false, false) => return true,
        (true, true) => {}
        _ => return false,
    }
    let (Some(a), Some(b)) = (a, b) else {
        return false;
    };
    if !def.multi_valued {
        return element_equal(def, a, b);
    }
    match (a.as_array(), b.as_array()) {
        (Some(left), Some(right)) => {
            left.len() == right.len()
                && left.iter().all(|x| right.iter().any(|y| element_equal(def, x, y)))
                && right.iter().all(|y| left.iter().any(|x| element_equal(def, x, y)))
        }
        _ => a == b,
    }
}

/// Whether two values of `def` are equal, honouring `caseExact` (RFC 7643 §2.2) and comparing
/// complex values sub-attribute by sub-attribute.
pub(super) fn element_equal(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    match def.attr_type {
        AttrType::Complex => match (a.as_object(), b.as_object()) {
            (Some(left), Some(right)) => complex_equal(def, left, right),
            _ => a == b,
        },
        AttrType::String if !def.case_exact => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.to_lowercase() == y.to_lowercase(),
            _ => a == b,
        },
        AttrType::Decimal | AttrType::Integer => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        _ => a == b,
    }
}

fn complex_equal(def: &AttributeDef, left: &Map<String, Value>, right: &Map<String, Value>) -> bool {
    let same_side = |from: &Map<String, Value>, other: &Map<String, Value>| {
        from.iter().all(|(key, value)| {
            let theirs = get_ci(other, key);
            match def.sub_attribute(key) {
                Some(sub) => attribute_equal(sub, Some(value), theirs),
                None => theirs == Some(value),
            }
        })
    };
    same_side(left, right) && same_side(right, left)
}
