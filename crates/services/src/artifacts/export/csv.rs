//! The CSV export: the tabular parts of an artifact, quoted by the `csv`
//! crate (a field with a comma, a quote or a line break is quoted, quotes
//! doubled), UTF-8, with a header row.
//!
//! - insight: one row per finding: `finding,text,evidence`.
//! - dashboard: every cell of every table widget, in long form:
//!   `widget,title,row,column,value` (tables of different columns fit one
//!   file, and each parses back to its cells).
//!
//! Indexes (`finding`, `widget`, `row`) count from 0, as in the content's
//! own paths (`content.widgets[1].data.rows[0]`).
//! - report, reference, pdf: no tabular part (422).

use serde_json::Value;
use xl_domain::FieldErrors;
use xl_domain::artifacts::{ArtifactContent, Widget};

use crate::ServiceError;

pub(super) fn render(content: &ArtifactContent) -> Result<Vec<u8>, ServiceError> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    let written = match content {
        ArtifactContent::Insight(insight) => {
            write(&mut out, ["finding", "text", "evidence"])?;
            for (i, finding) in insight.findings.iter().enumerate() {
                let n = i.to_string();
                let evidence = finding.evidence.as_deref().unwrap_or_default();
                write(&mut out, [n.as_str(), &finding.text, evidence])?;
            }
            true
        }
        ArtifactContent::Dashboard(dashboard) => {
            let mut tables = 0;
            write(&mut out, ["widget", "title", "row", "column", "value"])?;
            for (w, widget) in dashboard.widgets.iter().enumerate() {
                let Widget::Table { title, data } = widget else {
                    continue;
                };
                tables += 1;
                let w = w.to_string();
                for (r, row) in data.rows.iter().enumerate() {
                    let r = r.to_string();
                    for (column, cell) in data.columns.iter().zip(row) {
                        write(&mut out, [w.as_str(), title, &r, column, &cell_text(cell)])?;
                    }
                }
            }
            tables > 0
        }
        ArtifactContent::Report(_) | ArtifactContent::Pdf(_) | ArtifactContent::Reference(_) => {
            false
        }
    };
    if !written {
        let mut errors = FieldErrors::new();
        errors.add(
            "format",
            "this artifact has no tabular part: CSV exports an insight's findings and a \
             dashboard's table widgets",
        );
        return Err(ServiceError::Unprocessable(errors));
    }
    out.into_inner().map_err(|err| failed(&err.to_string()))
}

fn write<'a>(
    out: &mut ::csv::Writer<Vec<u8>>,
    record: impl IntoIterator<Item = &'a str>,
) -> Result<(), ServiceError> {
    out.write_record(record)
        .map_err(|err| failed(&err.to_string()))
}

/// Writing to memory fails only on a bug; reported as a 500.
fn failed(cause: &str) -> ServiceError {
    ServiceError::Store(xl_store::StoreError::Corrupt(format!(
        "writing CSV failed: {cause}"
    )))
}

/// A table cell as text: strings as they are, numbers and booleans as JSON
/// writes them, null as an empty field.
fn cell_text(cell: &Value) -> String {
    match cell {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use xl_domain::ArtifactKind;

    use super::*;

    #[test]
    fn awkward_cells_round_trip() {
        let content = ArtifactContent::parse(
            ArtifactKind::Dashboard,
            &json!({"widgets": [{"type": "table", "title": "T, \"q\"", "data": {
                "columns": ["name", "note"],
                "rows": [["a,b", "say \"hi\"\nbye"], [null, 3.5]]
            }}]}),
        )
        .unwrap();
        let bytes = render(&content).unwrap();
        let mut reader = ::csv::Reader::from_reader(bytes.as_slice());
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(rows[0], ["0", "T, \"q\"", "0", "name", "a,b"]);
        assert_eq!(rows[1], ["0", "T, \"q\"", "0", "note", "say \"hi\"\nbye"]);
        assert_eq!(rows[2][4], "");
        assert_eq!(rows[3][4], "3.5");
    }
}
