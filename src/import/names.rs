//! Personal-name capitalisation (seed 001: "normalized with an initial capital letter").
//!
//! Each word part (split at spaces, hyphens, and an apostrophe after a one-letter prefix such as
//! the `O'` of `O'Neil`) is capitalised when it was typed in lower case or shouted in capitals;
//! a part that already starts with a capital and has inner capitals on purpose (`McDonald`,
//! `DeVries`) is kept. The function is idempotent, so a name the importer stored comes back
//! unchanged when the export is imported again.

/// Capitalises a personal name: `jANE o'neil` → `Jane O'Neil`, `mary-ann` → `Mary-Ann`.
pub fn capitalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut part = String::new();
    for c in name.chars() {
        let apostrophe_boundary = is_apostrophe(c) && part.chars().count() == 1;
        if c.is_whitespace() || c == '-' || apostrophe_boundary {
            flush_part(&mut part, &mut out);
            out.push(c);
        } else {
            part.push(c);
        }
    }
    flush_part(&mut part, &mut out);
    out
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}')
}

fn flush_part(part: &mut String, out: &mut String) {
    out.push_str(&capitalize_part(part));
    part.clear();
}

fn capitalize_part(part: &str) -> String {
    let Some(first) = part.chars().next() else {
        return String::new();
    };
    let letters = || part.chars().filter(|c| c.is_alphabetic());
    let shouted = letters().count() > 1 && letters().all(char::is_uppercase) && !is_roman_numeral(part);
    if !first.is_lowercase() && !shouted {
        return part.to_owned();
    }
    let mut chars = part.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.extend(chars.flat_map(char::to_lowercase));
    out
}

fn is_roman_numeral(part: &str) -> bool {
    part.len() <= 4 && part.chars().all(|c| matches!(c, 'I' | 'V' | 'X'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalises_names_as_people_expect() {
        let cases = [
            ("jANE", "Jane"),
            ("jANE o'neil", "Jane O'Neil"),
            ("mary-ann", "Mary-Ann"),
            ("MARY-ANN", "Mary-Ann"),
            ("o’brien", "O’Brien"),
            ("d'artagnan", "D'Artagnan"),
            ("McDonald", "McDonald"),
            ("DeVries", "DeVries"),
            ("van der berg", "Van Der Berg"),
            ("JOHN SMITH III", "John Smith III"),
            ("josé garcía", "José García"),
            ("ÉLODIE", "Élodie"),
            ("J", "J"),
            ("j", "J"),
            ("Don't", "Don't"),
            ("  jane  doe ", "  Jane  Doe "),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(capitalize_name(input), expected, "capitalize_name({input:?})");
        }
    }

    #[test]
    fn capitalisation_is_idempotent() {
        for name in ["jANE o'neil", "mary-ann", "McDonald", "JOHN III", "o’brien", "ÉLODIE"] {
            let once = capitalize_name(name);
            assert_eq!(capitalize_name(&once), once, "{name}");
        }
    }
}
