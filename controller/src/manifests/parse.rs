//! Decoding one manifest file: YAML (multi-document) or JSON (one value or a stream of them),
//! each document turned into a `serde_json::Value` and then into an [`Object`].

use std::path::Path;

use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};
use strait_shared::Object;

use super::ManifestError;

/// The file formats the folder source reads, chosen by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `*.yaml`, `*.yml`: one or more `---`-separated documents.
    Yaml,
    /// `*.json`: one value, or several concatenated.
    Json,
}

impl Format {
    /// The format of a file, from its extension (ASCII case-insensitive); `None` for files the
    /// source ignores.
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("yaml") || ext.eq_ignore_ascii_case("yml") {
            Some(Self::Yaml)
        } else if ext.eq_ignore_ascii_case("json") {
            Some(Self::Json)
        } else {
            None
        }
    }
}

/// One decoded document and the line it starts on (1-based; `None` when unknown).
struct Document {
    line: Option<u64>,
    value: serde_json::Value,
}

/// A failure inside the file, before the path is attached.
struct Failure {
    line: Option<u64>,
    message: String,
}

/// Parses one manifest file. Documents of kinds Strait does not read are skipped (logged at
/// debug); `kind: List` and `*List` kinds are unpacked through `items`. Any syntax error, or
/// any object of a kind we read that does not decode, fails the whole file.
pub fn parse_file(path: &Path, contents: &str) -> Result<Vec<Object>, ManifestError> {
    let fail = |failure: Failure| located(path, failure);
    let mut objects = Vec::new();
    for document in read_documents(path, contents)? {
        decode_document(path, document, &mut objects).map_err(fail)?;
    }
    Ok(objects)
}

/// The raw documents of one manifest file, every kind included and `kind: List` not
/// unpacked: for readers of kinds the index does not hold (`strait check`'s ConfigMap).
pub fn documents(path: &Path, contents: &str) -> Result<Vec<serde_json::Value>, ManifestError> {
    let documents = read_documents(path, contents)?;
    Ok(documents.into_iter().map(|d| d.value).collect())
}

fn read_documents(path: &Path, contents: &str) -> Result<Vec<Document>, ManifestError> {
    match Format::of(path) {
        Some(Format::Json) => json_documents(contents),
        // The folder scan only hands us known extensions; treat anything else as YAML, which
        // also reads JSON.
        Some(Format::Yaml) | None => yaml_documents(contents),
    }
    .map_err(|failure| located(path, failure))
}

fn located(path: &Path, failure: Failure) -> ManifestError {
    ManifestError::Parse {
        path: path.to_owned(),
        line: failure.line,
        message: failure.message,
    }
}

fn yaml_documents(contents: &str) -> Result<Vec<Document>, Failure> {
    // YAML 1.2 core booleans only: `name: y` or `value: on` stay strings (as with go-yaml v3)
    // instead of turning into YAML 1.1 booleans that no Kubernetes string field accepts.
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        budget: Some(budget(contents.len())),
    };
    let documents: Vec<Spanned<serde_json::Value>> =
        serde_saphyr::from_multiple_with_options(contents, options).map_err(|err| Failure {
            line: err.location().map(|l| l.line()).filter(|&l| l > 0),
            message: one_line(&UserMessageFormatter.format_message(&err)),
        })?;
    Ok(documents
        .into_iter()
        .map(|doc| Document {
            line: Some(doc.referenced.line()).filter(|&l| l > 0),
            value: doc.value,
        })
        .collect())
}

/// The parser's resource budget for a file of `bytes` bytes. serde-saphyr's default (1,024
/// documents, 250k nodes, 1M events) rejects a `kubectl get ingress -A -o yaml` dump of a few
/// thousand objects, so the counts grow with the file: every node and every event comes from at
/// least one byte of input (`-\n`, `[]`, `---\n`), so these limits only stop what aliases
/// would add. Aliases keep their own caps (the default `AliasLimits`: 1M replayed events, and
/// the alias/anchor ratio heuristic), which is what stops a billion-laughs file.
fn budget(bytes: usize) -> serde_saphyr::Budget {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = budget.max_documents.max(MIN_DOCUMENTS).max(bytes / 4);
    budget.max_nodes = budget.max_nodes.max(bytes);
    budget.max_events = budget.max_events.max(bytes.saturating_mul(2));
    budget.max_total_scalar_bytes = budget.max_total_scalar_bytes.max(bytes);
    budget
}

/// Documents a manifest file may hold whatever its size (a `---\n` is four bytes).
const MIN_DOCUMENTS: usize = 100_000;

fn json_documents(contents: &str) -> Result<Vec<Document>, Failure> {
    let mut stream = serde_json::Deserializer::from_str(contents).into_iter::<serde_json::Value>();
    let mut documents = Vec::new();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => return Ok(documents),
            Some(Ok(value)) => documents.push(Document {
                line: Some(line_of_next_token(contents, start)),
                value,
            }),
            Some(Err(err)) => {
                // serde_json appends " at line L column C" to its message; we print the line
                // ourselves, in front.
                let full = err.to_string();
                let suffix = format!(" at line {} column {}", err.line(), err.column());
                let message = full.strip_suffix(&suffix).unwrap_or(&full);
                return Err(Failure {
                    line: Some(err.line() as u64).filter(|&l| l > 0),
                    message: one_line(message),
                });
            }
        }
    }
}

/// The 1-based line of the first non-whitespace byte at or after `offset`.
fn line_of_next_token(contents: &str, offset: usize) -> u64 {
    let rest = contents.get(offset..).unwrap_or_default();
    let skipped = rest.len() - rest.trim_start().len();
    let upto = contents.get(..offset + skipped).unwrap_or(contents);
    upto.bytes().filter(|&b| b == b'\n').count() as u64 + 1
}

fn decode_document(path: &Path, document: Document, out: &mut Vec<Object>) -> Result<(), Failure> {
    let Document { line, value } = document;
    if is_list(&value) {
        let serde_json::Value::Object(mut list) = value else {
            return Ok(()); // `is_list` only accepts JSON objects.
        };
        match list.remove("items") {
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    decode_object(path, line, item, out)?;
                }
            }
            None | Some(serde_json::Value::Null) => {}
            Some(_) => {
                return Err(Failure {
                    line,
                    message: "`items` of a List must be a sequence".to_owned(),
                });
            }
        }
        return Ok(());
    }
    decode_object(path, line, value, out)
}

/// `kind: List`, `kind: IngressList`, …: a wrapper whose `items` hold the objects.
fn is_list(value: &serde_json::Value) -> bool {
    value
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
}

fn decode_object(
    path: &Path,
    line: Option<u64>,
    value: serde_json::Value,
    out: &mut Vec<Object>,
) -> Result<(), Failure> {
    let kind = value
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match Object::from_value(value) {
        Ok(Some(object)) => out.push(object),
        Ok(None) => {
            tracing::debug!(file = %path.display(), kind, "skipping a kind Strait does not read")
        }
        Err(err) => {
            return Err(Failure {
                line,
                message: one_line(&err.to_string()),
            });
        }
    }
    Ok(())
}

/// Keeps an error message on one log line: control characters become spaces.
fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
