//! The error collector and the primitive checks (strings, arrays, text objects) every block uses.

use std::ops::RangeInclusive;

use serde_json::{Map, Value};

use crate::{DomainError, FieldErrors};

/// A JSON object as the validator walks it.
pub(super) type Object = Map<String, Value>;

/// At most this many problems are reported, so a hostile payload cannot produce a huge error body.
pub const MAX_ERRORS: usize = 50;

/// Whether a field must be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Need {
    Required,
    Optional,
}

/// Which text object types a field accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TextKind {
    /// Only `plain_text`, as Slack demands for labels, placeholders and button text.
    Plain,
    /// `plain_text` or `mrkdwn`.
    Any,
}

/// `blocks[3]` from `blocks` and 3.
pub(super) fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// `blocks[3].text` from `blocks[3]` and `text`.
pub(super) fn field(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

/// Collects problems by path, keeping the first [`MAX_ERRORS`].
#[derive(Debug, Default)]
pub(super) struct Checker {
    errors: FieldErrors,
    kept: usize,
    dropped: bool,
}

impl Checker {
    /// Records one problem, unless the report is already full.
    pub fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        if self.full() {
            self.dropped = true;
            return;
        }
        self.kept += 1;
        self.errors.add(path, message);
    }

    /// True once [`MAX_ERRORS`] problems are recorded; callers stop walking then.
    pub fn full(&self) -> bool {
        self.kept >= MAX_ERRORS
    }

    /// The collected problems as a validation error, noting when some were left out.
    pub fn finish(mut self, root: &str) -> Result<(), DomainError> {
        if self.dropped || self.full() {
            self.errors.add(
                root,
                format!("only the first {MAX_ERRORS} problems are reported"),
            );
        }
        self.errors.into_result()
    }

    /// `value` as an object, or a problem at `path`.
    pub fn object<'a>(&mut self, value: &'a Value, path: &str) -> Option<&'a Object> {
        let object = value.as_object();
        if object.is_none() {
            self.report(path, "must be an object");
        }
        object
    }

    /// `obj[key]`, reporting it at `path.key` when it is required and absent.
    /// An explicit `null` counts as absent: the lenient reading, since builders emit it.
    fn get<'a>(&mut self, obj: &'a Object, path: &str, key: &str, need: Need) -> Option<&'a Value> {
        match obj.get(key) {
            Some(Value::Null) | None => {
                if need == Need::Required {
                    self.report(field(path, key), "is required");
                }
                None
            }
            Some(value) => Some(value),
        }
    }

    /// `obj[key]` as a string whose length in characters lies in `len`.
    pub fn string<'a>(
        &mut self,
        obj: &'a Object,
        path: &str,
        key: &str,
        need: Need,
        len: RangeInclusive<usize>,
    ) -> Option<&'a str> {
        let value = self.get(obj, path, key, need)?;
        let Some(text) = value.as_str() else {
            self.report(field(path, key), "must be a string");
            return None;
        };
        if let Some(problem) = length_problem(text, &len) {
            self.report(field(path, key), problem);
        }
        Some(text)
    }

    /// `obj[key]` as an absolute `http` or `https` URL of at most `max`
    /// characters, as Slack requires (no `javascript:` or `data:` links).
    pub fn url(&mut self, obj: &Object, path: &str, key: &str, need: Need, max: usize) {
        let Some(text) = self.string(obj, path, key, need, 0..=max) else {
            return;
        };
        if !is_web_url(text) {
            self.report(field(path, key), "must be an http or https URL");
        }
    }

    /// `obj[key]` as one of `allowed`.
    pub fn one_of(&mut self, obj: &Object, path: &str, key: &str, need: Need, allowed: &[&str]) {
        let Some(value) = self.get(obj, path, key, need) else {
            return;
        };
        if !value.as_str().is_some_and(|v| allowed.contains(&v)) {
            self.report(
                field(path, key),
                format!("must be one of {}", allowed.join(", ")),
            );
        }
    }

    /// `obj[key]` as a boolean.
    pub fn boolean(&mut self, obj: &Object, path: &str, key: &str, need: Need) -> Option<bool> {
        let value = self.get(obj, path, key, need)?;
        let flag = value.as_bool();
        if flag.is_none() {
            self.report(field(path, key), "must be a boolean");
        }
        flag
    }

    /// `obj[key]` as an integer within `range`.
    pub fn integer(
        &mut self,
        obj: &Object,
        path: &str,
        key: &str,
        range: RangeInclusive<i64>,
    ) -> Option<i64> {
        let value = self.get(obj, path, key, Need::Optional)?;
        let Some(number) = value.as_i64() else {
            self.report(field(path, key), "must be an integer");
            return None;
        };
        if !range.contains(&number) {
            let (min, max) = range.into_inner();
            self.report(field(path, key), format!("must be between {min} and {max}"));
        }
        Some(number)
    }

    /// `obj[key]` as an array whose item count lies in `count`.
    /// The items come back even when there are too many, so they are still checked.
    pub fn array<'a>(
        &mut self,
        obj: &'a Object,
        path: &str,
        key: &str,
        need: Need,
        count: RangeInclusive<usize>,
    ) -> Option<&'a [Value]> {
        let value = self.get(obj, path, key, need)?;
        self.items(value, &field(path, key), count)
    }

    /// `value` (found at `path`) as an array whose item count lies in `count`.
    pub fn items<'a>(
        &mut self,
        value: &'a Value,
        path: &str,
        count: RangeInclusive<usize>,
    ) -> Option<&'a [Value]> {
        let Some(items) = value.as_array() else {
            self.report(path, "must be an array");
            return None;
        };
        if items.len() > *count.end() {
            self.report(path, format!("must have at most {} items", count.end()));
        } else if items.len() < *count.start() {
            self.report(path, format!("must have at least {} items", count.start()));
        }
        Some(items)
    }

    /// `obj[key]` as a text object of `kind` whose text has at most `max` characters.
    pub fn text(
        &mut self,
        obj: &Object,
        path: &str,
        key: &str,
        need: Need,
        kind: TextKind,
        max: usize,
    ) {
        if let Some(value) = self.get(obj, path, key, need) {
            self.text_value(value, &field(path, key), kind, max);
        }
    }

    /// `value` (found at `path`) as a text object of `kind` whose text has 1..=`max` characters.
    /// Length problems are reported at the object's own path, since the limit belongs to the
    /// field that holds it (a button's `text`), not to the text object.
    pub fn text_value(&mut self, value: &Value, path: &str, kind: TextKind, max: usize) {
        let Some(obj) = self.object(value, path) else {
            return;
        };
        let allowed: &[&str] = match kind {
            TextKind::Plain => &["plain_text"],
            TextKind::Any => &["plain_text", "mrkdwn"],
        };
        self.one_of(obj, path, "type", Need::Required, allowed);
        let Some(text) = obj.get("text") else {
            self.report(field(path, "text"), "is required");
            return;
        };
        let Some(text) = text.as_str() else {
            self.report(field(path, "text"), "must be a string");
            return;
        };
        if let Some(problem) = length_problem(text, &(1..=max)) {
            self.report(path, format!("text {problem}"));
        }
    }
}

/// Why `text` is too short or too long for `len`, counted in characters as Slack documents it.
fn length_problem(text: &str, len: &RangeInclusive<usize>) -> Option<String> {
    let chars = text.chars().count();
    if chars > *len.end() {
        Some(format!("must be at most {} characters", len.end()))
    } else if chars < *len.start() {
        Some(match len.start() {
            1 => "must not be empty".to_owned(),
            min => format!("must be at least {min} characters"),
        })
    } else {
        None
    }
}

/// Whether `text` is an absolute `http(s)://host…` URL without spaces or
/// control characters.
pub(super) fn is_web_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    !host.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}
