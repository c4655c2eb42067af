//! Uploaded bytes to UTF-8 text, streaming: BOM, UTF-8 validation, legacy encodings, delimiter.
//!
//! Excel saves "CSV (Comma delimited)" in the machine's ANSI code page, which in the western
//! world is Windows-1252, and saves "CSV UTF-8" with a byte order mark. The [`Decoder`] accepts
//! UTF-8 with or without BOM. Bytes that are not UTF-8 are either reported (a [`Fault`]: the reader
//! turns it into an `encoding_error` naming the row) or, when the caller allows it, the file is
//! transcoded from Windows-1252. The choice is made at the first non-ASCII byte: a file whose first
//! non-ASCII sequence is valid UTF-8 is UTF-8 (later invalid bytes are a fault even when
//! transcoding, as the file mixes encodings), one whose first non-ASCII byte is not is
//! Windows-1252 (everything before it was ASCII, identical in both). UTF-16 is recognised by its
//! BOM (Excel's "Unicode Text") and handled like a legacy encoding.
//!
//! The decoder holds at most one input chunk and its decoded text, whatever the file size.

use std::io::{self, BufRead, Read};

use serde::{Deserialize, Serialize};

const CHUNK: usize = 64 * 1024;
const MAX_HEADER_PEEK: usize = 256 * 1024;

/// The encoding the file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceEncoding {
    /// UTF-8 without BOM (or plain ASCII).
    Utf8,
    /// UTF-8 with a byte order mark, as Excel's "CSV UTF-8" writes it.
    Utf8WithBom,
    /// Windows-1252 / Latin-1, transcoded.
    Windows1252,
    /// UTF-16 little-endian with BOM.
    Utf16Le,
    /// UTF-16 big-endian with BOM.
    Utf16Be,
}

/// The cell separator of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Delimiter {
    /// `,`: RFC 4180 and most tools.
    #[serde(rename = ",")]
    Comma,
    /// `;`: Excel in locales whose decimal separator is a comma.
    #[serde(rename = ";")]
    Semicolon,
    /// Tab: "Text (Tab delimited)" and copy-paste from spreadsheets.
    #[serde(rename = "\t")]
    Tab,
}

impl Delimiter {
    /// The delimiter byte.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Comma => b',',
            Self::Semicolon => b';',
            Self::Tab => b'\t',
        }
    }

    /// The delimiter for a character, if it is one Roster supports.
    pub fn from_char(c: char) -> Option<Self> {
        match c {
            ',' => Some(Self::Comma),
            ';' => Some(Self::Semicolon),
            '\t' => Some(Self::Tab),
            _ => None,
        }
    }

    /// How to name it in a message.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Comma => "\",\"",
            Self::Semicolon => "\";\"",
            Self::Tab => "tab",
        }
    }
}

/// Picks the delimiter of a file from its header line: the most frequent of `,` `;` and tab
/// outside quotes; ties and a header without any go to `,`.
pub fn detect_delimiter(header_line: &str) -> Delimiter {
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    for c in header_line.chars() {
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => counts[0] += 1,
            ';' if !in_quotes => counts[1] += 1,
            '\t' if !in_quotes => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [Delimiter::Comma, Delimiter::Semicolon, Delimiter::Tab];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    candidates[best]
}

/// What was wrong with the bytes at a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Bytes that are not UTF-8. `utf8_seen` tells whether valid non-ASCII UTF-8 came earlier
    /// (a file mixing encodings) or not (a legacy-encoded file).
    InvalidUtf8 {
        /// Valid non-ASCII UTF-8 appeared before the fault.
        utf8_seen: bool,
    },
    /// The file is UTF-16 and transcoding was not allowed.
    Utf16,
}

/// The first place where the input could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Offset in the decoded text where U+FFFD stands for the bad bytes.
    pub offset: u64,
    /// The offending bytes (at most 4).
    pub bytes: Vec<u8>,
    /// What kind of problem it is.
    pub kind: FaultKind,
}

enum Mode {
    Undecided,
    Utf8,
    Legacy(encoding_rs::Decoder),
    Finished,
}

/// A streaming decoder: reads any [`Read`], hands out UTF-8 text through [`BufRead`].
pub struct Decoder<R> {
    inner: R,
    raw: Box<[u8]>,
    raw_pos: usize,
    raw_len: usize,
    raw_eof: bool,
    out: String,
    out_pos: usize,
    out_base: u64,
    mode: Mode,
    started: bool,
    transcode_legacy: bool,
    encoding: SourceEncoding,
    fault: Option<Fault>,
}

impl<R: Read> Decoder<R> {
    /// Wraps `inner`; with `transcode_legacy`, non-UTF-8 files are read as Windows-1252 and UTF-16
    /// files (with BOM) are accepted, otherwise they produce a [`Fault`].
    pub fn new(inner: R, transcode_legacy: bool) -> Self {
        Self {
            inner,
            raw: vec![0; CHUNK].into_boxed_slice(),
            raw_pos: 0,
            raw_len: 0,
            raw_eof: false,
            out: String::new(),
            out_pos: 0,
            out_base: 0,
            mode: Mode::Undecided,
            started: false,
            transcode_legacy,
            encoding: SourceEncoding::Utf8,
            fault: None,
        }
    }

    /// The encoding detected so far (a file is UTF-8 until a non-UTF-8 byte says otherwise).
    pub fn encoding(&self) -> SourceEncoding {
        self.encoding
    }

    /// The first undecodable place, if any was met so far.
    pub fn fault(&self) -> Option<&Fault> {
        self.fault.as_ref()
    }

    /// The unconsumed text up to the end of the first non-blank line (the header), without
    /// consuming it; at most 256 KiB.
    pub fn peek_header(&mut self) -> io::Result<&str> {
        loop {
            if let Some(end) = first_line_end(&self.out[self.out_pos..]) {
                return Ok(&self.out[self.out_pos..self.out_pos + end]);
            }
            if self.out.len() - self.out_pos >= MAX_HEADER_PEEK || !self.decode_step()? {
                return Ok(&self.out[self.out_pos..]);
            }
        }
    }

    fn read_raw(&mut self) -> io::Result<()> {
        if self.raw_pos > 0 {
            self.raw.copy_within(self.raw_pos..self.raw_len, 0);
            self.raw_len -= self.raw_pos;
            self.raw_pos = 0;
        }
        if self.raw_len == self.raw.len() {
            return Ok(());
        }
        loop {
            match self.inner.read(&mut self.raw[self.raw_len..]) {
                Ok(n) => {
                    self.raw_len += n;
                    self.raw_eof = n == 0;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn start(&mut self) -> io::Result<()> {
        self.started = true;
        while self.raw_len < 3 && !self.raw_eof {
            self.read_raw()?;
        }
        let legacy = match &self.raw[..self.raw_len] {
            [0xEF, 0xBB, 0xBF, ..] => {
                self.raw_pos = 3;
                self.mode = Mode::Utf8;
                self.encoding = SourceEncoding::Utf8WithBom;
                return Ok(());
            }
            [0xFF, 0xFE, ..] => (SourceEncoding::Utf16Le, encoding_rs::UTF_16LE),
            [0xFE, 0xFF, ..] => (SourceEncoding::Utf16Be, encoding_rs::UTF_16BE),
            _ => return Ok(()),
        };
        self.encoding = legacy.0;
        if self.transcode_legacy {
            self.raw_pos = 2;
            self.mode = Mode::Legacy(legacy.1.new_decoder_without_bom_handling());
        } else {
            self.fault = Some(Fault { offset: 0, bytes: self.raw[..2].to_vec(), kind: FaultKind::Utf16 });
            self.mode = Mode::Finished;
        }
        Ok(())
    }

    /// Decodes more input into `out`; false when the input is exhausted.
    fn decode_step(&mut self) -> io::Result<bool> {
        if !self.started {
            self.start()?;
        }
        loop {
            let before = self.out.len();
            if self.raw_pos == self.raw_len && !self.raw_eof {
                self.read_raw()?;
            }
            match &mut self.mode {
                Mode::Finished => return Ok(false),
                Mode::Legacy(decoder) => {
                    let src = &self.raw[self.raw_pos..self.raw_len];
                    let room = decoder.max_utf8_buffer_length(src.len()).unwrap_or(src.len() * 3 + 16);
                    self.out.reserve(room);
                    let (_, read, _) = decoder.decode_to_string(src, &mut self.out, self.raw_eof);
                    self.raw_pos += read;
                    if self.raw_eof && self.raw_pos == self.raw_len {
                        self.mode = Mode::Finished;
                    }
                }
                Mode::Undecided | Mode::Utf8 => self.decode_utf8()?,
            }
            if self.out.len() > before {
                return Ok(true);
            }
        }
    }

    fn decode_utf8(&mut self) -> io::Result<()> {
        let src = &self.raw[self.raw_pos..self.raw_len];
        if src.is_empty() {
            if self.raw_eof {
                self.mode = Mode::Finished;
            }
            return Ok(());
        }
        let (valid, bad_len) = match std::str::from_utf8(src) {
            Ok(_) => (src.len(), None),
            Err(e) => (e.valid_up_to(), Some(e.error_len())),
        };
        let text = std::str::from_utf8(&src[..valid]).unwrap_or_default();
        let non_ascii = !text.is_ascii();
        self.out.push_str(text);
        self.raw_pos += valid;
        if non_ascii {
            self.mode = Mode::Utf8;
        }
        match bad_len {
            None => Ok(()),
            Some(None) if !self.raw_eof => self.read_raw(),
            Some(None) => {
                self.invalid_bytes(self.raw_len - self.raw_pos);
                Ok(())
            }
            Some(Some(len)) => {
                self.invalid_bytes(len);
                Ok(())
            }
        }
    }

    fn invalid_bytes(&mut self, len: usize) {
        let undecided = matches!(self.mode, Mode::Undecided);
        if undecided && self.transcode_legacy {
            self.mode = Mode::Legacy(encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling());
            self.encoding = SourceEncoding::Windows1252;
            return;
        }
        if self.fault.is_none() {
            self.fault = Some(Fault {
                offset: self.out_base + self.out.len() as u64,
                bytes: self.raw[self.raw_pos..self.raw_pos + len].to_vec(),
                kind: FaultKind::InvalidUtf8 { utf8_seen: !undecided },
            });
        }
        self.out.push(char::REPLACEMENT_CHARACTER);
        self.raw_pos += len;
    }
}

/// End (exclusive, before the terminator) of the first non-blank line outside quotes.
fn first_line_end(text: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut blank = true;
    for (i, c) in text.char_indices() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                blank = false;
            }
            '\r' | '\n' if !in_quotes && !blank => return Some(i),
            '\r' | '\n' if !in_quotes => {}
            c if !c.is_whitespace() => blank = false,
            _ => {}
        }
    }
    None
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Decoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.out_pos >= self.out.len() {
            self.out_base += self.out.len() as u64;
            self.out.clear();
            self.out_pos = 0;
            if !self.decode_step()? {
                break;
            }
        }
        Ok(&self.out.as_bytes()[self.out_pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.out_pos = (self.out_pos + amt).min(self.out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes a few at a time, to split sequences across reads.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn decode(bytes: &[u8], transcode: bool, step: usize) -> (String, SourceEncoding, Option<Fault>) {
        let mut decoder = Decoder::new(Trickle(bytes, step), transcode);
        let mut text = String::new();
        decoder.read_to_string(&mut text).unwrap();
        (text, decoder.encoding(), decoder.fault().cloned())
    }

    #[test]
    fn decodes_every_supported_encoding_whatever_the_read_sizes() {
        let utf16le: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("José\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let utf16be: Vec<u8> =
            [0xFE, 0xFF].into_iter().chain("José\n".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        let cases: Vec<(&str, Vec<u8>, bool, &str, SourceEncoding)> = vec![
            ("ascii", b"a,b\n1,2\n".to_vec(), false, "a,b\n1,2\n", SourceEncoding::Utf8),
            ("utf-8", "é,ü\n".as_bytes().to_vec(), false, "é,ü\n", SourceEncoding::Utf8),
            ("bom", b"\xEF\xBB\xBFemail\n".to_vec(), false, "email\n", SourceEncoding::Utf8WithBom),
            ("bom only", b"\xEF\xBB\xBF".to_vec(), false, "", SourceEncoding::Utf8WithBom),
            ("1252", b"Jos\xE9 Garc\xEDa \x80\n".to_vec(), true, "José García €\n", SourceEncoding::Windows1252),
            ("utf-8 with transcode", "José\n".as_bytes().to_vec(), true, "José\n", SourceEncoding::Utf8),
            ("utf-16le", utf16le, true, "José\n", SourceEncoding::Utf16Le),
            ("utf-16be", utf16be, true, "José\n", SourceEncoding::Utf16Be),
            ("empty", Vec::new(), false, "", SourceEncoding::Utf8),
        ];
        for (name, bytes, transcode, expected, encoding) in cases {
            for step in [1, 2, 3, 7, 100_000] {
                let (text, detected, fault) = decode(&bytes, transcode, step);
                assert_eq!(text, expected, "{name} step {step}");
                assert_eq!(detected, encoding, "{name} step {step}");
                assert_eq!(fault, None, "{name} step {step}");
            }
        }
    }

    #[test]
    fn reports_the_first_invalid_bytes_with_their_offset() {
        for step in [1, 3, 100_000] {
            let (text, _, fault) = decode(b"ab\nJos\xE9 \xFF\n", false, step);
            assert_eq!(text, "ab\nJos\u{FFFD} \u{FFFD}\n");
            let fault = fault.unwrap();
            assert_eq!(fault.offset, 6);
            assert_eq!(fault.bytes, vec![0xE9]);
            assert_eq!(fault.kind, FaultKind::InvalidUtf8 { utf8_seen: false });
        }
    }

    #[test]
    fn a_truncated_sequence_at_the_end_is_a_fault() {
        let (text, _, fault) = decode(b"ab\xC3", false, 1);
        assert_eq!(text, "ab\u{FFFD}");
        assert_eq!(fault.unwrap().bytes, vec![0xC3]);
    }

    #[test]
    fn utf8_followed_by_legacy_bytes_is_a_fault_even_when_transcoding() {
        let (_, encoding, fault) =
            decode("é\n".as_bytes().iter().chain(b"\xE9\n").copied().collect::<Vec<_>>().as_slice(), true, 4);
        assert_eq!(encoding, SourceEncoding::Utf8);
        assert_eq!(fault.unwrap().kind, FaultKind::InvalidUtf8 { utf8_seen: true });
    }

    #[test]
    fn utf16_without_transcoding_is_a_fault_at_the_start() {
        let (text, encoding, fault) = decode(b"\xFF\xFEe\x00", false, 100);
        assert_eq!(text, "");
        assert_eq!(encoding, SourceEncoding::Utf16Le);
        assert_eq!(fault.unwrap().kind, FaultKind::Utf16);
    }

    #[test]
    fn detects_the_delimiter_from_the_header_line() {
        let cases = [
            ("email,name,role", Delimiter::Comma),
            ("Username;Email;FirstName", Delimiter::Semicolon),
            ("email\tname", Delimiter::Tab),
            ("email", Delimiter::Comma),
            ("\"Name; Last\",email", Delimiter::Comma),
            ("\"a,b\";\"c,d\";e", Delimiter::Semicolon),
            ("a,b;c", Delimiter::Comma),
        ];
        for (header, expected) in cases {
            assert_eq!(detect_delimiter(header), expected, "{header}");
        }
    }

    #[test]
    fn peek_header_skips_blank_lines_and_respects_quotes_without_consuming() {
        let mut decoder = Decoder::new(Trickle(b"\n\n\"a\nb\",c\r\nx,y\n", 2), false);
        assert_eq!(decoder.peek_header().unwrap(), "\n\n\"a\nb\",c");
        let mut all = String::new();
        decoder.read_to_string(&mut all).unwrap();
        assert_eq!(all, "\n\n\"a\nb\",c\r\nx,y\n");
    }
}
