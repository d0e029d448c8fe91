use super::*;

fn list(n: u16) -> Vec<Endpoint> {
    (0..n)
        .map(|i| Endpoint {
            addr: SocketAddr::from(([10, 0, (i / 200) as u8, (i % 200) as u8 + 1], 8080)),
            weight: 1,
        })
        .collect()
}

fn secret() -> Arc<[u8]> {
    Arc::from(&b"0f6c6b4e-uid"[..])
}

fn key(i: u64) -> u64 {
    xxh3_64_with_seed(&i.to_le_bytes(), 7)
}

/// RFC 2202, test case 2.
#[test]
fn hmac_sha1_matches_rfc_2202() {
    let digest = hmac_sha1(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

/// annotations.md, "Custom NGINX upstream hashing": consistent hashing, so an endpoint that
/// joins takes only its share. With N endpoints after the change, at most 1/N of the keys
/// move (plus the ring's variance), and every key that moves goes to the new endpoint.
#[test]
fn an_added_endpoint_takes_at_most_its_share_and_only_for_itself() {
    for n in [2u16, 3, 5, 10, 20] {
        let before = Keyed::build(secret(), &list(n), &[]);
        let after = Keyed::build(secret(), &list(n + 1), &[]);
        let keys = 20_000u64;
        let mut moved = 0u64;
        for i in 0..keys {
            let (a, b) = (before.lookup(key(i)), after.lookup(key(i)));
            if a != b {
                moved += 1;
                assert_eq!(b, Some(usize::from(n)), "a key moved between old endpoints");
            }
        }
        let share = moved as f64 / keys as f64;
        let bound = 1.0 / f64::from(n + 1) * 1.25;
        assert!(
            share <= bound,
            "n={n}: {share} of keys moved, bound {bound}"
        );
        assert!(share > 0.0, "n={n}: the new endpoint took nothing");
    }
}

#[test]
fn a_removed_endpoint_gives_away_only_its_own_keys() {
    let before = Keyed::build(secret(), &list(6), &[]);
    let mut fewer = list(6);
    fewer.remove(2);
    let after = Keyed::build(secret(), &fewer, &[]);
    for i in 0..5_000 {
        let (a, b) = (
            before.lookup(key(i)).unwrap(),
            after.lookup(key(i)).unwrap(),
        );
        if a != 2 {
            let same = if a > 2 { a - 1 } else { a };
            assert_eq!(b, same, "key {i} moved off a surviving endpoint");
        }
    }
}

#[test]
fn keys_spread_over_every_endpoint() {
    let keyed = Keyed::build(secret(), &list(8), &[]);
    let mut counts = [0u32; 8];
    for i in 0..80_000 {
        counts[keyed.lookup(key(i)).unwrap()] += 1;
    }
    assert!(
        counts.iter().all(|c| (6_000..14_000).contains(c)),
        "{counts:?}"
    );
}

/// Two replicas (two builds from the same Service) agree; another secret places keys
/// elsewhere and gives other tokens.
#[test]
fn placement_and_tokens_follow_the_secret_only() {
    let a = Keyed::build(secret(), &list(5), &[3]);
    let b = Keyed::build(secret(), &list(5), &[3]);
    let other = Keyed::build(Arc::from(&b"another"[..]), &list(5), &[3]);
    assert_eq!(a, b);
    assert!((0..100).all(|i| a.lookup(key(i)) == b.lookup(key(i))));
    assert!((0..100).any(|i| a.lookup(key(i)) != other.lookup(key(i))));
    assert_eq!(a.token(1), b.token(1));
    assert_ne!(a.token(1), other.token(1));
    assert_eq!(a.tag(), b.tag());
    assert_ne!(a.tag(), other.tag());
}

#[test]
fn tokens_name_their_endpoint_and_nothing_else() {
    let keyed = Keyed::build(secret(), &list(4), &[]);
    for i in 0..4 {
        let token = *keyed.token(i).unwrap();
        assert_eq!(keyed.endpoint_of(&token), Some(i));
    }
    assert_eq!(keyed.endpoint_of(&[0; 16]), None);
    // A token is no function of the address alone.
    let addr = list(1)[0].addr.to_string();
    assert!(!keyed.token(0).unwrap().starts_with(&addr.as_bytes()[..4]));
}

#[test]
fn a_position_of_an_endpoint_lands_on_it() {
    let keyed = Keyed::build(secret(), &list(7), &[]);
    for i in 0..7 {
        for pick in [0, 1, 159, 1000] {
            let at = keyed.position_of(i, |n| pick % n).unwrap();
            assert_eq!(keyed.lookup(at), Some(i));
        }
    }
    assert_eq!(keyed.position_of(7, |_| 0), None);
}

/// ingress-nginx's `chashsubset`: `ceil(n / size)` subsets, each key always on one subset.
#[test]
fn subsets_cover_the_list_in_runs_of_size() {
    let keyed = Keyed::build(secret(), &list(7), &[3]);
    let mut starts = std::collections::BTreeSet::new();
    for i in 0..2_000 {
        let subset = keyed.lookup_subset(3, key(i)).unwrap();
        assert_eq!(subset.len, 3);
        assert_eq!(keyed.lookup_subset(3, key(i)), Some(subset));
        starts.insert(subset.start);
    }
    assert_eq!(starts.into_iter().collect::<Vec<_>>(), [0, 3, 6]);
    assert_eq!(keyed.lookup_subset(4, key(0)), None);
}

#[test]
fn rebuild_keeps_secret_and_subsets() {
    let keyed = Keyed::build(secret(), &list(3), &[2]);
    let again = keyed.rebuild(&list(4));
    assert_eq!(again, Keyed::build(secret(), &list(4), &[2]));
    assert_eq!(again.subset_sizes().collect::<Vec<_>>(), [2]);
}

#[test]
fn no_endpoints_land_nowhere() {
    let keyed = Keyed::build(secret(), &[], &[3]);
    assert_eq!(keyed.lookup(1), None);
    assert_eq!(keyed.lookup_subset(3, 1), None);
}

/// Weighted endpoints (nodeport + Local) get more points, up to the cap.
#[test]
fn weights_scale_an_endpoints_share() {
    let mut eps = list(2);
    eps[1].weight = 3;
    let keyed = Keyed::build(secret(), &eps, &[]);
    let heavy = (0..40_000)
        .filter(|i| keyed.lookup(key(*i)) == Some(1))
        .count();
    assert!((26_000..34_000).contains(&heavy), "{heavy}");
}
