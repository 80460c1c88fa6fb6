//! Rules for people's text. Names and titles are one trimmed line without
//! control characters; longer text (content, descriptions, prompts) may hold
//! tabs and line breaks but no other control character, NUL included.

use crate::FieldErrors;

/// Why a piece of text is refused.
pub type TextProblem = &'static str;

/// Characters allowed in an org slug taken from a token's `org` claim.
pub const MAX_ORG_CHARS: usize = 100;

/// A name or title: trimmed, not empty, no control characters, at most
/// `max` characters.
pub fn one_line(raw: &str, max: usize) -> Result<String, TextProblem> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("must not be empty or only whitespace");
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    if text.chars().count() > max {
        return Err("is too long");
    }
    Ok(text.to_owned())
}

/// Multi-line text: no control characters but tab, line feed and carriage
/// return.
pub fn multi_line(raw: &str) -> Result<(), TextProblem> {
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err("must not contain NUL or control characters other than tabs and line breaks");
    }
    Ok(())
}

/// A display name from an identity provider, made safe rather than refused:
/// control characters dropped, whitespace trimmed, cut to `max` characters.
/// `None` when nothing is left.
pub fn sanitize_name(raw: &str, max: usize) -> Option<String> {
    let cleaned: String = raw.chars().filter(|c| !c.is_control()).collect();
    let name: String = cleaned.trim().chars().take(max).collect();
    let name = name.trim_end().to_owned();
    (!name.is_empty()).then_some(name)
}

/// Collects the problems of several fields.
#[derive(Debug, Default)]
pub struct TextCheck {
    errors: FieldErrors,
}

impl TextCheck {
    /// A new, empty check.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks an optional one-line field, returning it trimmed.
    pub fn one_line(&mut self, field: &str, raw: Option<&str>, max: usize) -> Option<String> {
        match one_line(raw?, max) {
            Ok(text) => Some(text),
            Err(problem) => {
                self.errors.add(field, problem);
                None
            }
        }
    }

    /// Checks an optional multi-line field.
    pub fn multi_line(&mut self, field: &str, raw: Option<&str>) {
        if let Some(Err(problem)) = raw.map(multi_line) {
            self.errors.add(field, problem);
        }
    }

    /// The problems found, if any.
    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_text_is_trimmed_and_refused_when_blank_or_controlled() {
        assert_eq!(one_line("  plans  ", 10), Ok("plans".into()));
        for bad in ["", "   ", "\u{0}", "a\u{0}b", "a\nb", "\u{7}"] {
            assert!(one_line(bad, 10).is_err(), "{bad:?}");
        }
        assert!(one_line("ééééé", 5).is_ok());
        assert!(one_line("éééééé", 5).is_err());
    }

    #[test]
    fn multi_line_text_keeps_tabs_and_line_breaks_only() {
        assert!(multi_line("a\n\tb\r\n").is_ok());
        assert!(multi_line("a\u{0}").is_err());
        assert!(multi_line("\u{1b}[31m").is_err());
    }

    #[test]
    fn names_from_providers_are_cleaned() {
        assert_eq!(sanitize_name(" A\u{0}da ", 10), Some("Ada".into()));
        assert_eq!(sanitize_name("\u{0} ", 10), None);
        assert_eq!(sanitize_name("ab cd", 3), Some("ab".into()));
    }

    proptest::proptest! {
        /// Any Unicode is checked and cut by characters, never by bytes.
        #[test]
        fn any_text_is_checked_without_panicking(raw in "\\PC*|.*", max in 0usize..20) {
            if let Ok(text) = one_line(&raw, max) {
                proptest::prop_assert!(text.chars().count() <= max);
            }
            let _ = multi_line(&raw);
            if let Some(name) = sanitize_name(&raw, max) {
                proptest::prop_assert!(name.chars().count() <= max);
            }
        }
    }
}
