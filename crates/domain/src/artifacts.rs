//! Artifacts: structured outputs kept beside a conversation (insights,
//! reports, dashboards, PDFs, references), their versions, and the typed
//! content of each kind, validated with the path of every problem
//! (`content.findings[2].text`).
//!
//! Content is parsed once into [`ArtifactContent`]; what is stored is the
//! JSON the caller sent, which parses back into the same value, since every
//! object refuses fields it does not define.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::blocks::validate_blocks;
use crate::error::FieldErrors;
use crate::text::{multi_line, one_line};
use crate::{ArtifactId, ArtifactKind, DomainError, FileId, MessageId, OrgId, ThreadId, UserId};

/// The largest content, serialised as JSON.
pub const MAX_CONTENT_BYTES: usize = 256 * 1024;
/// Characters in an artifact's title (and a version's).
pub const MAX_TITLE_CHARS: usize = 200;
/// Characters in an artifact's description.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Characters in a version's change note.
pub const MAX_NOTE_CHARS: usize = 500;
/// Problems reported for one content before the rest are left out.
pub const MAX_ERRORS: usize = 50;

const SUMMARY_MAX: usize = 4000;
const FINDINGS_MAX: usize = 100;
const FINDING_MAX: usize = 2000;
const EVIDENCE_MAX: usize = 4000;
const SECTIONS_MAX: usize = 100;
const HEADING_MAX: usize = 200;
const BODY_MAX: usize = 50_000;
const WIDGETS_MAX: usize = 50;
const COLUMNS_MAX: usize = 50;
const ROWS_MAX: usize = 1000;
const CELL_MAX: usize = 2000;
const LABELS_MAX: usize = 1000;
const SERIES_MAX: usize = 20;
const UNIT_MAX: usize = 50;
const URL_MAX: usize = 3000;
const EXCERPT_MAX: usize = 4000;
/// The charts a dashboard can draw.
pub const CHART_KINDS: &[&str] = &["line", "bar", "area", "pie", "scatter"];

/// An artifact at its current version.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Artifact {
    /// The id.
    pub id: ArtifactId,
    /// The org it belongs to.
    pub org_id: OrgId,
    /// Who created it (its owner).
    pub user_id: UserId,
    /// The thread it belongs to, if any.
    pub thread_id: Option<ThreadId>,
    /// The message it came from, if any.
    pub message_id: Option<MessageId>,
    /// What it is.
    pub kind: ArtifactKind,
    /// The current version's title.
    pub title: String,
    /// A longer description (not versioned).
    pub description: Option<String>,
    /// The current version's number (1, 2, …); also its ETag.
    pub version: i32,
    /// The current version's content.
    #[schema(value_type = ArtifactContent)]
    pub content: Value,
    /// Free-form data of the client's (a JSON object; not versioned).
    pub metadata: Value,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One stored version of an artifact.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ArtifactVersion {
    /// The artifact.
    pub artifact_id: ArtifactId,
    /// Its number (1, 2, …).
    pub version: i32,
    /// The title at this version.
    pub title: String,
    /// The content at this version.
    pub content: Value,
    /// Why it was made (`restored from version 2`, or the caller's note).
    pub change_note: Option<String>,
    /// Who made it.
    pub created_by: Option<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Input that creates an artifact.
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArtifact {
    /// What it is.
    #[serde(deserialize_with = "kind_field")]
    pub kind: ArtifactKind,
    /// Its title.
    pub title: String,
    /// A longer description.
    #[serde(default)]
    pub description: Option<String>,
    /// Typed content for the kind.
    #[schema(value_type = ArtifactContent)]
    pub content: Value,
    /// Client data (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// The message in the thread it came from.
    #[serde(default)]
    pub message_id: Option<MessageId>,
}

/// Input that changes an artifact: every change makes a new version.
#[derive(Clone, Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactUpdate {
    /// A new title.
    #[serde(default)]
    pub title: Option<String>,
    /// A new description (`null` clears it).
    #[serde(default, with = "double_option")]
    pub description: Option<Option<String>>,
    /// New content, of the artifact's kind.
    #[serde(default)]
    #[schema(value_type = Option<ArtifactContent>)]
    pub content: Option<Value>,
    /// New client data (replaces the old).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Why the change was made, kept with the version.
    #[serde(default)]
    pub change_note: Option<String>,
}

/// Filters of the caller's own artifacts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtifactFilter {
    /// Only this kind.
    pub kind: Option<ArtifactKind>,
    /// Only those in this thread.
    pub thread: Option<ThreadId>,
}

/// The `kind` field, whose refusal names it (serde's own message for an
/// unknown enum variant names no field).
fn kind_field<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<ArtifactKind, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse().map_err(|_| {
        let allowed: Vec<&str> = ArtifactKind::ALL.iter().map(ArtifactKind::as_str).collect();
        serde::de::Error::custom(format!(
            "invalid value for field `kind`: must be one of {}",
            allowed.join(", ")
        ))
    })
}

/// Distinguishes an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }

    pub fn serialize<S, T>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: Serialize,
    {
        match value {
            Some(inner) => inner.serialize(serializer),
            None => serializer.serialize_none(),
        }
    }
}

/// An artifact's content, by kind.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ArtifactContent {
    /// `{summary, findings[], confidence}`.
    Insight(Insight),
    /// `{sections[{heading, body_markdown, blocks}]}`.
    Report(Report),
    /// `{widgets[{type, title, data}]}`.
    Dashboard(Dashboard),
    /// `{file_id, title?}`: an uploaded PDF.
    Pdf(PdfFile),
    /// `{url, title, excerpt?}`.
    Reference(Reference),
}

/// A finding from data analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Insight {
    /// The finding in a few sentences.
    pub summary: String,
    /// The points that support it.
    pub findings: Vec<Finding>,
    /// How sure the author is, from 0 to 1.
    pub confidence: f64,
}

/// One point of an insight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// What was found.
    pub text: String,
    /// What shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

/// A structured report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Its sections, in order.
    pub sections: Vec<Section>,
}

/// One section of a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// The heading.
    pub heading: String,
    /// The text, in Markdown.
    #[serde(default)]
    pub body_markdown: String,
    /// Block Kit blocks shown after the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Value>,
}

/// A set of widgets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dashboard {
    /// The widgets, in order.
    pub widgets: Vec<Widget>,
}

/// One widget of a dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Widget {
    /// One number.
    Metric {
        /// The caption.
        title: String,
        /// The number.
        data: Metric,
    },
    /// Rows under named columns.
    Table {
        /// The caption.
        title: String,
        /// The rows.
        data: Table,
    },
    /// Series over labels.
    Chart {
        /// The caption.
        title: String,
        /// The series.
        data: Chart,
    },
}

impl Widget {
    /// The widget's caption.
    pub fn title(&self) -> &str {
        match self {
            Widget::Metric { title, .. }
            | Widget::Table { title, .. }
            | Widget::Chart { title, .. } => title,
        }
    }
}

/// The data of a metric widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    /// A number or a short string (`"99.9%"`).
    pub value: Value,
    /// The unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The change since the previous period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
}

/// The data of a table widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of scalars (string, number, boolean or null), one per column.
    pub rows: Vec<Vec<Value>>,
}

/// The data of a chart widget.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    /// One of [`CHART_KINDS`].
    pub chart: String,
    /// The x-axis labels.
    pub labels: Vec<String>,
    /// The series, each with one value (or null) per label.
    pub series: Vec<Series>,
}

/// One series of a chart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Series {
    /// The legend.
    pub name: String,
    /// A value per label.
    pub values: Vec<Option<f64>>,
}

/// An uploaded PDF file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PdfFile {
    /// The file.
    pub file_id: FileId,
    /// A title to show instead of the file's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A knowledge-base entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Where it is (http or https).
    pub url: String,
    /// Its title.
    pub title: String,
    /// The passage that matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<String>,
}

impl ArtifactContent {
    /// Parses content of `kind`, reporting every problem (up to
    /// [`MAX_ERRORS`]) under the path `content…`.
    pub fn parse(kind: ArtifactKind, value: &Value) -> Result<Self, DomainError> {
        let root = "content";
        let size = serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_CONTENT_BYTES {
            return Err(DomainError::invalid(
                root,
                format!("must be at most {MAX_CONTENT_BYTES} bytes of JSON"),
            ));
        }
        let mut c = Check::default();
        match kind {
            ArtifactKind::Insight => insight(&mut c, value, root),
            ArtifactKind::Report => report(&mut c, value, root),
            ArtifactKind::Dashboard => dashboard(&mut c, value, root),
            ArtifactKind::Pdf => pdf(&mut c, value, root),
            ArtifactKind::Reference => reference(&mut c, value, root),
        }
        c.errors.into_result()?;
        let typed = |err: serde_json::Error| DomainError::invalid(root, err.to_string());
        let value = value.clone();
        Ok(match kind {
            ArtifactKind::Insight => Self::Insight(serde_json::from_value(value).map_err(typed)?),
            ArtifactKind::Report => Self::Report(serde_json::from_value(value).map_err(typed)?),
            ArtifactKind::Dashboard => {
                Self::Dashboard(serde_json::from_value(value).map_err(typed)?)
            }
            ArtifactKind::Pdf => Self::Pdf(serde_json::from_value(value).map_err(typed)?),
            ArtifactKind::Reference => {
                Self::Reference(serde_json::from_value(value).map_err(typed)?)
            }
        })
    }

    /// The files the content refers to.
    pub fn files(&self) -> Vec<FileId> {
        match self {
            ArtifactContent::Pdf(pdf) => vec![pdf.file_id],
            _ => Vec::new(),
        }
    }
}

/// Checks an artifact's title (one line, bounded) under `field`.
pub fn parse_title(field: &str, raw: &str) -> Result<String, DomainError> {
    one_line(raw, MAX_TITLE_CHARS).map_err(|problem| DomainError::invalid(field, problem))
}

/// Checks an optional multi-line text of at most `max` characters.
pub fn check_long_text(field: &str, raw: Option<&str>, max: usize) -> Result<(), DomainError> {
    let Some(raw) = raw else {
        return Ok(());
    };
    multi_line(raw).map_err(|problem| DomainError::invalid(field, problem))?;
    if raw.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Collects the problems of one content, keyed by path.
#[derive(Default)]
struct Check {
    errors: FieldErrors,
    count: usize,
}

/// Whether a field must be present.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    Required,
    Optional,
}

/// What text a string field holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Text {
    /// A trimmed line, not blank, no control characters.
    Line,
    /// Lines with tabs and breaks; may be empty.
    Lines,
}

fn field(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

impl Check {
    fn report(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        if self.count < MAX_ERRORS {
            self.errors.add(path, problem);
        }
        self.count += 1;
    }

    /// `value` as an object with only the `fields` named.
    fn object<'a>(
        &mut self,
        value: &'a Value,
        path: &str,
        fields: &[&str],
    ) -> Option<&'a Map<String, Value>> {
        let Some(obj) = value.as_object() else {
            self.report(path, "must be an object");
            return None;
        };
        for key in obj.keys() {
            if !fields.contains(&key.as_str()) {
                self.report(field(path, key), "is not a field of this object");
            }
        }
        Some(obj)
    }

    /// `obj[key]`, reporting a required one that is missing or null.
    fn get<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        path: &str,
        key: &str,
        need: Need,
    ) -> Option<&'a Value> {
        match obj.get(key) {
            Some(value) if !value.is_null() => Some(value),
            _ => {
                if need == Need::Required {
                    self.report(field(path, key), "is required");
                }
                None
            }
        }
    }

    fn string<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        path: &str,
        key: &str,
        need: Need,
        text: Text,
        max: usize,
    ) -> Option<&'a str> {
        let value = self.get(obj, path, key, need)?;
        let path = field(path, key);
        let Some(raw) = value.as_str() else {
            self.report(path, "must be a string");
            return None;
        };
        self.text(raw, &path, text, max).then_some(raw)
    }

    /// Checks one string; `false` if it was refused.
    fn text(&mut self, raw: &str, path: &str, text: Text, max: usize) -> bool {
        let problem = match text {
            Text::Line => one_line(raw, max).err(),
            Text::Lines => multi_line(raw).err(),
        };
        if let Some(problem) = problem {
            self.report(path, problem);
            return false;
        }
        if raw.chars().count() > max {
            self.report(path, format!("must be at most {max} characters"));
            return false;
        }
        true
    }

    fn array<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        path: &str,
        key: &str,
        need: Need,
        min: usize,
        max: usize,
    ) -> Option<&'a Vec<Value>> {
        let value = self.get(obj, path, key, need)?;
        self.items(value, &field(path, key), min, max)
    }

    fn items<'a>(
        &mut self,
        value: &'a Value,
        path: &str,
        min: usize,
        max: usize,
    ) -> Option<&'a Vec<Value>> {
        let Some(items) = value.as_array() else {
            self.report(path, "must be an array");
            return None;
        };
        if items.len() < min || items.len() > max {
            self.report(path, format!("must hold {min} to {max} items"));
            return None;
        }
        Some(items)
    }

    fn number(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
        need: Need,
        range: Option<(f64, f64)>,
    ) -> Option<f64> {
        let value = self.get(obj, path, key, need)?;
        let Some(number) = value.as_f64() else {
            self.report(field(path, key), "must be a number");
            return None;
        };
        if let Some((low, high)) = range
            && !(low..=high).contains(&number)
        {
            self.report(field(path, key), format!("must be from {low} to {high}"));
            return None;
        }
        Some(number)
    }
}

fn insight(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["summary", "findings", "confidence"]) else {
        return;
    };
    if let Some(summary) = c.string(
        obj,
        path,
        "summary",
        Need::Required,
        Text::Lines,
        SUMMARY_MAX,
    ) && summary.trim().is_empty()
    {
        c.report(field(path, "summary"), "must not be empty");
    }
    c.number(obj, path, "confidence", Need::Required, Some((0.0, 1.0)));
    let Some(findings) = c.array(obj, path, "findings", Need::Required, 0, FINDINGS_MAX) else {
        return;
    };
    let findings_path = field(path, "findings");
    for (i, finding) in findings.iter().enumerate() {
        let path = index(&findings_path, i);
        let Some(obj) = c.object(finding, &path, &["text", "evidence"]) else {
            continue;
        };
        c.string(obj, &path, "text", Need::Required, Text::Line, FINDING_MAX);
        c.string(
            obj,
            &path,
            "evidence",
            Need::Optional,
            Text::Lines,
            EVIDENCE_MAX,
        );
    }
}

fn report(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["sections"]) else {
        return;
    };
    let Some(sections) = c.array(obj, path, "sections", Need::Required, 1, SECTIONS_MAX) else {
        return;
    };
    let sections_path = field(path, "sections");
    for (i, section) in sections.iter().enumerate() {
        let path = index(&sections_path, i);
        let Some(obj) = c.object(section, &path, &["heading", "body_markdown", "blocks"]) else {
            continue;
        };
        c.string(
            obj,
            &path,
            "heading",
            Need::Required,
            Text::Line,
            HEADING_MAX,
        );
        c.string(
            obj,
            &path,
            "body_markdown",
            Need::Optional,
            Text::Lines,
            BODY_MAX,
        );
        let Some(blocks) = c.get(obj, &path, "blocks", Need::Optional) else {
            continue;
        };
        // The Block Kit validator names paths from `blocks`; they are
        // reported under this section's own.
        if let Err(err) = validate_blocks(blocks) {
            for (inner, problems) in err.field_errors().iter() {
                let rest = inner.strip_prefix("blocks").unwrap_or(inner);
                for problem in problems {
                    c.report(format!("{path}.blocks{rest}"), problem.clone());
                }
            }
        }
    }
}

fn dashboard(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["widgets"]) else {
        return;
    };
    let Some(widgets) = c.array(obj, path, "widgets", Need::Required, 1, WIDGETS_MAX) else {
        return;
    };
    let widgets_path = field(path, "widgets");
    for (i, widget) in widgets.iter().enumerate() {
        let path = index(&widgets_path, i);
        let Some(obj) = c.object(widget, &path, &["type", "title", "data"]) else {
            continue;
        };
        c.string(obj, &path, "title", Need::Required, Text::Line, HEADING_MAX);
        let kind = c.get(obj, &path, "type", Need::Required).map(Value::as_str);
        let data = c.get(obj, &path, "data", Need::Required);
        let data_path = field(&path, "data");
        match kind {
            None => {}
            Some(Some("metric")) => data.into_iter().for_each(|d| metric(c, d, &data_path)),
            Some(Some("table")) => data.into_iter().for_each(|d| table(c, d, &data_path)),
            Some(Some("chart")) => data.into_iter().for_each(|d| chart(c, d, &data_path)),
            Some(_) => c.report(field(&path, "type"), "must be one of metric, table, chart"),
        }
    }
}

fn metric(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["value", "unit", "delta"]) else {
        return;
    };
    match c.get(obj, path, "value", Need::Required) {
        Some(Value::Number(_)) | None => {}
        Some(Value::String(raw)) => {
            c.text(raw, &field(path, "value"), Text::Line, HEADING_MAX);
        }
        Some(_) => c.report(field(path, "value"), "must be a number or a string"),
    }
    c.string(obj, path, "unit", Need::Optional, Text::Line, UNIT_MAX);
    c.number(obj, path, "delta", Need::Optional, None);
}

fn table(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["columns", "rows"]) else {
        return;
    };
    let columns = c.array(obj, path, "columns", Need::Required, 1, COLUMNS_MAX);
    if let Some(columns) = columns {
        let columns_path = field(path, "columns");
        for (i, column) in columns.iter().enumerate() {
            let path = index(&columns_path, i);
            match column.as_str() {
                Some(name) => {
                    c.text(name, &path, Text::Line, HEADING_MAX);
                }
                None => c.report(path, "must be a string"),
            }
        }
    }
    let Some(rows) = c.array(obj, path, "rows", Need::Required, 0, ROWS_MAX) else {
        return;
    };
    let rows_path = field(path, "rows");
    for (r, row) in rows.iter().enumerate() {
        let row_path = index(&rows_path, r);
        let Some(cells) = c.items(row, &row_path, 0, COLUMNS_MAX) else {
            continue;
        };
        if let Some(columns) = columns
            && cells.len() != columns.len()
        {
            c.report(
                &row_path,
                format!("must hold one cell per column ({})", columns.len()),
            );
        }
        for (i, cell) in cells.iter().enumerate() {
            let path = index(&row_path, i);
            match cell {
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
                Value::String(raw) => {
                    c.text(raw, &path, Text::Lines, CELL_MAX);
                }
                _ => c.report(path, "must be a string, number, boolean or null"),
            }
        }
    }
}

fn chart(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["chart", "labels", "series"]) else {
        return;
    };
    match c.get(obj, path, "chart", Need::Required).map(Value::as_str) {
        Some(Some(kind)) if CHART_KINDS.contains(&kind) => {}
        None => {}
        Some(_) => c.report(
            field(path, "chart"),
            format!("must be one of {}", CHART_KINDS.join(", ")),
        ),
    }
    let labels = c.array(obj, path, "labels", Need::Required, 0, LABELS_MAX);
    if let Some(labels) = labels {
        let labels_path = field(path, "labels");
        for (i, label) in labels.iter().enumerate() {
            let path = index(&labels_path, i);
            match label.as_str() {
                Some(raw) => {
                    c.text(raw, &path, Text::Lines, HEADING_MAX);
                }
                None => c.report(path, "must be a string"),
            }
        }
    }
    let Some(series) = c.array(obj, path, "series", Need::Required, 1, SERIES_MAX) else {
        return;
    };
    let series_path = field(path, "series");
    for (s, one) in series.iter().enumerate() {
        let path = index(&series_path, s);
        let Some(obj) = c.object(one, &path, &["name", "values"]) else {
            continue;
        };
        c.string(obj, &path, "name", Need::Required, Text::Line, HEADING_MAX);
        let Some(values) = c.array(obj, &path, "values", Need::Required, 0, LABELS_MAX) else {
            continue;
        };
        if let Some(labels) = labels
            && values.len() != labels.len()
        {
            c.report(
                field(&path, "values"),
                format!("must hold one value per label ({})", labels.len()),
            );
        }
        let values_path = field(&path, "values");
        for (i, value) in values.iter().enumerate() {
            if !(value.is_null() || value.is_number()) {
                c.report(index(&values_path, i), "must be a number or null");
            }
        }
    }
}

fn pdf(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["file_id", "title"]) else {
        return;
    };
    if let Some(raw) = c.get(obj, path, "file_id", Need::Required) {
        let id = raw.as_str().map(str::parse::<FileId>);
        if !matches!(id, Some(Ok(_))) {
            c.report(field(path, "file_id"), "must be a file id (a UUID)");
        }
    }
    c.string(
        obj,
        path,
        "title",
        Need::Optional,
        Text::Line,
        MAX_TITLE_CHARS,
    );
}

fn reference(c: &mut Check, value: &Value, path: &str) {
    let Some(obj) = c.object(value, path, &["url", "title", "excerpt"]) else {
        return;
    };
    if let Some(url) = c.string(obj, path, "url", Need::Required, Text::Line, URL_MAX)
        && !is_web_url(url)
    {
        c.report(field(path, "url"), "must be an http or https URL");
    }
    c.string(
        obj,
        path,
        "title",
        Need::Required,
        Text::Line,
        MAX_TITLE_CHARS,
    );
    c.string(
        obj,
        path,
        "excerpt",
        Need::Optional,
        Text::Lines,
        EXCERPT_MAX,
    );
}

/// An absolute http(s) URL with a host and no whitespace.
fn is_web_url(text: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(kind: ArtifactKind, value: Value) -> Vec<String> {
        ArtifactContent::parse(kind, &value)
            .unwrap_err()
            .field_errors()
            .fields()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn each_kind_accepts_its_shape() {
        let samples = [
            (
                ArtifactKind::Insight,
                json!({"summary": "Churn is up", "findings": [{"text": "EU +4%"}], "confidence": 0.8}),
            ),
            (
                ArtifactKind::Report,
                json!({"sections": [{"heading": "Intro", "body_markdown": "*hi*",
                    "blocks": [{"type": "divider"}]}]}),
            ),
            (
                ArtifactKind::Dashboard,
                json!({"widgets": [
                    {"type": "metric", "title": "MRR", "data": {"value": 12.5, "unit": "k€"}},
                    {"type": "table", "title": "T", "data": {"columns": ["a", "b"], "rows": [[1, "x"], [null, true]]}},
                    {"type": "chart", "title": "C", "data": {"chart": "line", "labels": ["q1", "q2"],
                        "series": [{"name": "s", "values": [1.5, null]}]}}
                ]}),
            ),
            (
                ArtifactKind::Pdf,
                json!({"file_id": FileId::new().to_string(), "title": "Q3"}),
            ),
            (
                ArtifactKind::Reference,
                json!({"url": "https://example.com/a", "title": "A", "excerpt": "…"}),
            ),
        ];
        for (kind, value) in samples {
            let parsed = ArtifactContent::parse(kind, &value).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), value, "{kind}");
        }
    }

    #[test]
    fn problems_are_named_by_path() {
        let got = fields(
            ArtifactKind::Insight,
            json!({"summary": "s", "findings": [{"text": "a"}, {"text": "b"}, {"text": ""}], "confidence": 2}),
        );
        assert_eq!(got, ["content.confidence", "content.findings[2].text"]);
        let got = fields(
            ArtifactKind::Dashboard,
            json!({"widgets": [{"type": "table", "title": "t", "data": {"columns": ["a"], "rows": [[1, 2], [{}]]}},
                               {"type": "gauge", "title": "g", "data": {}}]}),
        );
        assert_eq!(
            got,
            [
                "content.widgets[0].data.rows[0]",
                "content.widgets[0].data.rows[1][0]",
                "content.widgets[1].type"
            ]
        );
        let got = fields(
            ArtifactKind::Report,
            json!({"sections": [{"heading": "h", "blocks": [{"type": "nope"}]}], "extra": 1}),
        );
        assert_eq!(got, ["content.extra", "content.sections[0].blocks[0].type"]);
        let got = fields(ArtifactKind::Pdf, json!({"file_id": "x"}));
        assert_eq!(got, ["content.file_id"]);
        let got = fields(
            ArtifactKind::Reference,
            json!({"url": "ftp://x", "title": "t"}),
        );
        assert_eq!(got, ["content.url"]);
        let got = fields(ArtifactKind::Insight, json!([]));
        assert_eq!(got, ["content"]);
    }

    #[test]
    fn content_is_bounded() {
        let big = "x".repeat(MAX_CONTENT_BYTES);
        let got = fields(
            ArtifactKind::Reference,
            json!({"url": "https://e.com", "title": "t", "excerpt": big}),
        );
        assert_eq!(got, ["content"]);
        let many: Vec<Value> = (0..=FINDINGS_MAX).map(|_| json!({"text": "a"})).collect();
        let got = fields(
            ArtifactKind::Insight,
            json!({"summary": "s", "findings": many, "confidence": 0.1}),
        );
        assert_eq!(got, ["content.findings"]);
    }
}
