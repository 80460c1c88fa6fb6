//! The model registry: which provider serves a model, how large its context
//! window is, how much it may write, and what it costs.
//!
//! Prices are integers in micro-USD (millionths of a dollar) per million
//! tokens, so costs add up without floating-point drift: $2.50 per 1M tokens
//! is `2_500_000`. The defaults are OpenAI's list prices when written; a
//! deployment corrects or extends them with TOML:
//!
//! ```toml
//! [[models]]
//! id = "gpt-4o"
//! input_price_per_million = 2_500_000   # $2.50
//! output_price_per_million = 10_000_000 # $10.00
//!
//! [[models]]
//! id = "llama3.1:8b"
//! provider = "ollama"
//! context_window = 131072
//! ```
//!
//! An entry for a known id overrides only the fields it names; a new id needs
//! at least `context_window`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Usage;

/// Micro-USD in one dollar.
pub const MICRO_USD_PER_USD: u64 = 1_000_000;

/// What the registry knows about one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The id clients send.
    pub id: String,
    /// The provider serving it (`openai`, `echo`, …).
    pub provider: String,
    /// Prompt plus reply, in tokens.
    pub context_window: u32,
    /// The most it may generate in one reply.
    pub max_output_tokens: u32,
    /// Micro-USD per million prompt tokens.
    pub input_price_per_million: u64,
    /// Micro-USD per million generated tokens.
    pub output_price_per_million: u64,
}

impl ModelSpec {
    /// A model with the given window, OpenAI as provider, a 4,096-token reply
    /// budget (or the whole window if smaller) and no price.
    pub fn new(id: impl Into<String>, context_window: u32) -> Self {
        ModelSpec {
            id: id.into(),
            provider: "openai".to_owned(),
            context_window,
            max_output_tokens: context_window.min(4096),
            input_price_per_million: 0,
            output_price_per_million: 0,
        }
    }

    /// What `usage` costs, in micro-USD, rounded half up once for the whole
    /// call so that rounding never biases a sum of many calls in one
    /// direction by more than half a micro-dollar each.
    pub fn cost(&self, usage: &Usage) -> u64 {
        let numerator = u128::from(usage.prompt_tokens) * u128::from(self.input_price_per_million)
            + u128::from(usage.completion_tokens) * u128::from(self.output_price_per_million);
        let micro = (numerator + 500_000) / 1_000_000;
        u64::try_from(micro).unwrap_or(u64::MAX)
    }
}

/// Why a registry file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The TOML does not parse or has unknown fields.
    #[error("model registry: {0}")]
    Parse(String),
    /// An entry is incomplete or out of range.
    #[error("model registry: model {id}: {problem}")]
    Invalid {
        /// The model's id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

/// Models by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRegistry {
    models: BTreeMap<String, ModelSpec>,
}

impl Default for ModelRegistry {
    fn default() -> Self {
        Self::with_defaults()
    }
}

/// One `[[models]]` entry; every field but `id` may be left out when
/// overriding a known model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelEntry {
    id: String,
    provider: Option<String>,
    context_window: Option<u32>,
    max_output_tokens: Option<u32>,
    input_price_per_million: Option<u64>,
    output_price_per_million: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    models: Vec<ModelEntry>,
}

/// `(id, context window, max output, $ per 1M input, $ per 1M output)` in
/// micro-USD, OpenAI list prices when written.
const OPENAI_DEFAULTS: &[(&str, u32, u32, u64, u64)] = &[
    ("gpt-4o", 128_000, 16_384, 2_500_000, 10_000_000),
    ("gpt-4o-mini", 128_000, 16_384, 150_000, 600_000),
    ("gpt-4.1", 1_047_576, 32_768, 2_000_000, 8_000_000),
    ("gpt-4.1-mini", 1_047_576, 32_768, 400_000, 1_600_000),
    ("gpt-4.1-nano", 1_047_576, 32_768, 100_000, 400_000),
    ("gpt-5", 400_000, 128_000, 1_250_000, 10_000_000),
    ("gpt-5-mini", 400_000, 128_000, 250_000, 2_000_000),
    ("gpt-5-nano", 400_000, 128_000, 50_000, 400_000),
    ("o1", 200_000, 100_000, 15_000_000, 60_000_000),
    ("o1-mini", 128_000, 65_536, 1_100_000, 4_400_000),
    ("o3", 200_000, 100_000, 2_000_000, 8_000_000),
    ("o3-mini", 200_000, 100_000, 1_100_000, 4_400_000),
    ("o4-mini", 200_000, 100_000, 1_100_000, 4_400_000),
    ("gpt-4-turbo", 128_000, 4_096, 10_000_000, 30_000_000),
    ("gpt-4", 8_192, 8_192, 30_000_000, 60_000_000),
    ("gpt-3.5-turbo", 16_385, 4_096, 500_000, 1_500_000),
];

impl ModelRegistry {
    /// A registry with no models.
    pub fn empty() -> Self {
        ModelRegistry {
            models: BTreeMap::new(),
        }
    }

    /// The common OpenAI models and the offline `echo` model.
    pub fn with_defaults() -> Self {
        let mut registry = Self::empty();
        for &(id, window, output, input_price, output_price) in OPENAI_DEFAULTS {
            registry.insert(ModelSpec {
                max_output_tokens: output,
                input_price_per_million: input_price,
                output_price_per_million: output_price,
                ..ModelSpec::new(id, window)
            });
        }
        registry.insert(ModelSpec {
            provider: "echo".to_owned(),
            ..ModelSpec::new("echo", 128_000)
        });
        registry
    }

    /// The defaults, overridden and extended by a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, RegistryError> {
        let mut registry = Self::with_defaults();
        registry.merge_toml(text)?;
        Ok(registry)
    }

    /// Applies a TOML document's `[[models]]` entries. Nothing changes if
    /// any entry is refused.
    pub fn merge_toml(&mut self, text: &str) -> Result<(), RegistryError> {
        let file: RegistryFile = toml::from_str(text).map_err(|err| {
            let at = err
                .span()
                .map(|span| format!(" (at byte {})", span.start))
                .unwrap_or_default();
            RegistryError::Parse(format!("{}{at}", err.message().trim()))
        })?;
        let mut merged = self.models.clone();
        for entry in file.models {
            let spec = Self::apply(merged.get(&entry.id), entry)?;
            merged.insert(spec.id.clone(), spec);
        }
        self.models = merged;
        Ok(())
    }

    fn apply(existing: Option<&ModelSpec>, entry: ModelEntry) -> Result<ModelSpec, RegistryError> {
        let invalid = |problem: &str| RegistryError::Invalid {
            id: entry.id.clone(),
            problem: problem.to_owned(),
        };
        if entry.id.trim().is_empty() {
            return Err(invalid("id must not be empty"));
        }
        let base = match (existing, entry.context_window) {
            (Some(spec), _) => spec.clone(),
            (None, Some(window)) => ModelSpec::new(entry.id.clone(), window),
            (None, None) => return Err(invalid("context_window is required for a new model")),
        };
        let spec = ModelSpec {
            id: entry.id.clone(),
            provider: entry.provider.clone().unwrap_or(base.provider),
            context_window: entry.context_window.unwrap_or(base.context_window),
            max_output_tokens: entry.max_output_tokens.unwrap_or(base.max_output_tokens),
            input_price_per_million: entry
                .input_price_per_million
                .unwrap_or(base.input_price_per_million),
            output_price_per_million: entry
                .output_price_per_million
                .unwrap_or(base.output_price_per_million),
        };
        if spec.context_window == 0 || spec.max_output_tokens == 0 {
            return Err(invalid(
                "context_window and max_output_tokens must be positive",
            ));
        }
        if spec.provider.trim().is_empty() {
            return Err(invalid("provider must not be empty"));
        }
        Ok(spec)
    }

    /// Adds or replaces a model, returning what it replaced.
    pub fn insert(&mut self, spec: ModelSpec) -> Option<ModelSpec> {
        self.models.insert(spec.id.clone(), spec)
    }

    /// A model by id. A dated snapshot (`gpt-4o-2024-08-06`,
    /// `gpt-3.5-turbo-0125`) falls back to its family when not registered
    /// itself, since OpenAI answers with the snapshot's id.
    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models
            .get(id)
            .or_else(|| snapshot_family(id).and_then(|family| self.models.get(family)))
    }

    /// Every model, by id.
    pub fn models(&self) -> impl Iterator<Item = &ModelSpec> {
        self.models.values()
    }

    /// The models a provider serves.
    pub fn for_provider<'a>(&'a self, provider: &'a str) -> impl Iterator<Item = &'a ModelSpec> {
        self.models().filter(move |spec| spec.provider == provider)
    }

    /// Whether calls of `model` have a known price: it is in the registry
    /// with a price, or is the offline `echo` model (free by nature). An
    /// unpriced model's calls are recorded at cost 0 and flagged in usage.
    pub fn is_priced(&self, model: &str) -> bool {
        self.get(model).is_some_and(|spec| {
            spec.provider == "echo"
                || spec.input_price_per_million > 0
                || spec.output_price_per_million > 0
        })
    }

    /// What `usage` on `model` costs in micro-USD; `None` for an unknown
    /// model, so an unpriced model is never mistaken for a free one.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<u64> {
        self.get(model).map(|spec| spec.cost(usage))
    }
}

/// The family of a dated snapshot id: `gpt-4o` for `gpt-4o-2024-08-06`,
/// `gpt-4` for `gpt-4-0613`.
fn snapshot_family(id: &str) -> Option<&str> {
    let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    // `get` rather than `split_at`: the id is the client's text, and the
    // cut 11 bytes from the end may fall inside a multi-byte character.
    if let Some(cut) = id.len().checked_sub(11).filter(|&cut| cut > 0)
        && let (Some(family), Some(date)) = (id.get(..cut), id.get(cut..))
    {
        let parts: Vec<&str> = date.split('-').collect();
        if let ["", year, month, day] = parts.as_slice()
            && all_digits(year, 4)
            && all_digits(month, 2)
            && all_digits(day, 2)
        {
            return Some(family);
        }
    }
    let (family, suffix) = id.rsplit_once('-')?;
    (all_digits(suffix, 4) && !family.is_empty()).then_some(family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_integer_arithmetic() {
        let registry = ModelRegistry::with_defaults();
        // 1M prompt tokens of gpt-4o at $2.50 and 1M completion at $10.
        let usage = Usage::new(1_000_000, 1_000_000);
        assert_eq!(registry.cost("gpt-4o", &usage), Some(12_500_000));
        // 1,234 prompt and 567 completion tokens on gpt-4o-mini:
        // 1234 × 0.15 + 567 × 0.60 = 185.1 + 340.2 = 525.3 µUSD.
        assert_eq!(
            registry.cost("gpt-4o-mini", &Usage::new(1234, 567)),
            Some(525)
        );
        // Rounding happens once per call, half up: 3 × 0.15 + 1 × 0.6 = 1.05.
        assert_eq!(registry.cost("gpt-4o-mini", &Usage::new(3, 1)), Some(1));
        assert_eq!(registry.cost("gpt-4o-mini", &Usage::new(10, 0)), Some(2));
        assert_eq!(registry.cost("echo", &usage), Some(0));
        assert_eq!(registry.cost("no-such-model", &usage), None);
        // The largest usage cannot overflow.
        let huge = Usage::new(u32::MAX, u32::MAX);
        assert_eq!(
            registry.cost("o1", &huge),
            Some((u64::from(u32::MAX) * 75_000_000 + 500_000) / 1_000_000)
        );
    }

    #[test]
    fn snapshots_fall_back_to_their_family() {
        let registry = ModelRegistry::with_defaults();
        assert_eq!(registry.get("gpt-4o-2024-08-06").unwrap().id, "gpt-4o");
        assert_eq!(
            registry.get("gpt-4o-mini-2024-07-18").unwrap().id,
            "gpt-4o-mini"
        );
        assert_eq!(registry.get("gpt-4-0613").unwrap().id, "gpt-4");
        assert_eq!(
            registry.get("gpt-3.5-turbo-0125").unwrap().id,
            "gpt-3.5-turbo"
        );
        assert!(registry.get("gpt-4o-audio").is_none());
        assert!(registry.get("o1-pro").is_none());
    }

    #[test]
    fn ids_cut_inside_a_character_are_unknown_not_a_panic() {
        let registry = ModelRegistry::with_defaults();
        // The byte 11 from the end of each falls inside a character.
        for id in ["ééééééé", "👍👍👍", "gpt-4o-2024-08-0é", "é-2024-08-06"] {
            assert!(registry.get(id).is_none(), "{id}");
            assert_eq!(registry.cost(id, &Usage::new(1, 1)), None, "{id}");
        }
        assert_eq!(snapshot_family("gpté-2024-08-06"), Some("gpté"));
    }

    proptest::proptest! {
        #[test]
        fn any_unicode_id_is_looked_up_without_panicking(id in "\\PC{0,24}", tail in "[-0-9é👍]{0,12}") {
            let registry = ModelRegistry::with_defaults();
            let id = format!("{id}{tail}");
            let _ = registry.get(&id);
            if let Some(family) = snapshot_family(&id) {
                proptest::prop_assert!(id.starts_with(family));
            }
        }
    }

    #[test]
    fn toml_overrides_and_extends_the_defaults() {
        let registry = ModelRegistry::from_toml(
            r#"
            [[models]]
            id = "gpt-4o"
            input_price_per_million = 2_000_000

            [[models]]
            id = "llama3.1:8b"
            provider = "ollama"
            context_window = 131072
            "#,
        )
        .unwrap();
        let gpt4o = registry.get("gpt-4o").unwrap();
        assert_eq!(gpt4o.input_price_per_million, 2_000_000);
        assert_eq!(gpt4o.output_price_per_million, 10_000_000, "kept");
        assert_eq!(gpt4o.context_window, 128_000, "kept");
        let llama = registry.get("llama3.1:8b").unwrap();
        assert_eq!(llama.provider, "ollama");
        assert_eq!(llama.max_output_tokens, 4096);
        assert_eq!(llama.input_price_per_million, 0);
        assert_eq!(registry.for_provider("ollama").count(), 1);
        assert!(registry.get("echo").is_some(), "defaults stay");
    }

    #[test]
    fn bad_toml_is_refused_whole_with_one_line() {
        let mut registry = ModelRegistry::with_defaults();
        let before = registry.clone();
        let cases = [
            (
                "[[models]]\nid = \"x\"\ncontext_window = 8\ninput_price = 1\n",
                "input_price",
            ),
            (
                "[[models]]\nid = \"new-model\"\n",
                "context_window is required",
            ),
            (
                "[[models]]\nid = \"gpt-4o\"\ncontext_window = 0\n",
                "must be positive",
            ),
            (
                "[[models]]\nid = \"gpt-4o\"\ninput_price_per_million = -1\n",
                "model registry",
            ),
            ("[[models]\n", "model registry"),
        ];
        for (text, needle) in cases {
            let err = registry.merge_toml(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        // A later bad entry leaves the earlier good one unapplied.
        let mixed = "[[models]]\nid = \"ok\"\ncontext_window = 8\n[[models]]\nid = \"bad\"\n";
        assert!(registry.merge_toml(mixed).is_err());
        assert_eq!(registry, before);
    }
}
