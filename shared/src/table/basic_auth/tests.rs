//! htpasswd parsing and verification. Vectors: `openssl passwd -apr1` / `-1` (the formats of
//! Apache's `htpasswd -m` and of `crypt(3)` MD5, which nginx's `auth_basic_user_file` reads,
//! https://nginx.org/en/docs/http/ngx_http_auth_basic_module.html#auth_basic_user_file) and
//! `htpasswd -s` (`{SHA}` = base64 of SHA-1); bcrypt hashes are made here with the crate.

use std::time::Duration;

use bolero::check;

use super::*;

fn verifies(hash: &str, good: &str, bad: &str) {
    let parsed = PasswordHash::parse(hash).unwrap();
    assert!(
        parsed.verify(good.as_bytes()),
        "{hash} should accept {good:?}"
    );
    assert!(
        !parsed.verify(bad.as_bytes()),
        "{hash} should refuse {bad:?}"
    );
}

/// Apache MD5, as `htpasswd -m` writes it (ingress-nginx's docs use `htpasswd -c auth foo`,
/// whose default is this format: docs/user-guide/nginx-configuration/annotations.md#authentication).
#[test]
fn apr1_known_vectors() {
    verifies(
        "$apr1$r31.....$ARC3pREO82RIm0aQ2zszC0",
        "password",
        "passwore",
    );
    verifies("$apr1$ab$S8K6Sgp3W8c9Jb6LxgywZ.", "", "x");
}

/// FreeBSD MD5-crypt (`$1$`), which nginx verifies through `crypt(3)`.
#[test]
fn md5_crypt_known_vector() {
    verifies("$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/", "password", "Password");
}

/// `htpasswd -s`: `{SHA}` and base64 SHA-1; nginx's `{SSHA}` appends a salt.
#[test]
fn sha1_and_salted_sha1() {
    verifies("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "password", "password ");
    verifies(
        "{SSHA}gVK8WC9YyFT1gMsQHTGCgT3sSv5zYWx0",
        "secret",
        "secrets",
    );
    verifies("{PLAIN}open sesame", "open sesame", "open");
}

/// `htpasswd -B` (bcrypt), the format ingress-nginx's e2e test `annotations/auth.go` builds
/// its Secrets with; every version prefix is accepted.
#[test]
fn bcrypt_all_prefixes() {
    let hash = bcrypt::hash_with_result("s3cret", 4).unwrap();
    for version in [
        bcrypt::Version::TwoY,
        bcrypt::Version::TwoB,
        bcrypt::Version::TwoA,
    ] {
        let text = hash.format_for_version(version);
        verifies(&text, "s3cret", "s3cres");
        assert!(PasswordHash::parse(&text).unwrap().is_slow());
    }
}

#[test]
fn bcrypt_cost_above_the_cap_is_refused() {
    let hash = bcrypt::hash_with_result("x", 4).unwrap().to_string();
    let too_costly = hash.replacen("$04$", "$18$", 1);
    assert_eq!(
        PasswordHash::parse(&too_costly),
        Err("bcrypt cost above 17")
    );
}

#[test]
fn unsupported_formats_are_errors_not_panics() {
    for hash in [
        "",
        "plain",
        "abJnggxhB/yWI",
        "$5$salt$x",
        "$6$salt$x",
        "{SHA}!!",
        "$apr1$",
        "$apr1$toolongsalt$ARC3pREO82RIm0aQ2zszC0",
        "$2y$99$x",
    ] {
        assert!(PasswordHash::parse(hash).is_err(), "{hash:?}");
    }
}

#[test]
fn file_parses_comments_blank_lines_crlf_and_trailing_fields() {
    let text = b"# users\r\n\r\nalice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=:comment\r\nbob:$apr1$r31.....$ARC3pREO82RIm0aQ2zszC0\n";
    let file = Htpasswd::parse_file(text).unwrap();
    assert_eq!(file.len(), 2);
    assert!(file.get("alice").unwrap().verify(b"password"));
    assert!(file.get("bob").unwrap().verify(b"password"));
    assert!(file.get("carol").is_none());
}

/// nginx scans the file and stops at the first line of the user.
#[test]
fn first_entry_of_a_user_wins() {
    let text = b"a:{PLAIN}one\na:{PLAIN}two\n";
    let file = Htpasswd::parse_file(text).unwrap();
    assert!(file.get("a").unwrap().verify(b"one"));
    assert!(!file.get("a").unwrap().verify(b"two"));
}

#[test]
fn file_errors_name_the_line_and_never_the_hash() {
    let err = Htpasswd::parse_file(b"a:{PLAIN}x\nno-colon\n").unwrap_err();
    assert_eq!(err.to_string(), "line 2: is not user:hash");
    let err = Htpasswd::parse_file(b"a:{PLAIN}x\nb:abJnggxhB/yWI\n").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("line 2: unsupported hash format"),
        "{err}"
    );
    assert!(!err.to_string().contains("abJnggxhB"));
}

#[test]
fn map_takes_users_from_keys() {
    let entries = [("alice", &b"{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"[..])];
    let map = Htpasswd::parse_map(entries).unwrap();
    assert!(map.get("alice").unwrap().verify(b"password"));
    let err = Htpasswd::parse_map([("bob", &b"plain"[..])]).unwrap_err();
    assert!(err.to_string().starts_with("key \"bob\": "), "{err}");
}

#[test]
fn realm_is_quoted_and_checked() {
    let users = Arc::new(Htpasswd::default());
    let key = ObjectKey::new("ns", "s");
    let auth = BasicAuth::new("Login Required", key.clone(), users.clone()).unwrap();
    assert_eq!(auth.challenge, "Basic realm=\"Login Required\"");
    assert!(BasicAuth::new("a\"b", key.clone(), users.clone()).is_err());
    assert!(BasicAuth::new("a\nb", key, users).is_err());
}

#[test]
fn debug_never_prints_a_hash() {
    let hash = PasswordHash::parse("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=").unwrap();
    assert_eq!(format!("{hash:?}"), "PasswordHash({SHA})");
}

/// Fuzz: any file parses or fails without a panic; every user it yields verifies any
/// password without a panic; and a `{PLAIN}`/`{SHA}` entry built from the input verifies
/// exactly its own password. bcrypt entries are skipped in the random phase (by design slow).
#[test]
fn htpasswd_parser_never_panics_and_round_trips() {
    let budget = crate::fuzz::budget().min(Duration::from_secs(5));
    check!().with_test_time(budget).for_each(|input: &[u8]| {
        if let Ok(file) = Htpasswd::parse_file(input) {
            for hash in file.users.values().filter(|h| !h.is_slow()) {
                let _ = hash.verify(input);
            }
        }
        let _ = Htpasswd::parse_map([("u", input)]);
        let password = String::from_utf8_lossy(input);
        if password.contains(['\n', '\r', ':']) {
            return;
        }
        let sha = STANDARD.encode(Sha1::digest(password.as_bytes()));
        let text = format!("p:{{PLAIN}}{password}\ns:{{SHA}}{sha}\n");
        let file = Htpasswd::parse_file(text.as_bytes()).unwrap();
        for user in ["p", "s"] {
            let hash = file.get(user).unwrap();
            assert!(hash.verify(password.as_bytes()));
            assert!(!hash.verify(format!("{password}x").as_bytes()));
        }
    });
}
