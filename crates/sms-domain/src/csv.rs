//! CSV as exports write it (SPEC section 8, version 3): RFC 4180 (fields quoted when they hold
//! a comma, a quote, a CR or an LF, quotes doubled, lines ended with CRLF), and no cell that a
//! spreadsheet would run as a formula: one beginning with `=`, `+`, `-` or `@` is prefixed with
//! `'`.

/// One line of CSV, with its CRLF.
pub fn line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut out = String::new();
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(&mut out, cell.as_ref());
    }
    out.push_str("\r\n");
    out
}

fn push_cell(out: &mut String, cell: &str) {
    let defused = match cell.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{cell}"),
        _ => cell.to_owned(),
    };
    if defused.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&defused.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&defused);
    }
}

#[cfg(test)]
mod tests {
    use super::line;

    #[test]
    fn plain_cells_stay_as_they_are() {
        assert_eq!(line(&["number", "created_at", ""]), "number,created_at,\r\n");
    }

    #[test]
    fn quotes_commas_and_line_breaks_are_quoted() {
        assert_eq!(line(&["a,b", "say \"stop\"", "two\nlines"]), "\"a,b\",\"say \"\"stop\"\"\",\"two\nlines\"\r\n");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(
            line(&["=HYPERLINK(\"x\")", "+14155550100", "-1", "@SUM(A1)", "a=b"]),
            "\"'=HYPERLINK(\"\"x\"\")\",'+14155550100,'-1,'@SUM(A1),a=b\r\n"
        );
    }
}
