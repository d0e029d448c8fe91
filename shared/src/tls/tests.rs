//! Certificate parsing and checks, the SNI map. Certificates are generated here with rcgen
//! (ring): ECDSA P-256/P-384 and Ed25519. RSA keys (and so PKCS#1 PEM) cannot be generated
//! with ring, and key files are not committed, so RSA is left to rustls' own tests.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use super::*;

/// PEM text of a generated chain and its key.
struct Pem {
    chain: String,
    key: String,
}

fn params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    CertificateParams::new(names).expect("rcgen accepts the names")
}

fn sign(params: &CertificateParams, key: KeyPair) -> Pem {
    let cert = params.self_signed(&key).expect("rcgen signs");
    Pem {
        chain: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// A self-signed ECDSA P-256 certificate for `names`, key in PKCS#8.
fn generated(names: &[&str]) -> Pem {
    sign(&params(names), KeyPair::generate().expect("key"))
}

fn parse(pem: &Pem) -> Result<Certificate, CertificateError> {
    Certificate::from_pem(pem.chain.as_bytes(), pem.key.as_bytes())
}

fn cert(names: &[&str]) -> Certificate {
    parse(&generated(names)).expect("generated certificate parses")
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let value = serde_json::to_value(ByteString(der.to_vec())).expect("base64");
    let base64 = value.as_str().expect("ByteString serialises to a string");
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The SEC1 `ECPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (its third field).
fn sec1_pem(pkcs8: &[u8]) -> String {
    let (_, info) = x509_parser::der_parser::parse_der(pkcs8).expect("PKCS#8 is DER");
    let fields = info.as_sequence().expect("PrivateKeyInfo is a SEQUENCE");
    let sec1 = fields[2].as_slice().expect("privateKey is an OCTET STRING");
    pem_block("EC PRIVATE KEY", sec1)
}

fn secret(kind: Option<&str>, data: &[(&str, &str)], string_data: &[(&str, &str)]) -> Secret {
    let data: BTreeMap<String, ByteString> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
        .collect();
    let string_data: BTreeMap<String, String> = string_data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Secret {
        type_: kind.map(str::to_owned),
        data: (!data.is_empty()).then_some(data),
        string_data: (!string_data.is_empty()).then_some(string_data),
        ..Secret::default()
    }
}

fn exact(h: &str) -> HostPattern {
    HostPattern::Exact(h.to_owned())
}

fn wildcard(s: &str) -> HostPattern {
    HostPattern::Wildcard(s.to_owned())
}

// ---- parsing --------------------------------------------------------------------------------

#[test]
fn ecdsa_p256_pkcs8_parses_with_lower_cased_names() {
    let c = cert(&["A.Example.COM", "*.Wild.Example.com", "a.example.com"]);
    assert_eq!(c.names(), ["a.example.com", "*.wild.example.com"]);
    assert_eq!(c.certified_key().cert.len(), 1);
}

#[test]
fn ecdsa_p384_and_ed25519_keys_parse() {
    for alg in [&rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519] {
        let pem = sign(
            &params(&["a.example.com"]),
            KeyPair::generate_for(alg).expect("key"),
        );
        assert!(parse(&pem).is_ok(), "{alg:?}");
    }
}

#[test]
fn sec1_key_parses() {
    let key = KeyPair::generate().expect("key");
    let sec1 = sec1_pem(&key.serialize_der());
    let pem = sign(&params(&["a.example.com"]), key);
    let c = Certificate::from_pem(pem.chain.as_bytes(), sec1.as_bytes()).expect("SEC1 key");
    assert_eq!(c.names(), ["a.example.com"]);
}

#[test]
fn chain_with_intermediate_keeps_leaf_first() {
    let mut ca_params = params(&[]);
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Test CA");
    let ca_key = KeyPair::generate().expect("key");
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("key");
    let leaf = params(&["a.example.com"])
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let chain = format!("{}{}", leaf.pem(), ca.pem());
    let c = Certificate::from_pem(chain.as_bytes(), leaf_key.serialize_pem().as_bytes())
        .expect("chain parses");
    assert_eq!(c.certified_key().cert.len(), 2);
    assert_eq!(c.leaf(), leaf.der());
    assert_eq!(c.names(), ["a.example.com"]);
}

#[test]
fn key_of_another_certificate_is_a_mismatch() {
    let a = generated(&["a.example.com"]);
    let b = generated(&["a.example.com"]);
    let err = Certificate::from_pem(a.chain.as_bytes(), b.key.as_bytes()).unwrap_err();
    assert_eq!(err, CertificateError::KeyMismatch);
}

#[test]
fn garbage_certificate_is_refused() {
    let key = generated(&["a.example.com"]).key;
    let from = |chain: &str| Certificate::from_pem(chain.as_bytes(), key.as_bytes());
    assert_eq!(
        from("not a pem").unwrap_err(),
        CertificateError::NoCertificate
    );
    assert_eq!(from("").unwrap_err(), CertificateError::NoCertificate);
    let bad_base64 = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        from(bad_base64),
        Err(CertificateError::BadCertificate(_))
    ));
    let not_x509 = pem_block("CERTIFICATE", b"definitely not DER");
    let err = from(&not_x509).unwrap_err();
    assert!(
        matches!(&err, CertificateError::BadCertificate(m) if m.contains("#1")),
        "{err}"
    );
    let unterminated = "-----BEGIN CERTIFICATE-----\nAAAA\n";
    assert!(matches!(
        from(unterminated),
        Err(CertificateError::BadCertificate(_))
    ));
}

#[test]
fn garbage_key_is_refused_without_echoing_it() {
    let chain = generated(&["a.example.com"]).chain;
    let from = |key: &str| Certificate::from_pem(chain.as_bytes(), key.as_bytes());
    assert_eq!(from("no key here").unwrap_err(), CertificateError::NoKey);
    // A certificate block is not a key.
    assert_eq!(from(&chain).unwrap_err(), CertificateError::NoKey);
    let secret_bytes = "c2VjcmV0LWtleS1tYXRlcmlhbA";
    let not_a_key = pem_block("PRIVATE KEY", b"secret-key-material");
    let err = from(&not_a_key).unwrap_err();
    assert!(matches!(err, CertificateError::BadKey(_)), "{err}");
    let bad_base64 =
        format!("-----BEGIN EC PRIVATE KEY-----\n{secret_bytes}!!\n-----END EC PRIVATE KEY-----\n");
    let err = from(&bad_base64).unwrap_err();
    assert!(matches!(err, CertificateError::BadKey(_)), "{err}");
    for err in [from(&not_a_key), from(&bad_base64)] {
        let text = err.unwrap_err().to_string();
        assert!(
            !text.contains("secret") && !text.contains(secret_bytes),
            "{text}"
        );
    }
}

#[test]
fn names_fall_back_to_a_host_like_common_name_only() {
    let mut legacy = params(&[]);
    legacy.distinguished_name = rcgen::DistinguishedName::new();
    legacy
        .distinguished_name
        .push(DnType::CommonName, "Legacy.Example.com");
    let c = parse(&sign(&legacy, KeyPair::generate().expect("key"))).expect("parses");
    assert_eq!(c.names(), ["legacy.example.com"]);

    let mut organisation = params(&[]);
    organisation.distinguished_name = rcgen::DistinguishedName::new();
    organisation
        .distinguished_name
        .push(DnType::CommonName, "My Company CA");
    let c = parse(&sign(&organisation, KeyPair::generate().expect("key"))).expect("parses");
    assert!(c.names().is_empty());

    // With a SAN, the CN is not a name.
    let mut both = params(&["a.example.com"]);
    both.distinguished_name
        .push(DnType::CommonName, "b.example.com");
    let c = parse(&sign(&both, KeyPair::generate().expect("key"))).expect("parses");
    assert_eq!(c.names(), ["a.example.com"]);
}

#[test]
fn validity_dates_are_read() {
    let mut p = params(&["a.example.com"]);
    p.not_before = rcgen::date_time_ymd(2019, 1, 1);
    p.not_after = rcgen::date_time_ymd(2020, 1, 1);
    let c = parse(&sign(&p, KeyPair::generate().expect("key"))).expect("parses");
    let day = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(c.not_before(), day(1_546_300_800));
    assert_eq!(c.not_after(), day(1_577_836_800));
    assert!(c.is_expired_at(SystemTime::now()));
    assert!(!c.is_expired_at(day(1_560_000_000)));
    assert!(c.is_not_yet_valid_at(day(1_500_000_000)));
    assert!(!c.is_not_yet_valid_at(SystemTime::now()));
}

#[test]
fn equality_is_by_chain_and_debug_shows_no_key() {
    let pem = generated(&["a.example.com"]);
    assert_eq!(parse(&pem).expect("parses"), parse(&pem).expect("parses"));
    assert_ne!(parse(&pem).expect("parses"), cert(&["a.example.com"]));
    let debug = format!("{:?}", parse(&pem).expect("parses"));
    assert!(
        debug.contains("a.example.com") && !debug.contains("PRIVATE"),
        "{debug}"
    );
}

// ---- Secrets --------------------------------------------------------------------------------

#[test]
fn secret_of_type_tls_parses_from_data() {
    let pem = generated(&["a.example.com"]);
    let s = secret(
        Some(TLS_SECRET_TYPE),
        &[(TLS_CERT_KEY, &pem.chain), (TLS_PRIVATE_KEY_KEY, &pem.key)],
        &[],
    );
    assert_eq!(Certificate::from_secret(&s), parse(&pem));
}

#[test]
fn secret_string_data_is_read_and_wins_over_data() {
    let pem = generated(&["a.example.com"]);
    let entries = [
        (TLS_CERT_KEY, pem.chain.as_str()),
        (TLS_PRIVATE_KEY_KEY, &pem.key),
    ];
    let s = secret(Some(TLS_SECRET_TYPE), &[], &entries);
    assert_eq!(Certificate::from_secret(&s), parse(&pem));

    let stale = [(TLS_CERT_KEY, "stale"), (TLS_PRIVATE_KEY_KEY, "stale")];
    let s = secret(Some(TLS_SECRET_TYPE), &stale, &entries);
    assert_eq!(Certificate::from_secret(&s), parse(&pem));
    // Per entry: the certificate from stringData, the key from data.
    let s = secret(
        Some(TLS_SECRET_TYPE),
        &[(TLS_PRIVATE_KEY_KEY, &pem.key)],
        &[(TLS_CERT_KEY, &pem.chain)],
    );
    assert_eq!(Certificate::from_secret(&s), parse(&pem));
}

#[test]
fn secret_missing_entries_are_named() {
    let pem = generated(&["a.example.com"]);
    let s = secret(Some(TLS_SECRET_TYPE), &[(TLS_CERT_KEY, &pem.chain)], &[]);
    assert_eq!(
        Certificate::from_secret(&s),
        Err(CertificateError::Missing("tls.key"))
    );
    let s = secret(
        Some(TLS_SECRET_TYPE),
        &[(TLS_PRIVATE_KEY_KEY, &pem.key)],
        &[],
    );
    assert_eq!(
        Certificate::from_secret(&s),
        Err(CertificateError::Missing("tls.crt"))
    );
}

#[test]
fn secret_of_another_type_is_refused() {
    let pem = generated(&["a.example.com"]);
    let entries = [
        (TLS_CERT_KEY, pem.chain.as_str()),
        (TLS_PRIVATE_KEY_KEY, &pem.key),
    ];
    let opaque = secret(Some("Opaque"), &entries, &[]);
    let untyped = secret(None, &entries, &[]);
    for s in [opaque, untyped] {
        assert_eq!(
            Certificate::from_secret(&s),
            Err(CertificateError::WrongType("Opaque".to_owned()))
        );
    }
}

// ---- covers ---------------------------------------------------------------------------------

#[test]
fn covers_exact_name() {
    let c = cert(&["a.example.com"]);
    assert!(c.covers(&exact("a.example.com")));
    assert!(!c.covers(&exact("b.example.com")));
    assert!(!c.covers(&wildcard("example.com")));
    assert!(!c.covers(&HostPattern::Any));
}

#[test]
fn covers_wildcard_one_label_only() {
    let c = cert(&["*.example.com"]);
    assert!(c.covers(&exact("a.example.com")));
    assert!(!c.covers(&exact("example.com")));
    assert!(!c.covers(&exact("a.b.example.com")));
    assert!(!c.covers(&exact("com")));
}

#[test]
fn covers_wildcard_host_only_by_wildcard_name() {
    assert!(cert(&["*.example.com"]).covers(&wildcard("example.com")));
    assert!(!cert(&["a.example.com"]).covers(&wildcard("example.com")));
    assert!(!cert(&["*.b.example.com"]).covers(&wildcard("example.com")));
}

// ---- TlsTable -------------------------------------------------------------------------------

fn table() -> (TlsTable, [Arc<Certificate>; 3]) {
    let exact_cert = Arc::new(cert(&["a.example.com"]));
    let wild_cert = Arc::new(cert(&["*.example.com"]));
    let default_cert = Arc::new(cert(&["default.invalid"]));
    let mut t = TlsTable::default();
    t.insert(&exact("a.example.com"), exact_cert.clone())
        .expect("free");
    t.insert(&wildcard("example.com"), wild_cert.clone())
        .expect("free");
    t.set_default(default_cert.clone());
    (t, [exact_cert, wild_cert, default_cert])
}

#[test]
fn resolve_prefers_exact_then_wildcard_then_default() {
    let (t, [e, w, d]) = table();
    assert_eq!(t.resolve(Some("a.example.com")), Some(&e));
    assert_eq!(t.resolve(Some("b.example.com")), Some(&w));
    assert_eq!(t.resolve(Some("a.b.example.com")), Some(&d));
    assert_eq!(t.resolve(Some("example.com")), Some(&d));
    assert_eq!(t.len(), 2);
}

#[test]
fn resolve_ignores_case_and_trailing_dot() {
    let (t, [e, w, _]) = table();
    assert_eq!(t.resolve(Some("A.Example.COM")), Some(&e));
    assert_eq!(t.resolve(Some("a.example.com.")), Some(&e));
    assert_eq!(t.resolve(Some("B.EXAMPLE.com")), Some(&w));
}

#[test]
fn resolve_without_sni_gives_default() {
    let (t, [_, _, d]) = table();
    assert_eq!(t.resolve(None), Some(&d));
    assert_eq!(TlsTable::default().resolve(None), None);
    assert_eq!(TlsTable::default().resolve(Some("a.example.com")), None);
}

#[test]
fn insert_keeps_first_claim() {
    let (mut t, [e, _, _]) = table();
    let other = Arc::new(cert(&["a.example.com"]));
    assert_eq!(t.insert(&exact("a.example.com"), other), Err(&e));
    assert_eq!(t.insert(&HostPattern::Any, e.clone()), Ok(()));
    assert_eq!(t.get(&exact("a.example.com")), Some(&e));
}
