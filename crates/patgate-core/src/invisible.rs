//! Characters that are invisible or reorder text: Unicode's general categories Cc (control),
//! Cf (format: text-direction marks, zero-width characters, the soft hyphen, tags), Zl and Zp
//! (line and paragraph separators). A name holding one can look like another name.

/// Unicode 16.0's general categories Cf (format), Zl (line separator) and Zp (paragraph
/// separator) as inclusive ranges; Cc is exactly `char::is_control`. A hand-kept table, a few
/// hundred bytes where a full category table would cost tens of KiB of wasm; a test checks it
/// against every `char` with unicode-general-category (a dev-dependency): when that crate moves
/// to a newer Unicode, the test names the characters to add.
const FORMAT_AND_SEPARATORS: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{2028}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is of Unicode's general category Cc, Cf, Zl or Zp.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || FORMAT_AND_SEPARATORS
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
}

/// The same categories, from the Unicode data: the oracle of the tests here and of the names'.
#[cfg(test)]
pub fn by_unicode_data(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    matches!(
        get_general_category(c),
        G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_exactly_cc_cf_zl_zp() {
        assert_eq!(unicode_general_category::UNICODE_VERSION, (16, 0, 0));
        let mismatches: alloc::vec::Vec<char> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|&c| is_invisible(c) != by_unicode_data(c))
            .collect();
        assert!(mismatches.is_empty(), "{mismatches:?}");
    }
}
