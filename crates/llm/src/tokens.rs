//! Token counting with OpenAI's BPE encodings, for fitting a prompt into a
//! model's context window and for usage an upstream leaves out.
//!
//! Counts are exact for text on OpenAI models and an approximation for
//! anything else (other vendors' models use other tokenizers; images are
//! estimated from their requested detail).

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use crate::{ChatMessage, ContentPart, ImageDetail, MessageContent};

/// Framing tokens around every message (`<|start|>{role}\n … <|end|>`), per
/// OpenAI's cookbook for current chat models.
const TOKENS_PER_MESSAGE: usize = 3;
/// Extra token when a message carries a `name`.
const TOKENS_PER_NAME: usize = 1;
/// Tokens that prime the reply (`<|start|>assistant<|message|>`).
const REPLY_PRIMING: usize = 3;
/// Framing per tool call; a heuristic, since OpenAI does not document it.
const TOKENS_PER_TOOL_CALL: usize = 1;
/// A low-detail image costs a flat 85 tokens.
const IMAGE_LOW_TOKENS: usize = 85;
/// A high-detail image costs 85 plus 170 per 512-pixel tile; without its
/// size we assume a 1024×1024 image (four tiles), a common upper middle.
const IMAGE_HIGH_TOKENS: usize = 85 + 4 * 170;
/// Text is encoded in pieces of at most this many bytes. The tokenizer's
/// pre-split regex backtracks in proportion to the length of a run of one
/// character class, and tiktoken-rs panics when that exceeds its limit
/// (`"^"` repeated a million times does it); pieces this short never do.
const MAX_PIECE_BYTES: usize = 8 * 1024;

/// An OpenAI BPE encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// GPT-4, GPT-3.5 and, as an approximation, every non-OpenAI model.
    Cl100kBase,
    /// GPT-4o, GPT-4.1, GPT-5 and the o-series.
    O200kBase,
}

impl Encoding {
    /// The family's stored name, kept beside a stored token count.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Cl100kBase => "cl100k",
            Encoding::O200kBase => "o200k",
        }
    }

    /// The encoding's tables, loaded once per process.
    fn bpe(self) -> Option<&'static CoreBPE> {
        static CL100K: OnceLock<Option<CoreBPE>> = OnceLock::new();
        static O200K: OnceLock<Option<CoreBPE>> = OnceLock::new();
        match self {
            Encoding::Cl100kBase => CL100K.get_or_init(|| tiktoken_rs::cl100k_base().ok()),
            Encoding::O200kBase => O200K.get_or_init(|| tiktoken_rs::o200k_base().ok()),
        }
        .as_ref()
    }

    /// Tokens in `text`, special-token spellings counted as plain text (as
    /// OpenAI does for message content).
    pub fn count(self, text: &str) -> usize {
        if text.is_empty() {
            return 0;
        }
        let Some(bpe) = self.bpe() else {
            // The tables are compiled in, so this cannot really happen; a
            // rough count still beats failing a request over it.
            return text.chars().count().div_ceil(4);
        };
        pieces(text)
            .map(|piece| bpe.encode_ordinary(piece).len())
            .sum()
    }
}

/// Splits text into pieces of at most [`MAX_PIECE_BYTES`], cutting just
/// before whitespace where possible: the tokenizer attaches a space to the
/// word after it, so such cuts do not change the count.
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() <= MAX_PIECE_BYTES {
            return Some(std::mem::take(&mut rest));
        }
        let mut cut = MAX_PIECE_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if let Some(space) = rest[..cut]
            .rfind(char::is_whitespace)
            .filter(|&i| i >= MAX_PIECE_BYTES / 2)
        {
            cut = space;
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// The encoding a model uses: o200k_base for GPT-4o, GPT-4.1, GPT-4.5,
/// GPT-5, gpt-oss and the o-series, cl100k_base for everything else.
/// Vendor prefixes (`openai/gpt-4o`) and fine-tune names (`ft:gpt-4o:…`)
/// are understood.
pub fn encoding_for_model(model: &str) -> Encoding {
    let model = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    let model = model.strip_prefix("ft:").unwrap_or(&model);
    let o200k_families = [
        "gpt-4o",
        "chatgpt-4o",
        "gpt-4.1",
        "gpt-4.5",
        "gpt-5",
        "gpt-oss",
    ];
    if o200k_families.iter().any(|f| model.starts_with(f)) || is_o_series(model) {
        Encoding::O200kBase
    } else {
        Encoding::Cl100kBase
    }
}

/// `o1`, `o3-mini`, `o4-mini-2025-04-16`, …: an `o`, digits, then the end,
/// a dash or a colon.
fn is_o_series(model: &str) -> bool {
    let Some(rest) = model.strip_prefix('o') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(rest.as_bytes().get(digits), None | Some(b'-' | b':'))
}

/// Tokens in `text` for `model`.
pub fn count_tokens(model: &str, text: &str) -> usize {
    encoding_for_model(model).count(text)
}

/// What one message adds to a prompt for `model`: its tokens with the
/// per-message framing, without the reply priming counted once per prompt.
pub fn message_tokens(model: &str, message: &ChatMessage) -> usize {
    count_message_tokens(model, std::slice::from_ref(message)) - count_message_tokens(model, &[])
}

/// Tokens a prompt of `messages` costs on `model`, with OpenAI's per-message
/// framing and the tokens that prime the reply.
pub fn count_message_tokens(model: &str, messages: &[ChatMessage]) -> usize {
    let encoding = encoding_for_model(model);
    let per_message = messages.iter().map(|message| {
        let mut tokens = TOKENS_PER_MESSAGE + encoding.count(message.role.as_str());
        tokens += message
            .content
            .as_ref()
            .map_or(0, |content| content_tokens(encoding, content));
        if let Some(name) = &message.name {
            tokens += encoding.count(name) + TOKENS_PER_NAME;
        }
        for call in &message.tool_calls {
            tokens += TOKENS_PER_TOOL_CALL
                + encoding.count(&call.function.name)
                + encoding.count(&call.function.arguments);
        }
        if let Some(id) = &message.tool_call_id {
            tokens += encoding.count(id);
        }
        if let Some(refusal) = &message.refusal {
            tokens += encoding.count(refusal);
        }
        tokens
    });
    REPLY_PRIMING + per_message.sum::<usize>()
}

fn content_tokens(encoding: Encoding, content: &MessageContent) -> usize {
    match content {
        MessageContent::Text(text) => encoding.count(text),
        MessageContent::Parts(parts) => parts
            .iter()
            .map(|part| match part {
                ContentPart::Text { text } => encoding.count(text),
                ContentPart::Refusal { refusal } => encoding.count(refusal),
                ContentPart::ImageUrl { image_url } => match image_url.detail {
                    Some(ImageDetail::Low) => IMAGE_LOW_TOKENS,
                    Some(ImageDetail::High | ImageDetail::Auto) | None => IMAGE_HIGH_TOKENS,
                },
            })
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatRole, ImageUrl};

    #[test]
    fn models_get_their_encoding() {
        for model in [
            "gpt-4o",
            "gpt-4o-mini-2024-07-18",
            "gpt-4.1-nano",
            "gpt-5",
            "o1",
            "o3-mini",
            "o4-mini-2025-04-16",
            "openai/gpt-4o",
            "ft:gpt-4o-mini:org::id",
        ] {
            assert_eq!(encoding_for_model(model), Encoding::O200kBase, "{model}");
        }
        for model in [
            "gpt-4",
            "gpt-3.5-turbo",
            "gpt-4-turbo",
            "llama3.1:8b",
            "echo",
            "omni",
            "o",
        ] {
            assert_eq!(encoding_for_model(model), Encoding::Cl100kBase, "{model}");
        }
    }

    #[test]
    fn counts_match_openai() {
        assert_eq!(count_tokens("gpt-3.5-turbo", "hello world"), 2);
        assert_eq!(count_tokens("gpt-4o", "hello world"), 2);
        assert_eq!(count_tokens("gpt-4o", ""), 0);
        // OpenAI reports 9 prompt tokens for a lone "Hello!" from the user.
        let hello = [ChatMessage::user("Hello!")];
        assert_eq!(count_message_tokens("gpt-3.5-turbo", &hello), 9);
        assert_eq!(count_message_tokens("gpt-4o", &hello), 9);
        // A name costs its tokens plus one.
        let named = [ChatMessage {
            name: Some("ann".into()),
            ..ChatMessage::user("Hello!")
        }];
        assert_eq!(
            count_message_tokens("gpt-4o", &named),
            10 + count_tokens("gpt-4o", "ann")
        );
    }

    #[test]
    fn images_are_estimated_by_detail() {
        let image = |detail| ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "https://x/y.png".into(),
                detail,
            },
        };
        let low = [ChatMessage::with_parts(
            ChatRole::User,
            vec![image(Some(ImageDetail::Low))],
        )];
        let high = [ChatMessage::with_parts(ChatRole::User, vec![image(None)])];
        assert_eq!(count_message_tokens("gpt-4o", &low), 7 + 85);
        assert_eq!(count_message_tokens("gpt-4o", &high), 7 + 765);
    }

    #[test]
    fn long_text_is_split_without_changing_the_count() {
        let sentence = "The quick brown fox jumps over the lazy dog. ";
        let text = sentence.repeat(1000);
        assert!(text.len() > 4 * MAX_PIECE_BYTES);
        for encoding in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let whole = encoding.bpe().unwrap().encode_ordinary(&text).len();
            assert_eq!(encoding.count(&text), whole, "{encoding:?}");
        }
        let whole: String = pieces(&text).collect();
        assert_eq!(whole, text);
        let accents = "é".repeat(3 * MAX_PIECE_BYTES);
        assert_eq!(pieces(&accents).collect::<String>(), accents);
    }

    #[test]
    fn pathological_runs_do_not_panic() {
        // A million spaces in one piece makes tiktoken-rs panic; split, they
        // count like any text.
        let spaces = " ".repeat(1_000_000);
        assert!(count_tokens("gpt-4o", &spaces) > 0);
    }

    proptest::proptest! {
        /// Pieces are cut by bytes; multi-byte text of any shape around the
        /// cut concatenates back whole.
        #[test]
        fn pieces_of_any_text_are_cut_on_char_boundaries(
            text in "\\PC{0,40}",
            fill in 0usize..8,
            lead in 0usize..4,
        ) {
            let long = format!("{}{}{text}", "a".repeat(lead), "é😀".repeat(MAX_PIECE_BYTES / 6 + fill));
            let joined: String = pieces(&long).collect();
            proptest::prop_assert_eq!(joined, long.clone());
            proptest::prop_assert!(pieces(&long).all(|p| p.len() <= MAX_PIECE_BYTES));
        }
    }
}
