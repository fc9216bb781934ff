//! Strict JSON for untrusted documents: duplicate member names and deep nesting are errors.
//!
//! RFC 7515 section 5.2 and RFC 8725 section 2.6: a JSON object with duplicate member names
//! is ambiguous (parsers disagree on which one wins), so it is rejected rather than read
//! "last wins". Nesting is bounded so that hostile documents cannot exhaust the stack.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::ops::Range;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The default bound on nesting depth of any parsed document (objects and arrays).
pub const DEFAULT_MAX_DEPTH: usize = 32;

/// The largest nesting depth any parser here honours: a larger `max_depth` is treated as this
/// one, so that no configuration lets a document recurse deep enough to overflow the stack
/// (small thread stacks and embedded targets included). It stays below `serde_json`'s own
/// recursion limit (127), so both parsers agree on every depth up to it.
/// [`VerifierConfig::build`](crate::config::VerifierConfig::build) refuses larger limits.
pub const MAX_DEPTH: usize = 64;

/// Why a JSON document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON text (including invalid UTF-8 and trailing data).
    Syntax,
    /// Nested deeper than allowed.
    TooDeep,
    /// An object has two members with the same name (after unescaping).
    DuplicateMember,
    /// The document is valid JSON but not an object.
    NotAnObject,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonError::Syntax => "invalid json",
            JsonError::TooDeep => "json nested too deeply",
            JsonError::DuplicateMember => "duplicate json member name",
            JsonError::NotAnObject => "json document is not an object",
        })
    }
}

impl core::error::Error for JsonError {}

/// Parses `bytes` as a JSON object, refusing duplicate member names and nesting deeper than
/// `max_depth` (the top-level object counts as depth 1; at most [`MAX_DEPTH`]).
///
/// # Errors
/// [`JsonError`] naming the first problem found.
pub fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Map<String, Value>, JsonError> {
    match parse_value(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

/// Parses `bytes` as any JSON value with the rules of [`parse_object`].
///
/// # Errors
/// [`JsonError`] naming the first problem found.
pub fn parse_value(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let problem = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let seed = Strict {
        depth_left: max_depth.min(MAX_DEPTH),
        problem: &problem,
    };
    let value = seed
        .deserialize(&mut de)
        .map_err(|_| problem.get().unwrap_or(JsonError::Syntax))?;
    de.end().map_err(|_| JsonError::Syntax)?;
    Ok(value)
}

/// The string member `name` of `members`, `None` when absent; `error(name)` when present with
/// another JSON type (never read as absent).
pub(crate) fn optional_string<E>(
    members: &Map<String, Value>,
    name: &'static str,
    error: impl FnOnce(&'static str) -> E,
) -> Result<Option<String>, E> {
    match members.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(error(name)),
    }
}

/// A strictly checked JSON object text with the place of each top-level member: values stay
/// unparsed until asked for, so reading a few members of a document costs one validating
/// pass and no tree.
///
/// The index does not own the text; every lookup takes the text it was built from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ObjectIndex {
    /// In document order.
    members: Vec<Member>,
    /// For objects of more than [`SCAN_LIMIT`] members, positions in `members` sorted by
    /// name; empty otherwise.
    sorted: Vec<usize>,
    /// The names and string values written with escapes, unescaped (usually none). Kept
    /// apart so that members own nothing: dropping the index frees two vectors, no more.
    strings: Vec<Box<str>>,
}

/// Up to this many members, lookups and the duplicate check compare lengths first, then
/// bytes, without sorting: fewer comparisons than a sort and binary searches.
const SCAN_LIMIT: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Member {
    /// The name's [`tag`].
    tag: u64,
    name: Name,
    /// The raw JSON value, as a range of the text.
    value: Range<usize>,
    /// A string value written with escapes: its unescaped text in the index's `strings`.
    unescaped: Option<usize>,
    /// Whether a string in the value is written with escapes (its text has a backslash).
    escapes: bool,
}

/// A member name: a range of the text when written without escapes, else unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Name {
    Span(Range<usize>),
    /// In the index's `strings`.
    Owned(usize),
}

/// A top-level value that is not a string: what [`ObjectIndex::string`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NotAString;

impl ObjectIndex {
    /// Indexes `text`, which must be a JSON object, with the rules of [`parse_object`].
    ///
    /// # Errors
    /// [`JsonError`] naming the first problem found.
    pub(crate) fn parse(text: &str, max_depth: usize) -> Result<Self, JsonError> {
        let mut scanner = Scanner {
            text,
            pos: 0,
            escapes: false,
            strings: Vec::new(),
        };
        let members = scanner.document(max_depth.min(MAX_DEPTH))?;
        let strings = scanner.strings;
        let name = |i: &usize| {
            members
                .get(*i)
                .map_or(&[][..], |m| m.name_bytes(text, &strings))
        };
        let mut sorted = Vec::new();
        let duplicate = if members.len() <= SCAN_LIMIT {
            members.iter().enumerate().any(|(i, a)| {
                members.iter().skip(i.saturating_add(1)).any(|b| {
                    a.tag == b.tag
                        && (is_whole(a.tag)
                            || a.name_bytes(text, &strings) == b.name_bytes(text, &strings))
                })
            })
        } else {
            sorted = (0..members.len()).collect();
            sorted.sort_unstable_by(|a, b| name(a).cmp(name(b)));
            sorted
                .windows(2)
                .any(|pair| matches!(pair, [a, b] if name(a) == name(b)))
        };
        if duplicate {
            return Err(JsonError::DuplicateMember);
        }
        Ok(Self {
            members,
            sorted,
            strings,
        })
    }

    /// The number of members.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    // Inlined, so that the tag of a literal name is computed at compile time.
    #[inline(always)]
    fn find(&self, text: &str, name: &str) -> Option<&Member> {
        if self.sorted.is_empty() {
            let wanted = tag(name.as_bytes());
            // A plain loop rather than `Iterator::find`, which is not always inlined.
            for m in &self.members {
                if m.tag == wanted
                    && (is_whole(wanted) || m.name_bytes(text, &self.strings) == name.as_bytes())
                {
                    return Some(m);
                }
            }
            return None;
        }
        let member = |i: &usize| self.members.get(*i);
        let found = self
            .sorted
            .binary_search_by(|i| {
                member(i)
                    .map_or(&[][..], |m| m.name_bytes(text, &self.strings))
                    .cmp(name.as_bytes())
            })
            .ok()?;
        self.sorted.get(found).and_then(member)
    }

    /// The raw JSON text of member `name`.
    #[inline(always)]
    pub(crate) fn raw<'t>(&self, text: &'t str, name: &str) -> Option<&'t str> {
        self.find(text, name)
            .and_then(|m| text.get(m.value.clone()))
    }

    /// The raw JSON text of member `name`, and whether a string in it is written with escapes
    /// (whether the text has a backslash).
    #[inline(always)]
    pub(crate) fn raw_with_escapes<'t>(
        &self,
        text: &'t str,
        name: &str,
    ) -> Option<(&'t str, bool)> {
        self.find(text, name)
            .and_then(|m| Some((text.get(m.value.clone())?, m.escapes)))
    }

    /// Member `name` as a string: `Ok(None)` when absent, [`NotAString`] for any other type.
    #[inline(always)]
    pub(crate) fn string<'s>(
        &'s self,
        text: &'s str,
        name: &str,
    ) -> Result<Option<&'s str>, NotAString> {
        match self.find(text, name) {
            None => Ok(None),
            Some(member) => member
                .string(text, &self.strings)
                .map(Some)
                .ok_or(NotAString),
        }
    }

    /// The members, in document order, with their raw JSON values.
    pub(crate) fn iter<'s>(&'s self, text: &'s str) -> impl Iterator<Item = (&'s str, &'s str)> {
        self.members.iter().map(move |m| {
            let name = m.name(text, &self.strings);
            (name, text.get(m.value.clone()).unwrap_or("null"))
        })
    }
}

impl Member {
    /// The name's bytes, for comparisons: no character boundary checks.
    fn name_bytes<'s>(&'s self, text: &'s str, strings: &'s [Box<str>]) -> &'s [u8] {
        self.name(text, strings).as_bytes()
    }

    fn name<'s>(&'s self, text: &'s str, strings: &'s [Box<str>]) -> &'s str {
        match &self.name {
            Name::Span(range) => text.get(range.clone()).unwrap_or(""),
            Name::Owned(i) => strings.get(*i).map_or("", |name| name),
        }
    }

    fn string<'s>(&'s self, text: &'s str, strings: &'s [Box<str>]) -> Option<&'s str> {
        if let Some(i) = self.unescaped {
            return strings.get(i).map(|s| &**s);
        }
        // A validated string without escapes: its content is between the quotes.
        text.get(self.value.clone())?
            .strip_prefix('"')?
            .strip_suffix('"')
    }
}

/// A member name's first seven bytes and its length (255 for longer names) in one word, for
/// comparisons: names of at most seven bytes are equal exactly when their tags are ([`is_whole`]);
/// longer names with equal tags are then compared byte for byte.
#[inline(always)]
fn tag(name: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (to, from) in word.iter_mut().take(7).zip(name) {
        *to = *from;
    }
    word[7] = u8::try_from(name.len()).unwrap_or(u8::MAX);
    u64::from_le_bytes(word)
}

/// The [`tag`] of the name at `range` of `bytes`, read as one word when eight bytes are
/// there (a name in an object is followed by at least `":` and a value).
#[inline(always)]
fn tag_at(bytes: &[u8], range: Range<usize>) -> u64 {
    let len = range.len();
    let Some(window) = bytes.get(range.start..range.start.saturating_add(8)) else {
        return tag(bytes.get(range).unwrap_or(&[]));
    };
    let mut word = [0u8; 8];
    word.copy_from_slice(window);
    let keep = match len {
        0..7 => (1u64 << (8 * len)) - 1,
        _ => (1u64 << 56) - 1,
    };
    (u64::from_le_bytes(word) & keep) | (u64::from(u8::try_from(len).unwrap_or(u8::MAX)) << 56)
}

/// Whether `tag` holds its whole name (seven bytes or fewer).
fn is_whole(tag: u64) -> bool {
    tag >> 56 <= 7
}

/// String equality, lengths first: most names differ in length, and short names (`iss`,
/// `aud`, ...) compare inline rather than through a `memcmp` call.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && if a.len() <= 16 {
            a.iter().zip(b).all(|(x, y)| x == y)
        } else {
            a == b
        }
}

/// A strict JSON scanner (RFC 8259) over text already known to be UTF-8, with the rules of
/// [`parse_object`]: duplicate member names at any level and nesting deeper than allowed are
/// refused, and so are numbers an `f64` cannot hold (`1e400`) and strings with lone
/// surrogates, exactly as the tree reader refuses them. It builds nothing but the top-level
/// index; strings are decoded (by serde_json) only when written with escapes and needed: a
/// member name, or a top-level string value.
struct Scanner<'t> {
    text: &'t str,
    pos: usize,
    /// Set by every string written with escapes.
    escapes: bool,
    /// The unescaped names and string values of the top-level object's members.
    strings: Vec<Box<str>>,
}

/// What a scanned string was.
struct Scanned {
    /// The content, between the quotes.
    content: Range<usize>,
    escaped: bool,
}

type Scan<T> = Result<T, JsonError>;

impl<'t> Scanner<'t> {
    #[inline(always)]
    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8) -> Scan<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    /// The whole document: the members of its top-level object, or [`JsonError::NotAnObject`]
    /// for a valid document of another type.
    fn document(&mut self, max_depth: usize) -> Scan<Vec<Member>> {
        self.skip_ws();
        let members = if self.peek() == Some(b'{') {
            Some(self.top_object(max_depth)?)
        } else {
            self.value(max_depth)?;
            None
        };
        self.skip_ws();
        if self.pos != self.bytes().len() {
            return Err(JsonError::Syntax);
        }
        members.ok_or(JsonError::NotAnObject)
    }

    fn top_object(&mut self, depth_left: usize) -> Scan<Vec<Member>> {
        self.eat(b'{')?;
        // Room for the members of a typical header or access token without growing (a
        // member takes a few dozen bytes of text).
        let mut members = Vec::with_capacity((self.text.len() / 32).clamp(4, 32));
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            let nested = depth_left.checked_sub(1).ok_or(JsonError::TooDeep)?;
            let key = self.string()?;
            let (name, tag) = if key.escaped {
                let name = self.decode(&key)?.into_boxed_str();
                let tag = tag(name.as_bytes());
                self.strings.push(name);
                (Name::Owned(self.strings.len() - 1), tag)
            } else {
                let tag = tag_at(self.bytes(), key.content.clone());
                (Name::Span(key.content), tag)
            };
            self.colon()?;
            let start = self.pos;
            self.escapes = false;
            // Strings, the usual values, are read here rather than through `value`.
            let unescaped = if self.peek() == Some(b'"') {
                let string = self.string()?;
                if string.escaped {
                    let value = self.decode(&string)?.into_boxed_str();
                    self.strings.push(value);
                    Some(self.strings.len() - 1)
                } else {
                    None
                }
            } else {
                self.value(nested)?;
                None
            };
            members.push(Member {
                tag,
                name,
                value: start..self.pos,
                unescaped,
                escapes: self.escapes,
            });
            if self.after_member(b'}')? {
                return Ok(members);
            }
        }
    }

    #[inline(always)]
    fn colon(&mut self) -> Scan<()> {
        self.skip_ws();
        self.eat(b':')?;
        self.skip_ws();
        Ok(())
    }

    /// After a member or element: `true` at the closing `close`, `false` after a comma.
    #[inline(always)]
    fn after_member(&mut self, close: u8) -> Scan<bool> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(JsonError::Syntax),
        }
    }

    /// A value in an array or object: strings, the usual ones, without a call.
    #[inline(always)]
    fn element(&mut self, depth_left: usize) -> Scan<()> {
        if self.peek() == Some(b'"') {
            self.string().map(|_| ())
        } else {
            self.value(depth_left)
        }
    }

    /// Any value, starting at its first byte.
    fn value(&mut self, depth_left: usize) -> Scan<()> {
        match self.peek() {
            Some(b'"') => return self.string().map(|_| ()),
            Some(b'{') => self.object(depth_left)?,
            Some(b'[') => self.array(depth_left)?,
            Some(b't') => self.literal(b"true")?,
            Some(b'f') => self.literal(b"false")?,
            Some(b'n') => self.literal(b"null")?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(JsonError::Syntax),
        }
        Ok(())
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        let end = self.pos + word.len();
        if self.bytes().get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn object(&mut self, depth_left: usize) -> Scan<()> {
        self.eat(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let mut names: Vec<Cow<'t, str>> = Vec::new();
        loop {
            let nested = depth_left.checked_sub(1).ok_or(JsonError::TooDeep)?;
            let key = self.string()?;
            names.push(if key.escaped {
                Cow::Owned(self.decode(&key)?)
            } else {
                Cow::Borrowed(self.text.get(key.content).unwrap_or(""))
            });
            self.colon()?;
            self.element(nested)?;
            if self.after_member(b'}')? {
                break;
            }
        }
        if has_duplicate(&mut names) {
            return Err(JsonError::DuplicateMember);
        }
        Ok(())
    }

    fn array(&mut self, depth_left: usize) -> Scan<()> {
        self.eat(b'[')?;
        // As the tree reader: an array takes a level even when empty.
        let nested = depth_left.checked_sub(1).ok_or(JsonError::TooDeep)?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.element(nested)?;
            if self.after_member(b']')? {
                return Ok(());
            }
        }
    }

    /// A string, from its opening quote: control characters refused, escapes checked.
    #[inline(always)]
    fn string(&mut self) -> Scan<Scanned> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos = self.pos + special_byte(self.bytes().get(self.pos..).unwrap_or(&[]));
            match self.peek() {
                Some(b'"') => {
                    let content = start..self.pos;
                    self.pos += 1;
                    return Ok(Scanned { content, escaped });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escapes = true;
                    self.pos += 1;
                    self.escape()?;
                }
                // A control character, or the end of the text.
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// After a backslash.
    fn escape(&mut self) -> Scan<()> {
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                match self.hex4()? {
                    // A high surrogate must be followed by an escaped low surrogate.
                    0xD800..=0xDBFF => {
                        self.eat(b'\\')?;
                        self.eat(b'u')?;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(JsonError::Syntax),
                        }
                    }
                    0xDC00..=0xDFFF => Err(JsonError::Syntax),
                    _ => Ok(()),
                }
            }
            _ => Err(JsonError::Syntax),
        }
    }

    fn hex4(&mut self) -> Scan<u16> {
        let end = self.pos + 4;
        let digits = self.text.get(self.pos..end).ok_or(JsonError::Syntax)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(JsonError::Syntax);
        }
        self.pos = end;
        u16::from_str_radix(digits, 16).map_err(|_| JsonError::Syntax)
    }

    /// A number (RFC 8259 section 6) that an `f64` can hold.
    fn number(&mut self) -> Scan<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(JsonError::Syntax),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        let number = self.text.get(start..self.pos).ok_or(JsonError::Syntax)?;
        // Short integers always fit; anything else must not overflow an f64.
        if integer && number.len() <= 18 {
            return Ok(());
        }
        match number.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(()),
            _ => Err(JsonError::Syntax),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn some_digits(&mut self) -> Scan<()> {
        let start = self.pos;
        self.digits();
        if self.pos == start {
            return Err(JsonError::Syntax);
        }
        Ok(())
    }

    /// The unescaped content of a string written with escapes.
    fn decode(&self, string: &Scanned) -> Scan<String> {
        let quoted = self
            .text
            .get(string.content.start.saturating_sub(1)..string.content.end + 1)
            .ok_or(JsonError::Syntax)?;
        serde_json::from_str(quoted).map_err(|_| JsonError::Syntax)
    }
}

/// The offset of the first `"`, `\` or control character in `bytes` (its length when none),
/// sixteen or eight bytes at a time.
#[inline(always)]
pub(crate) fn special_byte(bytes: &[u8]) -> usize {
    let mut offset = 0;
    // Sixteen bytes a round while there are that many: one branch for two words.
    let mut pairs = bytes.chunks_exact(16);
    for pair in &mut pairs {
        let (mut low, mut high) = ([0u8; 8], [0u8; 8]);
        low.copy_from_slice(pair.get(..8).unwrap_or(&[0; 8]));
        high.copy_from_slice(pair.get(8..).unwrap_or(&[0; 8]));
        let (low, high) = (special_mask(low), special_mask(high));
        if low | high != 0 {
            return offset
                + if low != 0 {
                    (low.trailing_zeros() / 8) as usize
                } else {
                    8 + (high.trailing_zeros() / 8) as usize
                };
        }
        offset += 16;
    }
    let mut chunks = pairs.remainder().chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if let Some(found) = first_special(word) {
            return offset + found;
        }
        offset += 8;
    }
    // The last bytes, padded with a byte that is not special.
    let mut word = [b' '; 8];
    for (to, from) in word.iter_mut().zip(chunks.remainder()) {
        *to = *from;
    }
    offset + first_special(word).unwrap_or(chunks.remainder().len())
}

/// The index of the first `"`, `\` or control character of `word`.
#[inline(always)]
fn first_special(word: [u8; 8]) -> Option<usize> {
    let found = special_mask(word);
    // Little-endian: the first byte is the lowest.
    (found != 0).then(|| (found.trailing_zeros() / 8) as usize)
}

/// Flags the special bytes of `word` (read little-endian) in their high bits; zero when there
/// is none.
///
/// Each mask below flags the bytes that match, exactly up to and including the first match:
/// a borrow can only run upward from a matching byte, so bytes after it may be flagged too,
/// never bytes before it. The lowest flag is the first match.
#[inline(always)]
fn special_mask(word: [u8; 8]) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let v = u64::from_le_bytes(word);
    let quote = has_zero(v ^ u64::from_ne_bytes([b'"'; 8]));
    let backslash = has_zero(v ^ u64::from_ne_bytes([b'\\'; 8]));
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit (bytes >= 0x80 are masked
    // out by `!v`).
    let control = v.wrapping_sub(u64::from_ne_bytes([0x20; 8])) & !v & HIGHS;
    quote | backslash | control
}

/// Whether two of `names` are equal; may reorder them.
fn has_duplicate(names: &mut [Cow<'_, str>]) -> bool {
    if names.len() <= SCAN_LIMIT {
        return names.iter().enumerate().any(|(i, a)| {
            names
                .iter()
                .skip(i + 1)
                .any(|b| same(a.as_bytes(), b.as_bytes()))
        });
    }
    names.sort_unstable();
    names
        .windows(2)
        .any(|pair| matches!(pair, [a, b] if a == b))
}

struct Strict<'p> {
    depth_left: usize,
    problem: &'p Cell<Option<JsonError>>,
}

impl Strict<'_> {
    fn fail<E: de::Error>(&self, problem: JsonError) -> E {
        self.problem.set(Some(problem));
        E::custom(problem)
    }

    fn nested<E: de::Error>(&self) -> Result<Self, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Strict {
                depth_left,
                problem: self.problem,
            }),
            None => Err(self.fail(JsonError::TooDeep)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| self.fail(JsonError::Syntax))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(String::from(v)))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = alloc::vec::Vec::new();
        while let Some(item) = seq.next_element_seed(self.nested()?)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.nested()?)?;
            if members.contains_key(&name) {
                return Err(self.fail(JsonError::DuplicateMember));
            }
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn table() {
        let cases: &[(&str, &[u8], Result<(), JsonError>)] = &[
            (
                "plain",
                br#"{"a":1,"b":[true,null,"x"],"c":{"d":1.5}}"#,
                Ok(()),
            ),
            (
                "duplicate",
                br#"{"a":1,"a":2}"#,
                Err(JsonError::DuplicateMember),
            ),
            (
                "escaped duplicate",
                br#"{"alg":1,"\u0061lg":2}"#,
                Err(JsonError::DuplicateMember),
            ),
            (
                "nested duplicate",
                br#"{"a":{"x":1,"x":1}}"#,
                Err(JsonError::DuplicateMember),
            ),
            ("array", b"[1]", Err(JsonError::NotAnObject)),
            ("trailing", b"{} {}", Err(JsonError::Syntax)),
            ("truncated", b"{\"a\":", Err(JsonError::Syntax)),
            ("bad utf8", b"{\"a\":\"\xff\"}", Err(JsonError::Syntax)),
            (
                "lone surrogate",
                br#"{"a":"\ud800"}"#,
                Err(JsonError::Syntax),
            ),
            ("bom", b"\xef\xbb\xbf{}", Err(JsonError::Syntax)),
        ];
        for (name, input, expected) in cases {
            let got = parse_object(input, DEFAULT_MAX_DEPTH).map(|_| ());
            assert_eq!(&got, expected, "case {name}");
        }
    }

    #[test]
    fn depth_is_bounded_without_stack_overflow() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let doc = "{\"a\":".to_string() + &deep + "}";
        assert_eq!(
            parse_object(doc.as_bytes(), DEFAULT_MAX_DEPTH),
            Err(JsonError::TooDeep)
        );
        // However large the limit, the parsers stop at `MAX_DEPTH` instead of overflowing.
        for depth in [MAX_DEPTH + 1, usize::MAX] {
            assert_eq!(parse_object(doc.as_bytes(), depth), Err(JsonError::TooDeep));
            assert_eq!(
                ObjectIndex::parse(&doc, depth).err(),
                Some(JsonError::TooDeep)
            );
        }
        let at_max = "[".repeat(MAX_DEPTH - 1) + &"]".repeat(MAX_DEPTH - 1);
        let at_max = "{\"a\":".to_string() + &at_max + "}";
        assert!(parse_object(at_max.as_bytes(), usize::MAX).is_ok());
        assert!(ObjectIndex::parse(&at_max, usize::MAX).is_ok());
        let ok = "{\"a\":[[[]]]}";
        assert!(parse_object(ok.as_bytes(), 4).is_ok());
        assert_eq!(parse_object(ok.as_bytes(), 3), Err(JsonError::TooDeep));
    }

    /// The index and the tree reader accept the same documents, and the index finds every
    /// member with the value the tree holds.
    fn index_agrees(text: &str, max_depth: usize) {
        let tree = parse_object(text.as_bytes(), max_depth);
        let index = ObjectIndex::parse(text, max_depth);
        match (&tree, &index) {
            (Ok(map), Ok(index)) => {
                assert_eq!(index.len(), map.len(), "{text}");
                for (name, value) in map {
                    let raw = index.raw(text, name).expect(name);
                    assert_eq!(
                        index.raw_with_escapes(text, name),
                        Some((raw, raw.contains('\\'))),
                        "{text}"
                    );
                    let parsed: Value = serde_json::from_str(raw).unwrap();
                    assert_eq!(&parsed, value, "{text}: {name}");
                    // Names sharing a prefix with a member are found only when they are one.
                    let longer = alloc::format!("{name}x");
                    let shorter = name.get(..name.len().saturating_sub(1)).unwrap_or("");
                    for probe in [longer.as_str(), shorter] {
                        assert_eq!(index.raw(text, probe).is_some(), map.contains_key(probe));
                    }
                    let string = index.string(text, name);
                    match value {
                        Value::String(s) => assert_eq!(string, Ok(Some(s.as_str())), "{text}"),
                        _ => assert_eq!(string, Err(NotAString), "{text}"),
                    }
                }
                let mut names: alloc::vec::Vec<&str> = index.iter(text).map(|(n, _)| n).collect();
                names.sort_unstable();
                let expected: alloc::vec::Vec<&str> = map.keys().map(String::as_str).collect();
                assert_eq!(names, expected, "the same names: {text}");
                assert_eq!(index.raw(text, "absent member"), None);
            }
            (Err(a), Err(b)) => {
                // Errors may be found in another order; both readers refuse the document.
                let _ = (a, b);
            }
            _ => panic!("{text}: tree {tree:?}, index {index:?}"),
        }
    }

    #[test]
    fn index_table() {
        let docs = [
            r#"{}"#,
            r#"{"alg":"RS256","kid":"k\u0031","typ":"at+jwt"}"#,
            r#"{"iss":"https:\/\/tenant\/","aud":["a","\u0062"],"n":-1.5e3,"z":null}"#,
            r#"{"\u0061lg":1,"b":{"c":[{"d":{}}]},"e":[1,2,[3]],"f":true}"#,
            r#" { "spaced" : "x" , "t" : false } "#,
            r#"{"abcdefgh":1,"abcdefgi":2,"abcdefghi":3,"abcdefg":4,"abcdef\u0067h2":5}"#,
            r#"{"abcdefghij":1,"abcdefghij":2}"#,
            r#"{"abcdefgh":1,"abcdef\u0067h":2}"#,
            r#"{"a\u0000":1,"a":2,"":3}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"alg":1,"\u0061lg":2}"#,
            r#"{"a":{"x":1,"x":1}}"#,
            r#"{"a":[{"x":1,"y":2,"x":3}]}"#,
            r#"{"big":1e400}"#,
            r#"{"s":"\ud800"}"#,
            "[1]",
            "1",
            r#"{"a":1} {}"#,
            r#"{"a":"#,
            "\u{feff}{}",
        ];
        for doc in docs {
            index_agrees(doc, DEFAULT_MAX_DEPTH);
        }
        let deep = "{\"a\":[[[]]]}";
        for depth in 0..6 {
            index_agrees(deep, depth);
        }
        assert_eq!(
            ObjectIndex::parse(r#"{"a":1,"\u0061":2}"#, 8),
            Err(JsonError::DuplicateMember)
        );
        assert_eq!(ObjectIndex::parse("[1]", 8), Err(JsonError::NotAnObject));
        // Past the scanning limit, lookups and the duplicate check go through sorted names.
        let many: alloc::vec::Vec<String> =
            (0..40).map(|i| alloc::format!("\"m{i}\":{i}")).collect();
        let doc = alloc::format!("{{{}}}", many.join(","));
        index_agrees(&doc, DEFAULT_MAX_DEPTH);
        let with_duplicate = alloc::format!("{{{},\"m\\u0037\":0}}", many.join(","));
        index_agrees(&with_duplicate, DEFAULT_MAX_DEPTH);
        assert_eq!(
            ObjectIndex::parse(&with_duplicate, 8),
            Err(JsonError::DuplicateMember)
        );
    }

    proptest::proptest! {
        #[test]
        fn index_agrees_with_the_tree(value in json_value(4), depth in 0usize..6) {
            index_agrees(&value, depth);
        }

        #[test]
        fn index_agrees_on_any_string_content(content in string_content()) {
            // Long enough for the eight-bytes-at-a-time search, with the odd quote, backslash
            // or control character anywhere.
            index_agrees(&alloc::format!("{{\"k\":\"{content}\",\"l\":[\"{content}\"]}}"), 4);
        }

        #[test]
        fn index_agrees_on_any_text(text in "[{}\\[\\]\",:a-c0-9\\\\u ]{0,40}") {
            index_agrees(&text, 4);
        }
    }

    #[test]
    fn special_byte_finds_the_first() {
        let naive = |b: &[u8]| {
            b.iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(b.len())
        };
        let mut runner = proptest::test_runner::TestRunner::default();
        let bytes = proptest::collection::vec(
            proptest::prop_oneof![
                40 => 0x20u8..,
                1 => proptest::strategy::Just(b'"'),
                1 => proptest::strategy::Just(b'\\'),
                1 => 0u8..0x20,
            ],
            0..72,
        );
        runner
            .run(&bytes, |b| {
                proptest::prop_assert_eq!(special_byte(&b), naive(&b), "{:?}", b);
                Ok(())
            })
            .unwrap();
    }

    proptest::proptest! {
        #[test]
        fn tags_read_in_place_are_tags(
            text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
            start in 0usize..24,
            len in 0usize..24,
        ) {
            let start = start.min(text.len());
            let end = start.saturating_add(len).min(text.len());
            let name = &text[start..end];
            proptest::prop_assert_eq!(tag_at(&text, start..end), tag(name));
        }
    }

    /// Mostly plain characters, now and then one the scanner must stop at.
    fn string_content() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let special = prop_oneof![Just('"'), Just('\\'), (0u8..0x20).prop_map(char::from),];
        let plain =
            any::<char>().prop_filter("plain", |c| !matches!(c, '"' | '\\' | '\0'..='\u{1f}'));
        proptest::collection::vec(prop_oneof![40 => plain, 1 => special], 0..80)
            .prop_map(|chars| chars.into_iter().collect())
    }

    /// JSON text, objects at the top, with escapes, repeated names and nesting.
    fn json_value(depth: u32) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let name = prop_oneof![
            Just("a".to_string()),
            Just("\\u0061".to_string()),
            Just("b".to_string()),
            "[a-z]{1,3}",
        ];
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap()),
            Just("\"x\\/y\\n\"".to_string()),
            "[a-z ]{0,5}".prop_map(|s| alloc::format!("\"{s}\"")),
        ];
        let value = leaf.prop_recursive(depth, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| alloc::format!("[{}]", items.join(","))),
                proptest::collection::vec((name.clone(), inner), 0..4).prop_map(|members| {
                    let members: alloc::vec::Vec<String> = members
                        .into_iter()
                        .map(|(n, v)| alloc::format!("\"{n}\":{v}"))
                        .collect();
                    alloc::format!("{{{}}}", members.join(","))
                }),
            ]
        });
        // Top-level names: short ones, and long ones sharing their first seven bytes.
        let top = prop_oneof![
            "[a-c]",
            "abcdefg[g-h]{0,3}",
            Just("abcdef\\u0067h".to_string())
        ];
        proptest::collection::vec((top, value), 0..5).prop_map(|members| {
            let members: alloc::vec::Vec<String> = members
                .into_iter()
                .map(|(n, v)| alloc::format!("\"{n}\":{v}"))
                .collect();
            alloc::format!("{{{}}}", members.join(","))
        })
    }
}
