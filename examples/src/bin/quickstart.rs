//! The README's quickstart: derive an entity, create its table in a SQLite file, and use a
//! tenant-scoped store. `cargo run -p manifest-examples --bin quickstart [path.db]`
//! (default path: `target/quickstart.db`).

use manifest_core::{Error, ManifestEntity, SqliteDb, Store};

#[derive(Debug, Clone, ManifestEntity)]
#[manifest(table = "recipes")]
struct Recipe {
    id: String,        // the id: generated (UUIDv7) when left empty
    tenant_id: String, // the tenant: every statement filters by it
    name: String,
    servings: i32,
    notes: Option<String>,
    #[manifest(version)]
    version: i64, // checked and bumped by every update
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/quickstart.db".into());
    let db = SqliteDb::open(&path).await?; // one pool for the whole application
    db.create_table::<Recipe>().await?; // CREATE TABLE IF NOT EXISTS ... PRIMARY KEY (tenant_id, id)

    let acme = db.store::<Recipe>("acme"); // bound to tenant "acme"
    let soup = acme
        .create(Recipe {
            id: String::new(),
            tenant_id: String::new(),
            name: "Tomato soup".into(),
            servings: 2,
            notes: None,
            version: 0,
        })
        .await?;
    println!("created   {soup:?}");

    let patch = RecipePatch {
        servings: Some(4),
        version: Some(soup.version),
        ..Default::default()
    };
    let soup = acme.update(&soup.id, patch).await?.expect("the row exists");
    println!(
        "updated   servings={} version={}",
        soup.servings, soup.version
    );

    let stale = RecipePatch {
        servings: Some(1),
        version: Some(1),
        ..Default::default()
    };
    match acme.update(&soup.id, stale).await {
        Err(e @ Error::VersionConflict { .. }) => println!("refused   {e}"),
        other => panic!("a stale version must conflict, got {other:?}"),
    }

    let globex = db.store::<Recipe>("globex"); // another tenant sees nothing of acme's
    println!("globex sees {:?}", globex.get_by_id(&soup.id).await?);
    println!(
        "acme has {} recipe(s) in {path}",
        acme.get_all().await?.len()
    );
    acme.delete(&soup.id).await?;
    Ok(())
}
