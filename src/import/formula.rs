//! Formula-injection neutralisation of the cells Roster writes, and its exact inverse on import.
//!
//! A spreadsheet treats a cell starting with `=`, `+`, `-` or `@` (and, in some, tab or carriage
//! return) as a formula, so a display name such as `=HYPERLINK(...)` exported verbatim would run
//! when an admin opens the file (OWASP "CSV injection"). Every cell Roster writes goes through
//! [`neutralise`], which prefixes a single quote; spreadsheets show and save such a cell as text.
//!
//! The import side applies [`restore`] to every cell it reads, so that export, edit, re-import is a
//! round trip that changes nothing: a stored `+44 20 7946 0000` is exported as
//! `'+44 20 7946 0000` and imported back as `+44 20 7946 0000`. To make the pair a bijection,
//! a value that itself starts with quotes followed by a trigger (`'=x`) gets one more quote on
//! export (`''=x`) and loses exactly one on import. A quote in front of anything else is data and
//! is never touched.

use std::borrow::Cow;

/// The first characters that make a spreadsheet evaluate a cell.
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn quoted_trigger(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS)
}

/// Makes a cell safe to open in a spreadsheet by prefixing a single quote when it could be read as
/// a formula (or when it already looks like a neutralised cell, so that [`restore`] is exact).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if quoted_trigger(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Removes exactly the quote that [`neutralise`] added: one leading `'` when what follows is a
/// formula trigger, possibly after further quotes. Every other cell is returned unchanged.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if quoted_trigger(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralise_prefixes_exactly_the_cells_that_start_with_a_trigger() {
        let cases = [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+44 20 7946 0000", "'+44 20 7946 0000"),
            ("-5", "'-5"),
            ("@handle", "'@handle"),
            ("\tindent", "'\tindent"),
            ("\rcr", "'\rcr"),
            ("'=already", "''=already"),
            ("''+two", "'''+two"),
            ("Jane Doe", "Jane Doe"),
            ("O'Neil", "O'Neil"),
            ("'quoted", "'quoted"),
            ("a=b", "a=b"),
            (" =space first", " =space first"),
            ("", ""),
            ("'", "'"),
        ];
        for (input, expected) in cases {
            assert_eq!(neutralise(input), expected, "neutralise({input:?})");
        }
    }

    #[test]
    fn restore_removes_only_the_neutralising_quote() {
        let cases = [
            ("'=SUM(A1:A9)", "=SUM(A1:A9)"),
            ("'+44", "+44"),
            ("''=already", "'=already"),
            ("'quoted", "'quoted"),
            ("O'Neil", "O'Neil"),
            ("=raw", "=raw"),
            ("'", "'"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(restore(input), expected, "restore({input:?})");
        }
    }

    #[test]
    fn restore_undoes_neutralise_for_every_kind_of_value() {
        let values = [
            "=1+1",
            "+1",
            "-",
            "@",
            "\t",
            "\r\n",
            "'",
            "''",
            "'=",
            "''=x",
            "'''-y",
            "plain",
            "'plain",
            "",
            "ünïcödé",
            "Doe, John",
            "\"quoted\"",
        ];
        for value in values {
            assert_eq!(restore(&neutralise(value)), value, "round trip of {value:?}");
        }
    }
}
