//! Source-address lists (`allowlist-source-range` / `whitelist-source-range`,
//! `denylist-source-range`, and the global `--allowlist-source-range` /
//! `--denylist-source-range`): which client addresses a route serves.
//!
//! Semantics are ingress-nginx's (docs/user-guide/nginx-configuration/annotations.md,
//! "Denylist source range" and "Whitelist source range"; its template writes `deny` lines
//! before `allow` lines and `deny all` after a non-empty allow list, and nginx's access module
//! takes the first rule that matches):
//!
//! - an address in the deny list is refused, even when the allow list also holds it;
//! - with an allow list, an address outside it is refused;
//! - with neither list, everything is served (no policy is attached to the route at all).
//!
//! A list is comma-separated CIDRs or bare addresses, IPv4 or IPv6, with spaces around the
//! entries allowed (`10.0.0.0/24, 172.10.0.1`). One entry that does not parse makes the whole
//! list invalid, as in ingress-nginx (`net.ParseIPNets`), which then denies the location:
//! here the Ingress's routes are refused (fail closed).

use std::net::IpAddr;

use ipnet::IpNet;

/// The source-address policy of one route: checked against the client address (after
/// trusted proxies and PROXY protocol) before anything is forwarded; a refused client gets 403.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SourcePolicy {
    /// Refused first, whatever the allow list says.
    pub deny: Box<[IpNet]>,
    /// When not empty, only these are served.
    pub allow: Box<[IpNet]>,
}

impl SourcePolicy {
    /// Whether `client` may use the route.
    pub fn permits(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        if self.deny.iter().any(|net| net.contains(&client)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&client))
    }

    /// Whether the policy restricts nothing (both lists empty).
    pub fn is_open(&self) -> bool {
        self.deny.is_empty() && self.allow.is_empty()
    }
}

/// Why a source-range list does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceRangeError {
    #[error("the list is empty")]
    Empty,
    #[error("{entry:?} is neither a CIDR nor an IP address")]
    Invalid { entry: String },
}

/// Parses a comma-separated list of CIDRs and bare addresses (a bare address is a /32 or
/// /128). Host bits of a CIDR are cleared (`10.0.0.1/8` is `10.0.0.0/8`, as Go's
/// `net.ParseCIDR` reads it); IPv4-mapped IPv6 entries are kept as written.
pub fn parse_source_ranges(value: &str) -> Result<Vec<IpNet>, SourceRangeError> {
    if value.trim().is_empty() {
        return Err(SourceRangeError::Empty);
    }
    value.split(',').map(parse_entry).collect()
}

fn parse_entry(entry: &str) -> Result<IpNet, SourceRangeError> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    entry
        .parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| SourceRangeError::Invalid {
            entry: entry.chars().take(64).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn policy(deny: &str, allow: &str) -> SourcePolicy {
        let list = |s: &str| {
            if s.is_empty() {
                Box::default()
            } else {
                parse_source_ranges(s).unwrap().into()
            }
        };
        SourcePolicy {
            deny: list(deny),
            allow: list(allow),
        }
    }

    /// ingress-nginx annotations.md, "Whitelist source range": `10.0.0.0/24,172.10.0.1` — CIDRs
    /// and bare addresses, comma-separated (internal/net/ipnet.go `ParseIPNets` trims spaces).
    #[test]
    fn lists_take_cidrs_and_bare_addresses_with_spaces() {
        let nets = parse_source_ranges(" 10.0.0.0/24 ,172.10.0.1, 2001:db8::/32,::1").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            ["10.0.0.0/24", "172.10.0.1/32", "2001:db8::/32", "::1/128"]
        );
        assert_eq!(
            parse_source_ranges("10.1.2.3/8").unwrap()[0].to_string(),
            "10.0.0.0/8"
        );
    }

    /// ingress-nginx `ParseIPNets`: one bad entry fails the whole list (the location is
    /// denied); an empty value or an empty entry is not an address either.
    #[test]
    fn one_bad_entry_fails_the_list() {
        for bad in [
            "",
            " ",
            "10.0.0.0/8,",
            "10.0.0.0/33",
            "example.com",
            "10.0.0.0/8, x",
            "1.2.3",
        ] {
            assert!(parse_source_ranges(bad).is_err(), "{bad:?}");
        }
    }

    /// ingress-nginx test/e2e/annotations/ipdenylist.go "only allow explicitly allowed IPs, deny
    /// all others": deny lines come before allow lines, so deny wins; outside the allow list is
    /// refused.
    #[test]
    fn deny_is_checked_before_allow() {
        let p = policy("18.1.0.0/16, 56.0.0.0/8", "18.0.0.0/8, 55.0.0.0/8");
        assert!(p.permits(ip("18.2.0.1")));
        assert!(p.permits(ip("55.1.1.1")));
        assert!(!p.permits(ip("18.1.0.1")), "denied although allowed");
        assert!(!p.permits(ip("56.0.0.1")));
        assert!(!p.permits(ip("10.0.0.1")), "outside the allow list");
    }

    /// ingress-nginx test/e2e/annotations/ipdenylist.go "only deny explicitly denied IPs, allow
    /// all others".
    #[test]
    fn a_deny_list_alone_serves_everyone_else() {
        let p = policy("18.0.0.0/8, 56.0.0.1", "");
        assert!(!p.permits(ip("18.9.9.9")));
        assert!(!p.permits(ip("56.0.0.1")));
        assert!(p.permits(ip("56.0.0.2")));
        assert!(p.permits(ip("::1")));
    }

    /// nginx's access module compares an IPv4-mapped IPv6 client with the IPv4 rules.
    #[test]
    fn ipv4_mapped_clients_match_ipv4_ranges() {
        let p = policy("", "127.0.0.0/8");
        assert!(p.permits(ip("::ffff:127.0.0.2")));
        assert!(!p.permits(ip("::ffff:10.0.0.1")));
        let v6 = policy("", "2001:db8::/32");
        assert!(v6.permits(ip("2001:db8::1")));
        assert!(!v6.permits(ip("2001:db9::1")));
    }

    /// Any input: no panic; a list that parses holds only network addresses (host bits
    /// cleared), one per comma-separated entry, and a bare address parses as its own /32 or
    /// /128 that permits exactly it. Runs like `crate::fuzz`'s targets (seeds, then
    /// `STRAIT_FUZZ_SECONDS` of random inputs).
    #[test]
    fn fuzz_source_ranges() {
        let hold = |text: &str| {
            if let Ok(nets) = parse_source_ranges(text) {
                assert_eq!(nets.len(), text.split(',').count(), "{text:?}");
                assert!(nets.iter().all(|n| n.trunc() == *n), "{text:?}");
                let policy = SourcePolicy {
                    deny: Box::default(),
                    allow: nets.into(),
                };
                let _ = policy.permits(ip("::ffff:127.0.0.1"));
            }
            if let Ok(addr) = text.trim().parse::<IpAddr>() {
                let allow: Box<[IpNet]> = parse_source_ranges(text).unwrap().into();
                let only = SourcePolicy {
                    deny: Box::default(),
                    allow,
                };
                assert!(only.permits(addr), "{text:?}");
            }
        };
        for seed in [
            "10.0.0.0/8, 192.0.2.1",
            "::1/128",
            "a,b,,c",
            "",
            "::ffff:1.2.3.4/120",
        ] {
            hold(seed);
        }
        bolero::check!()
            .with_test_time(crate::fuzz::budget())
            .for_each(|input: &[u8]| hold(&String::from_utf8_lossy(input)));
    }
}
