//! The README's annotation support table is the registry's: regenerate it with
//! `STRAIT_BLESS=1 cargo test -p strait-shared --test readme`.

use std::path::Path;

use strait_shared::annotations::support;

#[test]
fn the_readme_support_table_is_generated_from_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let expected = support::splice(&readme).expect("README.md has the support table marks");
    if std::env::var_os("STRAIT_BLESS").is_some() {
        std::fs::write(&path, &expected).expect("README.md written");
        return;
    }
    assert!(
        readme == expected,
        "README.md's support table is stale: run STRAIT_BLESS=1 cargo test -p strait-shared --test readme"
    );
}

#[test]
fn every_key_has_one_row() {
    let table = support::markdown();
    let rows = table.lines().filter(|l| l.starts_with("| `")).count();
    assert_eq!(rows, strait_shared::annotations::keys().len());
    assert!(table.contains("| `auth-type` | basic auth | honoured-with-difference | yes |"));
    assert!(table.contains("| `configuration-snippet` | other | refused |"));
    assert!(table.contains("| `strait.dev/backend-mode` | Strait | honoured |"));
}
