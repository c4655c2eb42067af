//! Splits filter and path text into tokens: brackets, quoted JSON strings and bare words.

/// What a token is; words are attribute paths, keywords, operators, numbers and literals.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind<'a> {
    OpenParen,
    CloseParen,
    OpenBracket,
    CloseBracket,
    Word(&'a str),
    Text(String),
}

/// A token and the byte range of its source text.
#[derive(Debug, Clone)]
pub(super) struct Token<'a> {
    pub kind: Kind<'a>,
    pub start: usize,
    pub end: usize,
}

/// A string literal that cannot be read, at the byte offset of its opening quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LexError {
    Unterminated(usize),
    Malformed(usize),
}

fn ends_word(c: char) -> bool {
    c.is_ascii_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"')
}

/// Tokenizes `input`; whitespace (spaces, tabs, line breaks) only separates tokens.
pub(super) fn tokenize(input: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        let punctuation = match c {
            '(' => Some(Kind::OpenParen),
            ')' => Some(Kind::CloseParen),
            '[' => Some(Kind::OpenBracket),
            ']' => Some(Kind::CloseBracket),
            _ => None,
        };
        if c.is_ascii_whitespace() {
            chars.next();
        } else if let Some(kind) = punctuation {
            chars.next();
            tokens.push(Token { kind, start, end: start + 1 });
        } else if c == '"' {
            let end = string_end(input, start)?;
            let text = serde_json::from_str::<String>(&input[start..end]).map_err(|_| LexError::Malformed(start))?;
            tokens.push(Token { kind: Kind::Text(text), start, end });
            while chars.next_if(|&(offset, _)| offset < end).is_some() {}
        } else {
            let mut end = input.len();
            while let Some(&(offset, next)) = chars.peek() {
                if ends_word(next) {
                    end = offset;
                    break;
                }
                chars.next();
            }
            tokens.push(Token { kind: Kind::Word(&input[start..end]), start, end });
        }
    }
    Ok(tokens)
}

/// The byte offset just past the closing quote of the string literal opening at `start`.
fn string_end(input: &str, start: usize) -> Result<usize, LexError> {
    let bytes = input.as_bytes();
    let mut index = start + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return Ok(index + 1),
            _ => index += 1,
        }
    }
    Err(LexError::Unterminated(start))
}
