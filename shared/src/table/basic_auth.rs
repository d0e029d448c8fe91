//! HTTP basic auth for a route (docs/architecture.md, "Basic auth"): the users of an htpasswd
//! file (`auth-secret-type: auth-file`, the Secret's `auth` key) or of a Secret's keys
//! (`auth-map`: key = user, value = hash), parsed when the Secret is applied, plus the realm.
//!
//! Hash formats, as nginx's `auth_basic_user_file` reads them (and Apache's `htpasswd` writes
//! them): bcrypt (`$2y$`, `$2b$`, `$2a$`, `$2x$`), Apache MD5 (`$apr1$`), MD5-crypt (`$1$`),
//! SHA-1 (`{SHA}`), salted SHA-1 (`{SSHA}`) and `{PLAIN}`. Traditional DES `crypt(3)` and the
//! SHA-2 crypts are not verified: a file holding one is refused (fail closed), naming the
//! line. Comparisons of digests are constant-time ([`subtle`]; the bcrypt crate's own compare
//! is constant-time too). Nothing here keeps a password, and errors never quote a hash.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use md5::{Digest as _, Md5};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::model::ObjectKey;

/// The highest bcrypt cost accepted. `htpasswd -B -C` allows up to 17; each step doubles the
/// work (cost 17 is about 10 s of CPU per verification), and more would let one Secret stall
/// the verifier threads.
pub const MAX_BCRYPT_COST: u32 = 17;

/// Basic auth of one Ingress's routes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BasicAuth {
    /// The `WWW-Authenticate` value of a 401: `Basic realm="<auth-realm>"`.
    pub challenge: String,
    /// The Secret the users come from (for logs).
    pub secret: ObjectKey,
    pub users: Arc<Htpasswd>,
}

impl BasicAuth {
    /// `realm` must be printable ASCII without `"` or `\` (it is quoted in a header);
    /// ingress-nginx's validator allows letters, digits, spaces and a few punctuation marks.
    pub fn new(realm: &str, secret: ObjectKey, users: Arc<Htpasswd>) -> Result<Self, &'static str> {
        if realm
            .bytes()
            .any(|b| !(b' '..=b'~').contains(&b) || b == b'"' || b == b'\\')
        {
            return Err("must be printable ASCII without quotes or backslashes");
        }
        Ok(Self {
            challenge: format!("Basic realm=\"{realm}\""),
            secret,
            users,
        })
    }
}

/// Users and their password hashes. The first entry of a user wins, as in nginx.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Htpasswd {
    users: BTreeMap<String, PasswordHash>,
}

/// Why an htpasswd file or map does not parse: the line (or map key) and the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct HtpasswdError {
    /// `line 3` or `key "alice"`.
    pub at: String,
    pub problem: &'static str,
}

impl Htpasswd {
    /// An htpasswd file: `user:hash[:comment]` per line; empty lines and `#` comments skipped.
    pub fn parse_file(text: &[u8]) -> Result<Self, HtpasswdError> {
        let text = std::str::from_utf8(text).map_err(|_| HtpasswdError {
            at: "file".to_owned(),
            problem: "is not UTF-8",
        })?;
        let mut users = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let at = || format!("line {}", n + 1);
            let Some((user, rest)) = line.split_once(':') else {
                let problem = "is not user:hash";
                return Err(HtpasswdError { at: at(), problem });
            };
            let hash = rest.split(':').next().unwrap_or(rest);
            add(&mut users, user, hash, at)?;
        }
        Ok(Self { users })
    }

    /// An `auth-map` Secret's data: each key a user, each value that user's hash.
    pub fn parse_map<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Self, HtpasswdError> {
        let mut users = BTreeMap::new();
        for (user, value) in entries {
            let at = || format!("key {user:?}");
            let hash = std::str::from_utf8(value).map_err(|_| HtpasswdError {
                at: at(),
                problem: "value is not UTF-8",
            })?;
            add(&mut users, user, hash.trim_end_matches(['\r', '\n']), at)?;
        }
        Ok(Self { users })
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn get(&self, user: &str) -> Option<&PasswordHash> {
        self.users.get(user)
    }
}

fn add(
    users: &mut BTreeMap<String, PasswordHash>,
    user: &str,
    hash: &str,
    at: impl Fn() -> String,
) -> Result<(), HtpasswdError> {
    if user.is_empty() {
        return Err(HtpasswdError {
            at: at(),
            problem: "empty user name",
        });
    }
    let hash = PasswordHash::parse(hash).map_err(|problem| HtpasswdError { at: at(), problem })?;
    users.entry(user.to_owned()).or_insert(hash);
    Ok(())
}

/// One stored password hash, parsed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum PasswordHash {
    /// The whole 60-character bcrypt string (cost checked).
    Bcrypt(String),
    /// `$apr1$` (Apache) or `$1$` (MD5-crypt): the magic, the salt and the 22-character digest.
    Md5Crypt {
        magic: &'static str,
        salt: String,
        digest: String,
    },
    /// `{SHA}`: SHA-1 of the password.
    Sha1([u8; 20]),
    /// `{SSHA}`: SHA-1 of the password and the salt, then the salt.
    SaltedSha1 { digest: [u8; 20], salt: Vec<u8> },
    /// `{PLAIN}`: the password itself.
    Plain(Vec<u8>),
}

/// Never print a hash (a debug log of a table must not carry crackable material).
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self {
            Self::Bcrypt(_) => "bcrypt",
            Self::Md5Crypt { magic, .. } => magic,
            Self::Sha1(_) => "{SHA}",
            Self::SaltedSha1 { .. } => "{SSHA}",
            Self::Plain(_) => "{PLAIN}",
        };
        write!(f, "PasswordHash({scheme})")
    }
}

impl PasswordHash {
    /// A hash as written in an htpasswd file.
    pub fn parse(hash: &str) -> Result<Self, &'static str> {
        if let Some(rest) = hash.strip_prefix("{SHA}") {
            let digest = decode(rest).ok_or("{SHA} value is not base64")?;
            let digest = digest
                .try_into()
                .map_err(|_| "{SHA} value is not 20 bytes")?;
            return Ok(Self::Sha1(digest));
        }
        if let Some(rest) = hash.strip_prefix("{SSHA}") {
            let mut bytes = decode(rest).ok_or("{SSHA} value is not base64")?;
            if bytes.len() < 20 {
                return Err("{SSHA} value is shorter than a SHA-1 digest");
            }
            let salt = bytes.split_off(20);
            let digest = bytes
                .try_into()
                .map_err(|_| "{SSHA} digest is not 20 bytes")?;
            return Ok(Self::SaltedSha1 { digest, salt });
        }
        if let Some(rest) = hash.strip_prefix("{PLAIN}") {
            return Ok(Self::Plain(rest.as_bytes().to_vec()));
        }
        for magic in ["$apr1$", "$1$"] {
            if let Some(rest) = hash.strip_prefix(magic) {
                return md5_crypt_parts(magic, rest);
            }
        }
        if ["$2a$", "$2b$", "$2y$", "$2x$"]
            .iter()
            .any(|p| hash.starts_with(p))
        {
            let parts: bcrypt::HashParts = hash.parse().map_err(|_| "malformed bcrypt hash")?;
            if parts.get_cost() > MAX_BCRYPT_COST {
                return Err("bcrypt cost above 17");
            }
            return Ok(Self::Bcrypt(hash.to_owned()));
        }
        if hash.starts_with("$5$") || hash.starts_with("$6$") {
            return Err("SHA-256/SHA-512 crypt hashes are not supported; use bcrypt (htpasswd -B)");
        }
        Err("unsupported hash format (DES crypt or plain text); use bcrypt (htpasswd -B)")
    }

    /// Slow by design (bcrypt): verify it off the I/O threads.
    pub fn is_slow(&self) -> bool {
        matches!(self, Self::Bcrypt(_))
    }

    /// Whether `password` matches; constant-time in the digest comparison.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Self::Md5Crypt {
                magic,
                salt,
                digest,
            } => {
                let computed = md5_crypt(password, salt.as_bytes(), magic.as_bytes());
                computed.as_bytes().ct_eq(digest.as_bytes()).into()
            }
            Self::Sha1(digest) => Sha1::digest(password).as_slice().ct_eq(digest).into(),
            Self::SaltedSha1 { digest, salt } => {
                let mut sha = Sha1::new();
                sha.update(password);
                sha.update(salt);
                sha.finalize().as_slice().ct_eq(digest).into()
            }
            Self::Plain(stored) => stored.as_slice().ct_eq(password).into(),
        }
    }

    /// The stored form's bytes, for keying a verification cache (never logged).
    pub fn fingerprint(&self) -> &[u8] {
        match self {
            Self::Bcrypt(hash) => hash.as_bytes(),
            Self::Md5Crypt { digest, .. } => digest.as_bytes(),
            Self::Sha1(digest) | Self::SaltedSha1 { digest, .. } => digest,
            Self::Plain(stored) => stored,
        }
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.trim()).ok()
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn md5_crypt_parts(magic: &'static str, rest: &str) -> Result<PasswordHash, &'static str> {
    let (salt, digest) = rest
        .split_once('$')
        .ok_or("MD5-crypt hash without a salt")?;
    if salt.len() > 8 || !salt.bytes().all(|b| ITOA64.contains(&b)) {
        return Err("MD5-crypt salt is not 0-8 characters of ./0-9A-Za-z");
    }
    if digest.len() != 22 || !digest.bytes().all(|b| ITOA64.contains(&b)) {
        return Err("MD5-crypt digest is not 22 characters of ./0-9A-Za-z");
    }
    Ok(PasswordHash::Md5Crypt {
        magic,
        salt: salt.to_owned(),
        digest: digest.to_owned(),
    })
}

/// Poul-Henning Kamp's MD5-crypt (FreeBSD `$1$`, Apache `$apr1$` with its own magic): the
/// 22-character digest part.
fn md5_crypt(password: &[u8], salt: &[u8], magic: &[u8]) -> String {
    let mut alt = Md5::new();
    alt.update(password);
    alt.update(salt);
    alt.update(password);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(password);
    ctx.update(magic);
    ctx.update(salt);
    for chunk in password.chunks(16) {
        ctx.update(&alt[..chunk.len()]);
    }
    let mut i = password.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&password[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(password);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(password);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(password);
        }
        fin = c.finalize();
    }
    let f = fin.as_slice();
    let mut out = String::with_capacity(22);
    let mut put = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(char::from(ITOA64[(v & 0x3f) as usize]));
            v >>= 6;
        }
    };
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        put(
            (u32::from(f[a]) << 16) | (u32::from(f[b]) << 8) | u32::from(f[c]),
            4,
        );
    }
    put(u32::from(f[11]), 2);
    out
}

/// A Secret as basic auth reads it, parsed once when the Secret is applied to the index: its
/// `auth` key as an htpasswd file (`auth-file`) and its keys as users (`auth-map`). Values
/// that are not hashes are not kept (an unrelated Secret's passwords never stay in memory);
/// only the error, which names the line or key, does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthSecret {
    /// `None`: the Secret has no `auth` key.
    pub file: Option<Result<Arc<Htpasswd>, HtpasswdError>>,
    pub map: Result<Arc<Htpasswd>, HtpasswdError>,
}

/// The Secret type whose data is a certificate and key, never an htpasswd file.
const TLS_TYPE: &str = "kubernetes.io/tls";

impl AuthSecret {
    /// `None` for TLS Secrets. `stringData` wins over `data`, as the API server merges them.
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        if secret.type_.as_deref() == Some(TLS_TYPE) {
            return None;
        }
        let mut data: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for (key, value) in secret.data.iter().flatten() {
            data.insert(key, &value.0);
        }
        for (key, value) in secret.string_data.iter().flatten() {
            data.insert(key, value.as_bytes());
        }
        Some(Self {
            file: data
                .get("auth")
                .map(|text| Htpasswd::parse_file(text).map(Arc::new)),
            map: Htpasswd::parse_map(data).map(Arc::new),
        })
    }
}

#[cfg(test)]
mod tests;
