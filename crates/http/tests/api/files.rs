//! Files: upload and download round trips on the local and S3 stores, the
//! size limit, sniffing, names, previews, access, attachments and deletion.

use std::io::Cursor;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use xl_domain::{Role, ThreadId};

use crate::helpers::{TestApp, data, problem, spawn_app, spawn_app_with};

/// An app whose files live in a fresh local directory.
async fn local_app(
    dir: &Path,
    configure: impl FnOnce(&mut crate::helpers::TestOptions),
) -> TestApp {
    let store = format!("file://{}", dir.display());
    spawn_app_with(move |options| {
        options.services.files.store = store;
        configure(options);
    })
    .await
}

async fn upload_raw(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = Form::new()
        .text("note", "ignored")
        .part("file", Part::bytes(bytes).file_name(name.to_owned()));
    app.client
        .post(app.url("/api/v1/files"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    data(upload_raw(app, token, name, bytes).await, 201).await
}

/// Bytes that sniff as a PDF and are otherwise pseudo-random.
fn pdf_like(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// Every regular file under `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn get_with(
    app: &TestApp,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Uploads, downloads whole and in parts, and revalidates.
async fn round_trip(app: &TestApp, token: &str) -> Value {
    let bytes = pdf_like(3 * 1024 * 1024 + 123);
    let file = upload(app, token, "big.pdf", bytes.clone()).await;
    assert_eq!(file["content_type"], "application/pdf");
    assert_eq!(file["size_bytes"], bytes.len());
    let id = file["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/files/{id}/content");

    let whole = get_with(app, &path, token, &[]).await;
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(
        whole.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", file["sha256"].as_str().unwrap()));
    assert_eq!(whole.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let part = get_with(app, &path, token, &[("range", "bytes=1000-1999")]).await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 1000-1999/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[1000..2000]);

    let tail = get_with(app, &path, token, &[("range", "bytes=-10")]).await;
    assert_eq!(tail.status(), 206);
    assert_eq!(
        tail.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 10..]
    );

    let open = get_with(app, &path, token, &[("range", "bytes=3145000-")]).await;
    assert_eq!(open.status(), 206);
    assert_eq!(open.bytes().await.unwrap().as_ref(), &bytes[3_145_000..]);

    let beyond = format!("bytes={}-", bytes.len());
    let refused = get_with(app, &path, token, &[("range", beyond.as_str())]).await;
    assert_eq!(
        refused.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );
    problem(refused, 416).await;

    let cached = get_with(app, &path, token, &[("if-none-match", etag.as_str())]).await;
    assert_eq!(cached.status(), 304);
    file
}

#[tokio::test]
async fn local_store_round_trip_keeps_bytes_and_ranges_and_stores_content_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = local_app(dir.path(), |_| {}).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let first = round_trip(&app, &ada).await;
    // The same bytes again: a second file, one object.
    let again = upload(&app, &ada, "copy.pdf", pdf_like(3 * 1024 * 1024 + 123)).await;
    assert_ne!(again["id"], first["id"]);
    assert_eq!(again["sha256"], first["sha256"]);
    let objects = files_under(dir.path());
    assert_eq!(objects.len(), 1, "{objects:?}");
    // Deleting one keeps the object for the other; deleting both removes it.
    let delete = |id: &Value| format!("/api/v1/files/{}", id.as_str().unwrap());
    assert_eq!(app.delete(&delete(&first["id"]), &ada).await.status(), 204);
    let still = get_with(
        &app,
        &format!("{}/content", delete(&again["id"])),
        &ada,
        &[],
    )
    .await;
    assert_eq!(still.status(), 200);
    assert_eq!(files_under(dir.path()).len(), 1);
    assert_eq!(app.delete(&delete(&again["id"]), &ada).await.status(), 204);
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn too_large_is_413_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = local_app(dir.path(), |options| {
        options.services.files.max_upload_bytes = 64 * 1024;
    })
    .await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    // Declared too large: refused before the body is read.
    let error = problem(
        upload_raw(&app, &ada, "big.pdf", pdf_like(512 * 1024)).await,
        413,
    )
    .await;
    assert_eq!(error["status"], 413);
    // Not declared (a chunked body): refused once the limit is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = pdf_like(200 * 1024)
        .chunks(8 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let form = Form::new().part("file", Part::stream(body).file_name("stream.pdf"));
    let response = app
        .client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&ada)
        .multipart(form)
        .send()
        .await
        .unwrap();
    problem(response, 413).await;
    // Nothing behind: no row, and no object once the abort has run.
    let listed = data(app.get("/api/v1/files", &ada).await, 200).await;
    assert_eq!(listed, json!([]));
    for _ in 0..50 {
        if files_under(dir.path()).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        files_under(dir.path()).is_empty(),
        "{:?}",
        files_under(dir.path())
    );
    // Just under the limit still works.
    upload(&app, &ada, "ok.pdf", pdf_like(60 * 1024)).await;
}

#[tokio::test]
async fn sniffing_refuses_a_disguised_executable_and_names_are_sanitised() {
    let dir = tempfile::tempdir().unwrap();
    let app = local_app(dir.path(), |_| {}).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.resize(4096, 0);
    let error = problem(upload_raw(&app, &ada, "cat.png", elf).await, 422).await;
    assert!(error["errors"]["file"].is_array(), "{error}");
    let error = problem(
        upload_raw(&app, &ada, "x.txt", vec![0xff, 0x00, 0x13]).await,
        422,
    )
    .await;
    assert!(error["errors"]["file"].is_array(), "{error}");
    assert!(files_under(dir.path()).is_empty());

    // A PNG sent as text is stored as a PNG; a traversal name keeps its last part.
    let file = upload(&app, &ada, "../../etc/passwd.txt", b"root:x:0:0\n".to_vec()).await;
    assert_eq!(file["filename"], "passwd.txt");
    assert_eq!(file["content_type"], "text/plain");
    let png = upload(&app, &ada, "notes.txt", png_bytes(4, 4)).await;
    assert_eq!(png["content_type"], "image/png");
    let file = upload(&app, &ada, "..\\r\u{e9}sum\u{e9}.md", b"# hi\n".to_vec()).await;
    assert_eq!(file["filename"], "r\u{e9}sum\u{e9}.md");
    let response = app
        .get(
            &format!("/api/v1/files/{}/content", file["id"].as_str().unwrap()),
            &ada,
        )
        .await;
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename=\"r_sum_.md\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.md"),
        "{disposition}"
    );
    // A rename is sanitised the same way.
    let renamed = data(
        app.put(
            &format!("/api/v1/files/{}", file["id"].as_str().unwrap()),
            &ada,
            &json!({ "filename": "../x/c\u{0}v\r\n.md", "metadata": { "tag": "cv" } }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["filename"], "cv.md");
    assert_eq!(renamed["metadata"], json!({ "tag": "cv" }));
    let error = problem(
        app.put(
            &format!("/api/v1/files/{}", file["id"].as_str().unwrap()),
            &ada,
            &json!({ "filename": "../.." }),
        )
        .await,
        400,
    )
    .await;
    assert!(error["errors"]["filename"].is_array(), "{error}");
}

fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    encode(
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            width,
            height,
            image::Rgb([10, 120, 200]),
        )),
        image::ImageFormat::Png,
    )
}

fn encode(image: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// CRC-32 (IEEE), to forge a PNG header that decoders accept as intact.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A small PNG whose intact header claims 60000×60000 pixels.
fn png_bomb() -> Vec<u8> {
    let mut bytes = png_bytes(1, 1);
    bytes[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// A one-page PDF saying `text`, made with lopdf.
pub(crate) fn pdf_with(text: &str) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 24.into()]),
            Operation::new("Td", vec![72.into(), 700.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
            "Resources" => resources_id, "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[tokio::test]
async fn previews_of_every_supported_type_and_refusals_of_bombs() {
    let dir = tempfile::tempdir().unwrap();
    let app = local_app(dir.path(), |_| {}).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let preview = |id: &Value| format!("/api/v1/files/{}/preview", id.as_str().unwrap());
    let big = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        900,
        300,
        image::Rgb([1, 2, 3]),
    ));
    for (name, bytes, mime) in [
        (
            "a.png",
            encode(big.clone(), image::ImageFormat::Png),
            "image/png",
        ),
        (
            "a.jpg",
            encode(big.clone(), image::ImageFormat::Jpeg),
            "image/jpeg",
        ),
        (
            "a.gif",
            encode(big.clone(), image::ImageFormat::Gif),
            "image/gif",
        ),
        (
            "a.webp",
            encode(big.clone(), image::ImageFormat::WebP),
            "image/webp",
        ),
    ] {
        let file = upload(&app, &ada, name, bytes).await;
        assert_eq!(file["content_type"], mime);
        assert_eq!(file["has_preview"], false);
        for _ in 0..2 {
            let response = app.get(&preview(&file["id"]), &ada).await;
            assert_eq!(response.status(), 200, "{name}");
            assert_eq!(response.headers()["content-type"], "image/png");
            let thumb = image::load_from_memory(&response.bytes().await.unwrap()).unwrap();
            assert_eq!((thumb.width(), thumb.height()), (256, 85), "{name}");
        }
        let file = data(
            app.get(
                &format!("/api/v1/files/{}", file["id"].as_str().unwrap()),
                &ada,
            )
            .await,
            200,
        )
        .await;
        assert_eq!(file["has_preview"], true, "{name}: the thumbnail is cached");
    }
    let lines: String = (1..=40).map(|n| format!("row {n},x\n")).collect();
    for (name, bytes, mime, first) in [
        ("a.txt", b"hello\nworld\n".to_vec(), "text/plain", "hello"),
        (
            "a.md",
            b"# Title\n\nbody".to_vec(),
            "text/markdown",
            "# Title",
        ),
        ("a.csv", lines.into_bytes(), "text/csv", "row 1,x"),
        (
            "a.json",
            b"{\n  \"a\": 1\n}\n".to_vec(),
            "application/json",
            "{",
        ),
    ] {
        let file = upload(&app, &ada, name, bytes).await;
        assert_eq!(file["content_type"], mime);
        let shown = data(app.get(&preview(&file["id"]), &ada).await, 200).await;
        assert_eq!(shown["kind"], "text");
        assert_eq!(shown["lines"][0], first, "{name}");
        assert!(shown["lines"].as_array().unwrap().len() <= 20);
        assert_eq!(shown["truncated"], name == "a.csv", "{name}");
    }
    let file = upload(&app, &ada, "doc.pdf", pdf_with("Quarterly numbers")).await;
    let shown = data(app.get(&preview(&file["id"]), &ada).await, 200).await;
    assert_eq!(shown["kind"], "pdf");
    assert_eq!(shown["pages"], 1);
    assert!(
        shown["first_page_text"]
            .as_str()
            .unwrap()
            .contains("Quarterly numbers"),
        "{shown}"
    );

    // A decompression bomb, a corrupt image and a corrupt PDF: 422, and the
    // server goes on serving.
    for (name, bytes) in [
        ("bomb.png", png_bomb()),
        ("cut.png", png_bytes(64, 64)[..60].to_vec()),
        ("bad.pdf", pdf_like(4096)),
    ] {
        let file = upload(&app, &ada, name, bytes).await;
        let error = problem(app.get(&preview(&file["id"]), &ada).await, 422).await;
        assert!(error["errors"]["file"].is_array(), "{name}: {error}");
    }
    assert_eq!(app.get("/health", &ada).await.status(), 200);
}

async fn thread(app: &TestApp, token: &str) -> String {
    let thread = data(
        app.post("/api/v1/threads", token, &json!({ "title": "Files" }))
            .await,
        201,
    )
    .await;
    thread["id"].as_str().unwrap().to_owned()
}

async fn add_member(app: &TestApp, owner: &str, thread: &str, user: &Value) {
    let response = app
        .post(
            &format!("/api/v1/threads/{thread}/members"),
            owner,
            &json!({ "user_id": user["id"] }),
        )
        .await;
    assert!(response.status().is_success(), "{}", response.status());
}

async fn events(app: &TestApp, thread: &str) -> Vec<xl_domain::events::ThreadEvent> {
    let thread: ThreadId = thread.parse().unwrap();
    xl_store::repo::events::after(app.services.store.reader(), thread, 0, None, 1000)
        .await
        .unwrap()
}

#[tokio::test]
async fn access_follows_the_thread_and_attaching_emits_an_event() {
    let app = spawn_app().await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, bob_profile) = app.user("bob@acme.io", Role::User).await;
    let (dan, _) = app.user("dan@acme.io", Role::User).await;
    let (boss, _) = app.user("boss@acme.io", Role::Admin).await;
    let (eve, _) = app.user("eve@evil.io", Role::User).await;
    let (eve_admin, _) = app.user("root@evil.io", Role::Admin).await;
    let file = upload(&app, &ada, "plan.md", b"# Plan\n".to_vec()).await;
    let id = file["id"].as_str().unwrap().to_owned();
    let meta = format!("/api/v1/files/{id}");
    let content = format!("{meta}/content");

    // Unattached: the uploader only.
    assert_eq!(app.get(&meta, &ada).await.status(), 200);
    for token in [&bob, &dan, &boss, &eve, &eve_admin] {
        problem(app.get(&meta, token).await, 404).await;
        problem(app.get(&content, token).await, 404).await;
        problem(app.delete(&meta, token).await, 404).await;
        problem(
            app.put(&meta, token, &json!({ "filename": "x.md" })).await,
            404,
        )
        .await;
    }
    // Someone else cannot attach it.
    let dans_thread = thread(&app, &dan).await;
    let error = problem(
        app.post(
            &format!("/api/v1/threads/{dans_thread}/messages"),
            &dan,
            &json!({ "content": "mine now", "attachments": [id] }),
        )
        .await,
        400,
    )
    .await;
    assert!(error["errors"]["attachments"].is_array(), "{error}");
    // Nor can anyone list it twice.
    let t = thread(&app, &ada).await;
    add_member(&app, &ada, &t, &bob_profile).await;
    let error = problem(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "content": "twice", "attachments": [id, id] }),
        )
        .await,
        400,
    )
    .await;
    assert!(error["errors"]["attachments"].is_array(), "{error}");

    // Attached in a thread: its members and the org's admins read it.
    let message = data(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "content": "see attached", "attachments": [id] }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(message["attachments"], json!([id]));
    let logged = events(&app, &t).await;
    let attached: Vec<_> = logged
        .iter()
        .filter(|e| e.kind == "file.attached")
        .collect();
    assert_eq!(attached.len(), 1);
    assert_eq!(
        attached[0].message_id.unwrap().to_string(),
        message["id"].as_str().unwrap()
    );
    assert_eq!(attached[0].payload["file"]["id"], id.as_str());
    assert_eq!(attached[0].payload["file"]["thread_id"], t.as_str());
    assert!(
        logged.iter().position(|e| e.kind == "message.created")
            < logged.iter().position(|e| e.kind == "file.attached")
    );

    for token in [&ada, &bob, &boss] {
        assert_eq!(app.get(&meta, token).await.status(), 200);
        let body = app.get(&content, token).await;
        assert_eq!(body.status(), 200);
        assert_eq!(body.bytes().await.unwrap().as_ref(), b"# Plan\n");
    }
    for token in [&dan, &eve, &eve_admin] {
        problem(app.get(&meta, token).await, 404).await;
        problem(app.get(&content, token).await, 404).await;
        problem(app.get(&format!("{meta}/preview"), token).await, 404).await;
    }
    // A member may read it, not change it; the org's admin may.
    problem(
        app.put(&meta, &bob, &json!({ "filename": "x.md" })).await,
        403,
    )
    .await;
    problem(app.delete(&meta, &bob).await, 403).await;
    problem(app.delete(&meta, &eve_admin).await, 404).await;
    let renamed = data(
        app.put(&meta, &boss, &json!({ "filename": "plan-v2.md" }))
            .await,
        200,
    )
    .await;
    assert_eq!(renamed["filename"], "plan-v2.md");
    // A member who can read it may attach it in a thread of their own.
    let bobs_thread = thread(&app, &bob).await;
    data(
        app.post(
            &format!("/api/v1/threads/{bobs_thread}/messages"),
            &bob,
            &json!({ "content": "fwd", "attachments": [id] }),
        )
        .await,
        201,
    )
    .await;
    // Only the uploader's own files are listed, filtered by thread and type.
    let listed = data(
        app.get(&format!("/api/v1/files?thread={t}"), &ada).await,
        200,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        data(app.get("/api/v1/files", &bob).await, 200).await,
        json!([])
    );
    let listed = data(app.get("/api/v1/files?type=image", &ada).await, 200).await;
    assert_eq!(listed, json!([]));
    let listed = data(app.get("/api/v1/files?type=text/markdown", &ada).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_an_attached_file_leaves_a_tombstone_and_orphans_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let app = local_app(dir.path(), |options| {
        options.services.files.orphan_ttl = Duration::ZERO;
    })
    .await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let (bob, bob_profile) = app.user("bob@acme.io", Role::User).await;
    let t = thread(&app, &ada).await;
    add_member(&app, &ada, &t, &bob_profile).await;
    let kept = upload(&app, &ada, "kept.txt", b"kept\n".to_vec()).await;
    let gone = upload(&app, &ada, "gone.txt", b"gone\n".to_vec()).await;
    let message = data(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "content": "two files", "attachments": [kept["id"], gone["id"]] }),
        )
        .await,
        201,
    )
    .await;
    let gone_id = gone["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v1/files/{gone_id}"), &ada)
            .await
            .status(),
        204
    );
    problem(
        app.delete(&format!("/api/v1/files/{gone_id}"), &ada).await,
        404,
    )
    .await;
    // The message still lists it; readers see a tombstone without bytes.
    let shown = data(
        app.get(
            &format!("/api/v1/messages/{}", message["id"].as_str().unwrap()),
            &bob,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(shown["attachments"], json!([kept["id"], gone["id"]]));
    let tombstone = data(
        app.get(&format!("/api/v1/files/{gone_id}"), &bob).await,
        200,
    )
    .await;
    assert!(tombstone["deleted_at"].is_string(), "{tombstone}");
    problem(
        app.get(&format!("/api/v1/files/{gone_id}/content"), &bob)
            .await,
        404,
    )
    .await;
    let deleted: Vec<_> = events(&app, &t)
        .await
        .into_iter()
        .filter(|e| e.kind == "file.deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].payload["file_id"], gone_id);
    // A deleted file cannot be attached again.
    problem(
        app.post(
            &format!("/api/v1/threads/{t}/messages"),
            &ada,
            &json!({ "attachments": [gone_id], "content": "again" }),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(
        files_under(dir.path()).len(),
        1,
        "only the kept file's bytes remain"
    );

    // An upload nobody attached goes at the next housekeeping; attached ones stay.
    let orphan = upload(&app, &ada, "orphan.txt", b"nobody wants me\n".to_vec()).await;
    assert_eq!(files_under(dir.path()).len(), 2);
    app.services.housekeeping().await.unwrap();
    problem(
        app.get(
            &format!("/api/v1/files/{}", orphan["id"].as_str().unwrap()),
            &ada,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(
        app.get(
            &format!("/api/v1/files/{}", kept["id"].as_str().unwrap()),
            &ada
        )
        .await
        .status(),
        200
    );
    assert_eq!(files_under(dir.path()).len(), 1);
}

/// A moto S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto's server mode, or `None` when it is not installed outside CI
/// (in CI, `.ci/run` installs it and its absence fails the test).
async fn start_moto() -> Option<Moto> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = match Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server must be installed in CI (pip install 'moto[server]'): {err}"
            );
            eprintln!("skipping the S3 test: moto_server is not installed");
            return None;
        }
    };
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(&moto.endpoint).send().await.is_ok() {
            return Some(moto);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto_server did not start on port {port}");
}

#[tokio::test]
async fn s3_store_round_trip_against_a_real_s3_server() {
    let Some(moto) = start_moto().await else {
        return;
    };
    let created = reqwest::Client::new()
        .put(format!("{}/xl-files", moto.endpoint))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let store = xl_services::files::FileStore::open_with(
        "s3://xl-files/tenant",
        vec![
            ("aws_endpoint".into(), moto.endpoint.clone()),
            ("aws_allow_http".into(), "true".into()),
            ("aws_access_key_id".into(), "test".into()),
            ("aws_secret_access_key".into(), "test".into()),
            ("aws_region".into(), "us-east-1".into()),
            ("aws_virtual_hosted_style_request".into(), "false".into()),
        ],
    )
    .unwrap();
    let app = spawn_app_with(|options| options.file_store = Some(store.clone())).await;
    let (ada, _) = app.user("ada@acme.io", Role::User).await;
    let file = round_trip(&app, &ada).await;
    let key = xl_services::files::FileStore::blob_key(file["sha256"].as_str().unwrap());
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(
        app.delete(
            &format!("/api/v1/files/{}", file["id"].as_str().unwrap()),
            &ada
        )
        .await
        .status(),
        204
    );
    assert!(!store.exists(&key).await.unwrap());
}
