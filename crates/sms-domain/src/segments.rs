//! How many SMS segments a text takes: GSM-7 160 single / 153 per part, otherwise UCS-2 70 / 67.

/// The GSM 03.38 basic character set (without the escape character).
pub const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the extension table: each costs two septets (escape + character).
pub const GSM7_EXTENDED: &str = "\u{c}^{}\\[~]|€";

/// Septets in a single GSM-7 message, and per part of a split one.
pub const GSM7_LIMITS: (usize, usize) = (160, 153);
/// UTF-16 units in a single UCS-2 message, and per part of a split one.
pub const UCS2_LIMITS: (usize, usize) = (70, 67);

/// Segments of `text`: GSM-7 takes 160 septets in a single part and 153 per part when split;
/// anything outside GSM-7 goes as UCS-2, 70 UTF-16 units single and 67 per part.
pub fn count(text: &str) -> i32 {
    let septets: Option<usize> = text.chars().try_fold(0usize, |acc, c| {
        if GSM7_BASIC.contains(c) {
            Some(acc + 1)
        } else if GSM7_EXTENDED.contains(c) {
            Some(acc + 2)
        } else {
            None
        }
    });
    let (units, single, multi) = match septets {
        Some(septets) => (septets, GSM7_LIMITS.0, GSM7_LIMITS.1),
        None => (text.encode_utf16().count(), UCS2_LIMITS.0, UCS2_LIMITS.1),
    };
    let parts = if units <= single { 1 } else { units.div_ceil(multi) };
    i32::try_from(parts).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn gsm7_limits() {
        assert_eq!(count("lorem ipsum"), 1);
        assert_eq!(count(&"a".repeat(160)), 1);
        assert_eq!(count(&"a".repeat(161)), 2);
        assert_eq!(count(&"a".repeat(306)), 2);
        assert_eq!(count(&"a".repeat(307)), 3);
        assert_eq!(count(&"€".repeat(80)), 1);
        assert_eq!(count(&"€".repeat(81)), 2);
    }

    #[test]
    fn ucs2_limits() {
        assert_eq!(count(&"ü".repeat(160)), 1, "ü is GSM-7");
        assert_eq!(count(&"中".repeat(70)), 1);
        assert_eq!(count(&"中".repeat(71)), 2);
        assert_eq!(count(&"中".repeat(134)), 2);
        assert_eq!(count(&"中".repeat(135)), 3);
        assert_eq!(count(&"😀".repeat(35)), 1, "an emoji is two UTF-16 units");
        assert_eq!(count(&"😀".repeat(36)), 2);
    }
}
