//! A YAML emitter for JSON values that writes what kubectl's `-o yaml` writes.
//!
//! kubectl marshals objects with `sigs.k8s.io/yaml`: JSON, re-read by go-yaml v2, then
//! emitted by go-yaml v2's port of libyaml. This module ports the parts of that emitter
//! a JSON value can reach: block mappings with keys in go-yaml's "natural" order, block
//! sequences written at their parent key's indent (`- ` not indented), `{}`/`[]` for
//! empty collections, and go-yaml's choice of scalar style:
//!
//! - plain when the text would read back as the same string (`"true"`, `"1"`, `"yes"`,
//!   `"1:20"`, `"2024-01-02"`, `""` and `"null"` are double-quoted because they would
//!   not);
//! - single-quoted when plain is not allowed by the syntax (leading `-`, `: `, ` #`,
//!   indicators, leading/trailing spaces);
//! - literal block `|` for multi-line text, double-quoted with escapes when a block
//!   cannot carry it (trailing spaces on a line, control characters);
//! - long plain and quoted scalars folded at spaces past column 80.
//!
//! A hand port rather than a crate: the maintained YAML crates (serde-saphyr,
//! serde_norway, serde_yaml_ng) each choose their own quoting, indentation and line
//! folding, so none prints what kubectl prints, and this costs a fraction of their size.
//! Deliberate deviation: U+2028/U+2029 are always written double-quoted (go-yaml would
//! break lines at them inside single quotes).

use serde_json::{Map, Value};

/// `v` as kubectl's `-o yaml` prints it (a document without `---`, ending in a newline).
pub fn to_yaml(v: &Value) -> String {
    let mut e = Emitter::default();
    match v {
        Value::Object(map) if !map.is_empty() => e.mapping(map, 0, false),
        Value::Array(items) if !items.is_empty() => e.sequence(items, 0, false),
        // A root scalar's continuation lines are indented by go-yaml's best indent.
        scalar => e.scalar(scalar, 2),
    }
    if e.column > 0 {
        e.out.push('\n');
    }
    e.out
}

/// go-yaml's `best_width`: plain and quoted scalars fold at a space past this column.
const BEST_WIDTH: usize = 80;
/// go-yaml's `best_indent`.
const INDENT: usize = 2;
/// Longer keys are written in the explicit `? key` form.
const MAX_SIMPLE_KEY_LEN: usize = 128;

#[derive(Default)]
struct Emitter {
    out: String,
    /// Characters (not bytes) written on the current line: folding depends on it.
    column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        if c == '\n' {
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    /// Starts a new line at `indent` (go-yaml's `write_indent` outside a scalar's first
    /// line: a line that is already empty is reused).
    fn new_line(&mut self, indent: usize) {
        if self.column > 0 {
            self.put('\n');
        }
        while self.column < indent {
            self.put(' ');
        }
    }

    /// A block mapping whose keys sit at `indent`. With `inline_first` the first key
    /// continues the current line (after `- `).
    fn mapping(&mut self, map: &Map<String, Value>, indent: usize, inline_first: bool) {
        for (i, (key, value)) in sorted_entries(map).into_iter().enumerate() {
            if i > 0 || !inline_first {
                self.new_line(indent);
            }
            if key.len() <= MAX_SIMPLE_KEY_LEN && !analyze(key).multiline {
                self.string(key, indent + INDENT, true);
                self.put(':');
                self.mapping_value(value, indent);
            } else {
                // Too long (or multi-line) for an implicit key: `? key` then `: value`.
                self.put('?');
                self.item(&Value::String(key.clone()), indent);
                self.new_line(indent);
                self.put(':');
                self.item(value, indent);
            }
        }
    }

    /// The value after `key:` in a mapping at `indent`.
    fn mapping_value(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Object(map) if !map.is_empty() => self.mapping(map, indent + INDENT, false),
            // Sequences in a mapping are "indentless": `- ` at the key's own indent.
            Value::Array(items) if !items.is_empty() => self.sequence(items, indent, false),
            scalar => {
                self.put(' ');
                self.scalar(scalar, indent + INDENT);
            }
        }
    }

    /// A block sequence whose `-` sit at `indent`.
    fn sequence(&mut self, items: &[Value], indent: usize, inline_first: bool) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline_first {
                self.new_line(indent);
            }
            self.put('-');
            self.item(item, indent);
        }
    }

    /// A node after an indicator (`-`, `?`, `:`) at `indent`: nested collections start on
    /// the same line, indented by two.
    fn item(&mut self, value: &Value, indent: usize) {
        self.put(' ');
        match value {
            Value::Object(map) if !map.is_empty() => self.mapping(map, indent + INDENT, true),
            Value::Array(items) if !items.is_empty() => self.sequence(items, indent + INDENT, true),
            scalar => self.scalar(scalar, indent + INDENT),
        }
    }

    /// A scalar (or empty collection) whose continuation lines are indented by `indent`.
    fn scalar(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Null => self.put_str("null"),
            Value::Bool(b) => self.put_str(if *b { "true" } else { "false" }),
            Value::Number(n) => self.put_str(&yaml_number(n)),
            Value::String(s) => self.string(s, indent, false),
            Value::Array(_) => self.put_str("[]"),
            Value::Object(_) => self.put_str("{}"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let analysis = analyze(s);
        match choose_style(s, &analysis, simple_key) {
            Style::Plain => self.plain(s, indent, !simple_key),
            Style::SingleQuoted => self.single_quoted(s, indent, !simple_key),
            Style::DoubleQuoted => self.double_quoted(s, indent, !simple_key),
            Style::Literal => self.literal(s, indent),
        }
    }

    /// A line break inside a scalar, continuing at `indent`.
    fn fold(&mut self, indent: usize) {
        self.put('\n');
        while self.column < indent {
            self.put(' ');
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_is_space {
                    self.fold(indent);
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
    }

    fn single_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put('\'');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                    && !next_is_space
                {
                    self.fold(indent);
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                spaces = false;
            }
        }
        self.put('\'');
    }

    fn double_quoted(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put('"');
        let mut spaces = false;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                self.put_str(&escape(c));
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                {
                    self.fold(indent);
                    // A space that starts the continuation line must be escaped, or the
                    // reader would fold it away.
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(' ');
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
            i += 1;
        }
        self.put('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.put('|');
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            // The first line's indentation is content: say how deep the block is.
            self.put_str(&INDENT.to_string());
        }
        let n = chars.len();
        match (chars.last(), n.checked_sub(2).map(|i| chars[i])) {
            (Some(&last), _) if !is_break(last) => self.put('-'),
            // Several final line breaks: keep them all.
            (Some(_), None) => self.put('+'),
            (Some(_), Some(before_last)) if is_break(before_last) => self.put('+'),
            _ => {}
        }
        self.put('\n');
        let mut line_start = true;
        for c in chars {
            if c == '\n' {
                self.put('\n');
                line_start = true;
            } else {
                if line_start {
                    while self.column < indent {
                        self.put(' ');
                    }
                }
                self.put(c);
                line_start = false;
            }
        }
    }
}

/// Object entries in go-yaml's key order.
fn sorted_entries(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let entries: Vec<(&String, &Value)> = map.iter().collect();
    merge_sort(entries, &|a, b| key_less(a.0, b.0))
}

/// A stable merge sort that only needs a `less` function, because go-yaml's key order
/// is not guaranteed to be a total order (which `slice::sort_by` may panic on).
fn merge_sort<T: Copy>(items: Vec<T>, less: &dyn Fn(&T, &T) -> bool) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let mut right = items;
    let left = right.drain(..right.len() / 2).collect();
    let (left, right) = (merge_sort(left, less), merge_sort(right, less));
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (0, 0);
    while l < left.len() && r < right.len() {
        if less(&right[r], &left[l]) {
            merged.push(right[r]);
            r += 1;
        } else {
            merged.push(left[l]);
            l += 1;
        }
    }
    merged.extend_from_slice(&left[l..]);
    merged.extend_from_slice(&right[r..]);
    merged
}

/// go-yaml v2's `keyList.Less` for string keys: letters compare as runes, a non-letter
/// sorts before a letter, and runs of digits compare as numbers (`a2` < `a10`).
fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

/// A JSON number as it comes out of kubectl's JSON → go-yaml round trip: integers (also
/// integral floats, which Go's JSON writes without a fraction) as integers, other floats
/// in Go's shortest `%g` form.
fn yaml_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let Some(f) = n.as_f64() else {
        return n.to_string();
    };
    if f.fract() == 0.0 && f.abs() < 1e21 {
        let digits = format!("{f}");
        if digits.parse::<i64>().is_ok() || digits.parse::<u64>().is_ok() {
            return digits;
        }
    }
    crate::golang::format_float_g(f)
}

/// What go-yaml's emitter learns about a scalar before choosing its style
/// (`yaml_emitter_analyze_scalar`, block context only).
#[derive(Debug, Clone, Copy)]
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let last = i + 1 == chars.len();
        let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| n == ' ' || n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        // Deviation (see module docs): U+2028/U+2029 force double quotes.
        if !is_printable(c) || c == '\u{2028}' || c == '\u{2029}' {
            special = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = c == ' ' || c == '\t' || c == '\0' || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml's style decision: the encoder asks for literal (multi-line), plain (reads
/// back as the same string) or double-quoted; the emitter falls back when the syntax
/// does not allow what was asked.
fn choose_style(s: &str, a: &Analysis, simple_key: bool) -> Style {
    let requested = if s.contains('\n') {
        Style::Literal
    } else if plain_reads_back_as_string(s) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    match requested {
        Style::Plain if !a.block_plain_allowed && a.single_quoted_allowed => Style::SingleQuoted,
        Style::Plain if !a.block_plain_allowed => Style::DoubleQuoted,
        Style::Literal if !a.block_allowed || simple_key => Style::DoubleQuoted,
        style => style,
    }
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's printable set: no C0/C1 controls (but `\n`), no BOM, nothing outside the
/// Basic Multilingual Plane (go-yaml v2 escapes emoji as `\U0001F600`).
fn is_printable(c: char) -> bool {
    let c = c as u32;
    c == 0x0a
        || (0x20..=0x7e).contains(&c)
        || (0xa0..=0xd7ff).contains(&c)
        || ((0xe000..=0xfffd).contains(&c) && c != 0xfeff)
}

/// The escape (after `\`) of a character in a double-quoted scalar.
fn escape(c: char) -> String {
    match c {
        '\0' => "0".into(),
        '\u{7}' => "a".into(),
        '\u{8}' => "b".into(),
        '\t' => "t".into(),
        '\n' => "n".into(),
        '\u{b}' => "v".into(),
        '\u{c}' => "f".into(),
        '\r' => "r".into(),
        '\u{1b}' => "e".into(),
        '"' => "\"".into(),
        '\\' => "\\".into(),
        '\u{85}' => "N".into(),
        '\u{a0}' => "_".into(),
        '\u{2028}' => "L".into(),
        '\u{2029}' => "P".into(),
        c if (c as u32) <= 0xff => format!("x{:02X}", c as u32),
        c if (c as u32) <= 0xffff => format!("u{:04X}", c as u32),
        c => format!("U{:08X}", c as u32),
    }
}

/// Whether `s`, written plain, would be read back by go-yaml as the same string and not
/// as a bool, null, number, timestamp or sexagesimal float (`resolve` + `isBase60Float`).
fn plain_reads_back_as_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    let Some(&first) = s.as_bytes().first() else {
        return false; // "" reads back as null
    };
    let resolves_to_other = match first {
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => {
            SPECIAL.contains(&s)
        }
        b'.' => SPECIAL.contains(&s) || s.parse::<f64>().is_ok(),
        b'+' | b'-' | b'0'..=b'9' => {
            SPECIAL.contains(&s) || {
                let plain: String = s.chars().filter(|&c| c != '_').collect();
                is_timestamp(s) || is_go_int(&plain) || is_yaml_float(&plain)
            }
        }
        _ => false,
    };
    !resolves_to_other && !is_base60_float(s)
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint` syntax (sign, `0x`, `0o`, `0b`,
/// leading-zero octal, decimal), ignoring overflow: an integer too large for 64 bits
/// still does not read back as a string.
fn is_go_int(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (digits, radix) = if let Some(d) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        (d, 16)
    } else if let Some(d) = unsigned
        .strip_prefix("0o")
        .or_else(|| unsigned.strip_prefix("0O"))
    {
        (d, 8)
    } else if let Some(d) = unsigned
        .strip_prefix("0b")
        .or_else(|| unsigned.strip_prefix("0B"))
    {
        (d, 2)
    } else if unsigned.len() > 1 && unsigned.starts_with('0') {
        (&unsigned[1..], 8)
    } else {
        (unsigned, 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()),
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`: YAML 1.1 sexagesimal numbers
/// (`1:20`), which go-yaml quotes for the sake of other parsers.
fn is_base60_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (body, fraction) = match s.split_once('.') {
        Some((body, fraction)) => (body, Some(fraction)),
        None => (s, None),
    };
    if fraction.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit() || b == b'_')) {
        return false;
    }
    let mut parts = body.split(':');
    let head_ok = parts.next().is_some_and(|h| {
        h.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && h.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    });
    let mut sexagesimal_parts = 0;
    let rest_ok = parts.all(|p| {
        sexagesimal_parts += 1;
        match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [t, d] => (b'0'..=b'5').contains(t) && d.is_ascii_digit(),
            _ => false,
        }
    });
    head_ok && sexagesimal_parts > 0 && rest_ok
}

/// `15:4:5(.999999999)?` with Go's range checks; returns what follows.
fn parse_clock(t: &str) -> Option<&str> {
    let (hour, t) = leading_number(t, 1, 2)?;
    let (minute, t) = leading_number(t.strip_prefix(':')?, 1, 2)?;
    let (second, mut t) = leading_number(t.strip_prefix(':')?, 1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if let Some(frac) = t.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        t = &frac[n..];
    }
    Some(t)
}

/// A number of `min..=max` leading digits, and what follows it.
fn leading_number(s: &str, min_digits: usize, max_digits: usize) -> Option<(u32, &str)> {
    let len = s.bytes().take_while(u8::is_ascii_digit).count();
    if len < min_digits || len > max_digits {
        return None;
    }
    Some((s[..len].parse().ok()?, &s[len..]))
}

/// go-yaml's `parseTimestamp`: `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (also with
/// `t`), or `2006-1-2 15:4:5.999999999`, with Go's range checks.
fn is_timestamp(s: &str) -> bool {
    let Some((year, rest)) = leading_number(s, 4, 4) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let Some((month, rest)) = leading_number(rest, 1, 2) else {
        return false;
    };
    let Some((day, rest)) = rest.strip_prefix('-').and_then(|r| leading_number(r, 1, 2)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days_in_month {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let (with_zone, time) = match rest.as_bytes()[0] {
        b'T' | b't' => (true, &rest[1..]),
        b' ' => (false, &rest[1..]),
        _ => return false,
    };
    let Some(zone) = parse_clock(time) else {
        return false;
    };
    if !with_zone {
        return zone.is_empty();
    }
    if zone == "Z" {
        return true;
    }
    let Some(offset) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    let b = offset.as_bytes();
    b.len() == 5
        && b[0].is_ascii_digit()
        && b[1].is_ascii_digit()
        && b[2] == b':'
        && b[3].is_ascii_digit()
        && b[4].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::fixture_body;
    use serde_json::json;

    fn yaml(v: Value) -> String {
        to_yaml(&v)
    }

    #[test]
    fn yaml_sorts_keys_and_indents_by_two() {
        assert_eq!(
            yaml(
                json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "x", "labels": {"app": "web"}}})
            ),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    app: web\n  name: x\n"
        );
    }

    #[test]
    fn yaml_writes_list_items_at_the_parents_indent() {
        assert_eq!(
            yaml(
                json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}, {"name": "b"}], "args": ["x", ["u", "z"]]}})
            ),
            "spec:\n  args:\n  - x\n  - - u\n    - z\n  containers:\n  - name: a\n    ports:\n    - containerPort: 80\n  - name: b\n"
        );
    }

    #[test]
    fn yaml_writes_empty_collections_and_non_strings_in_flow_form() {
        assert_eq!(
            yaml(
                json!({"a": {}, "b": [], "c": null, "d": true, "e": 3, "f": 1.5, "g": 1.0, "h": -7})
            ),
            "a: {}\nb: []\nc: null\nd: true\ne: 3\nf: 1.5\ng: 1\nh: -7\n"
        );
    }

    #[test]
    fn yaml_quotes_strings_that_would_read_back_as_other_types() {
        for s in [
            "true",
            "True",
            "false",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "N",
            "null",
            "~",
            "",
            "1",
            "-1",
            "+1",
            "0x1F",
            "0o17",
            "017",
            "1_000",
            "1.5",
            "1e5",
            ".5",
            "1:20",
            "2026-11-28",
            "2026-11-28T15:14:34Z",
            "2026-11-28t15:14:34.5+01:00",
            "2026-1-2 3:04:05",
            ".inf",
            "-.inf",
            ".nan",
            "99999999999999999999",
        ] {
            let out = yaml(json!({ "k": s }));
            assert_eq!(out, format!("k: \"{s}\"\n"), "{s:?}");
        }
    }

    #[test]
    fn yaml_leaves_plain_strings_that_read_back_as_strings() {
        for s in [
            "Running",
            "demo-00001",
            "127.0.0.1",
            "10.96.0.0/12",
            "v1.36.2",
            "1/1",
            "12m",
            "0.5Gi",
            "500m",
            "1.2.3",
            "2026-13-01",
            "2026-02-30",
            "yes please",
            "nope",
            "registry.k8s.io/pause:3.10",
            "a:b",
            "a#b",
            "-a",
            "key=value",
            "O",
            "Infinity",
            "0x",
            "1e",
            "08x",
            "<<",
            "café",
            "a - b",
        ] {
            let out = yaml(json!({ "k": s }));
            assert_eq!(out, format!("k: {s}\n"), "{s:?}");
        }
    }

    #[test]
    fn yaml_single_quotes_strings_that_plain_syntax_cannot_carry() {
        for (s, want) in [
            ("- a", "'- a'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("*", "'*'"),
            ("&x", "'&x'"),
            ("!x", "'!x'"),
            ("{x}", "'{x}'"),
            ("[x]", "'[x]'"),
            ("%x", "'%x'"),
            ("@x", "'@x'"),
            ("`x", "'`x'"),
            ("'q'", "'''q'''"),
            ("\"q\"", "'\"q\"'"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            (":", "':'"),
            ("---", "'---'"),
            ("? x", "'? x'"),
            (
                "containers with unready status: [main]",
                "'containers with unready status: [main]'",
            ),
        ] {
            assert_eq!(yaml(json!({ "k": s })), format!("k: {want}\n"), "{s:?}");
        }
    }

    #[test]
    fn yaml_double_quotes_and_escapes_control_characters() {
        assert_eq!(yaml(json!({"k": "a\tb"})), "k: \"a\\tb\"\n");
        assert_eq!(yaml(json!({"k": "bell\u{7}"})), "k: \"bell\\a\"\n");
        assert_eq!(yaml(json!({"k": "\u{1b}[0m"})), "k: \"\\e[0m\"\n");
        assert_eq!(yaml(json!({"k": "x\u{7f}"})), "k: \"x\\x7F\"\n");
        assert_eq!(yaml(json!({"k": "smile 😀"})), "k: \"smile \\U0001F600\"\n");
        assert_eq!(yaml(json!({"k": "a\rb"})), "k: \"a\\rb\"\n");
    }

    #[test]
    fn yaml_writes_multi_line_strings_as_literal_blocks() {
        assert_eq!(
            yaml(json!({"data": {"script": "echo a\necho b\n", "raw": "x\ny", "keep": "x\n\n"}})),
            "data:\n  keep: |+\n    x\n\n  raw: |-\n    x\n    y\n  script: |\n    echo a\n    echo b\n"
        );
        assert_eq!(
            yaml(json!({"k": " indented\nnext"})),
            "k: |2-\n   indented\n  next\n"
        );
        assert_eq!(yaml(json!({"k": "a\n\nb"})), "k: |-\n  a\n\n  b\n");
    }

    #[test]
    fn yaml_falls_back_to_double_quotes_when_a_block_cannot_carry_the_text() {
        // A space before a line break would be lost in a block.
        assert_eq!(yaml(json!({"k": "a \nb"})), "k: \"a \\nb\"\n");
        assert_eq!(yaml(json!({"k": "a\nb "})), "k: \"a\\nb \"\n");
        assert_eq!(yaml(json!({"k": "a\n\tb"})), "k: \"a\\n\\tb\"\n");
    }

    #[test]
    fn yaml_folds_long_plain_strings_past_column_80() {
        let description = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.";
        assert_eq!(
            yaml(json!({"description": description})),
            "description: APIVersion defines the versioned schema of this representation of an\n  object. Servers should convert recognized schemas to the latest internal value,\n  and may reject unrecognized values.\n"
        );
    }

    #[test]
    fn yaml_folds_long_quoted_strings_and_keeps_them_readable() {
        let message = "containers with unready status: [main sidecar] and a message that goes on and on past the width";
        let out = yaml(json!({"status": {"message": message}}));
        assert_eq!(
            out,
            "status:\n  message: 'containers with unready status: [main sidecar] and a message that goes\n    on and on past the width'\n"
        );
        let long = format!("{}\t{}", "word ".repeat(20), "end");
        let out = yaml(json!({ "k": long }));
        assert!(out.starts_with("k: \"word word"), "{out}");
        assert!(out.contains("\n  "), "{out}");
    }

    #[test]
    fn yaml_does_not_fold_keys() {
        let key = "k ".repeat(60);
        let out = yaml(json!({ key.trim_end(): 1 }));
        assert_eq!(out.lines().count(), 1);
    }

    #[test]
    fn yaml_writes_overlong_keys_in_explicit_form() {
        let key = "a".repeat(129);
        assert_eq!(
            yaml(json!({ key.clone(): {"b": 1} })),
            format!("? {key}\n: b: 1\n")
        );
    }

    #[test]
    fn yaml_orders_keys_like_go_yaml() {
        let out = yaml(json!({"a10": 1, "a2": 2, "b": 3, "_x": 4, "B": 5, "a-b": 6, "a.b": 7}));
        let keys: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
        // `_` is not a letter, so it sorts before every letter (byte order would put it
        // after `B`).
        assert_eq!(keys, ["_x", "B", "a-b", "a.b", "a2", "a10", "b"]);
    }

    #[test]
    fn yaml_of_a_real_pod_quotes_timestamps_and_round_trips_its_shape() {
        let pod: Value = serde_json::from_slice(fixture_body(include_str!(
            "../../../tests/fixtures/pod-get.http"
        )))
        .unwrap();
        let out = to_yaml(&pod);
        assert!(
            out.starts_with("apiVersion: v1\nkind: Pod\nmetadata:\n"),
            "{out}"
        );
        assert!(
            out.contains("\n  creationTimestamp: \"2026-11-28T15:14:34Z\"\n"),
            "{out}"
        );
        assert!(out.contains("\n  containers:\n  - "), "{out}");
        assert!(out.lines().all(|l| !l.ends_with(' ')));
    }

    #[test]
    fn yaml_of_a_root_list_and_scalars() {
        assert_eq!(yaml(json!(["a", {"b": 1}])), "- a\n- b: 1\n");
        assert_eq!(yaml(json!({})), "{}\n");
        assert_eq!(yaml(json!("x")), "x\n");
    }
}
