//! Phone numbers, valid by construction.

use std::fmt;
use std::sync::LazyLock;

use phonenumber::country::Id;

mod us_patterns;
use us_patterns::US_NUMBERS;

/// Why a string is not an acceptable number. Blank input is the caller's concern (it maps to the
/// "is required" rows), so it is not a variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Not a phone number at all, not a valid NANP number, or one with an extension.
    #[error("invalid phone number")]
    Invalid,
    /// A valid-looking number outside the United States (another country code, Canada, the
    /// Caribbean).
    #[error("Non-US phone number not allowed")]
    NonUs,
}

/// Longest input worth handing to the parser; anything longer is not a phone number.
const MAX_INPUT_LEN: usize = 64;

/// How many of the inputs parsed lately [`E164Number::parse`] remembers.
const REMEMBERED: usize = 4096;

/// What the inputs parsed lately parsed to, by the input as trimmed. libphonenumber tries its
/// metadata's patterns one by one, and finds each compiled pattern in a cache keyed by the
/// pattern's whole text: the two numbers of a send were 11 % of the server's CPU per send
/// (BENCHMARKS.md, seventeenth session). A tenant's few outbound numbers come back on every
/// send, and its consumers often; what an input parses to depends on nothing else.
static PARSED: LazyLock<quick_cache::sync::Cache<Box<str>, Result<E164Number, PhoneError>>> =
    LazyLock::new(|| quick_cache::sync::Cache::new(REMEMBERED));

/// A US phone number in E.164 form (`+14155550100`).
///
/// The only way to get one is [`E164Number::parse`], which applies the service's rules: a country
/// code other than +1 is non-US even when the rest is not a valid number of that country; a +1
/// number valid outside the US region (Canada, the Caribbean) is non-US; anything else that is
/// not a valid NANP number, or carries an extension, is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164Number(String);

impl E164Number {
    /// Parses any common US format: `+1 415-555-0100`, `(415) 555-0100`, `4155550100`, ...
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let input = input.trim();
        if input.is_empty() || input.len() > MAX_INPUT_LEN {
            return Err(PhoneError::Invalid);
        }
        if let Some(parsed) = PARSED.get(input) {
            return parsed;
        }
        let parsed = Self::parse_trimmed(input);
        PARSED.insert(input.into(), parsed.clone());
        parsed
    }

    /// [`E164Number::parse`] of a trimmed input of acceptable length, without remembering.
    fn parse_trimmed(input: &str) -> Result<Self, PhoneError> {
        let input = read_as_typed(input);
        // libphonenumber reads a final `~` followed by digits as an extension (`415~555~0100` is
        // 415-555 extension 0100): an extension makes a number invalid.
        if input.rsplit_once('~').is_some_and(|(_, tail)| !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(PhoneError::Invalid);
        }
        // The country code decides "non-US" before any validity check: the metadata cannot
        // even parse some foreign numbers (`+82 000-000-0000`), yet they are non-US.
        if let Some(rest) = input.strip_prefix('+') {
            let first_digit =
                rest.chars().find(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).ok_or(PhoneError::Invalid)?;
            match first_digit {
                '1' => {}
                '0' | '2'..='9' => return Err(PhoneError::NonUs),
                _ => return Err(PhoneError::Invalid),
            }
        }
        let mut number = phonenumber::parse(Some(Id::US), &input).map_err(|_| PhoneError::Invalid)?;
        // libphonenumber reads letters as keypad digits only when there are at least three (a
        // vanity number); one or two it drops. The parser here always maps them.
        let letters = input.chars().filter(char::is_ascii_alphabetic).count();
        match number.extension() {
            Some(e) if !e.is_empty() => return Err(PhoneError::Invalid),
            // A marker with no digits after it: `… x` is dropped as a stray letter, and the
            // number stands; `… ext` (letters read as digits) or `… #` spoil it.
            Some(_) if !(1..3).contains(&letters) => return Err(PhoneError::Invalid),
            _ => {}
        }
        if (1..3).contains(&letters) {
            let without: String = input.chars().filter(|c| !c.is_ascii_alphabetic()).collect();
            number = phonenumber::parse(Some(Id::US), &without).map_err(|_| PhoneError::Invalid)?;
        }
        if number.code().value() != 1 {
            return Err(PhoneError::NonUs);
        }
        let national = number.national().to_string();
        if US_NUMBERS.as_ref().is_some_and(|us| us.knows(&national)) {
            return Ok(Self(format!("+1{national}")));
        }
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        match number.country().id() {
            Some(Id::US) => {}
            _ => return Err(PhoneError::NonUs),
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Self(e164))
    }

    /// Rebuilds a number that was validated before it was stored. Values read back from the
    /// database went through [`E164Number::parse`] on the way in.
    pub fn from_trusted(e164: String) -> Self {
        Self(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// The number with all but its last four digits hidden, for logs.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// Loads the numbering metadata once, so the first request does not pay for it (~90 ms).
    pub fn warm_up() {
        let _ = Self::parse("+1 415-555-0100");
    }
}

/// A number read back from where it was stored after [`E164Number::parse`]: only its shape is
/// checked (`+1` and ten digits), which is all a stored value can have lost.
impl TryFrom<String> for E164Number {
    type Error = PhoneError;

    fn try_from(stored: String) -> Result<Self, PhoneError> {
        let digits = stored.strip_prefix("+1").ok_or(PhoneError::Invalid)?;
        if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(stored))
        } else {
            Err(PhoneError::Invalid)
        }
    }
}

impl AsRef<str> for E164Number {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for E164Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number as libphonenumber reads what a person typed, before the parser sees it: any
/// script's decimal digits as ASCII digits, the full-width plus and the dashes, dots, slashes
/// and spaces of other scripts as their ASCII forms, a run of leading pluses as one. A number
/// written only with digits, one leading `+` and ASCII separators is handed over as its digits
/// (with the `+`): the parser here would otherwise read `+1415-555-0100` as a `tel:` URI with
/// country code 1415.
fn read_as_typed(input: &str) -> String {
    let mapped: String = input.chars().map(|c| ascii_digit(c).or_else(|| ascii_punctuation(c)).unwrap_or(c)).collect();
    let body = mapped.trim_start_matches('+');
    let plus = body.len() != mapped.len();
    let separators_only =
        body.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '[' | ']'));
    if separators_only {
        let digits: String = body.chars().filter(char::is_ascii_digit).collect();
        return if plus { format!("+{digits}") } else { digits };
    }
    if plus {
        format!("+{body}")
    } else {
        mapped
    }
}

/// The first code points of the blocks of decimal digits (Unicode `Nd`) in the Basic
/// Multilingual Plane: a digit is its offset from its block's zero.
const DIGIT_ZEROS: [u32; 37] = [
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6, 0x0E50,
    0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50,
    0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x0030,
];

fn ascii_digit(c: char) -> Option<char> {
    let code = u32::from(c);
    DIGIT_ZEROS
        .iter()
        .find(|zero| (**zero..**zero + 10).contains(&code))
        .and_then(|zero| char::from_digit(code - zero, 10))
}

/// Punctuation libphonenumber accepts inside a number, as the ASCII the parser here knows.
fn ascii_punctuation(c: char) -> Option<char> {
    match c {
        '\u{FF0B}' => Some('+'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF0D}' => Some('-'),
        '\u{00A0}' | '\u{00AD}' | '\u{200B}' | '\u{2060}' | '\u{3000}' => Some(' '),
        '\u{FF08}' => Some('('),
        '\u{FF09}' => Some(')'),
        '\u{FF3B}' => Some('['),
        '\u{FF3D}' => Some(']'),
        '\u{FF0F}' => Some('/'),
        '\u{FF0E}' => Some('.'),
        '\u{2053}' | '\u{223C}' | '\u{FF5E}' => Some('~'),
        _ => None,
    }
}

/// Hides all but the last four characters of a phone number.
pub fn mask(number: &str) -> String {
    let count = number.chars().count();
    let keep = count.saturating_sub(4);
    number.chars().enumerate().map(|(i, c)| if i < keep { '*' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        match E164Number::parse(input) {
            Ok(n) => n.into_inner(),
            Err(e) => panic!("{input:?} should parse, got {e:?}"),
        }
    }

    #[test]
    fn accepts_common_us_formats() {
        assert_eq!(ok("+1 415-555-0100"), "+14155550100");
        assert_eq!(ok("(415) 555-0100"), "+14155550100");
        assert_eq!(ok("4155550100"), "+14155550100");
        assert_eq!(ok("415.555.0100"), "+14155550100");
        assert_eq!(ok("1 415 555 0100"), "+14155550100");
        assert_eq!(ok("+14155550100"), "+14155550100");
        assert_eq!(ok("  +1 628-555-0199  "), "+16285550199");
    }

    #[test]
    fn other_country_codes_are_non_us_even_when_invalid() {
        assert_eq!(E164Number::parse("+82 000-000-0000"), Err(PhoneError::NonUs));
        assert_eq!(E164Number::parse("+44 20 7946 0958"), Err(PhoneError::NonUs));
        assert_eq!(E164Number::parse("+7"), Err(PhoneError::NonUs));
    }

    #[test]
    fn valid_nanp_numbers_outside_the_us_are_non_us() {
        assert_eq!(E164Number::parse("+1 416-555-0100"), Err(PhoneError::NonUs));
        assert_eq!(E164Number::parse("+1 876-555-0100"), Err(PhoneError::NonUs));
    }

    #[test]
    fn garbage_and_invalid_nanp_are_invalid() {
        for input in ["12345", "abc", "+", "+1", "+1 000-000-0000", "", "   ", "+abc", "555-0100"] {
            assert_eq!(E164Number::parse(input), Err(PhoneError::Invalid), "{input:?}");
        }
    }

    #[test]
    fn extensions_are_invalid() {
        assert_eq!(E164Number::parse("+1 415-555-0100 ext. 12"), Err(PhoneError::Invalid));
        assert_eq!(E164Number::parse("4155550100 x12"), Err(PhoneError::Invalid));
    }

    #[test]
    fn reads_numbers_as_libphonenumber_does() {
        assert_eq!(ok("+1415-555-0100"), "+14155550100", "no space after the country code");
        assert_eq!(ok("+1.415.555.0100"), "+14155550100");
        assert_eq!(ok("++1 415 555 0100"), "+14155550100");
        assert_eq!(ok("\u{FF0B}\u{FF11} 415 555 0100"), "+14155550100", "full-width");
        assert_eq!(ok("\u{0664}\u{0661}\u{0665}5550100"), "+14155550100", "Arabic-Indic digits");
        assert_eq!(ok("415\u{2010}555\u{2010}0100"), "+14155550100", "a Unicode hyphen");
        assert_eq!(ok("4155550100 x"), "+14155550100", "an extension marker without digits");
        assert_eq!(E164Number::parse("415-555-0100 ext"), Err(PhoneError::Invalid), "ext read as digits");
        assert_eq!(E164Number::parse("4155550100#"), Err(PhoneError::Invalid));
        assert_eq!(E164Number::parse("1~415~555~0100"), Err(PhoneError::Invalid), "a ~ extension");
        assert_eq!(ok("(415)~555-0100"), "+14155550100");
        assert_eq!(ok("415\u{FF0E}555\u{FF0E}0100"), "+14155550100", "full-width full stops");
        assert_eq!(E164Number::parse("415-555-O100"), Err(PhoneError::Invalid), "one letter is dropped");
        assert_eq!(ok("1-800-FLOWERS"), "+18003569377", "a vanity number");
        assert_eq!(E164Number::parse("(+44) 20 7946 0958"), Err(PhoneError::NonUs));
        assert_eq!(E164Number::parse("011 44 20 7946 0958"), Err(PhoneError::NonUs));
    }

    #[test]
    fn a_remembered_input_answers_as_the_parser_does() {
        for input in ["+1 212-555-0142", "  +1 212-555-0142 ", "+1 416-555-0142", "212-555-O142", "+1 000-000-0000"] {
            let first = E164Number::parse(input);
            assert_eq!(PARSED.get(input.trim()), Some(first.clone()), "{input:?} is remembered");
            assert_eq!(E164Number::parse(input), first, "{input:?} again");
            assert_eq!(E164Number::parse_trimmed(input.trim()), first, "{input:?} parsed anew");
        }
        assert_eq!(E164Number::parse("  +1 212-555-0142 "), Ok(E164Number("+12125550142".into())));
        assert_eq!(E164Number::parse("+1 416-555-0142"), Err(PhoneError::NonUs));
        assert_eq!(E164Number::parse("212-555-O142"), Err(PhoneError::Invalid));
    }

    #[test]
    fn overlong_input_is_invalid_without_parsing() {
        let long = "4".repeat(500);
        assert_eq!(E164Number::parse(&long), Err(PhoneError::Invalid));
        assert_eq!(PARSED.get(long.as_str()), None, "nor remembered");
    }

    #[test]
    fn masks_all_but_last_four() {
        assert_eq!(mask("+14155550100"), "********0100");
        assert_eq!(mask("12"), "12");
    }
}
