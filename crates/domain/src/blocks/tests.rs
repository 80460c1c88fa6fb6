//! Unit tests for the Block Kit validator: one limit at a time, each checked at its path.

use serde_json::{Value, json};

use super::{MAX_BLOCKS, MAX_ERRORS, validate_blocks};

/// The paths with problems, empty when `blocks` is accepted.
fn problems(blocks: Value) -> Vec<String> {
    match validate_blocks(&blocks) {
        Ok(()) => Vec::new(),
        Err(err) => err.field_errors().fields().map(str::to_owned).collect(),
    }
}

/// The problems of a message made of this one block.
fn problems_of(block: Value) -> Vec<String> {
    problems(json!([block]))
}

fn chars(n: usize) -> String {
    "x".repeat(n)
}

fn plain(text: &str) -> Value {
    json!({ "type": "plain_text", "text": text })
}

fn mrkdwn(text: &str) -> Value {
    json!({ "type": "mrkdwn", "text": text })
}

fn button(text: &str) -> Value {
    json!({ "type": "button", "text": plain(text), "value": "v" })
}

fn option(text: &str, value: &str) -> Value {
    json!({ "text": plain(text), "value": value })
}

fn options(n: usize) -> Vec<Value> {
    (0..n).map(|i| option("o", &i.to_string())).collect()
}

fn actions(elements: Vec<Value>) -> Value {
    json!({ "type": "actions", "elements": elements })
}

fn input(element: Value) -> Value {
    json!({ "type": "input", "label": plain("Label"), "element": element })
}

fn raw(text: &str) -> Value {
    json!({ "type": "raw_text", "text": text })
}

#[test]
fn accepts_every_block_type_with_slacks_extra_fields() {
    let blocks = json!([
        { "type": "header", "text": { "type": "plain_text", "text": "Hi", "emoji": true } },
        { "type": "section", "text": { "type": "mrkdwn", "text": "*hi*", "verbatim": false },
          "accessory": button("Go"), "expand": true, "future_field": 1 },
        { "type": "section", "fields": [plain("a"), mrkdwn("b")] },
        { "type": "divider", "block_id": "d1" },
        { "type": "context", "elements": [mrkdwn("m"),
          { "type": "image", "image_url": "https://x/y.png", "alt_text": "y" }] },
        actions(vec![
            button("One"),
            json!({ "type": "static_select", "placeholder": plain("Pick"), "action_id": "s",
                    "option_groups": [{ "label": plain("G"), "options": options(2) }] }),
            json!({ "type": "multi_users_select", "placeholder": plain("Who") }),
            json!({ "type": "overflow", "options": options(5) }),
            json!({ "type": "datepicker", "initial_date": "2024-02-29" }),
            json!({ "type": "timepicker", "initial_time": "23:59", "timezone": "Europe/Paris" }),
            json!({ "type": "datetimepicker", "initial_date_time": 1_700_000_000 }),
            json!({ "type": "checkboxes", "options": [{ "text": mrkdwn("*a*"), "value": "a",
                    "description": mrkdwn("d") }] }),
            json!({ "type": "radio_buttons", "options": options(10),
                    "initial_option": option("o", "0") }),
            json!({ "type": "workflow_button", "text": plain("Run"),
                    "workflow": { "trigger": { "url": "https://slack.com/shortcuts/x" } } }),
            json!({ "type": "button", "text": plain("Sure?"), "style": "danger",
                    "confirm": { "title": plain("T"), "text": plain("Really?"),
                                 "confirm": plain("Yes"), "deny": plain("No") } }),
        ]),
        { "type": "input", "label": plain("L"), "hint": plain("H"), "optional": true,
          "dispatch_action": true,
          "element": { "type": "plain_text_input", "multiline": true, "min_length": 1,
                       "max_length": 3000,
                       "dispatch_action_config": { "trigger_actions_on": ["on_enter_pressed"] } } },
        input(json!({ "type": "email_text_input" })),
        input(json!({ "type": "url_text_input" })),
        input(json!({ "type": "number_input", "is_decimal_allowed": false, "min_value": "1" })),
        input(json!({ "type": "file_input", "filetypes": ["pdf"], "max_files": 10 })),
        input(json!({ "type": "rich_text_input", "initial_value": { "type": "rich_text",
              "elements": [{ "type": "rich_text_section", "elements": [] }] } })),
        { "type": "image", "slack_file": { "id": "F1" }, "alt_text": "a", "title": plain("t") },
        { "type": "rich_text", "elements": [
            { "type": "rich_text_section", "elements": [{ "type": "text", "text": "hi",
              "style": { "bold": true } }, { "type": "emoji", "name": "wave" }] },
            { "type": "rich_text_list", "style": "bullet", "indent": 0,
              "elements": [{ "type": "rich_text_section", "elements": [] }] },
            { "type": "rich_text_preformatted", "elements": [{ "type": "text", "text": "x" }] },
            { "type": "rich_text_quote", "elements": [{ "type": "user", "user_id": "U1" }] },
        ] },
        { "type": "table", "rows": [[raw("a"), raw("b")],
          [raw("1"), { "type": "rich_text", "elements": [] }]],
          "column_settings": [{ "align": "right", "is_wrapped": true }, null] },
        { "type": "markdown", "text": chars(12000) },
        { "type": "file", "external_id": "ABCD1", "source": "remote" },
        { "type": "video", "alt_text": "v", "title": plain("V"), "thumbnail_url": "https://t",
          "video_url": "https://v", "author_name": "A" },
    ]);
    assert_eq!(problems(blocks), Vec::<String>::new());
}

#[test]
fn accepts_an_empty_array() {
    assert!(validate_blocks(&json!([])).is_ok());
}

#[test]
fn refuses_anything_but_an_array_of_typed_objects() {
    for not_array in [json!({}), json!(null), json!("blocks"), json!(3)] {
        assert_eq!(problems(not_array), ["blocks"]);
    }
    assert_eq!(problems(json!([1])), ["blocks[0]"]);
    assert_eq!(problems(json!([{}])), ["blocks[0].type"]);
    assert_eq!(problems(json!([{ "type": 7 }])), ["blocks[0].type"]);
    assert_eq!(
        problems(json!([{ "type": "hologram" }])),
        ["blocks[0].type"]
    );
}

#[test]
fn limits_the_message_to_fifty_blocks() {
    let divider = json!({ "type": "divider" });
    assert!(validate_blocks(&json!(vec![divider.clone(); MAX_BLOCKS])).is_ok());
    assert_eq!(problems(json!(vec![divider; MAX_BLOCKS + 1])), ["blocks"]);
}

#[test]
fn limits_block_id() {
    let with_id = |id: Value| json!({ "type": "divider", "block_id": id });
    assert!(problems_of(with_id(json!(chars(255)))).is_empty());
    assert_eq!(
        problems_of(with_id(json!(chars(256)))),
        ["blocks[0].block_id"]
    );
    assert_eq!(problems_of(with_id(json!(5))), ["blocks[0].block_id"]);
}

#[test]
fn collects_every_problem_not_just_the_first() {
    let blocks = json!([
        { "type": "header", "text": plain(&chars(151)) },
        { "type": "divider" },
        { "type": "nope" },
        actions(vec![button(&chars(76)), json!({ "type": "mystery" })]),
    ]);
    assert_eq!(
        problems(blocks),
        [
            "blocks[0].text",
            "blocks[2].type",
            "blocks[3].elements[0].text",
            "blocks[3].elements[1].type"
        ]
    );
}

#[test]
fn bounds_the_number_of_reported_problems() {
    let blocks = json!(vec![json!({ "type": "nope" }); 200]);
    let err = validate_blocks(&blocks).unwrap_err().field_errors();
    let messages: usize = err.iter().map(|(_, m)| m.len()).sum();
    // The first MAX_ERRORS problems, and one note at the root saying more were left out.
    assert_eq!(messages, MAX_ERRORS + 1);
    assert!(err.fields().any(|f| f == "blocks"));
}

#[test]
fn checks_text_objects() {
    let section = |text: Value| json!({ "type": "section", "text": text });
    assert!(problems_of(section(mrkdwn(&chars(3000)))).is_empty());
    assert_eq!(
        problems_of(section(mrkdwn(&chars(3001)))),
        ["blocks[0].text"]
    );
    assert_eq!(problems_of(section(mrkdwn(""))), ["blocks[0].text"]);
    assert_eq!(
        problems_of(section(json!({ "type": "markdown", "text": "x" }))),
        ["blocks[0].text.type"]
    );
    assert_eq!(
        problems_of(section(json!({ "type": "plain_text" }))),
        ["blocks[0].text.text"]
    );
    assert_eq!(
        problems_of(section(json!("bare string"))),
        ["blocks[0].text"]
    );
}

#[test]
fn checks_sections() {
    assert_eq!(
        problems_of(json!({ "type": "section" })),
        ["blocks[0].text"]
    );
    assert_eq!(
        problems_of(json!({ "type": "section", "fields": [] })),
        ["blocks[0].text"]
    );
    let fields =
        |n: usize, len: usize| json!({ "type": "section", "fields": vec![mrkdwn(&chars(len)); n] });
    assert!(problems_of(fields(10, 2000)).is_empty());
    assert_eq!(problems_of(fields(11, 1)), ["blocks[0].fields"]);
    assert_eq!(problems_of(fields(1, 2001)), ["blocks[0].fields[0]"]);
    let accessory = json!({ "type": "section", "text": mrkdwn("t"),
        "accessory": { "type": "plain_text_input" } });
    assert_eq!(problems_of(accessory), ["blocks[0].accessory.type"]);
}

#[test]
fn checks_headers() {
    let header = |text: Value| json!({ "type": "header", "text": text });
    assert!(problems_of(header(plain(&chars(150)))).is_empty());
    assert_eq!(problems_of(header(plain(&chars(151)))), ["blocks[0].text"]);
    assert_eq!(problems_of(header(mrkdwn("m"))), ["blocks[0].text.type"]);
    assert_eq!(problems_of(json!({ "type": "header" })), ["blocks[0].text"]);
}

#[test]
fn checks_context_elements() {
    let context = |elements: Vec<Value>| json!({ "type": "context", "elements": elements });
    assert!(problems_of(context(vec![mrkdwn("m"); 10])).is_empty());
    assert_eq!(
        problems_of(context(vec![mrkdwn("m"); 11])),
        ["blocks[0].elements"]
    );
    assert_eq!(
        problems_of(context(vec![button("b")])),
        ["blocks[0].elements[0].type"]
    );
    assert_eq!(
        problems_of(context(vec![
            json!({ "type": "image", "image_url": "https://x.io/u" })
        ])),
        ["blocks[0].elements[0].alt_text"]
    );
}

#[test]
fn checks_actions_and_buttons() {
    assert!(problems_of(actions(vec![button("b"); 25])).is_empty());
    assert_eq!(
        problems_of(actions(vec![button("b"); 26])),
        ["blocks[0].elements"]
    );
    assert_eq!(problems_of(actions(vec![])), ["blocks[0].elements"]);
    assert!(problems_of(actions(vec![button(&chars(75))])).is_empty());
    assert_eq!(
        problems_of(actions(vec![button(&chars(76))])),
        ["blocks[0].elements[0].text"]
    );
    let bad = json!({ "type": "button", "text": mrkdwn("b"), "value": chars(2001),
        "url": chars(3001), "style": "secondary", "action_id": chars(256) });
    assert_eq!(
        problems_of(actions(vec![bad])),
        [
            "blocks[0].elements[0].action_id",
            "blocks[0].elements[0].style",
            "blocks[0].elements[0].text.type",
            "blocks[0].elements[0].url",
            "blocks[0].elements[0].value"
        ]
    );
    assert_eq!(
        problems_of(actions(vec![json!({ "type": "button" })])),
        ["blocks[0].elements[0].text"]
    );
}

#[test]
fn refuses_unknown_or_misplaced_elements() {
    assert_eq!(
        problems_of(actions(vec![json!({ "type": "slider" })])),
        ["blocks[0].elements[0].type"]
    );
    assert_eq!(
        problems_of(actions(vec![json!({ "type": "plain_text_input" })])),
        ["blocks[0].elements[0].type"]
    );
    assert_eq!(
        problems_of(input(json!({ "type": "slider" }))),
        ["blocks[0].element.type"]
    );
    assert_eq!(problems_of(input(button("b"))), ["blocks[0].element.type"]);
}

#[test]
fn checks_inputs() {
    assert_eq!(
        problems_of(json!({ "type": "input" })),
        ["blocks[0].element", "blocks[0].label"]
    );
    let labelled = |label: Value, hint: Value| {
        json!({ "type": "input", "label": label, "hint": hint,
                "element": { "type": "plain_text_input" } })
    };
    assert!(problems_of(labelled(plain(&chars(2000)), plain(&chars(2000)))).is_empty());
    assert_eq!(
        problems_of(labelled(plain(&chars(2001)), plain(&chars(2001)))),
        ["blocks[0].hint", "blocks[0].label"]
    );
    assert_eq!(
        problems_of(labelled(mrkdwn("l"), plain("h"))),
        ["blocks[0].label.type"]
    );
    let dispatching_file = json!({ "type": "input", "label": plain("l"), "dispatch_action": true,
        "element": { "type": "file_input" } });
    assert_eq!(problems_of(dispatching_file), ["blocks[0].dispatch_action"]);
    assert_eq!(
        problems_of(input(json!({ "type": "number_input" }))),
        ["blocks[0].element.is_decimal_allowed"]
    );
    assert_eq!(
        problems_of(input(json!({ "type": "file_input", "max_files": 11 }))),
        ["blocks[0].element.max_files"]
    );
}

#[test]
fn checks_plain_text_input_lengths() {
    let lengths = |min: i64, max: i64| {
        input(json!({ "type": "plain_text_input", "min_length": min, "max_length": max }))
    };
    assert!(problems_of(lengths(0, 3000)).is_empty());
    assert_eq!(
        problems_of(lengths(10, 5)),
        ["blocks[0].element.min_length"]
    );
    assert_eq!(
        problems_of(lengths(0, 3001)),
        ["blocks[0].element.max_length"]
    );
    assert_eq!(
        problems_of(lengths(-1, 0)),
        [
            "blocks[0].element.max_length",
            "blocks[0].element.min_length"
        ]
    );
}

#[test]
fn checks_images() {
    assert_eq!(
        problems_of(json!({ "type": "image" })),
        ["blocks[0].alt_text", "blocks[0].image_url"]
    );
    let image = |url: &str, alt: &str, title: &str| json!({ "type": "image", "image_url": url, "alt_text": alt, "title": plain(title) });
    let url = |n: usize| format!("https://{}", chars(n - 8));
    assert!(problems_of(image(&url(3000), &chars(2000), &chars(2000))).is_empty());
    assert_eq!(
        problems_of(image(&url(3001), &chars(2001), &chars(2001))),
        [
            "blocks[0].alt_text",
            "blocks[0].image_url",
            "blocks[0].title"
        ]
    );
}

#[test]
fn checks_markdown_blocks() {
    assert_eq!(
        problems_of(json!({ "type": "markdown", "text": chars(12001) })),
        ["blocks[0].text"]
    );
    assert_eq!(
        problems_of(json!({ "type": "markdown", "text": "" })),
        ["blocks[0].text"]
    );
}

#[test]
fn checks_tables() {
    let table = |rows: usize, cells: usize| json!({ "type": "table", "rows": vec![vec![raw("c"); cells]; rows] });
    assert!(problems_of(table(100, 20)).is_empty());
    assert_eq!(problems_of(table(101, 1)), ["blocks[0].rows"]);
    assert_eq!(problems_of(table(1, 21)), ["blocks[0].rows[0]"]);
    assert_eq!(problems_of(json!({ "type": "table" })), ["blocks[0].rows"]);
    let odd = json!({ "type": "table", "rows": [[{ "type": "image" }, "bare"]],
        "column_settings": [{ "align": "justify" }] });
    assert_eq!(
        problems_of(odd),
        [
            "blocks[0].column_settings[0].align",
            "blocks[0].rows[0][0].type",
            "blocks[0].rows[0][1]"
        ]
    );
}

#[test]
fn checks_select_menus() {
    let select = |extra: Value| {
        let mut menu = json!({ "type": "static_select", "placeholder": plain("p") });
        if let (Some(menu), Some(extra)) = (menu.as_object_mut(), extra.as_object()) {
            menu.extend(extra.clone());
        }
        actions(vec![menu])
    };
    assert!(problems_of(select(json!({ "options": options(100) }))).is_empty());
    assert_eq!(
        problems_of(select(json!({ "options": options(101) }))),
        ["blocks[0].elements[0].options"]
    );
    assert_eq!(
        problems_of(select(json!({}))),
        ["blocks[0].elements[0].options"]
    );
    assert_eq!(
        problems_of(select(
            json!({ "options": [option(&chars(76), &chars(151))],
            "placeholder": plain(&chars(151)) })
        )),
        [
            "blocks[0].elements[0].options[0].text",
            "blocks[0].elements[0].options[0].value",
            "blocks[0].elements[0].placeholder"
        ]
    );
    let groups = vec![json!({ "label": plain("g"), "options": options(1) }); 101];
    assert_eq!(
        problems_of(select(json!({ "option_groups": groups }))),
        ["blocks[0].elements[0].option_groups"]
    );
    assert_eq!(
        problems_of(select(
            json!({ "options": [{ "text": plain("no value") }] })
        )),
        ["blocks[0].elements[0].options[0].value"]
    );
}

#[test]
fn checks_overflow_checkboxes_and_radio_buttons() {
    let element = |ty: &str, n: usize| actions(vec![json!({ "type": ty, "options": options(n) })]);
    assert!(problems_of(element("overflow", 1)).is_empty());
    assert_eq!(
        problems_of(element("overflow", 6)),
        ["blocks[0].elements[0].options"]
    );
    assert_eq!(
        problems_of(element("overflow", 0)),
        ["blocks[0].elements[0].options"]
    );
    assert_eq!(
        problems_of(element("checkboxes", 11)),
        ["blocks[0].elements[0].options"]
    );
    assert_eq!(
        problems_of(element("radio_buttons", 11)),
        ["blocks[0].elements[0].options"]
    );
}

#[test]
fn checks_pickers() {
    let picker = |element: Value| actions(vec![element]);
    assert_eq!(
        problems_of(picker(
            json!({ "type": "datepicker", "initial_date": "2023-02-29" })
        )),
        ["blocks[0].elements[0].initial_date"]
    );
    assert_eq!(
        problems_of(picker(
            json!({ "type": "timepicker", "initial_time": "25:00" })
        )),
        ["blocks[0].elements[0].initial_time"]
    );
    assert_eq!(
        problems_of(picker(
            json!({ "type": "datetimepicker", "initial_date_time": "soon" })
        )),
        ["blocks[0].elements[0].initial_date_time"]
    );
}

#[test]
fn checks_confirm_dialogs() {
    let confirm = json!({ "title": plain(&chars(101)), "text": plain("t"),
        "confirm": plain("y"), "style": "bold" });
    let element = json!({ "type": "button", "text": plain("b"), "confirm": confirm });
    assert_eq!(
        problems_of(actions(vec![element])),
        [
            "blocks[0].elements[0].confirm.deny",
            "blocks[0].elements[0].confirm.style",
            "blocks[0].elements[0].confirm.title"
        ]
    );
}

#[test]
fn checks_rich_text_shallowly() {
    let rich = |elements: Value| json!({ "type": "rich_text", "elements": elements });
    assert_eq!(
        problems_of(json!({ "type": "rich_text" })),
        ["blocks[0].elements"]
    );
    assert_eq!(
        problems_of(rich(json!([{ "type": "rich_text_table", "elements": [] }]))),
        ["blocks[0].elements[0].type"]
    );
    assert_eq!(
        problems_of(rich(json!([{ "type": "rich_text_section" }]))),
        ["blocks[0].elements[0].elements"]
    );
    assert_eq!(
        problems_of(rich(json!([{ "type": "rich_text_list", "style": "bullet",
            "elements": [{ "type": "text", "text": "x" }] }]))),
        ["blocks[0].elements[0].elements[0].type"]
    );
    assert_eq!(
        problems_of(rich(
            json!([{ "type": "rich_text_quote", "elements": ["x", {}] }])
        )),
        [
            "blocks[0].elements[0].elements[0]",
            "blocks[0].elements[0].elements[1].type"
        ]
    );
}

#[test]
fn checks_file_and_video_basics() {
    assert_eq!(
        problems_of(json!({ "type": "file" })),
        ["blocks[0].external_id", "blocks[0].source"]
    );
    assert_eq!(
        problems_of(json!({ "type": "video", "title": mrkdwn("t") })),
        [
            "blocks[0].alt_text",
            "blocks[0].thumbnail_url",
            "blocks[0].title.type",
            "blocks[0].video_url"
        ]
    );
}

/// Issue 15, finding 4: URLs must be http(s), wherever Block Kit takes one.
#[test]
fn urls_must_be_http_or_https() {
    for bad in [
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "not a url",
        "https://",
        "ftp://x.io/a",
    ] {
        let mut b = button("Go");
        b["url"] = json!(bad);
        assert_eq!(
            problems_of(actions(vec![b])),
            vec!["blocks[0].elements[0].url"],
            "{bad}"
        );
        let image = json!({ "type": "image", "image_url": bad, "alt_text": "a" });
        assert_eq!(problems_of(image), vec!["blocks[0].image_url"], "{bad}");
        let link = json!({ "type": "rich_text", "elements": [
            { "type": "rich_text_section", "elements": [{ "type": "link", "url": bad }] }
        ]});
        assert_eq!(
            problems_of(link),
            vec!["blocks[0].elements[0].elements[0].url"],
            "{bad}"
        );
        let listed = json!({ "type": "rich_text", "elements": [
            { "type": "rich_text_list", "style": "bullet", "elements": [
                { "type": "rich_text_section", "elements": [{ "type": "link", "url": bad }] }
            ]}
        ]});
        assert_eq!(
            problems_of(listed),
            vec!["blocks[0].elements[0].elements[0].elements[0].url"],
            "{bad}"
        );
    }
    let mut b = button("Go");
    b["url"] = json!("HTTPS://example.com/a?b#c");
    assert!(problems_of(actions(vec![b])).is_empty());
    let image = json!({ "type": "image", "image_url": "http://x.io/a.png", "alt_text": "a" });
    assert!(problems_of(image).is_empty());
}

/// Issue 15, finding 4: Slack refuses a message whose blocks share an id.
#[test]
fn block_ids_are_unique_in_a_message() {
    let a = json!({ "type": "divider", "block_id": "a" });
    let b = json!({ "type": "divider", "block_id": "b" });
    assert!(problems(json!([a, b])).is_empty());
    assert_eq!(problems(json!([a, b, a])), vec!["blocks[2].block_id"]);
}

fn card(title: Value) -> Value {
    json!({
        "type": "card",
        "hero_image": { "type": "image", "image_url": "https://h", "alt_text": "hero" },
        "icon": { "type": "image", "image_url": "https://i", "alt_text": "icon" },
        "title": title,
        "subtitle": mrkdwn("sub"),
        "body": mrkdwn("body"),
        "actions": [button("Open")],
    })
}

fn task(status: &str) -> Value {
    json!({
        "type": "task_card",
        "task_id": "t1",
        "title": "Look it up",
        "status": status,
        "details": { "type": "rich_text", "elements": [
            { "type": "rich_text_section", "elements": [{ "type": "text", "text": "d" }] }] },
        "sources": [{ "type": "url", "url": "https://example.com", "text": "Example" }],
    })
}

fn feedback() -> Value {
    json!({
        "type": "feedback_buttons",
        "action_id": "fb",
        "positive_button": { "text": plain("Good"), "value": "up" },
        "negative_button": { "text": plain("Bad"), "value": "down" },
    })
}

/// The blocks Slack's SDK defines for apps and AI assistants are accepted
/// with their fields.
#[test]
fn accepts_the_assistant_blocks() {
    let blocks = json!([
        card(mrkdwn("Title")),
        { "type": "carousel", "elements": [card(plain("One")), card(plain("Two"))] },
        { "type": "alert", "text": mrkdwn("*careful*"), "level": "warning" },
        { "type": "plan", "title": "Steps", "tasks": [task("pending"), task("complete")] },
        task("in_progress"),
        { "type": "context_actions", "elements": [feedback(), {
            "type": "icon_button", "icon": "trash", "text": plain("Delete"),
            "action_id": "del", "value": "m1", "visible_to_user_ids": ["U1"] }] },
        { "type": "call", "call_id": "R123", "api_decoration_available": false,
          "call": { "v1": { "id": "R123" } } },
    ]);
    assert_eq!(problems(blocks), Vec::<String>::new());
}

/// One broken limit of each, reported at its path.
#[test]
fn checks_the_assistant_blocks_limits() {
    assert_eq!(
        problems_of(card(plain(&chars(151)))),
        ["blocks[0].title"],
        "a card title has at most 150 characters"
    );
    assert_eq!(
        problems_of(json!({ "type": "card", "subtitle": mrkdwn("only a subtitle") })),
        ["blocks[0].title"],
        "a card needs an image, a title, a body or actions"
    );
    let cards: Vec<Value> = (0..11).map(|_| card(plain("c"))).collect();
    assert_eq!(
        problems_of(json!({ "type": "carousel", "elements": cards })),
        ["blocks[0].elements"]
    );
    assert_eq!(
        problems_of(
            json!({ "type": "carousel", "elements": [{ "type": "section", "text": plain("x") }] })
        ),
        ["blocks[0].elements[0].type"],
        "a carousel holds cards"
    );
    assert_eq!(
        problems_of(json!({ "type": "alert", "text": mrkdwn("x"), "level": "panic" })),
        ["blocks[0].level"]
    );
    assert_eq!(problems_of(json!({ "type": "alert" })), ["blocks[0].text"]);
    assert_eq!(problems_of(task("done")), ["blocks[0].status"]);
    assert_eq!(
        problems_of(json!({ "type": "plan", "title": "P", "tasks": [task("stuck")] })),
        ["blocks[0].tasks[0].status"]
    );
    assert_eq!(
        problems_of(json!({ "type": "plan", "tasks": [] })),
        ["blocks[0].title"]
    );
    let mut bad_source = task("pending");
    bad_source["sources"][0]["url"] = json!("javascript:alert(1)");
    assert_eq!(problems_of(bad_source), ["blocks[0].sources[0].url"]);
    let six: Vec<Value> = (0..6).map(|_| feedback()).collect();
    assert_eq!(
        problems_of(json!({ "type": "context_actions", "elements": six })),
        ["blocks[0].elements"]
    );
    assert_eq!(
        problems_of(json!({ "type": "context_actions", "elements": [button("b")] })),
        ["blocks[0].elements[0].type"],
        "only feedback and icon buttons"
    );
    let mut long = feedback();
    long["positive_button"]["text"] = plain(&chars(76));
    assert_eq!(
        problems_of(json!({ "type": "context_actions", "elements": [long] })),
        ["blocks[0].elements[0].positive_button.text"]
    );
    assert_eq!(
        problems_of(json!({ "type": "call" })),
        ["blocks[0].call_id"]
    );
    assert_eq!(
        problems_of(
            json!({ "type": "video", "alt_text": "v", "thumbnail_url": "https://t",
            "video_url": "https://v" })
        ),
        ["blocks[0].title"],
        "a video needs its title"
    );
}
