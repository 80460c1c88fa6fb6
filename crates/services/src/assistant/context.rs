//! Building the prompt for a reply: the thread's system prompt, then as much
//! of the current branch as fits the model's context window once room for
//! the reply is set aside, oldest first.

use xl_domain::messages::TokenCount;
use xl_domain::messages::blocks_text;
use xl_domain::{Message, MessageRole, MessageStatus};

use crate::responses::items;
use xl_llm::{
    ChatMessage, ChatRole, ModelRegistry, count_message_tokens, encoding_for_model, message_tokens,
};

/// The window assumed for a model the registry does not know.
pub const FALLBACK_CONTEXT_WINDOW: u32 = 8192;
/// The reply budget assumed for a model the registry does not know.
pub const FALLBACK_REPLY_TOKENS: u32 = 1024;

/// How many tokens a prompt may take: the context window less what is kept
/// for the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContextBudget {
    /// Prompt plus reply, in tokens.
    pub window: u32,
    /// Tokens kept free for the reply.
    pub reply: u32,
}

impl ContextBudget {
    /// The budget for a model: its registry entry, or the fallbacks. The
    /// reply never takes more than half the window, because some models
    /// declare a maximum output as large as their window (`gpt-4`: 8,192 of
    /// 8,192), which would leave no room for the conversation.
    pub fn for_model(models: &ModelRegistry, model: &str) -> Self {
        let (window, reply) = models
            .get(model)
            .map_or((FALLBACK_CONTEXT_WINDOW, FALLBACK_REPLY_TOKENS), |spec| {
                (spec.context_window, spec.max_output_tokens)
            });
        ContextBudget {
            window,
            reply: reply.min(window / 2),
        }
    }

    /// Tokens the prompt may take.
    pub fn prompt_tokens(&self) -> usize {
        self.window.saturating_sub(self.reply) as usize
    }
}

/// The text a message contributes to a prompt: its content, with the text of
/// its blocks added when the content does not already carry it (Slack-style
/// messages repeat the blocks' text as a fallback in `content`).
pub fn message_text(message: &Message) -> String {
    text_of(&message.content, message.blocks.as_ref())
}

fn text_of(content: &str, blocks: Option<&serde_json::Value>) -> String {
    let content = content.trim();
    let blocks = blocks.map(blocks_text).unwrap_or_default();
    let blocks = blocks.trim();
    if blocks.is_empty() || content.contains(blocks) {
        content.to_owned()
    } else if content.is_empty() {
        blocks.to_owned()
    } else {
        format!("{content}\n\n{blocks}")
    }
}

/// The prompt message for a stored one, or `None` for what a model should
/// not see: tombstones, empty messages, and replies that failed or are still
/// being written (a cancelled reply stays, since its reader saw it).
pub fn prompt_message(message: &Message) -> Option<ChatMessage> {
    if message.deleted_at.is_some()
        || matches!(
            message.status,
            MessageStatus::Failed | MessageStatus::Streaming
        )
    {
        return None;
    }
    prompt_of(
        message.role,
        &message.content,
        message.blocks.as_ref(),
        message.metadata.as_ref(),
    )
}

/// A message's prompt whatever its status: an item of the Responses API
/// kept in it (a function call, its output, a message with images) as that
/// item, anything else as its text.
fn prompt_of(
    role: MessageRole,
    content: &str,
    blocks: Option<&serde_json::Value>,
    metadata: Option<&serde_json::Value>,
) -> Option<ChatMessage> {
    let text = text_of(content, blocks);
    if let Some(item) = items::prompt_of_item(role, metadata, &text) {
        return Some(item);
    }
    if text.is_empty() {
        return None;
    }
    let role = match role {
        MessageRole::User => ChatRole::User,
        MessageRole::Assistant => ChatRole::Assistant,
        MessageRole::System => ChatRole::System,
        // Without the call it answers (only the Responses API writes TOOL
        // messages, always with one) a tool's output is told as the user's.
        MessageRole::Tool => ChatRole::User,
    };
    Some(ChatMessage::new(role, text))
}

/// What a message of this role, text and metadata adds to a prompt for
/// `model`, counted once when it is written and stored beside it, so
/// building a reply's context sums stored counts instead of tokenizing the
/// history.
pub fn token_count(
    model: &str,
    role: MessageRole,
    content: &str,
    blocks: Option<&serde_json::Value>,
    metadata: Option<&serde_json::Value>,
) -> TokenCount {
    let count = prompt_of(role, content, blocks, metadata)
        .map_or(0, |prompt| message_tokens(model, &prompt));
    TokenCount {
        family: encoding_for_model(model).name().to_owned(),
        count: u32::try_from(count).unwrap_or(u32::MAX),
    }
}

/// Fills a prompt from the newest message backwards until the budget is
/// spent. Pure: feed it the branch newest first, then [`build`](Self::build).
#[derive(Clone, Debug)]
pub struct ContextBuilder {
    model: String,
    family: &'static str,
    budget: usize,
    used: usize,
    system: Option<ChatMessage>,
    newest_first: Vec<ChatMessage>,
    full: bool,
}

impl ContextBuilder {
    /// A prompt for `model` that starts with the thread's system prompt (kept
    /// whatever its size: it is the thread's standing instruction).
    pub fn new(model: &str, system_prompt: Option<&str>, budget: ContextBudget) -> Self {
        let system = system_prompt
            .map(str::trim)
            .filter(|prompt| !prompt.is_empty())
            .map(ChatMessage::system);
        let used = count_message_tokens(model, system.as_slice());
        ContextBuilder {
            model: model.to_owned(),
            family: encoding_for_model(model).name(),
            budget: budget.prompt_tokens(),
            used,
            system,
            newest_first: Vec::new(),
            full: false,
        }
    }

    /// Offers the next older message; returns `false` once the prompt is full
    /// (then nothing older is taken). The newest message that has text is
    /// always kept, even alone over budget, so the model sees what it is
    /// answering and an oversized prompt fails upstream with a clear error
    /// rather than being answered without its question.
    pub fn push_older(&mut self, message: &Message) -> bool {
        if self.full {
            return false;
        }
        let Some(prompt) = prompt_message(message) else {
            return true;
        };
        // A count stored with the message serves when it was made by this
        // model's tokenizer; otherwise the message is counted now.
        let tokens = match &message.tokens {
            Some(stored) if stored.family == self.family => stored.count as usize,
            _ => message_tokens(&self.model, &prompt),
        };
        if self.used + tokens > self.budget && !self.newest_first.is_empty() {
            self.full = true;
            return false;
        }
        self.used += tokens;
        self.newest_first.push(prompt);
        true
    }

    /// Whether the budget is spent.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Tokens the prompt takes, as counted.
    pub fn tokens(&self) -> usize {
        self.used
    }

    /// The prompt, oldest first, after the system prompt.
    pub fn build(self) -> Vec<ChatMessage> {
        let mut messages: Vec<ChatMessage> = self.system.into_iter().collect();
        messages.extend(self.newest_first.into_iter().rev());
        messages
    }
}

/// The prompt for a branch given newest first (a convenience over
/// [`ContextBuilder`]).
pub fn build_context(
    model: &str,
    system_prompt: Option<&str>,
    newest_first: &[Message],
    budget: ContextBudget,
) -> Vec<ChatMessage> {
    let mut builder = ContextBuilder::new(model, system_prompt, budget);
    for message in newest_first {
        if !builder.push_older(message) {
            break;
        }
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use xl_domain::{MessageId, ThreadId};
    use xl_llm::ModelSpec;

    use super::*;

    fn message(role: MessageRole, content: &str) -> Message {
        Message {
            id: MessageId::new(),
            thread_id: ThreadId::new(),
            parent_id: None,
            user_id: None,
            role,
            content: content.to_owned(),
            blocks: None,
            metadata: None,
            status: MessageStatus::Complete,
            model: None,
            error: None,
            attachments: Vec::new(),
            edited_at: None,
            deleted_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            tokens: None,
        }
    }

    /// `n` alternating user/assistant turns, oldest first, each a distinct
    /// sentence of roughly the same size.
    fn history(n: usize) -> Vec<Message> {
        (0..n)
            .map(|i| {
                let role = if i % 2 == 0 {
                    MessageRole::User
                } else {
                    MessageRole::Assistant
                };
                message(role, &format!("turn {i}: {}", "lorem ipsum ".repeat(20)))
            })
            .collect()
    }

    fn newest_first(messages: &[Message]) -> Vec<Message> {
        messages.iter().rev().cloned().collect()
    }

    fn texts(prompt: &[ChatMessage]) -> Vec<String> {
        prompt.iter().map(|m| m.text().into_owned()).collect()
    }

    #[test]
    fn a_long_history_is_cut_from_the_oldest_side_and_the_system_prompt_stays() {
        let model = "gpt-4o";
        let turns = history(40);
        // About 45 tokens per turn: a 1,000-token prompt budget holds some
        // but not all of them.
        let budget = ContextBudget {
            window: 1500,
            reply: 500,
        };
        let prompt = build_context(model, Some("Be brief."), &newest_first(&turns), budget);
        assert_eq!(prompt[0].role, ChatRole::System);
        assert_eq!(prompt[0].text(), "Be brief.");
        let kept = prompt.len() - 1;
        assert!(kept > 5 && kept < 40, "kept {kept} turns");
        // What is kept is the newest turns, in chronological order.
        let expected: Vec<String> = turns[40 - kept..]
            .iter()
            .map(|m| m.content.trim().to_owned())
            .collect();
        assert_eq!(texts(&prompt[1..]), expected);
        assert_eq!(prompt.last().map(|m| m.role), Some(ChatRole::Assistant));
        // It fits, and one more turn would not have.
        let tokens = count_message_tokens(model, &prompt);
        assert!(tokens <= budget.prompt_tokens(), "{tokens}");
        let mut one_more = prompt.clone();
        one_more.insert(1, prompt_message(&turns[40 - kept - 1]).unwrap());
        assert!(count_message_tokens(model, &one_more) > budget.prompt_tokens());
    }

    #[test]
    fn stored_counts_are_summed_and_other_families_are_counted_again() {
        let budget = ContextBudget {
            window: 1500,
            reply: 500,
        };
        let stored = |family: &str| {
            let mut turns = history(40);
            for turn in &mut turns {
                turn.tokens = Some(TokenCount {
                    family: family.to_owned(),
                    count: 300,
                });
            }
            turns
        };
        // Stored as 300 tokens each by gpt-4o's tokenizer: three fit in 1,000.
        let prompt = build_context("gpt-4o", None, &newest_first(&stored("o200k")), budget);
        assert_eq!(prompt.len(), 3);
        // Stored by another family: counted afresh (about 45 each).
        let prompt = build_context("gpt-4o", None, &newest_first(&stored("cl100k")), budget);
        assert!(prompt.len() > 5, "kept {}", prompt.len());
        // What is stored for a message is what the builder would add for it.
        let turn = &history(1)[0];
        let count = token_count("gpt-4o", turn.role, &turn.content, None, None);
        assert_eq!(count.family, "o200k");
        assert_eq!(
            count.count as usize,
            count_message_tokens("gpt-4o", &[prompt_message(turn).unwrap()])
                - count_message_tokens("gpt-4o", &[])
        );
    }

    #[test]
    fn the_builder_counts_exactly_what_it_builds() {
        let model = "gpt-4o";
        let turns = history(6);
        let mut builder = ContextBuilder::new(
            model,
            Some("sys"),
            ContextBudget {
                window: 100_000,
                reply: 1000,
            },
        );
        for turn in newest_first(&turns) {
            assert!(builder.push_older(&turn));
        }
        assert!(!builder.is_full());
        let counted = builder.tokens();
        let prompt = builder.build();
        assert_eq!(prompt.len(), 7);
        assert_eq!(counted, count_message_tokens(model, &prompt));
    }

    #[test]
    fn a_huge_system_prompt_still_leaves_the_newest_message() {
        let turns = history(4);
        let budget = ContextBudget {
            window: 200,
            reply: 100,
        };
        let system = "rules ".repeat(500);
        let prompt = build_context("gpt-4o", Some(&system), &newest_first(&turns), budget);
        assert_eq!(prompt.len(), 2, "the system prompt and the newest turn");
        assert_eq!(prompt[1].text(), turns[3].content.trim());
    }

    #[test]
    fn roles_blocks_tombstones_and_unfinished_replies() {
        let mut deleted = message(MessageRole::User, "");
        deleted.deleted_at = Some(Utc::now());
        let mut failed = message(MessageRole::Assistant, "half an ans");
        failed.status = MessageStatus::Failed;
        let mut streaming = message(MessageRole::Assistant, "being writ");
        streaming.status = MessageStatus::Streaming;
        let mut cancelled = message(MessageRole::Assistant, "partial");
        cancelled.status = MessageStatus::Cancelled;
        let mut blocks = message(MessageRole::User, "");
        blocks.blocks = Some(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": "from blocks"}}
        ]));
        let mut both = message(MessageRole::User, "see below");
        both.blocks =
            Some(json!([{"type": "section", "text": {"type": "plain_text", "text": "table"}}]));
        let mut fallback = message(MessageRole::User, "table");
        fallback.blocks = both.blocks.clone();
        let oldest_first = vec![
            message(MessageRole::System, "note"),
            deleted,
            failed,
            blocks,
            cancelled,
            both,
            fallback,
            streaming,
        ];
        let prompt = build_context(
            "unknown-model",
            None,
            &newest_first(&oldest_first),
            ContextBudget::for_model(&ModelRegistry::empty(), "unknown-model"),
        );
        let roles: Vec<ChatRole> = prompt.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            vec![
                ChatRole::System,
                ChatRole::User,
                ChatRole::Assistant,
                ChatRole::User,
                ChatRole::User
            ]
        );
        assert_eq!(
            texts(&prompt),
            vec![
                "note",
                "from blocks",
                "partial",
                "see below\n\ntable",
                "table"
            ]
        );
    }

    #[test]
    fn budgets_come_from_the_registry_with_fallbacks() {
        let mut models = ModelRegistry::with_defaults();
        let gpt4o = ContextBudget::for_model(&models, "gpt-4o");
        assert_eq!(
            gpt4o,
            ContextBudget {
                window: 128_000,
                reply: 16_384
            }
        );
        assert_eq!(gpt4o.prompt_tokens(), 111_616);
        // gpt-4 may write as much as its whole window; half is kept for the prompt.
        assert_eq!(ContextBudget::for_model(&models, "gpt-4").reply, 4096);
        assert_eq!(
            ContextBudget::for_model(&models, "nobody-knows"),
            ContextBudget {
                window: FALLBACK_CONTEXT_WINDOW,
                reply: FALLBACK_REPLY_TOKENS
            }
        );
        models.insert(ModelSpec::new("tiny", 1000));
        assert_eq!(
            ContextBudget::for_model(&models, "tiny").prompt_tokens(),
            500
        );
    }
}
