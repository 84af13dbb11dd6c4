//! The service's verdict on phone numbers, one per line of standard input, printed as
//! `<us|non_us|invalid>\t<E.164 or nothing>` in the same order.
//!
//! It exists so that `scripts/numbers-differential.py` can hold [`E164Number::parse`] against
//! libphonenumber's Python port over thousands of generated numbers, without a Rust test having to
//! carry that corpus or that reference.

use std::io::{self, BufRead, BufWriter, Write};

use sms_domain::{E164Number, PhoneError};

fn main() -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for line in io::stdin().lock().lines() {
        match E164Number::parse(&line?) {
            Ok(number) => writeln!(out, "us\t{}", number.as_str())?,
            Err(PhoneError::NonUs) => writeln!(out, "non_us\t")?,
            Err(PhoneError::Invalid) => writeln!(out, "invalid\t")?,
        }
    }
    out.flush()
}
