//! The US region's number patterns, compiled once from libphonenumber's metadata, which
//! [`super::E164Number::parse`] checks a number against before libphonenumber's whole way.

use std::sync::LazyLock;

/// The US region's number patterns from libphonenumber's metadata, compiled once.
/// libphonenumber's own check finds the number's region by trying its country code's regions
/// in turn (the US first), then its type in that region, then the region again for the
/// country, and looks each pattern up in a cache keyed by the pattern's whole text (up to a
/// few hundred bytes, hashed with SipHash): three times the US's patterns and most of a new
/// number's parse, two thirds of its instructions (BENCHMARKS.md, eighteenth session). A
/// number the US patterns know is valid and in the US by that same check, since the US comes
/// first and has no leading digits of its own; any other number goes the whole way, which
/// tells a non-US one from an invalid one. `None` (the whole way for every number) if the
/// metadata is ever not so.
pub(super) static US_NUMBERS: LazyLock<Option<UsNumbers>> = LazyLock::new(UsNumbers::from_metadata);

/// The patterns libphonenumber's `number_type` tries for the US: the general one, then those
/// of every type; a number is of a known type when it matches the first and one of the rest.
pub(super) struct UsNumbers {
    general: Pattern,
    types: Vec<Pattern>,
}

/// One of a region's patterns, matched as libphonenumber's `Descriptor::is_match` does: the
/// number has one of the lengths, if any are given, and the pattern matches from its start.
struct Pattern {
    regex: regex::Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn of(descriptor: &phonenumber::metadata::Descriptor) -> Option<Self> {
        let regex =
            regex::RegexBuilder::new(descriptor.national_number().as_str()).ignore_whitespace(true).build().ok()?;
        Some(Self { regex, lengths: descriptor.possible_length().to_vec() })
    }

    fn matches(&self, national: &str) -> bool {
        let length_ok =
            self.lengths.is_empty() || u16::try_from(national.len()).is_ok_and(|n| self.lengths.contains(&n));
        length_ok && self.regex.find(national).is_some_and(|m| m.start() == 0)
    }
}

impl UsNumbers {
    fn from_metadata() -> Option<Self> {
        let db = &*phonenumber::metadata::DATABASE;
        let us = db.by_id("US")?;
        let first_for_code = db.region(&1u16)?.first().is_some_and(|region| *region == "US");
        if !first_for_code || us.leading_digits().is_some() {
            return None;
        }
        let d = us.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        let types = types.into_iter().flatten().map(Pattern::of).collect::<Option<Vec<_>>>()?;
        Some(Self { general: Pattern::of(d.general())?, types })
    }

    /// The national number (ten digits, no country code) is of a known type in the US.
    pub(super) fn knows(&self, national: &str) -> bool {
        self.general.matches(national) && self.types.iter().any(|p| p.matches(national))
    }
}

#[cfg(test)]
mod tests {
    use phonenumber::country::Id;

    use super::super::{E164Number, PhoneError};
    use super::*;

    /// What libphonenumber's own checks make of a number, without the US patterns.
    fn the_whole_way(input: &str) -> Result<String, PhoneError> {
        let number = phonenumber::parse(Some(Id::US), input).map_err(|_| PhoneError::Invalid)?;
        if number.code().value() != 1 {
            return Err(PhoneError::NonUs);
        }
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        match number.country().id() {
            Some(Id::US) => Ok(number.format().mode(phonenumber::Mode::E164).to_string()),
            _ => Err(PhoneError::NonUs),
        }
    }

    #[test]
    fn the_us_patterns_answer_as_libphonenumber_does() {
        let us = US_NUMBERS.as_ref().expect("the metadata has the US first for +1, with no leading digits");
        // Every area code and exchange class, and numbers of other NANP regions, toll free,
        // premium and unassigned ones: where the US patterns know a number, libphonenumber's
        // whole way finds it valid and in the US; where they do not, it does not.
        let mut known = 0;
        for area in 200..1000 {
            for exchange in [211, 555, 976] {
                let national = format!("{area}{exchange}0142");
                let whole = the_whole_way(&format!("+1{national}"));
                assert_eq!(us.knows(&national), whole.is_ok(), "{national}: {whole:?}");
                if let Ok(e164) = whole {
                    assert_eq!(e164, format!("+1{national}"));
                    assert_eq!(E164Number::parse_trimmed(&national), Ok(E164Number(e164)));
                    known += 1;
                } else {
                    assert_eq!(E164Number::parse_trimmed(&national).map(|n| n.0), whole, "{national}");
                }
            }
        }
        assert!(known > 500, "{known} numbers known");
        for national in ["415555010", "41555501000", "0415555010"] {
            assert!(!us.knows(national), "{national}");
        }
    }
}
