//! Table-driven tests of the filter parser, printer and matcher, led by RFC 7644 §3.4.2.2's examples.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::*;
use crate::scim::error::ScimType;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn attr(name: &str) -> AttrPath {
    AttrPath { urn: None, name: name.to_string(), sub_attr: None }
}

fn sub(name: &str, sub_attr: &str) -> AttrPath {
    AttrPath { sub_attr: Some(sub_attr.to_string()), ..attr(name) }
}

fn qualified(urn: &str, name: &str, sub_attr: Option<&str>) -> AttrPath {
    AttrPath { urn: Some(urn.to_string()), name: name.to_string(), sub_attr: sub_attr.map(str::to_string) }
}

fn cmp(path: AttrPath, op: CompareOp, value: Value) -> Filter {
    Filter::Compare { path, op, value }
}

fn pr(path: AttrPath) -> Filter {
    Filter::Present(path)
}

fn and(left: Filter, right: Filter) -> Filter {
    Filter::And(Box::new(left), Box::new(right))
}

fn or(left: Filter, right: Filter) -> Filter {
    Filter::Or(Box::new(left), Box::new(right))
}

fn not(inner: Filter) -> Filter {
    Filter::Not(Box::new(inner))
}

fn value_path(path: AttrPath, inner: Filter) -> Filter {
    Filter::ValuePath { path, inner: Box::new(inner) }
}

fn parse_ok(input: &str) -> Filter {
    parse_filter(input).unwrap_or_else(|error| panic!("{input:?} failed: {error}"))
}

fn assert_round_trips(filter: &Filter) {
    let printed = filter.to_string();
    let reparsed =
        parse_filter(&printed).unwrap_or_else(|error| panic!("canonical form {printed:?} failed to parse: {error}"));
    assert_eq!(&reparsed, filter, "round trip through {printed:?}");
}

fn rfc_examples() -> Vec<(&'static str, Filter)> {
    use CompareOp::*;
    vec![
        (
            r#"userName eq "bjensen""#,
            cmp(attr("userName"), Eq, json!("bjensen")),
        ),
        (
            r#"name.familyName co "O'Malley""#,
            cmp(sub("name", "familyName"), Co, json!("O'Malley")),
        ),
        (r#"userName sw "J""#, cmp(attr("userName"), Sw, json!("J"))),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            cmp(qualified(CORE_USER, "userName", None), Sw, json!("J")),
        ),
        ("title pr", pr(attr("title"))),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            cmp(sub("meta", "lastModified"), Gt, json!("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            cmp(sub("meta", "lastModified"), Ge, json!("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            cmp(sub("meta", "lastModified"), Lt, json!("2011-05-13T04:42:34Z")),
        ),
        (
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            cmp(sub("meta", "lastModified"), Le, json!("2011-05-13T04:42:34Z")),
        ),
        (
            r#"title pr and userType eq "Employee""#,
            and(
                pr(attr("title")),
                cmp(attr("userType"), Eq, json!("Employee")),
            ),
        ),
        (
            r#"title pr or userType eq "Intern""#,
            or(
                pr(attr("title")),
                cmp(attr("userType"), Eq, json!("Intern")),
            ),
        ),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            cmp(attr("schemas"), Eq, json!(ENTERPRISE)),
        ),
        (
            "userType eq \"Employee\" and (emails co \"example.com\" or\n  emails.value co \"example.org\")",
            and(
                cmp(attr("userType"), Eq, json!("Employee")),
                or(
                    cmp(attr("emails"), Co, json!("example.com")),
                    cmp(sub("emails", "value"), Co, json!("example.org")),
                ),
            ),
        ),
        (
            "userType ne \"Employee\" and not (emails co \"example.com\" or\n  emails.value co \"example.org\")",
            and(
                cmp(attr("userType"), Ne, json!("Employee")),
                not(or(
                    cmp(attr("emails"), Co, json!("example.com")),
                    cmp(sub("emails", "value"), Co, json!("example.org")),
                )),
            ),
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            and(
                cmp(attr("userType"), Eq, json!("Employee")),
                cmp(sub("emails", "type"), Eq, json!("work")),
            ),
        ),
        (
            "userType eq \"Employee\" and emails[type eq \"work\" and\n  value co \"@example.com\"]",
            and(
                cmp(attr("userType"), Eq, json!("Employee")),
                value_path(
                    attr("emails"),
                    and(
                        cmp(attr("type"), Eq, json!("work")),
                        cmp(attr("value"), Co, json!("@example.com")),
                    ),
                ),
            ),
        ),
        (
            "emails[type eq \"work\" and value co \"@example.com\"] or\n  ims[type eq \"xmpp\" and value co \"@foo.com\"]",
            or(
                value_path(
                    attr("emails"),
                    and(
                        cmp(attr("type"), Eq, json!("work")),
                        cmp(attr("value"), Co, json!("@example.com")),
                    ),
                ),
                value_path(
                    attr("ims"),
                    and(
                        cmp(attr("type"), Eq, json!("xmpp")),
                        cmp(attr("value"), Co, json!("@foo.com")),
                    ),
                ),
            ),
        ),
    ]
}

fn grammar_cases() -> Vec<(&'static str, Filter)> {
    use CompareOp::*;
    let a = || pr(attr("a"));
    let b = || pr(attr("b"));
    let c = || pr(attr("c"));
    let work = || cmp(attr("type"), Eq, json!("work"));
    vec![
        ("a pr or b pr and c pr", or(a(), and(b(), c()))),
        ("a pr and b pr or c pr", or(and(a(), b()), c())),
        ("a pr or b pr or c pr", or(or(a(), b()), c())),
        ("a pr and b pr and c pr", and(and(a(), b()), c())),
        ("a pr and (b pr or c pr)", and(a(), or(b(), c()))),
        ("a pr and (b pr and c pr)", and(a(), and(b(), c()))),
        ("not a pr and b pr", and(not(a()), b())),
        ("not (a pr) or not (b pr)", or(not(a()), not(b()))),
        ("not (a pr or b pr) and c pr", and(not(or(a(), b())), c())),
        ("not not a pr", not(not(a()))),
        ("A PR AND B PR OR NOT (C PR)", {
            let upper = |name: &str| pr(attr(name));
            or(and(upper("A"), upper("B")), not(upper("C")))
        }),
        ("a Pr aNd b pR", and(a(), b())),
        (
            r#"userName EQ "x" Or userName Eq "y""#,
            or(cmp(attr("userName"), Eq, json!("x")), cmp(attr("userName"), Eq, json!("y"))),
        ),
        (r#"x NE "v""#, cmp(attr("x"), Ne, json!("v"))),
        (r#"x CO "v""#, cmp(attr("x"), Co, json!("v"))),
        (r#"x sW "v""#, cmp(attr("x"), Sw, json!("v"))),
        (r#"x Ew "v""#, cmp(attr("x"), Ew, json!("v"))),
        ("x GT 1", cmp(attr("x"), Gt, json!(1))),
        ("x ge 1", cmp(attr("x"), Ge, json!(1))),
        ("x LT 1", cmp(attr("x"), Lt, json!(1))),
        ("x le 1", cmp(attr("x"), Le, json!(1))),
        (r#"x eq "a\"b\\c\u00e9\n""#, cmp(attr("x"), Eq, json!("a\"b\\c\u{e9}\n"))),
        (r#"x eq """#, cmp(attr("x"), Eq, json!(""))),
        (r#"x eq "é ü 日本""#, cmp(attr("x"), Eq, json!("é ü 日本"))),
        (r#"x eq "and or not ( ) [ ] pr""#, cmp(attr("x"), Eq, json!("and or not ( ) [ ] pr"))),
        ("x eq 42", cmp(attr("x"), Eq, json!(42))),
        ("x eq -7", cmp(attr("x"), Eq, json!(-7))),
        ("x eq 3.25", cmp(attr("x"), Eq, json!(3.25))),
        ("x eq 1e3", cmp(attr("x"), Eq, json!(1000.0))),
        ("x eq -2.5E-2", cmp(attr("x"), Eq, json!(-0.025))),
        ("x eq 18446744073709551615", cmp(attr("x"), Eq, json!(u64::MAX))),
        ("x eq true", cmp(attr("x"), Eq, json!(true))),
        ("x eq FALSE", cmp(attr("x"), Eq, json!(false))),
        ("x eq Null", cmp(attr("x"), Eq, Value::Null)),
        ("x eq TrUe", cmp(attr("x"), Eq, json!(true))),
        ("  userName \t eq\t\t\"bjensen\"   ", cmp(attr("userName"), Eq, json!("bjensen"))),
        ("(  a pr  )  and\t( b pr )", and(a(), b())),
        ("((a pr))", a()),
        ("a pr and(b pr)or(c pr)", or(and(a(), b()), c())),
        ("emails [ type eq \"work\" ]", value_path(attr("emails"), work())),
        ("emails\t[\ttype   eq \"work\"\t]   and  a pr", and(value_path(attr("emails"), work()), a())),
        (
            r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
            value_path(attr("members"), cmp(attr("value"), Eq, json!("2819c223-7f76-453a-919d-413861904646"))),
        ),
        (
            r#"emails[type eq "work"].value eq "a@b.com""#,
            value_path(attr("emails"), and(work(), cmp(attr("value"), Eq, json!("a@b.com")))),
        ),
        (
            r#"emails[type eq "work"] .value  EQ "a@b.com""#,
            value_path(attr("emails"), and(work(), cmp(attr("value"), Eq, json!("a@b.com")))),
        ),
        (r#"emails[type eq "work"].value pr"#, value_path(attr("emails"), and(work(), pr(attr("value"))))),
        (
            r#"emails[type eq "work" or type eq "home"].value co "@x""#,
            value_path(
                attr("emails"),
                and(or(work(), cmp(attr("type"), Eq, json!("home"))), cmp(attr("value"), Co, json!("@x"))),
            ),
        ),
        (
            r#"not (emails[type eq "work"]) and members[value eq "1"] or a pr"#,
            or(
                and(
                    not(value_path(attr("emails"), work())),
                    value_path(attr("members"), cmp(attr("value"), Eq, json!("1"))),
                ),
                a(),
            ),
        ),
        (
            r#"emails[not (type eq "work") and (value sw "a" or value sw "b")]"#,
            value_path(
                attr("emails"),
                and(not(work()), or(cmp(attr("value"), Sw, json!("a")), cmp(attr("value"), Sw, json!("b")))),
            ),
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
            cmp(qualified(ENTERPRISE, "manager", Some("value")), Eq, json!("26118915")),
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            cmp(qualified(ENTERPRISE, "employeeNumber", None), Eq, json!("701984")),
        ),
        (
            "URN:IETF:params:scim:schemas:core:2.0:User:Name.GivenName pr",
            pr(qualified("URN:IETF:params:scim:schemas:core:2.0:User", "Name", Some("GivenName"))),
        ),
        ("members.$ref pr", pr(sub("members", "$ref"))),
        ("x-y_z9 pr", pr(attr("x-y_z9"))),
        ("not pr", pr(attr("not"))),
        (r#"not eq "x""#, cmp(attr("not"), Eq, json!("x"))),
        ("and pr and or pr", and(pr(attr("and")), pr(attr("or")))),
        ("pr pr", pr(attr("pr"))),
    ]
}

#[test]
fn parses_the_rfc_7644_examples() {
    for (input, expected) in rfc_examples() {
        assert_eq!(parse_ok(input), expected, "{input}");
    }
}

#[test]
fn parses_precedence_keywords_values_and_paths() {
    for (input, expected) in grammar_cases() {
        assert_eq!(parse_ok(input), expected, "{input}");
    }
}

#[test]
fn canonical_form_parses_back_to_the_same_filter() {
    for (input, _) in rfc_examples().into_iter().chain(grammar_cases()) {
        assert_round_trips(&parse_ok(input));
    }
}

#[test]
fn prints_the_canonical_form() {
    let cases = [
        (r#"userName  EQ   "bjensen""#, r#"userName eq "bjensen""#),
        ("a pr or b pr and c pr", "a pr or b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("((a pr and b pr)) or c pr", "a pr and b pr or c pr"),
        ("NOT a pr", "not (a pr)"),
        ("not (a pr or b pr)", "not (a pr or b pr)"),
        (r#"emails[type eq "work"].value eq "a@b.com""#, r#"emails[type eq "work" and value eq "a@b.com"]"#),
        (
            r#"emails[type eq "work" or type eq "home"].value pr"#,
            r#"emails[(type eq "work" or type eq "home") and value pr]"#,
        ),
        (r#"x eq "a\"b\\c\u00e9""#, r#"x eq "a\"b\\cé""#),
        ("x eq 1E3", "x eq 1000.0"),
        ("x Eq NULL", "x eq null"),
        ("x ne False", "x ne false"),
        ("not pr", "not pr"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
        ),
    ];
    for (input, canonical) in cases {
        assert_eq!(parse_ok(input).to_string(), canonical, "{input}");
    }
}

#[test]
fn round_trips_filters_built_by_hand() {
    let deep_right = and(pr(attr("a")), and(pr(attr("b")), or(pr(attr("c")), not(pr(attr("d"))))));
    let or_in_and = and(or(pr(attr("a")), pr(attr("b"))), or(pr(attr("c")), pr(attr("d"))));
    let or_right = or(pr(attr("a")), or(pr(attr("b")), and(pr(attr("c")), pr(attr("d")))));
    let in_brackets = value_path(
        qualified(ENTERPRISE, "manager", None),
        or(cmp(attr("value"), CompareOp::Eq, json!("x")), cmp(attr("displayName"), CompareOp::Sw, json!("\"q\""))),
    );
    for filter in [deep_right, or_in_and, or_right, in_brackets] {
        assert_round_trips(&filter);
    }
}

#[test]
fn rejects_malformed_filters_with_a_located_detail() {
    let cases: &[(&str, &str)] = &[
        ("", "filter is empty"),
        ("  \t\n ", "filter is empty"),
        (r#"userName "bjensen""#, r#"expected a comparison operator after "userName" at position 9"#),
        ("userName", r#"expected a comparison operator after "userName" at position 8, found end of filter"#),
        ("userName and title pr", r#"expected a comparison operator after "userName" at position 9, found "and""#),
        (r#"userName eq "bjensen"#, "unterminated string starting at position 12"),
        (r#"userName eq "bjensen\"#, "unterminated string starting at position 12"),
        (r#"userName eqq "bjensen""#, r#"unknown operator "eqq" at position 9"#),
        (r#"userName equals "x""#, r#"unknown operator "equals""#),
        (r#"title pr "x""#, r#""pr" takes no value, found "x" at position 9"#),
        ("title pr true", r#""pr" takes no value"#),
        ("title pr 5", r#""pr" takes no value"#),
        ("userName eq", r#"expected a comparison value after "eq" at position 11, found end of filter"#),
        ("userName eq ]", r#"expected a comparison value after "eq" at position 12, found "]""#),
        (
            "userName eq bjensen",
            r#"invalid comparison value "bjensen" at position 12; strings must be in double quotes"#,
        ),
        ("x eq 01", r#"invalid number "01" at position 5"#),
        ("x eq -", r#"invalid number "-""#),
        ("x eq 1.", r#"invalid number "1.""#),
        ("x eq 1e999", r#"invalid number "1e999""#),
        (r#"userName eq "a\qb""#, "invalid escape sequence or control character in the string starting at position 12"),
        ("userName eq \"a\u{1}b\"", "invalid escape sequence or control character in the string"),
        (r#"x eq "\u12""#, "invalid escape sequence"),
        (r#"(userName eq "x""#, r#"missing ")" to close the "(" at position 0"#),
        (r#"a pr and ((b pr) or c pr"#, r#"missing ")" to close the "(" at position 9"#),
        (r#"userName eq "x")"#, r#"unexpected ")" at position 15; expected "and", "or" or end of filter"#),
        (r#"emails[type eq "work""#, r#"missing "]" to close the "[" at position 6"#),
        (r#"emails[type eq "work")"#, r#"unexpected ")" at position 21; expected "and", "or" or "]""#),
        (r#"(a pr]"#, r#"unexpected "]" at position 5; expected "and", "or" or ")""#),
        ("()", r#"expected an attribute path, "not" or "(" at position 1, found ")""#),
        ("title pr and", r#"expected an attribute path, "not" or "(" at position 12, found end of filter"#),
        ("not", r#"expected an attribute path, "not" or "(" at position 3, found end of filter"#),
        (r#"x eq "1" "2""#, r#"unexpected "2" at position 9; expected "and", "or" or end of filter"#),
        ("title pr userName pr", r#"unexpected "userName" at position 9"#),
        (
            r#"emails[type[value eq "x"]]"#,
            r#"a value filter cannot contain another value filter: unexpected "[" at position 11"#,
        ),
        ("1abc pr", r#"invalid attribute path "1abc" at position 0: attribute name "1abc" must start with a letter"#),
        (
            "a pr and name.familyName.x pr",
            r#"invalid attribute path "name.familyName.x" at position 9: only one level of sub-attribute is allowed"#,
        ),
        ("name. pr", "an attribute name is missing"),
        (".value pr", "an attribute name is missing"),
        ("foo:userName pr", r#"the schema prefix "foo" is not a URN"#),
        ("urn:ietf:params:scim:schemas:core:2.0:User: pr", "an attribute name is missing"),
        ("user!name eq \"x\"", r#"attribute name "user!name" contains "!""#),
        ("usér pr", r#"attribute name "usér" contains "é""#),
        (r#"emails[type eq "work"].1x eq "a""#, r#"invalid sub-attribute ".1x" at position 22"#),
        (
            r#"emails[type eq "work"].value"#,
            r#"expected a comparison operator after ".value" at position 28, found end of filter"#,
        ),
        (r#"emails[type eq "work"].value.x eq "y""#, r#"invalid sub-attribute ".value.x""#),
        (r#"displayName eq "é" or x "y""#, r#"expected a comparison operator after "x" at position 24"#),
    ];
    for (input, fragment) in cases {
        let error = parse_filter(input).expect_err(input);
        assert_eq!(error.status, 400, "{input}");
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter), "{input}");
        assert!(error.detail.contains(fragment), "{input:?}: detail {:?} lacks {fragment:?}", error.detail);
    }
}

/// Runs `check` on a thread with a small stack, so unbounded recursion would crash the test.
fn on_small_stack(check: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(check)
        .expect("spawn")
        .join()
        .expect("check panicked or overflowed its stack");
}

fn assert_invalid_filter(input: &str, fragment: &str) {
    let error = parse_filter(input).expect_err("limit not enforced");
    assert_eq!(error.scim_type, Some(ScimType::InvalidFilter));
    assert!(error.detail.contains(fragment), "detail {:?} lacks {fragment:?}", error.detail);
}

#[test]
fn survives_100000_open_parentheses_and_a_megabyte_of_input() {
    on_small_stack(|| {
        assert_invalid_filter(&"(".repeat(100_000), "filter is 100000 bytes long; at most 4096 are allowed");
        let megabyte = format!("userName eq \"{}\"", "a".repeat(1 << 20));
        assert_invalid_filter(&megabyte, "bytes long; at most 4096 are allowed");
        let error = parse_patch_path(&megabyte).expect_err("patch path limit");
        assert_eq!(error.scim_type, Some(ScimType::InvalidPath));
        let error = parse_attr_path(&"a".repeat(1 << 20)).expect_err("attr path limit");
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter));
    });
}

#[test]
fn limits_length_to_4096_bytes() {
    let prefix = "userName eq \"";
    let fits = format!("{prefix}{}\"", "a".repeat(MAX_FILTER_LEN - prefix.len() - 1));
    assert_eq!(fits.len(), MAX_FILTER_LEN);
    assert!(parse_filter(&fits).is_ok());
    let too_long = format!("{prefix}{}\"", "a".repeat(MAX_FILTER_LEN - prefix.len()));
    assert_invalid_filter(&too_long, "filter is 4097 bytes long");
}

#[test]
fn limits_nesting_to_32_levels() {
    let parens = |depth: usize| format!("{}a pr{}", "(".repeat(depth), ")".repeat(depth));
    let nots = |depth: usize| format!("{}a pr", "not ".repeat(depth));
    let brackets = |parens: usize| format!("emails[{}value pr{}]", "(".repeat(parens), ")".repeat(parens));
    let mixed = |depth: usize| format!("{}a pr{}", "not (".repeat(depth), ")".repeat(depth));
    for (fits, too_deep) in
        [(parens(32), parens(33)), (nots(32), nots(33)), (brackets(31), brackets(32)), (mixed(16), mixed(17))]
    {
        assert!(parse_filter(&fits).is_ok(), "{fits}");
        assert_invalid_filter(&too_deep, "filter nests deeper than 32 levels at position");
    }
    assert_invalid_filter(&parens(33), "filter nests deeper than 32 levels at position 32");
    on_small_stack(|| {
        assert_invalid_filter(&"(".repeat(4000), "nests deeper than 32 levels");
        assert_invalid_filter(&"not ".repeat(1000), "nests deeper than 32 levels");
        assert_invalid_filter(&"not (".repeat(800), "nests deeper than 32 levels");
    });
}

#[test]
fn handles_the_longest_and_chain_on_a_small_stack() {
    on_small_stack(|| {
        let operands = (MAX_FILTER_LEN + 4) / "a pr and ".len();
        let input = vec!["a pr"; operands].join(" and ");
        assert!(input.len() <= MAX_FILTER_LEN);
        let filter = parse_ok(&input);
        assert_eq!(filter.to_string(), input);
        assert!(matches(&filter, &json!({"a": 1}), &|_| false));
        assert!(!matches(&filter, &json!({"b": 1}), &|_| false));
        let either = parse_ok(&vec!["a pr"; operands].join(" or "));
        assert!(!matches(&either, &json!({}), &|_| false));
    });
}

#[test]
fn parses_attribute_paths() {
    let cases = [
        ("userName", attr("userName")),
        ("name.givenName", sub("name", "givenName")),
        ("  meta.lastModified\t", sub("meta", "lastModified")),
        ("members.$ref", sub("members", "$ref")),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", qualified(CORE_USER, "name", Some("givenName"))),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            qualified(ENTERPRISE, "manager", Some("value")),
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            qualified(ENTERPRISE, "employeeNumber", None),
        ),
    ];
    for (input, expected) in cases {
        let path = parse_attr_path(input).unwrap_or_else(|error| panic!("{input}: {error}"));
        assert_eq!(path, expected, "{input}");
        assert_eq!(parse_attr_path(&path.to_string()), Ok(path), "{input}");
    }
}

#[test]
fn rejects_malformed_attribute_paths() {
    let cases = [
        ("", "attribute path is empty"),
        (r#"userName eq "x""#, r#"unexpected "eq" at position 9; expected end of attribute path"#),
        (r#"emails[type eq "x"]"#, r#"unexpected "[" at position 6"#),
        ("a.b.c", "only one level of sub-attribute is allowed"),
        ("9lives", r#"attribute name "9lives" must start with a letter"#),
        ("(userName)", r#"expected an attribute path at position 0, found "(""#),
    ];
    for (input, fragment) in cases {
        let error = parse_attr_path(input).expect_err(input);
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter), "{input}");
        assert!(error.detail.contains(fragment), "{input:?}: detail {:?} lacks {fragment:?}", error.detail);
    }
}

#[test]
fn parses_patch_paths() {
    let work = || cmp(attr("type"), CompareOp::Eq, json!("work"));
    let cases = [
        (
            r#"members[value eq "2819c223"]"#,
            PatchPath {
                attr: attr("members"),
                filter: Some(cmp(attr("value"), CompareOp::Eq, json!("2819c223"))),
                sub_attr: None,
            },
        ),
        (
            r#"emails[type eq "work"].value"#,
            PatchPath { attr: attr("emails"), filter: Some(work()), sub_attr: Some("value".to_string()) },
        ),
        ("name.familyName", PatchPath { attr: sub("name", "familyName"), filter: None, sub_attr: None }),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            PatchPath { attr: qualified(ENTERPRISE, "manager", None), filter: None, sub_attr: None },
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            PatchPath { attr: qualified(ENTERPRISE, "manager", Some("value")), filter: None, sub_attr: None },
        ),
        (
            r#"addresses[type eq "work"].streetAddress"#,
            PatchPath { attr: attr("addresses"), filter: Some(work()), sub_attr: Some("streetAddress".to_string()) },
        ),
        (
            r#"  emails [ type EQ "work" ]  .value "#,
            PatchPath { attr: attr("emails"), filter: Some(work()), sub_attr: Some("value".to_string()) },
        ),
        (
            r#"members[value eq "a" or value eq "b"]"#,
            PatchPath {
                attr: attr("members"),
                filter: Some(or(
                    cmp(attr("value"), CompareOp::Eq, json!("a")),
                    cmp(attr("value"), CompareOp::Eq, json!("b")),
                )),
                sub_attr: None,
            },
        ),
        ("userName", PatchPath { attr: attr("userName"), filter: None, sub_attr: None }),
    ];
    for (input, expected) in cases {
        let path = parse_patch_path(input).unwrap_or_else(|error| panic!("{input}: {error}"));
        assert_eq!(path, expected, "{input}");
        assert_eq!(parse_patch_path(&path.to_string()), Ok(path), "{input}");
    }
}

#[test]
fn rejects_malformed_patch_paths_as_invalid_path() {
    let cases = [
        ("", "path is empty"),
        (r#"emails[type eq "work""#, r#"missing "]" to close the "[" at position 6"#),
        (r#"emails eq "x""#, r#"unexpected "eq" at position 7; expected end of path"#),
        (r#"emails[type eq "work"] extra"#, r#"unexpected "extra" at position 23; expected end of path"#),
        (r#"emails[type eq "work"].value.display"#, r#"invalid sub-attribute ".value.display" at position 22"#),
        (r#"[type eq "work"]"#, r#"expected an attribute path at position 0, found "[""#),
        (r#"emails[type[value eq "x"]]"#, "a value filter cannot contain another value filter"),
        (r#"emails[type eq work]"#, "strings must be in double quotes"),
        (r#"emails[]"#, r#"expected an attribute path, "not" or "(" at position 7"#),
        ("a.b.c", "only one level of sub-attribute is allowed"),
    ];
    for (input, fragment) in cases {
        let error = parse_patch_path(input).expect_err(input);
        assert_eq!(error.status, 400, "{input}");
        assert_eq!(error.scim_type, Some(ScimType::InvalidPath), "{input}");
        assert!(error.detail.contains(fragment), "{input:?}: detail {:?} lacks {fragment:?}", error.detail);
    }
    let too_deep = format!("emails[{}value pr{}]", "(".repeat(32), ")".repeat(32));
    let error = parse_patch_path(&too_deep).expect_err("depth");
    assert_eq!(error.scim_type, Some(ScimType::InvalidPath));
    assert!(error.detail.contains("path nests deeper than 32 levels"));
}

fn bjensen() -> Value {
    json!({
        "schemas": [CORE_USER, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "701984",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III",
            "familyName": "Jensen",
            "givenName": "Barbara"
        },
        "displayName": "Babs Jensen",
        "nickName": "",
        "title": "Tour Guide",
        "userType": "Employee",
        "locale": null,
        "active": true,
        "loginCount": 42,
        "score": 3.5,
        "code": "abc",
        "tags": [],
        "profile": {},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "meta": {
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z"
        },
        ENTERPRISE: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
        }
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Tour Guides",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
            {"value": "abc", "display": "Bob"}
        ]
    })
}

/// `id`, `externalId`, `code` and `members.value` are caseExact, as a schema would say.
fn schema_case_exact(path: &AttrPath) -> bool {
    let is = |name: &str| path.name.eq_ignore_ascii_case(name);
    let sub_is = |name: &str| path.sub_attr.as_deref().is_some_and(|sub_attr| sub_attr.eq_ignore_ascii_case(name));
    path.sub_attr.is_none() && (is("id") || is("externalId") || is("code")) || is("members") && sub_is("value")
}

#[test]
fn matches_the_rfc_examples_against_a_user() {
    let user = bjensen();
    let expected =
        [false, false, false, false, true, false, true, false, true, true, true, true, true, false, true, true, true];
    let examples = rfc_examples();
    assert_eq!(examples.len(), expected.len());
    for ((input, filter), expected) in examples.into_iter().zip(expected) {
        assert_eq!(matches(&filter, &user, &schema_case_exact), expected, "{input}");
    }
}

#[test]
fn matches_resources_by_the_rfc_rules() {
    let user = bjensen();
    let group = group();
    let cases: &[(&Value, &str, bool)] = &[
        (&user, r#"userName eq "bjensen@example.com""#, true),
        (&user, r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#, true),
        (&user, r#"userName ne "BJENSEN@EXAMPLE.COM""#, false),
        (&user, r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
        (&user, r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
        (&user, r#"name.familyName co "ENS""#, true),
        (&user, r#"NAME.FAMILYNAME sw "jen""#, true),
        (&user, r#"userName ew "@EXAMPLE.com""#, true),
        (&user, r#"userName sw "jensen""#, false),
        (&user, r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#, true),
        (&user, r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName pr"#, false),
        (&group, r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName pr"#, true),
        (&user, "title pr", true),
        (&user, "nickName pr", false),
        (&user, "tags pr", false),
        (&user, "profile pr", false),
        (&user, "locale pr", false),
        (&user, "missing pr", false),
        (&user, "emails pr", true),
        (&user, "name pr", true),
        (&user, "active pr", true),
        (&user, r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
        (&user, r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
        (&user, r#"meta.lastModified lt "2011-05-13T05:00:00+00:00""#, true),
        (&user, r#"meta.lastModified gt "2011-05-13T00:00:00-05:00""#, false),
        (&user, r#"meta.created lt "2010-01-23T04:56:22.5Z""#, true),
        (&user, r#"meta.created ge "2010-01-23T04:56:22.000Z""#, true),
        (&user, r#"meta.created gt "2009""#, true),
        (&user, r#"displayName gt "BABS""#, true),
        (&user, r#"displayName lt "c""#, true),
        (&user, r#"code gt "ABC""#, true),
        (&user, r#"code eq "ABC""#, false),
        (&user, r#"code co "b""#, true),
        (&user, r#"emails[type eq "work" and value co "@jensen.org"]"#, false),
        (&user, r#"emails.type eq "work" and emails.value co "@jensen.org""#, true),
        (&user, r#"emails[type eq "home" and value co "@JENSEN.org"]"#, true),
        (&user, r#"ims[type eq "xmpp"]"#, false),
        (&user, r#"emails[type eq "work"].value eq "bjensen@example.com""#, true),
        (&user, r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
        (&user, r#"emails[type eq "work"].value pr"#, true),
        (&user, r#"emails[type eq "home"].primary pr"#, false),
        (&user, r#"emails eq "babs@jensen.org""#, true),
        (&user, r#"emails ne "babs@jensen.org""#, true),
        (&user, r#"ims ne "someaimhandle""#, false),
        (&user, "emails.primary eq true", true),
        (&user, "emails.primary eq false", false),
        (&user, "emails.primary gt false", false),
        (&user, "active eq TRUE", true),
        (&user, "active ne false", true),
        (&user, r#"active eq "true""#, false),
        (&user, "active co true", false),
        (&user, "loginCount gt 41", true),
        (&user, "loginCount ge 42.0", true),
        (&user, "loginCount lt 4.2e1", false),
        (&user, "loginCount eq 42", true),
        (&user, r#"loginCount eq "42""#, false),
        (&user, r#"loginCount co "4""#, false),
        (&user, "score lt 4", true),
        (&user, "score gt -1", true),
        (&user, "score le 3.5", true),
        (&user, r#"missing ne "x""#, true),
        (&user, r#"missing eq "x""#, false),
        (&user, r#"missing gt "x""#, false),
        (&user, r#"locale ne "x""#, true),
        (&user, "title eq null", false),
        (&user, "title ne null", true),
        (&user, "missing eq null", true),
        (&user, "locale eq null", true),
        (&user, "title gt null", false),
        (&user, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, true),
        (&user, r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#, true),
        (
            &user,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (
            &user,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
            true,
        ),
        (&user, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName sw "john"]"#, true),
        (&user, r#"employeeNumber eq "701984""#, false),
        (&user, r#"urn:example:custom:2.0:User:employeeNumber eq "701984""#, false),
        (&user, r#"not (userName eq "x")"#, true),
        (&user, "not (title pr)", false),
        (&user, r#"not title pr or userType eq "Employee""#, true),
        (&user, r#"schemas[value sw "urn:ietf:params:scim:schemas:extension"]"#, true),
        (&user, r#"schemas co "ENTERPRISE""#, true),
        (&group, r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#, true),
        (&group, r#"members[value eq "ABC"]"#, false),
        (&group, r#"members[display eq "BOB"]"#, true),
        (&group, r#"members eq "ABC""#, false),
        (&group, r#"members.display eq "babs jensen""#, true),
    ];
    for (object, input, expected) in cases {
        let filter = parse_ok(input);
        assert_eq!(matches(&filter, object, &schema_case_exact), *expected, "{input}");
    }
}

#[test]
fn asks_case_exact_about_the_full_attribute_path() {
    let cases = [
        (r#"userName eq "x""#, vec!["userName"]),
        (r#"emails eq "x""#, vec!["emails.value"]),
        (r#"emails[value eq "x"]"#, vec!["emails.value"]),
        (r#"emails[type eq "work"].value co "x""#, vec!["emails.type", "emails.value"]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "x""#,
            vec!["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"],
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[displayName ew "x"]"#,
            vec!["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"],
        ),
        (r#"name.givenName sw "x""#, vec!["name.givenName"]),
        ("title pr", vec![]),
    ];
    let user = bjensen();
    for (input, expected) in cases {
        let asked = RefCell::new(BTreeSet::new());
        let record = |path: &AttrPath| {
            asked.borrow_mut().insert(path.to_string());
            false
        };
        matches(&parse_ok(input), &user, &record);
        let expected: BTreeSet<String> = expected.into_iter().map(str::to_string).collect();
        assert_eq!(asked.into_inner(), expected, "{input}");
    }
}

/// A deterministic xorshift generator, so the property test below is reproducible.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

fn random_path(random: &mut Xorshift) -> AttrPath {
    let names = ["userName", "emails", "value", "type", "not", "pr", "and", "$ref"];
    let urns = [CORE_USER, ENTERPRISE, "urn:x:y"];
    AttrPath {
        urn: (random.below(4) == 0).then(|| urns[random.below(urns.len())].to_string()),
        name: names[random.below(names.len())].to_string(),
        sub_attr: (random.below(3) == 0).then(|| names[random.below(names.len())].to_string()),
    }
}

fn random_filter(random: &mut Xorshift, depth: usize, in_brackets: bool) -> Filter {
    let ops = [
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
    let values =
        [json!("bjensen"), json!("a \"quoted\" \\ é\n"), json!(""), json!(42), json!(-2.5), json!(true), Value::Null];
    let choice = if depth == 0 { random.below(2) } else { random.below(6) };
    match choice {
        0 => cmp(random_path(random), ops[random.below(ops.len())], values[random.below(values.len())].clone()),
        1 => pr(random_path(random)),
        2 => and(random_filter(random, depth - 1, in_brackets), random_filter(random, depth - 1, in_brackets)),
        3 => or(random_filter(random, depth - 1, in_brackets), random_filter(random, depth - 1, in_brackets)),
        4 => not(random_filter(random, depth - 1, in_brackets)),
        _ if in_brackets => pr(random_path(random)),
        _ => value_path(random_path(random), random_filter(random, depth - 1, true)),
    }
}

#[test]
fn never_panics_and_round_trips_whatever_it_accepts() {
    let fragments = [
        "a", "[", "]", "(", ")", " ", "\"", "\\", "\"v\"", "eq", "pr", "and", "or", "not", ".", ".value", ":",
        "urn:x:", "é", "日", "1", "-", "true", "null", "\u{1}",
    ];
    let user = bjensen();
    let mut random = Xorshift(0x5EED_CAFE_F00D_D00D);
    let mut accepted_mutants = 0;
    for _ in 0..5_000 {
        let filter = random_filter(&mut random, 4, false);
        assert_round_trips(&filter);
        matches(&filter, &user, &schema_case_exact);
        let mut mutant: Vec<char> = filter.to_string().chars().collect();
        let at = random.below(mutant.len() + 1);
        if random.below(2) == 0 && at < mutant.len() {
            mutant.remove(at);
        } else {
            let fragment = fragments[random.below(fragments.len())];
            mutant.splice(at..at, fragment.chars());
        }
        let mutant: String = mutant.into_iter().collect();
        if let Ok(parsed) = parse_filter(&mutant) {
            accepted_mutants += 1;
            assert_round_trips(&parsed);
            matches(&parsed, &user, &schema_case_exact);
        }
        if let Ok(path) = parse_patch_path(&mutant) {
            assert_eq!(parse_patch_path(&path.to_string()), Ok(path), "{mutant:?}");
        }
        if let Ok(path) = parse_attr_path(&mutant) {
            assert_eq!(parse_attr_path(&path.to_string()), Ok(path), "{mutant:?}");
        }
    }
    assert!(accepted_mutants > 500, "only {accepted_mutants} mutants parsed");
}
