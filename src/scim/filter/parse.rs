//! The filter and path parser: recursive descent whose recursion is bounded by
//! `MAX_NESTING_DEPTH`, with `and`/`or` runs read in loops, so no input can exhaust the stack.

use serde_json::Value;

use super::lex::{self, Kind, LexError, Token};
use super::{AttrPath, CompareOp, Filter, PatchPath, MAX_FILTER_LEN, MAX_NESTING_DEPTH};

type Parsed<T> = Result<T, String>;

const LONGEST_QUOTED_TOKEN: usize = 40;

/// Reads a whole filter expression.
pub(super) fn filter(input: &str) -> Parsed<Filter> {
    let mut parser = Parser::new(input, "filter")?;
    let filter = parser.or_expr()?;
    parser.expect_end("\"and\", \"or\" or end of filter")?;
    Ok(filter)
}

/// Reads one attribute path and nothing else.
pub(super) fn attr_path(input: &str) -> Parsed<AttrPath> {
    let mut parser = Parser::new(input, "attribute path")?;
    let path = parser.leading_attr_path()?;
    parser.expect_end("end of attribute path")?;
    Ok(path)
}

/// Reads a PATCH path: `attrPath` or `attrPath[valFilter]` optionally followed by `.subAttr`.
pub(super) fn patch_path(input: &str) -> Parsed<PatchPath> {
    let mut parser = Parser::new(input, "path")?;
    let attr = parser.leading_attr_path()?;
    let mut filter = None;
    let mut sub_attr = None;
    if parser.peek_kind() == Some(&Kind::OpenBracket) {
        filter = Some(parser.value_filter()?);
        if let Some((word, start)) = parser.peek_sub_attr() {
            parser.advance();
            sub_attr = Some(parser.sub_attr_name(word, start)?);
        }
    }
    parser.expect_end("end of path")?;
    Ok(PatchPath { attr, filter, sub_attr })
}

struct Parser<'a> {
    input: &'a str,
    noun: &'static str,
    tokens: Vec<Token<'a>>,
    next: usize,
    depth: usize,
    in_value_filter: bool,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, noun: &'static str) -> Parsed<Parser<'a>> {
        if input.len() > MAX_FILTER_LEN {
            return Err(format!("{noun} is {} bytes long; at most {MAX_FILTER_LEN} are allowed", input.len()));
        }
        let parser = Parser { input, noun, tokens: Vec::new(), next: 0, depth: 0, in_value_filter: false };
        let tokens = lex::tokenize(input).map_err(|error| match error {
            LexError::Unterminated(start) => {
                format!("unterminated string starting at position {}", parser.position(start))
            }
            LexError::Malformed(start) => format!(
                "invalid escape sequence or control character in the string starting at position {}",
                parser.position(start)
            ),
        })?;
        if tokens.is_empty() {
            return Err(format!("{noun} is empty"));
        }
        Ok(Parser { tokens, ..parser })
    }

    /// The 0-based character offset of a byte offset, as reported in error details.
    fn position(&self, byte_offset: usize) -> usize {
        self.input[..byte_offset].chars().count()
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.next)
    }

    fn peek_kind(&self) -> Option<&Kind<'a>> {
        self.peek().map(|token| &token.kind)
    }

    fn peek_word(&self) -> Option<(&'a str, usize)> {
        match self.peek() {
            Some(Token { kind: Kind::Word(word), start, .. }) => Some((word, *start)),
            _ => None,
        }
    }

    /// A `.subAttr` word directly after a closing `]`.
    fn peek_sub_attr(&self) -> Option<(&'a str, usize)> {
        self.peek_word().filter(|(word, _)| word.starts_with('.'))
    }

    fn advance(&mut self) {
        self.next += 1;
    }

    /// The position of the next token, or the end of the input.
    fn here(&self) -> usize {
        self.position(self.peek().map_or(self.input.len(), |token| token.start))
    }

    /// The next token quoted for an error detail, or "end of …".
    fn found(&self) -> String {
        match self.peek() {
            None => format!("end of {}", self.noun),
            Some(Token { kind: Kind::Text(_), start, end }) => shorten(&self.input[*start..*end]),
            Some(token) => quote(&self.input[token.start..token.end]),
        }
    }

    fn expect_end(&self, expected: &str) -> Parsed<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(format!("unexpected {} at position {}; expected {expected}", self.found(), self.here())),
        }
    }

    fn descend(&mut self, opened_at: usize) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING_DEPTH {
            return Err(format!(
                "{} nests deeper than {MAX_NESTING_DEPTH} levels at position {}",
                self.noun,
                self.position(opened_at)
            ));
        }
        Ok(())
    }

    fn ascend(&mut self) {
        self.depth -= 1;
    }

    /// Consumes the `)` or `]` closing the one opened at `opened_at`.
    fn close(&mut self, closer: Kind<'a>, opened_at: usize) -> Parsed<()> {
        let (open, close) = if closer == Kind::CloseParen { ("(", ")") } else { ("[", "]") };
        match self.peek_kind() {
            Some(kind) if *kind == closer => {
                self.advance();
                Ok(())
            }
            None => {
                Err(format!("missing \"{close}\" to close the \"{open}\" at position {}", self.position(opened_at)))
            }
            Some(_) => Err(format!(
                "unexpected {} at position {}; expected \"and\", \"or\" or \"{close}\"",
                self.found(),
                self.here()
            )),
        }
    }

    fn or_expr(&mut self) -> Parsed<Filter> {
        let mut left = self.and_expr()?;
        while self.peek_keyword("or") {
            self.advance();
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Parsed<Filter> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.advance();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.peek_word().is_some_and(|(word, _)| word.eq_ignore_ascii_case(keyword))
    }

    fn unary(&mut self) -> Parsed<Filter> {
        let Some(token) = self.peek() else {
            return Err(self.expected_operand());
        };
        let start = token.start;
        match token.kind {
            Kind::OpenParen => {
                self.advance();
                self.descend(start)?;
                let inner = self.or_expr()?;
                self.close(Kind::CloseParen, start)?;
                self.ascend();
                Ok(inner)
            }
            Kind::Word(word) if word.eq_ignore_ascii_case("not") && self.not_is_keyword() => {
                self.advance();
                self.descend(start)?;
                let inner = self.unary()?;
                self.ascend();
                Ok(Filter::Not(Box::new(inner)))
            }
            Kind::Word(_) => self.attr_expr(),
            _ => Err(self.expected_operand()),
        }
    }

    fn expected_operand(&self) -> String {
        format!("expected an attribute path, \"not\" or \"(\" at position {}, found {}", self.here(), self.found())
    }

    /// Whether the `not` at the cursor negates, rather than naming an attribute (`not pr`).
    fn not_is_keyword(&self) -> bool {
        match self.tokens.get(self.next + 1).map(|token| &token.kind) {
            Some(Kind::OpenBracket) => false,
            Some(Kind::Word(word)) => !word.eq_ignore_ascii_case("pr") && CompareOp::from_keyword(word).is_none(),
            _ => true,
        }
    }

    /// `attrPath op value`, `attrPath pr`, or a value path with an optional `.subAttr` condition.
    fn attr_expr(&mut self) -> Parsed<Filter> {
        let Some((word, start)) = self.peek_word() else {
            return Err(self.expected_operand());
        };
        self.advance();
        let path = self.attr_path(word, start)?;
        if self.peek_kind() != Some(&Kind::OpenBracket) {
            return self.condition(path, word);
        }
        let mut inner = self.value_filter()?;
        if let Some((sub_word, sub_start)) = self.peek_sub_attr() {
            self.advance();
            let name = self.sub_attr_name(sub_word, sub_start)?;
            let sub_path = AttrPath { urn: None, name, sub_attr: None };
            let condition = self.condition(sub_path, sub_word)?;
            inner = Filter::And(Box::new(inner), Box::new(condition));
        }
        Ok(Filter::ValuePath { path, inner: Box::new(inner) })
    }

    /// `[valFilter]`, with the cursor on the `[`.
    fn value_filter(&mut self) -> Parsed<Filter> {
        let opened_at = self.peek().map_or(self.input.len(), |token| token.start);
        if self.in_value_filter {
            return Err(format!(
                "a value filter cannot contain another value filter: unexpected \"[\" at position {}",
                self.position(opened_at)
            ));
        }
        self.advance();
        self.descend(opened_at)?;
        self.in_value_filter = true;
        let inner = self.or_expr()?;
        self.close(Kind::CloseBracket, opened_at)?;
        self.in_value_filter = false;
        self.ascend();
        Ok(inner)
    }

    /// The operator and value after an attribute path written as `path_text`.
    fn condition(&mut self, path: AttrPath, path_text: &str) -> Parsed<Filter> {
        let Some((word, start)) = self.peek_word() else {
            return Err(self.expected_operator(path_text));
        };
        if word.eq_ignore_ascii_case("pr") {
            self.advance();
            if self.peek_is_value() {
                return Err(format!("\"pr\" takes no value, found {} at position {}", self.found(), self.here()));
            }
            return Ok(Filter::Present(path));
        }
        if let Some(op) = CompareOp::from_keyword(word) {
            self.advance();
            let value = self.comparison_value(word)?;
            return Ok(Filter::Compare { path, op, value });
        }
        let is_keyword = ["and", "or", "not"].iter().any(|keyword| word.eq_ignore_ascii_case(keyword));
        if !is_keyword && word.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(format!(
                "unknown operator {} at position {}; expected one of eq, ne, co, sw, ew, gt, ge, lt, le, pr",
                quote(word),
                self.position(start)
            ));
        }
        Err(self.expected_operator(path_text))
    }

    fn expected_operator(&self, path_text: &str) -> String {
        format!(
            "expected a comparison operator after {} at position {}, found {}",
            quote(path_text),
            self.here(),
            self.found()
        )
    }

    fn peek_is_value(&self) -> bool {
        match self.peek_kind() {
            Some(Kind::Text(_)) => true,
            Some(Kind::Word(word)) => literal(word).is_some() || starts_number(word),
            _ => false,
        }
    }

    /// `compValue` (RFC 7644 §3.4.2.2): a JSON string, number, `true`, `false` or `null`.
    fn comparison_value(&mut self, operator: &str) -> Parsed<Value> {
        let value = match self.peek_kind() {
            Some(Kind::Text(text)) => Value::String(text.clone()),
            Some(Kind::Word(word)) => {
                if let Some(value) = literal(word) {
                    value
                } else if starts_number(word) {
                    serde_json::from_str::<serde_json::Number>(word)
                        .map(Value::Number)
                        .map_err(|_| format!("invalid number {} at position {}", quote(word), self.here()))?
                } else {
                    return Err(format!(
                        "invalid comparison value {} at position {}; strings must be in double quotes",
                        quote(word),
                        self.here()
                    ));
                }
            }
            _ => {
                return Err(format!(
                    "expected a comparison value after {} at position {}, found {}",
                    quote(operator),
                    self.here(),
                    self.found()
                ))
            }
        };
        self.advance();
        Ok(value)
    }

    /// The attribute path that must open an attribute-path or PATCH-path input.
    fn leading_attr_path(&mut self) -> Parsed<AttrPath> {
        let Some((word, start)) = self.peek_word() else {
            return Err(format!("expected an attribute path at position {}, found {}", self.here(), self.found()));
        };
        self.advance();
        self.attr_path(word, start)
    }

    /// Splits `[urn:]name[.subAttr]`; the URN is everything before the last ':'.
    fn attr_path(&self, word: &str, start: usize) -> Parsed<AttrPath> {
        let invalid = |reason: String| {
            format!("invalid attribute path {} at position {}: {reason}", quote(word), self.position(start))
        };
        let (urn, rest) = match word.rfind(':') {
            Some(colon) => (Some(&word[..colon]), &word[colon + 1..]),
            None => (None, word),
        };
        if let Some(urn) = urn {
            let is_urn = urn.len() > 4 && urn.get(..4).is_some_and(|scheme| scheme.eq_ignore_ascii_case("urn:"));
            if !is_urn {
                return Err(invalid(format!("the schema prefix {} is not a URN", quote(urn))));
            }
        }
        let mut names = rest.split('.');
        let name = names.next().unwrap_or_default();
        let sub_attr = names.next();
        if names.next().is_some() {
            return Err(invalid("only one level of sub-attribute is allowed".to_string()));
        }
        check_name(name).map_err(&invalid)?;
        if let Some(sub_attr) = sub_attr {
            check_name(sub_attr).map_err(&invalid)?;
        }
        Ok(AttrPath { urn: urn.map(str::to_string), name: name.to_string(), sub_attr: sub_attr.map(str::to_string) })
    }

    /// The name in a `.subAttr` word that follows a value filter's `]`.
    fn sub_attr_name(&self, word: &str, start: usize) -> Parsed<String> {
        let name = &word[1..];
        check_name(name).map_err(|reason| {
            format!("invalid sub-attribute {} at position {}: {reason}", quote(word), self.position(start))
        })?;
        Ok(name.to_string())
    }
}

/// `ATTRNAME = ALPHA *(nameChar)` (RFC 7644 §3.4.2.2), also allowing a leading `$` for `$ref`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("an attribute name is missing".to_string()),
        Some(first) if !(first.is_ascii_alphabetic() || first == '$') => {
            return Err(format!("attribute name {} must start with a letter", quote(name)))
        }
        Some(_) => {}
    }
    match chars.find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        Some(bad) => Err(format!("attribute name {} contains {}", quote(name), quote(&bad.to_string()))),
        None => Ok(()),
    }
}

fn literal(word: &str) -> Option<Value> {
    if word.eq_ignore_ascii_case("true") {
        Some(Value::Bool(true))
    } else if word.eq_ignore_ascii_case("false") {
        Some(Value::Bool(false))
    } else if word.eq_ignore_ascii_case("null") {
        Some(Value::Null)
    } else {
        None
    }
}

fn starts_number(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_digit() || c == '-')
}

/// `text` in double quotes, shortened so an error detail stays readable.
fn quote(text: &str) -> String {
    format!("\"{}\"", shorten(text))
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(LONGEST_QUOTED_TOKEN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
