//! The kustomize layout: the image is named in one place.

use super::*;

const BASE: &str = "deploy/base/kustomization.yaml";

/// Every `kustomization.yaml` under `deploy/`, relative to the workspace root.
fn kustomizations(dir: &Path, out: &mut Vec<String>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for path in entries.map(|entry| entry.expect("directory entry").path()) {
        if path.is_dir() {
            kustomizations(&path, out);
        } else if path.file_name() == Some(OsStr::new("kustomization.yaml")) {
            let file = path.strip_prefix(root()).expect("under root");
            out.push(file.display().to_string());
        }
    }
}

fn yaml(file: &str) -> Value {
    let value = serde_saphyr::from_str(&read(file));
    value.unwrap_or_else(|e| panic!("{file}: not YAML: {e}"))
}

#[test]
fn image_is_named_once_in_the_base_kustomization() {
    let mut files = Vec::new();
    kustomizations(&root().join("deploy"), &mut files);
    check(
        "deploy/",
        files.iter().any(|f| f == BASE),
        "no base kustomization",
    );
    for file in &files {
        let images = yaml(file).get("images").is_some();
        same(file, "has `images:`", images, file == BASE);
    }
    let images = yaml(BASE)["images"].clone();
    let [image] = images.as_array().map(Vec::as_slice).unwrap_or_default() else {
        panic!("{BASE}: `images:` must name exactly one image");
    };
    let name = image["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{BASE}: image without name"));
    let new_name = image["newName"].as_str().unwrap_or(name);
    let tag = image["newTag"].as_str();
    let version = toml_value(&read("Cargo.toml"), "[workspace.package]", "version");
    same(
        BASE,
        "newTag (the workspace version)",
        tag,
        Some(version.as_str()),
    );
    let base = "deploy/base/30-deployment.yaml";
    let deployment = &yaml(base)["spec"]["template"]["spec"]["containers"][0]["image"];
    let what = "image: untagged, the tag comes from `images:`";
    same(base, what, deployment.as_str(), Some(name));
    let expected = format!("{new_name}:{version}");
    for deploy in Deploy::all() {
        let (found, _, container) = deploy.deployment();
        same(
            &found.file,
            "image",
            container.image.as_deref(),
            Some(expected.as_str()),
        );
    }
}
