//! The store's boundary: its connections are not sea-orm connections, its
//! error does not convert from a driver's, and no crate above it depends on
//! a driver, so sea-orm, sqlx and rusqlite stay inside this crate.

use static_assertions::assert_not_impl_any;

use crate::{Db, DbError, Store, StoreError, Tx};

// A connection that sea-orm could run on would let a caller build and run
// its own queries; repositories reach the engine through the crate-private
// `Engine::orm` instead.
assert_not_impl_any!(Db: sea_orm::ConnectionTrait, sea_orm::TransactionTrait);
assert_not_impl_any!(Tx: sea_orm::ConnectionTrait, sea_orm::TransactionTrait);
assert_not_impl_any!(Store: sea_orm::ConnectionTrait, sea_orm::TransactionTrait);

// A public conversion would put the driver's error in the interface; the
// store converts with the crate-private `OrmResult::into_store`.
assert_not_impl_any!(StoreError: From<sea_orm::DbErr>, From<rusqlite::Error>);
assert_not_impl_any!(DbError: From<sea_orm::DbErr>, From<rusqlite::Error>);

/// The crates that may not depend on a driver, and their manifests.
const ABOVE_THE_STORE: [(&str, &str); 3] = [
    ("xl-services", include_str!("../../../services/Cargo.toml")),
    ("xl-http", include_str!("../../../http/Cargo.toml")),
    ("xl-server", include_str!("../../../server/Cargo.toml")),
];

/// The packages that only the store (and the schema's own crate) may use.
const DRIVERS: [&str; 6] = [
    "sea-orm",
    "sea-orm-migration",
    "sea-query",
    "sqlx",
    "rusqlite",
    "migration",
];

/// The package a manifest line declares as a dependency, if it declares one:
/// `sea-orm = …`, `sea-orm.workspace = true`, `[dependencies.sea-orm]`, or
/// a renamed `orm = { package = "sea-orm", … }`.
fn declared(line: &str) -> Option<&str> {
    let line = line.trim();
    if let Some((_, rest)) = line.split_once("package") {
        let rest = rest.trim_start().strip_prefix('=')?.trim_start();
        return rest.strip_prefix('"')?.split('"').next();
    }
    let key = line.split('=').next()?.trim();
    let key = key.trim_start_matches('[').trim_end_matches(']');
    let key = key.strip_suffix(".workspace").unwrap_or(key);
    key.rsplit('.').next()
}

#[test]
fn no_crate_above_the_store_depends_on_a_driver() {
    for (krate, manifest) in ABOVE_THE_STORE {
        let mut in_dependencies = false;
        for line in manifest.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                in_dependencies = trimmed.contains("dependencies");
            }
            if !in_dependencies {
                continue;
            }
            if let Some(package) = declared(trimmed) {
                assert!(
                    !DRIVERS.contains(&package),
                    "{krate} depends on {package}; only xl-store may: {line}"
                );
            }
        }
    }
}

#[test]
fn dependency_lines_are_read_in_every_form() {
    assert_eq!(declared("sea-orm = { workspace = true }"), Some("sea-orm"));
    assert_eq!(declared("sea-orm.workspace = true"), Some("sea-orm"));
    assert_eq!(declared("[dependencies.sqlx]"), Some("sqlx"));
    assert_eq!(
        declared(r#"orm = { package = "sea-orm", version = "2" }"#),
        Some("sea-orm")
    );
}
