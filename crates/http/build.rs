//! Embeds the console (`console/`): every file is gzipped once here, at
//! build time, and the set gets a version, a hash of all of it, that names
//! the directory the page loads them from (`/console/<version>/…`), so a
//! browser may cache them forever and a new build is a new address.
//! `index.html` names that directory through `{{ASSETS}}`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

const SOURCE: &str = "console";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    let mut files = Vec::new();
    collect(Path::new(SOURCE), &mut files);
    files.sort();
    let mut version = Sha256::new();
    for file in &files {
        version.update(relative(file).as_bytes());
        version.update([0]);
        version.update(read(file));
    }
    let version = hex(&version.finalize()[..6]);
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_else(|| panic!("OUT_DIR is not set")))
        .join("console");
    let mut table = String::new();
    let _ = writeln!(table, "/// The version in the assets' path.");
    let _ = writeln!(table, "pub(crate) const VERSION: &str = \"{version}\";");
    let _ = writeln!(table, "/// Every file, by path under `console/`.");
    let _ = writeln!(table, "pub(crate) static FILES: &[Asset] = &[");
    for file in &files {
        let name = relative(file);
        println!("cargo:rerun-if-changed={}", file.display());
        let mut bytes = read(file);
        if name == "index.html" {
            let text = String::from_utf8_lossy(&bytes)
                .replace("{{ASSETS}}", &format!("/console/{version}"));
            bytes = text.into_bytes();
        }
        let gzipped = gzip(&bytes);
        let target = out.join(&name);
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
        }
        write(&target, &bytes);
        let gz = out.join(format!("{name}.gz"));
        write(&gz, &gzipped);
        let etag = hex(&Sha256::digest(&bytes)[..12]);
        let _ = writeln!(
            table,
            "    Asset {{ path: {name:?}, content_type: {:?}, etag: \"\\\"{etag}\\\"\", raw: include_bytes!({:?}), gzip: include_bytes!({:?}) }},",
            content_type(&name),
            target.display().to_string(),
            gz.display().to_string(),
        );
    }
    let _ = writeln!(table, "];");
    write(&out.join("assets.rs"), table.as_bytes());
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn relative(file: &Path) -> String {
    file.strip_prefix(SOURCE)
        .unwrap_or(file)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn read(file: &Path) -> Vec<u8> {
    fs::read(file).unwrap_or_else(|err| panic!("{}: {err}", file.display()))
}

fn write(file: &Path, bytes: &[u8]) {
    fs::write(file, bytes).unwrap_or_else(|err| panic!("{}: {err}", file.display()));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .unwrap_or_else(|err| panic!("gzip: {err}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => panic!("console/{name}: no content type for this extension; add it to build.rs"),
    }
}
