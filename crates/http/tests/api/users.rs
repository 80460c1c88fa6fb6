//! Users and tenancy over HTTP: CRUD rules, mass assignment, and an access
//! matrix showing no user endpoint crosses an org boundary.

use serde_json::{Value, json};
use xl_domain::Role;

use crate::helpers::{TestApp, data, problem, spawn_app};

struct Org {
    admin: String,
    user: String,
    user_id: String,
}

async fn org(app: &TestApp, domain: &str) -> Org {
    let (admin, _) = app.user(&format!("admin@{domain}"), Role::Admin).await;
    let (user, profile) = app.user(&format!("user@{domain}"), Role::User).await;
    Org {
        admin,
        user,
        user_id: profile["id"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn users_are_created_on_first_sight_in_the_org_of_their_domain_or_claim() {
    let app = spawn_app().await;
    let (_, ada) = app.user("ada@acme.io", Role::User).await;
    let (_, bob) = app.user("bob@acme.io", Role::User).await;
    assert_eq!(ada["org_id"], bob["org_id"]);

    let mut claims = app.claims("carol@gmail.com", Role::User);
    claims.org = Some("acme.io".into());
    let token = app.sign(&claims);
    let carol = data(app.get("/api/v1/users/me", &token).await, 200).await;
    assert_eq!(
        carol["org_id"], ada["org_id"],
        "the org claim wins over the domain"
    );

    let (_, dan) = app.user("dan@other.org", Role::User).await;
    assert_ne!(dan["org_id"], ada["org_id"]);
}

#[tokio::test]
async fn the_stored_role_is_authoritative_after_first_sight() {
    let app = spawn_app().await;
    let (_, first) = app.user("ada@acme.io", Role::User).await;
    assert_eq!(first["role"], "USER");
    // A later token claiming ADMIN does not promote the user.
    let promoted = app.token("ada@acme.io", Role::Admin);
    problem(app.get("/api/v1/users", &promoted).await, 403).await;
}

#[tokio::test]
async fn admins_manage_users_of_their_org() {
    let app = spawn_app().await;
    let acme = org(&app, "acme.io").await;
    let created = data(
        app.post(
            "/api/v1/users",
            &acme.admin,
            &json!({ "email": "New@Acme.io", "name": "New Person" }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["email"], "new@acme.io");
    assert_eq!(created["role"], "USER");
    let id = created["id"].as_str().unwrap();

    // Duplicate email → 409.
    let error = problem(
        app.post(
            "/api/v1/users",
            &acme.admin,
            &json!({ "email": "new@acme.io", "name": "x" }),
        )
        .await,
        409,
    )
    .await;
    assert!(error["detail"].as_str().unwrap().contains("already exists"));

    // Filters and pagination.
    let admins = data(app.get("/api/v1/users?role=ADMIN", &acme.admin).await, 200).await;
    assert_eq!(admins.as_array().unwrap().len(), 1);
    let found = data(app.get("/api/v1/users?email=new@", &acme.admin).await, 200).await;
    assert_eq!(found[0]["id"], id);
    let response = app.get("/api/v1/users?limit=2", &acme.admin).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["pagination"]["has_more"], true);
    let cursor = body["pagination"]["next_cursor"].as_str().unwrap();
    let rest = data(
        app.get(
            &format!("/api/v1/users?limit=2&cursor={cursor}"),
            &acme.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    problem(
        app.get("/api/v1/users?cursor=garbage", &acme.admin).await,
        400,
    )
    .await;
    problem(app.get("/api/v1/users?limit=500", &acme.admin).await, 400).await;

    // Promote, then delete.
    let updated = data(
        app.put(
            &format!("/api/v1/users/{id}"),
            &acme.admin,
            &json!({ "role": "ADMIN" }),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(updated["role"], "ADMIN");
    assert_eq!(
        app.delete(&format!("/api/v1/users/{id}"), &acme.admin)
            .await
            .status(),
        204
    );
    problem(
        app.get(&format!("/api/v1/users/{id}"), &acme.admin).await,
        404,
    )
    .await;

    // Users cannot create or delete users.
    problem(
        app.post(
            "/api/v1/users",
            &acme.user,
            &json!({ "email": "x@acme.io", "name": "x" }),
        )
        .await,
        403,
    )
    .await;
    let user_id = acme.user_id.clone();
    problem(
        app.delete(&format!("/api/v1/users/{user_id}"), &acme.user)
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn users_edit_their_own_profile_but_not_their_role() {
    let app = spawn_app().await;
    let acme = org(&app, "acme.io").await;
    let path = format!("/api/v1/users/{}", acme.user_id);
    let updated = data(
        app.put(&path, &acme.user, &json!({ "name": "Renamed" }))
            .await,
        200,
    )
    .await;
    assert_eq!(updated["name"], "Renamed");

    let error = problem(
        app.put(&path, &acme.user, &json!({ "role": "ADMIN" }))
            .await,
        422,
    )
    .await;
    assert!(error["errors"]["role"].is_array(), "{error}");
    let error = problem(
        app.put(&path, &acme.user, &json!({ "name": "x", "org_id": "z" }))
            .await,
        422,
    )
    .await;
    assert!(error["errors"]["org_id"].is_array(), "{error}");
    let error = problem(
        app.put(&path, &acme.user, &json!({ "name": "" })).await,
        400,
    )
    .await;
    assert!(error["errors"]["name"].is_array(), "{error}");

    // Another user of the same org cannot edit them.
    let (other, _) = app.user("other@acme.io", Role::User).await;
    problem(
        app.put(&path, &other, &json!({ "name": "Hijacked" })).await,
        403,
    )
    .await;
    let me = data(app.get("/api/v1/users/me", &acme.user).await, 200).await;
    assert_eq!(me["name"], "Renamed");
    assert_eq!(me["role"], "USER");
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_and_admins_cannot_delete_themselves() {
    let app = spawn_app().await;
    let (admin, profile) = app.user("admin@acme.io", Role::Admin).await;
    let path = format!("/api/v1/users/{}", profile["id"].as_str().unwrap());
    problem(
        app.put(&path, &admin, &json!({ "role": "USER" })).await,
        409,
    )
    .await;
    problem(app.delete(&path, &admin).await, 409).await;
}

#[tokio::test]
async fn no_user_endpoint_crosses_an_org_boundary() {
    let app = spawn_app().await;
    let acme = org(&app, "acme.io").await;
    let globex = org(&app, "globex.com").await;
    let target = format!("/api/v1/users/{}", acme.user_id);

    for token in [&globex.admin, &globex.user] {
        problem(app.get(&target, token).await, 404).await;
        let error = problem(
            app.put(&target, token, &json!({ "name": "pwned" })).await,
            404,
        )
        .await;
        assert_eq!(error["detail"], "user not found");
    }
    problem(app.delete(&target, &globex.admin).await, 404).await;

    // Lists show only the caller's org.
    let listed = data(app.get("/api/v1/users", &globex.admin).await, 200).await;
    let emails: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(
        emails.iter().all(|e| e.ends_with("@globex.com")),
        "{emails:?}"
    );

    // An admin creates users only in their own org's domains; another
    // org's address becomes an invitation into the admin's own org.
    let invited = data(
        app.post(
            "/api/v1/users",
            &globex.admin,
            &json!({ "email": "x@acme.io", "name": "x" }),
        )
        .await,
        202,
    )
    .await;
    let me = data(app.get("/api/v1/users/me", &globex.admin).await, 200).await;
    assert_eq!(invited["org_id"], me["org_id"]);
    assert_eq!(invited["accepted_at"], Value::Null);

    // The target is untouched.
    let user = data(app.get(&target, &acme.admin).await, 200).await;
    assert_eq!(user["name"], "user");
}

#[tokio::test]
async fn legacy_users_routes_keep_the_same_rules() {
    let app = spawn_app().await;
    let acme = org(&app, "acme.io").await;
    let listed = data(app.get("/users", &acme.admin).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    problem(app.get("/users", &acme.user).await, 403).await;
    let response = app.client.get(app.url("/users")).send().await.unwrap();
    problem(response, 401).await;
    let created = data(
        app.post(
            "/users",
            &acme.admin,
            &json!({ "email": "legacy@acme.io", "name": "Legacy" }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["email"], "legacy@acme.io");
}
