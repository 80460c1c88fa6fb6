//! User preferences: the defaults, the presets, validation, deep merge and dot paths.
//!
//! A caller sees the *effective* document: their stored values deep-merged over
//! [`defaults`]. Changes are JSON Merge Patches (RFC 7396): objects merge key by
//! key, any other value replaces, and `null` removes a key so that the default
//! shows through again. The store keeps only what differs from the defaults, so
//! a user who never chose a value follows the defaults when they change.
//!
//! The defaults document is also the schema: its objects are the categories and
//! its leaves the preferences, each checked by the rule [`RULES`] gives its dot
//! path. A key the defaults do not have is unknown and refused.

use std::sync::LazyLock;

use serde::Serialize;
use serde_json::{Map, Value, json};
use xl_domain::{Actor, DomainError, FieldErrors};
use xl_store::repo;

use crate::{ServiceError, Services};

/// The defaults, and the shape every preferences document must have.
static DEFAULTS: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "language": "en",
        "locale": "en-US",
        "timezone": "UTC",
        "ai": {
            "default_model": "gpt-4o",
            "temperature": 0.7,
            "max_tokens": 2048,
            "streaming": true,
            "system_prompt": "",
        },
        "ui": {
            "theme": "system",
            "density": "comfortable",
            "font_size": 14,
            "show_timestamps": true,
        },
        "notifications": {
            "email": true,
            "push": false,
            "mentions_only": false,
            "digest": "weekly",
        },
        "privacy": {
            "store_history": true,
            "share_usage_analytics": false,
            "retention_days": 365,
        },
    })
});

/// The defaults every user starts from.
pub fn defaults() -> &'static Value {
    &DEFAULTS
}

/// What a single preference may hold.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Bool,
    /// A whole number in `min..=max`.
    Integer {
        min: i64,
        max: i64,
    },
    /// Any finite number in `min..=max`.
    Number {
        min: f64,
        max: f64,
    },
    /// A string of `min..=max` characters; with `min > 0` it may not be blank.
    Text {
        min: usize,
        max: usize,
    },
    OneOf(&'static [&'static str]),
    /// An ISO 639 language code (`en`, `haw`).
    Language,
    /// A BCP 47 locale of language, optional script and optional region (`en-US`, `zh-Hant-TW`).
    Locale,
    /// `UTC` or an IANA zone name (`Europe/Berlin`).
    Timezone,
}

/// The rule of every leaf of [`DEFAULTS`], by dot path.
const RULES: &[(&str, Rule)] = &[
    ("language", Rule::Language),
    ("locale", Rule::Locale),
    ("timezone", Rule::Timezone),
    ("ai.default_model", Rule::Text { min: 1, max: 100 }),
    ("ai.temperature", Rule::Number { min: 0.0, max: 2.0 }),
    (
        "ai.max_tokens",
        Rule::Integer {
            min: 1,
            max: 128_000,
        },
    ),
    ("ai.streaming", Rule::Bool),
    (
        "ai.system_prompt",
        Rule::Text {
            min: 0,
            max: 10_000,
        },
    ),
    ("ui.theme", Rule::OneOf(&["light", "dark", "system"])),
    ("ui.density", Rule::OneOf(&["comfortable", "compact"])),
    ("ui.font_size", Rule::Integer { min: 10, max: 32 }),
    ("ui.show_timestamps", Rule::Bool),
    ("notifications.email", Rule::Bool),
    ("notifications.push", Rule::Bool),
    ("notifications.mentions_only", Rule::Bool),
    (
        "notifications.digest",
        Rule::OneOf(&["off", "daily", "weekly"]),
    ),
    ("privacy.store_history", Rule::Bool),
    ("privacy.share_usage_analytics", Rule::Bool),
    (
        "privacy.retention_days",
        Rule::Integer { min: 1, max: 3650 },
    ),
];

/// The top-level areas of the IANA time zone database.
const TZ_AREAS: &[&str] = &[
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Etc",
    "Europe",
    "Indian",
    "Pacific",
];

impl Rule {
    fn check(self, value: &Value) -> Result<(), String> {
        match self {
            Rule::Bool => value
                .is_boolean()
                .then_some(())
                .ok_or_else(|| "must be true or false".to_owned()),
            Rule::Integer { min, max } => {
                let message = || format!("must be a whole number from {min} to {max}");
                // Numbers too large for i64 are out of range as well, and a
                // float such as 2048.5 is not a whole number; both get one message.
                let n = value.as_i64().ok_or_else(message)?;
                (min..=max).contains(&n).then_some(()).ok_or_else(message)
            }
            Rule::Number { min, max } => {
                let message = || format!("must be a number from {min} to {max}");
                let n = value.as_f64().ok_or_else(message)?;
                (n.is_finite() && (min..=max).contains(&n))
                    .then_some(())
                    .ok_or_else(message)
            }
            Rule::Text { min, max } => {
                let message = || {
                    if min == 0 {
                        format!("must be a string of at most {max} characters")
                    } else {
                        format!("must be a non-blank string of {min} to {max} characters")
                    }
                };
                let text = value.as_str().ok_or_else(message)?;
                let len = text.chars().count();
                let blank = min > 0 && text.trim().is_empty();
                (!blank && (min..=max).contains(&len))
                    .then_some(())
                    .ok_or_else(message)
            }
            Rule::OneOf(allowed) => value
                .as_str()
                .filter(|text| allowed.contains(text))
                .map(|_| ())
                .ok_or_else(|| format!("must be one of: {}", allowed.join(", "))),
            Rule::Language => value
                .as_str()
                .filter(|text| is_language(text))
                .map(|_| ())
                .ok_or_else(|| "must be a lowercase ISO 639 language code such as \"en\"".into()),
            Rule::Locale => value
                .as_str()
                .filter(|text| is_locale(text))
                .map(|_| ())
                .ok_or_else(|| "must be a locale such as \"en-US\"".into()),
            Rule::Timezone => value
                .as_str()
                .filter(|text| is_timezone(text))
                .map(|_| ())
                .ok_or_else(|| {
                    "must be \"UTC\" or an IANA time zone name such as \"Europe/Berlin\"".into()
                }),
        }
    }
}

fn rule(path: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(candidate, _)| *candidate == path)
        .map(|(_, rule)| *rule)
}

fn is_language(text: &str) -> bool {
    (2..=3).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase())
}

fn is_locale(text: &str) -> bool {
    let mut parts = text.split('-');
    if !parts.next().is_some_and(is_language) {
        return false;
    }
    let mut rest: Vec<&str> = parts.collect();
    // An optional script subtag (`Hant`) comes before the region.
    let is_script = |part: &str| {
        let mut chars = part.chars();
        part.len() == 4
            && chars.next().is_some_and(|c| c.is_ascii_uppercase())
            && chars.all(|c| c.is_ascii_lowercase())
    };
    if rest.first().is_some_and(|part| is_script(part)) {
        rest.remove(0);
    }
    let is_region = |part: &str| {
        (part.len() == 2 && part.bytes().all(|b| b.is_ascii_uppercase()))
            || (part.len() == 3 && part.bytes().all(|b| b.is_ascii_digit()))
    };
    match rest.as_slice() {
        [] => true,
        [region] => is_region(region),
        _ => false,
    }
}

/// Checks the form of a zone name, not its existence: that would need the tz
/// database, and a wrong but well-formed name only falls back to UTC in clients.
fn is_timezone(text: &str) -> bool {
    if text == "UTC" {
        return true;
    }
    let parts: Vec<&str> = text.split('/').collect();
    let Some((area, places)) = parts.split_first() else {
        return false;
    };
    let is_place = |part: &&str| {
        part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+'))
    };
    text.len() <= 64
        && TZ_AREAS.contains(area)
        && (1..=2).contains(&places.len())
        && places.iter().all(is_place)
}

/// The field name of a path: its dot-joined keys, or `body` for the document itself.
fn field(path: &[String]) -> String {
    if path.is_empty() {
        "body".to_owned()
    } else {
        path.join(".")
    }
}

/// Walks `value` against `shape` (a node of [`DEFAULTS`]), recording every
/// problem under its dot path, and returns the valid part of `value`. With
/// `nulls`, a known key may be `null` (a reset in a patch).
fn check(
    value: &Value,
    shape: &Value,
    path: &mut Vec<String>,
    nulls: bool,
    errors: &mut FieldErrors,
) -> Option<Value> {
    if nulls && value.is_null() && !path.is_empty() {
        return Some(Value::Null);
    }
    let Value::Object(shape) = shape else {
        let name = path.join(".");
        let Some(rule) = rule(&name) else {
            // A leaf of the defaults without a rule is a bug the unit tests
            // catch; refusing the value keeps unchecked data out of the store.
            errors.add(name, "unknown preference");
            return None;
        };
        return match rule.check(value) {
            Ok(()) => Some(value.clone()),
            Err(message) => {
                errors.add(name, message);
                None
            }
        };
    };
    let Some(object) = value.as_object() else {
        errors.add(field(path), "must be a JSON object");
        return None;
    };
    let mut valid = Map::new();
    for (key, child) in object {
        path.push(key.clone());
        match shape.get(key) {
            None => errors.add(field(path), "unknown preference"),
            Some(child_shape) => {
                if let Some(child) = check(child, child_shape, path, nulls, errors) {
                    valid.insert(key.clone(), child);
                }
            }
        }
        path.pop();
    }
    Some(Value::Object(valid))
}

/// Deep-merges `patch` into `target` as a JSON Merge Patch (RFC 7396): objects
/// merge key by key, `null` removes the key, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// The value at a dot path (`ai.temperature`, or a whole category such as `ui`).
pub fn lookup<'a>(document: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.')
        .try_fold(document, |node, key| node.as_object()?.get(key))
}

/// What of `document` differs from `base`, or `None` when nothing does.
fn diff(base: &Value, document: &Value) -> Option<Value> {
    match (base, document) {
        (Value::Object(base), Value::Object(document)) => {
            let changed: Map<String, Value> = document
                .iter()
                .filter_map(|(key, value)| {
                    let changed = match base.get(key) {
                        Some(base) => diff(base, value)?,
                        None => value.clone(),
                    };
                    Some((key.clone(), changed))
                })
                .collect();
            (!changed.is_empty()).then_some(Value::Object(changed))
        }
        (base, document) => (base != document).then(|| document.clone()),
    }
}

/// A validated change to a user's preferences: a JSON object whose keys are
/// all known preferences, each holding a valid value or `null` (reset).
#[derive(Clone, Debug, PartialEq)]
pub struct PreferencesPatch(Value);

impl PreferencesPatch {
    /// Checks a patch, reporting every bad field at once by its dot path
    /// (`body` when the patch is not an object).
    pub fn parse(patch: &Value) -> Result<Self, DomainError> {
        let mut errors = FieldErrors::new();
        let valid = check(patch, &DEFAULTS, &mut Vec::new(), true, &mut errors);
        errors.into_result()?;
        valid
            .map(PreferencesPatch)
            .ok_or_else(|| DomainError::invalid("body", "must be a JSON object"))
    }
}

/// A user's effective preferences: always the complete, valid document.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct Preferences(Value);

impl Default for Preferences {
    fn default() -> Self {
        Preferences(DEFAULTS.clone())
    }
}

impl Preferences {
    /// The effective preferences for a stored document. Parts that no longer
    /// validate (a preference since removed or narrowed) are dropped and named
    /// in the returned errors, so old data can neither break reads nor block
    /// every later change with an error about a field the caller did not send.
    pub fn from_stored(stored: Option<&Value>) -> (Self, FieldErrors) {
        let mut errors = FieldErrors::new();
        let mut preferences = Preferences::default();
        let valid =
            stored.and_then(|stored| check(stored, &DEFAULTS, &mut Vec::new(), false, &mut errors));
        if let Some(valid) = valid {
            merge(&mut preferences.0, &valid);
        }
        (preferences, errors)
    }

    /// Applies a patch; keys set to `null` go back to their defaults.
    pub fn apply(&mut self, patch: &PreferencesPatch) {
        merge(&mut self.0, &patch.0);
        // Merging the result over the defaults fills in what `null` removed;
        // every other key is already present and wins.
        let mut complete = DEFAULTS.clone();
        merge(&mut complete, &self.0);
        self.0 = complete;
    }

    /// The value at a dot path.
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.0, path)
    }

    /// What to store: only what differs from the defaults, or `None` when
    /// nothing does.
    pub fn overrides(&self) -> Option<Value> {
        diff(&DEFAULTS, &self.0)
    }

    /// The complete document.
    pub fn as_value(&self) -> &Value {
        &self.0
    }
}

/// A named set of values a user can apply in one step.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Preset {
    /// How clients name it in `POST …/presets/{name}`.
    pub name: &'static str,
    /// What it is for, for people choosing one.
    pub description: &'static str,
    /// The values it sets, merged over the user's own.
    pub values: Value,
}

/// The presets. Each sets the same keys, so applying one after another gives
/// the same result whatever was applied before.
static PRESETS: LazyLock<Vec<Preset>> = LazyLock::new(|| {
    vec![
        Preset {
            name: "general",
            description: "Balanced answers and a roomy layout for everyday chat.",
            values: json!({
                "ai": { "temperature": 0.7, "max_tokens": 2048, "system_prompt": "" },
                "ui": { "density": "comfortable", "font_size": 14 },
            }),
        },
        Preset {
            name: "developer",
            description: "Precise, longer answers for code, in a compact layout.",
            values: json!({
                "ai": {
                    "temperature": 0.2,
                    "max_tokens": 8192,
                    "system_prompt": "You are an expert software engineer. Give correct, \
                        idiomatic code with brief explanations, and state assumptions and \
                        trade-offs explicitly.",
                },
                "ui": { "density": "compact", "font_size": 13 },
            }),
        },
        Preset {
            name: "concise",
            description: "Short, direct replies without preamble.",
            values: json!({
                "ai": {
                    "temperature": 0.5,
                    "max_tokens": 512,
                    "system_prompt": "Answer as briefly as possible: one or two sentences \
                        or a short list. Skip preamble, repetition and caveats unless asked.",
                },
                "ui": { "density": "comfortable", "font_size": 14 },
            }),
        },
        Preset {
            name: "creative",
            description: "More varied, exploratory answers for writing and brainstorming.",
            values: json!({
                "ai": {
                    "temperature": 1.2,
                    "max_tokens": 4096,
                    "system_prompt": "Be imaginative: offer several distinct ideas and \
                        vivid wording, and build on the user's ideas.",
                },
                "ui": { "density": "comfortable", "font_size": 14 },
            }),
        },
    ]
});

/// Every preset.
pub fn presets() -> &'static [Preset] {
    &PRESETS
}

/// The preset of that name.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|preset| preset.name == name)
}

impl Services {
    /// The caller's effective preferences.
    pub async fn preferences(&self, actor: &Actor) -> Result<Preferences, ServiceError> {
        let stored = repo::preferences::get(self.store.reader(), actor.user_id).await?;
        Ok(loaded(actor, stored.as_ref()))
    }

    /// One of the caller's preferences (or a whole category) by dot path.
    pub async fn preference(&self, actor: &Actor, path: &str) -> Result<Value, ServiceError> {
        self.preferences(actor)
            .await?
            .get(path)
            .cloned()
            .ok_or(ServiceError::NotFound("preference"))
    }

    /// Merges a patch into the caller's preferences and returns the result.
    pub async fn update_preferences(
        &self,
        actor: &Actor,
        patch: &Value,
    ) -> Result<Preferences, ServiceError> {
        let patch = PreferencesPatch::parse(patch)?;
        self.apply_preferences(actor, &patch).await
    }

    /// Merges a preset into the caller's preferences and returns the result.
    pub async fn apply_preference_preset(
        &self,
        actor: &Actor,
        name: &str,
    ) -> Result<Preferences, ServiceError> {
        let preset = preset(name).ok_or(ServiceError::NotFound("preset"))?;
        let patch = PreferencesPatch::parse(&preset.values)?;
        self.apply_preferences(actor, &patch).await
    }

    /// Puts the caller's preferences back to the defaults and returns them.
    pub async fn reset_preferences(&self, actor: &Actor) -> Result<Preferences, ServiceError> {
        let tx = self.store.begin_write().await?;
        repo::preferences::delete(&tx, actor.user_id).await?;
        tx.commit().await?;
        Ok(Preferences::default())
    }

    /// Read, merge and write in one write transaction, so concurrent patches
    /// of the same user both take effect instead of one overwriting the other.
    async fn apply_preferences(
        &self,
        actor: &Actor,
        patch: &PreferencesPatch,
    ) -> Result<Preferences, ServiceError> {
        let tx = self.store.begin_write().await?;
        let stored = repo::preferences::get(&tx, actor.user_id).await?;
        let mut preferences = loaded(actor, stored.as_ref());
        preferences.apply(patch);
        match preferences.overrides() {
            Some(overrides) => repo::preferences::put(&tx, actor.user_id, overrides).await?,
            None => repo::preferences::delete(&tx, actor.user_id).await?,
        }
        tx.commit().await?;
        Ok(preferences)
    }
}

/// The effective preferences for a stored document, logging what was dropped.
fn loaded(actor: &Actor, stored: Option<&Value>) -> Preferences {
    let (preferences, dropped) = Preferences::from_stored(stored);
    if !dropped.is_empty() {
        tracing::warn!(
            user_id = %actor.user_id,
            fields = ?dropped.fields().collect::<Vec<_>>(),
            "ignoring stored preferences that no longer validate"
        );
    }
    preferences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(node: &Value, path: &mut Vec<String>, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(key.clone());
                    leaves(child, path, out);
                    path.pop();
                }
            }
            _ => out.push(path.join(".")),
        }
    }

    fn errors_of(patch: Value) -> FieldErrors {
        match PreferencesPatch::parse(&patch) {
            Ok(_) => panic!("expected {patch} to be refused"),
            Err(err) => err.field_errors(),
        }
    }

    fn patched(patch: Value) -> Preferences {
        let mut preferences = Preferences::default();
        preferences.apply(&PreferencesPatch::parse(&patch).unwrap());
        preferences
    }

    #[test]
    fn every_default_has_a_rule_and_every_rule_a_default() {
        let mut paths = Vec::new();
        leaves(&DEFAULTS, &mut Vec::new(), &mut paths);
        let mut ruled: Vec<String> = RULES.iter().map(|(path, _)| (*path).to_owned()).collect();
        paths.sort();
        ruled.sort();
        assert_eq!(paths, ruled);
    }

    #[test]
    fn defaults_and_presets_validate() {
        let (_, dropped) = Preferences::from_stored(Some(&DEFAULTS));
        assert!(dropped.is_empty(), "{dropped:?}");
        for preset in presets() {
            assert!(
                PreferencesPatch::parse(&preset.values).is_ok(),
                "{}",
                preset.name
            );
        }
        for name in ["general", "developer", "concise"] {
            assert!(preset(name).is_some(), "{name}");
        }
    }

    #[test]
    fn presets_set_the_same_keys() {
        let shape = |preset: &Preset| {
            let mut paths = Vec::new();
            leaves(&preset.values, &mut Vec::new(), &mut paths);
            paths
        };
        let first = shape(&presets()[0]);
        for preset in presets() {
            assert_eq!(shape(preset), first, "{}", preset.name);
        }
    }

    #[test]
    fn merge_keeps_siblings_and_null_removes() {
        let mut doc = json!({ "a": { "x": 1, "y": 2 }, "b": 3 });
        merge(&mut doc, &json!({ "a": { "x": 10 }, "b": null, "c": [1] }));
        assert_eq!(doc, json!({ "a": { "x": 10, "y": 2 }, "c": [1] }));

        // An object replaces a scalar, and a scalar an object.
        merge(&mut doc, &json!({ "c": { "z": 1, "gone": null }, "a": 5 }));
        assert_eq!(doc, json!({ "a": 5, "c": { "z": 1 } }));
    }

    #[test]
    fn a_nested_patch_keeps_sibling_preferences() {
        let preferences = patched(json!({ "ai": { "temperature": 1.5 } }));
        assert_eq!(preferences.get("ai.temperature"), Some(&json!(1.5)));
        assert_eq!(preferences.get("ai.max_tokens"), Some(&json!(2048)));
        assert_eq!(preferences.get("ui"), DEFAULTS.get("ui"));
        assert_eq!(
            preferences.overrides(),
            Some(json!({ "ai": { "temperature": 1.5 } }))
        );
    }

    #[test]
    fn null_resets_a_key_or_a_category() {
        let mut preferences = patched(json!({
            "ai": { "temperature": 1.5, "max_tokens": 100 },
            "ui": { "theme": "dark" },
        }));
        preferences
            .apply(&PreferencesPatch::parse(&json!({ "ai": { "temperature": null } })).unwrap());
        assert_eq!(preferences.get("ai.temperature"), Some(&json!(0.7)));
        assert_eq!(preferences.get("ai.max_tokens"), Some(&json!(100)));
        preferences.apply(&PreferencesPatch::parse(&json!({ "ai": null, "ui": null })).unwrap());
        assert_eq!(preferences, Preferences::default());
        assert_eq!(preferences.overrides(), None);
    }

    #[test]
    fn values_equal_to_the_defaults_are_not_stored() {
        let preferences = patched(json!({ "ui": { "theme": "system", "density": "compact" } }));
        assert_eq!(
            preferences.overrides(),
            Some(json!({ "ui": { "density": "compact" } }))
        );
    }

    #[test]
    fn every_bad_field_is_named_by_its_dot_path() {
        let errors = errors_of(json!({
            "ai": { "temperature": 3, "max_tokens": 0, "streaming": "yes", "default_model": "" },
            "ui": { "theme": "neon", "font_size": 12.5 },
            "notifications": { "digest": "hourly" },
            "privacy": { "retention_days": 4000 },
            "timezone": "Mars/Olympus",
            "locale": "english",
            "language": "EN",
        }));
        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            vec![
                "ai.default_model",
                "ai.max_tokens",
                "ai.streaming",
                "ai.temperature",
                "language",
                "locale",
                "notifications.digest",
                "privacy.retention_days",
                "timezone",
                "ui.font_size",
                "ui.theme",
            ]
        );
    }

    #[test]
    fn unknown_keys_are_refused_even_when_null() {
        let errors = errors_of(json!({
            "colour": "red",
            "ai": { "temperature": 1, "mood": null },
            "ui": { "theme": { "nested": true } },
        }));
        assert_eq!(
            errors.fields().collect::<Vec<_>>(),
            vec!["ai.mood", "colour", "ui.theme"]
        );
    }

    #[test]
    fn a_category_must_be_an_object_and_the_patch_too() {
        let errors = errors_of(json!({ "ai": 5, "ui": [] }));
        assert_eq!(errors.fields().collect::<Vec<_>>(), vec!["ai", "ui"]);
        for body in [json!([1]), json!("x"), json!(null), json!(3)] {
            assert_eq!(errors_of(body).fields().collect::<Vec<_>>(), vec!["body"]);
        }
    }

    #[test]
    fn limits_are_inclusive() {
        assert!(
            PreferencesPatch::parse(&json!({
                "ai": {
                    "temperature": 0,
                    "max_tokens": 128_000,
                    "default_model": "x".repeat(100),
                    "system_prompt": "é".repeat(10_000),
                },
                "ui": { "font_size": 32 },
                "privacy": { "retention_days": 1 },
            }))
            .is_ok()
        );
        assert!(PreferencesPatch::parse(&json!({ "ai": { "temperature": 2.0 } })).is_ok());
        let errors = errors_of(json!({
            "ai": {
                "temperature": 2.01,
                "max_tokens": 128_001,
                "default_model": "x".repeat(101),
                "system_prompt": "é".repeat(10_001),
            },
        }));
        assert_eq!(errors.fields().count(), 4);
        assert!(!errors_of(json!({ "ai": { "default_model": "   " } })).is_empty());
    }

    #[test]
    fn time_zones_languages_and_locales() {
        for ok in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "America/Port-au-Prince",
            "Etc/GMT+5",
        ] {
            assert!(is_timezone(ok), "{ok}");
        }
        for bad in [
            "",
            "utc",
            "Berlin",
            "Mars/Olympus",
            "Europe/",
            "Europe/Ber lin",
            "Europe/../etc",
            "America/A/B/C",
        ] {
            assert!(!is_timezone(bad), "{bad}");
        }
        for ok in ["en", "en-US", "es-419", "zh-Hant-TW", "haw"] {
            assert!(is_locale(ok), "{ok}");
        }
        for bad in ["", "en_US", "en-us", "EN-US", "en-US-x", "english"] {
            assert!(!is_locale(bad), "{bad}");
        }
        assert!(is_language("en") && is_language("haw"));
        assert!(!is_language("EN") && !is_language("e") && !is_language("engl"));
    }

    #[test]
    fn dot_paths_reach_values_and_categories() {
        let preferences = Preferences::default();
        assert_eq!(preferences.get("ai.temperature"), Some(&json!(0.7)));
        assert_eq!(preferences.get("ui.theme"), Some(&json!("system")));
        assert_eq!(preferences.get("timezone"), Some(&json!("UTC")));
        assert!(preferences.get("ai").is_some_and(Value::is_object));
        for missing in ["", "ai.", ".ai", "ai.nope", "ai.temperature.x", "nope"] {
            assert_eq!(preferences.get(missing), None, "{missing}");
        }
    }

    #[test]
    fn stored_values_that_no_longer_validate_are_dropped() {
        let stored = json!({
            "ai": { "temperature": 1.1, "max_tokens": -1, "retired": true },
            "ui": "dark",
            "old_category": {},
        });
        let (preferences, dropped) = Preferences::from_stored(Some(&stored));
        assert_eq!(
            dropped.fields().collect::<Vec<_>>(),
            vec!["ai.max_tokens", "ai.retired", "old_category", "ui"]
        );
        assert_eq!(preferences.get("ai.temperature"), Some(&json!(1.1)));
        assert_eq!(preferences.get("ai.max_tokens"), Some(&json!(2048)));
        assert_eq!(preferences.get("ui"), DEFAULTS.get("ui"));

        let (preferences, dropped) = Preferences::from_stored(Some(&json!("garbage")));
        assert_eq!(preferences, Preferences::default());
        assert_eq!(dropped.fields().collect::<Vec<_>>(), vec!["body"]);
    }
}
