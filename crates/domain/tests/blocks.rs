//! Checks the Block Kit validator against real Slack payloads, whole and with one limit broken.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use xl_domain::blocks::{MAX_BLOCKS, validate_blocks};

/// The samples are kept in the repository, beside this test (see their README for the source).
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/blockkit");

/// Every sample's file name and `blocks` array. Panics when the directory is missing or holds
/// no samples, so a moved data set fails the test instead of passing it vacuously.
fn samples() -> Vec<(String, Value)> {
    let dir = Path::new(SAMPLES);
    let entries = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read Block Kit samples at {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| match entry {
            Ok(entry) => entry.path(),
            Err(e) => panic!("cannot list {}: {e}", dir.display()),
        })
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no *.json samples in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let mut sample: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let blocks = sample["blocks"].take();
            assert!(
                blocks.as_array().is_some_and(|b| !b.is_empty()),
                "{} has no blocks array",
                path.display()
            );
            let name = path.display().to_string();
            (name, blocks)
        })
        .collect()
}

/// The paths with problems, or a panic naming the sample when it was accepted.
fn rejected(name: &str, what: &str, blocks: &Value) -> Vec<String> {
    match validate_blocks(blocks) {
        Ok(()) => panic!("{name}: accepted {what}"),
        Err(err) => err.field_errors().fields().map(str::to_owned).collect(),
    }
}

#[test]
fn accepts_every_sample() {
    for (name, blocks) in samples() {
        if let Err(err) = validate_blocks(&blocks) {
            panic!("{name} refused: {:?}", err.field_errors());
        }
    }
}

#[test]
fn refuses_a_long_block_id_on_every_sample() {
    for (name, mut blocks) in samples() {
        blocks[0]["block_id"] = json!("b".repeat(256));
        let paths = rejected(&name, "a 256-character block_id", &blocks);
        assert_eq!(paths, ["blocks[0].block_id"], "{name}");
    }
}

#[test]
fn refuses_more_than_fifty_blocks_on_every_sample() {
    for (name, blocks) in samples() {
        let Value::Array(items) = blocks else {
            unreachable!("samples() checked the array")
        };
        // Copies get ids of their own, since block ids must be unique.
        let many: Vec<Value> = items
            .iter()
            .cycle()
            .take(MAX_BLOCKS + 1)
            .enumerate()
            .map(|(i, block)| {
                let mut block = block.clone();
                if let Some(id) = block.get("block_id").and_then(Value::as_str) {
                    block["block_id"] = json!(format!("{id}-{i}"));
                }
                block
            })
            .collect();
        let paths = rejected(&name, "51 blocks", &json!(many));
        assert_eq!(paths, ["blocks"], "{name}");
    }
}

#[test]
fn refuses_an_unknown_block_type_on_every_sample() {
    for (name, mut blocks) in samples() {
        blocks[0]["type"] = json!("hologram");
        let paths = rejected(&name, "an unknown block type", &blocks);
        assert_eq!(paths, ["blocks[0].type"], "{name}");
    }
}
