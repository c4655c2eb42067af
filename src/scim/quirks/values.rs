//! Tolerances for identity providers that deviate from RFC 7643/7644: one function per quirk,
//! each naming the provider that needs it, so that every deviation we accept is listed here.

use serde_json::Value;

/// Reads a boolean sent as a string: `"True"`, `"False"`, `"true"`, `"false"` (any ASCII case).
///
/// Microsoft Entra ID sends booleans such as `active` and `primary` as strings, e.g.
/// `"active": "True"`, although RFC 7643 §2.3.2 makes them JSON literals.
/// Returns `None` for anything else, so the caller can report the wrong type.
pub fn boolean_from_string(value: &Value) -> Option<bool> {
    let text = value.as_str()?;
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Turns the value of a multi-valued attribute into its list of values, wrapping a lone value.
///
/// Okta and OneLogin send a single object (e.g. `"emails": {"value": "a@b.c"}`) where
/// RFC 7643 §2.4 requires an array; the lone value is taken as a one-element array.
pub fn single_value_as_array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        single => vec![single],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn boolean_from_string_cases() {
        let cases = [
            (json!("True"), Some(true)),
            (json!("False"), Some(false)),
            (json!("true"), Some(true)),
            (json!("false"), Some(false)),
            (json!("TRUE"), Some(true)),
            (json!("yes"), None),
            (json!("1"), None),
            (json!(""), None),
            (json!(true), None),
            (json!(1), None),
            (json!(null), None),
        ];
        for (input, expected) in cases {
            assert_eq!(boolean_from_string(&input), expected, "{input}");
        }
    }

    #[test]
    fn single_value_as_array_cases() {
        let cases = [
            (json!({"value": "a@example.com"}), vec![json!({"value": "a@example.com"})]),
            (json!("x"), vec![json!("x")]),
            (json!([{"value": "a"}, {"value": "b"}]), vec![json!({"value": "a"}), json!({"value": "b"})]),
            (json!([]), vec![]),
        ];
        for (input, expected) in cases {
            assert_eq!(single_value_as_array(input.clone()), expected, "{input}");
        }
    }
}
