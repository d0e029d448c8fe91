//! The Prometheus text format, as far as the tests need it: scrape `/metrics` and read exact
//! series (name and full label set).

use std::collections::BTreeMap;

use strait_controller::serve::Running;

use crate::get;

/// One scrape: every sample line as (name, labels, value).
pub struct Scrape(pub Vec<(String, Labels, f64)>);

impl Scrape {
    pub async fn of(s: &Running) -> Scrape {
        let r = get(s.admin_addr, "localhost", "/metrics").await;
        assert_eq!(r.status, 200, "/metrics: {}", r.text());
        Scrape(r.text().lines().filter_map(sample).collect())
    }

    /// The value of the series `name{labels}` (exactly that label set), if exposed.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.find(name, &labels)
    }

    pub fn find(&self, name: &str, labels: &Labels) -> Option<f64> {
        self.0
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|(_, _, v)| *v)
    }

    /// How much `name{labels}` grew since `before` (a series not exposed counting as 0).
    pub fn increase(&self, before: &Scrape, name: &str, labels: &Labels) -> f64 {
        self.find(name, labels).unwrap_or(0.0) - before.find(name, labels).unwrap_or(0.0)
    }
}

/// A sample's labels, by name.
pub type Labels = BTreeMap<String, String>;

/// Parses `name{k="v",...} value` or `name value`; `None` for comments and blank lines.
pub fn sample(line: &str) -> Option<(String, Labels, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), BTreeMap::new(), value));
    };
    let body = rest.strip_suffix('}')?;
    Some((name.to_owned(), label_pairs(body)?, value))
}

/// `k="v",k2="v2"` with `\"`, `\\` and `\n` escapes in values.
fn label_pairs(mut body: &str) -> Option<Labels> {
    let mut labels = BTreeMap::new();
    while !body.is_empty() {
        let (key, rest) = body.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        body = &rest[end + 1..];
    }
    Some(labels)
}

#[cfg(test)]
#[test]
fn the_sample_parser_reads_names_labels_and_values() {
    let (n, l, v) = sample(r#"strait_x_total{a="1",b="q\"x"} 2.5"#).unwrap();
    assert_eq!((n.as_str(), v), ("strait_x_total", 2.5));
    assert_eq!(l.get("b").map(String::as_str), Some("q\"x"));
    assert_eq!(sample("strait_y 7").unwrap().2, 7.0);
    assert_eq!(sample(r#"h_bucket{le="+Inf"} 3"#).unwrap().1["le"], "+Inf");
    assert!(sample("# HELP strait_y help").is_none());
}
