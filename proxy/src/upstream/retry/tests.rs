use std::net::SocketAddr;
use std::time::Duration;

use http::HeaderMap;
use strait_shared::Endpoint;

use super::*;
use crate::balancer::RoundRobin;

fn endpoints(n: u16) -> Endpoints {
    let addr = |port| SocketAddr::from(([10, 0, 0, 1], port));
    Endpoints::new(
        (1..=n)
            .map(|port| Endpoint {
                addr: addr(port),
                weight: 1,
            })
            .collect(),
    )
}

fn policy(on: &str, tries: u32, method: Method) -> Policy {
    let route = Retries {
        next_upstream: NextUpstream::parse(on),
        tries: Some(tries),
        timeout: None,
    };
    Policy::of(
        &RetryDefaults::default(),
        Some(&route),
        &method,
        Instant::now(),
    )
}

fn head() -> Replay {
    Replay::Copy {
        method: Method::GET,
        uri: Uri::from_static("/"),
        headers: PackedHeaders::pack(&HeaderMap::new()),
        body: None,
    }
}

fn error() -> Failure {
    Failure::not_sent(&io::Error::from(io::ErrorKind::ConnectionRefused))
}

fn sent(status: u16) -> Failure {
    Failure::of_status(StatusCode::from_u16(status).unwrap()).unwrap()
}

/// Walks `failures` through a retry state, the first attempt on endpoint 0: the endpoints
/// each next attempt goes to, until one does not go on.
fn walk(retry: &mut Retry, eps: &Endpoints, failures: &[Failure]) -> Vec<usize> {
    let mut index = 0;
    let mut went = Vec::new();
    for failure in failures {
        let addr = eps.list()[index].addr;
        let back = Back::Failed(ProxyError::UpstreamTimeout { addr });
        // What the failed attempt left of the request: a placeholder, as HTTP/2 leaves it.
        let mut held = Request::new(RequestBody::empty());
        *held.method_mut() = Method::DELETE;
        match retry.next(&RoundRobin, eps, *failure, index, back, &mut held) {
            Step::Next(next) => {
                assert_eq!(held.method(), Method::GET, "the copy is restored");
                went.push(next.index);
                index = next.index;
            }
            Step::Answer(answer) => {
                assert!(answer.is_err(), "the failure is the answer");
                break;
            }
        }
    }
    went
}

#[test]
fn the_route_overrides_each_default_and_the_flag_adds_non_idempotent_unless_off() {
    let defaults = RetryDefaults {
        non_idempotent: true,
        ..RetryDefaults::default()
    };
    let now = Instant::now();
    let post = Policy::of(&defaults, None, &Method::POST, now);
    assert!(
        post.on
            .contains(NextUpstream::DEFAULT.with(NextUpstream::NON_IDEMPOTENT))
    );
    assert!(post.may_resend());
    let off = Retries {
        next_upstream: Some(NextUpstream::OFF),
        timeout: Some(Duration::from_secs(5)),
        ..Retries::default()
    };
    let off = Policy::of(&defaults, Some(&off), &Method::GET, now);
    assert!(off.on.is_off() && !off.may_resend());
    assert_eq!(
        (off.tries, off.deadline),
        (3, Some(now + Duration::from_secs(5)))
    );
    let lock = Method::from_bytes(b"LOCK").unwrap();
    for method in [Method::POST, Method::PATCH, lock] {
        assert!(
            !policy("error timeout", 3, method.clone()).may_resend(),
            "{method}"
        );
    }
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::OPTIONS] {
        assert!(
            policy("error timeout", 3, method.clone()).may_resend(),
            "{method}"
        );
    }
}

#[test]
fn failures_have_nginx_conditions_and_statuses() {
    let timed_out = Failure::not_sent(&io::Error::from(io::ErrorKind::TimedOut));
    assert_eq!(
        (timed_out.condition, timed_out.status),
        (NextUpstream::TIMEOUT, 504)
    );
    assert_eq!(
        (error().condition, error().status, error().sent),
        (NextUpstream::ERROR, 502, false)
    );
    assert_eq!(sent(503).condition, NextUpstream::HTTP_503);
    assert_eq!(Failure::of_status(StatusCode::OK), None);
    let addr = SocketAddr::from(([10, 0, 0, 1], 1));
    let read = Failure::of_error(&ProxyError::UpstreamTimeout { addr }, false).unwrap();
    assert_eq!(
        (read.condition, read.status, read.sent),
        (NextUpstream::TIMEOUT, 504, true)
    );
    let write = ProxyError::UpstreamSendTimeout {
        addr,
        after: Duration::from_secs(1),
    };
    assert_eq!(
        Failure::of_error(&write, true).unwrap().condition,
        NextUpstream::TIMEOUT
    );
    let client = ProxyError::ClientBodyTimeout {
        after: Duration::from_secs(1),
    };
    assert_eq!(
        Failure::of_error(&client, false),
        None,
        "the client's fault stays the answer"
    );
    assert_eq!(
        Failure::of_error(&ProxyError::BodyTooLarge { limit: 1 }, false),
        None
    );
}

#[test]
fn tries_count_every_attempt_and_no_endpoint_is_tried_twice() {
    let eps = endpoints(3);
    let mut three = Retry::new(policy("error", 3, Method::GET), Some(head()), false);
    let went = walk(&mut three, &eps, &[error(), error(), error()]);
    assert_eq!(went.len(), 2, "three attempts in all: {went:?}");
    assert!(!went.contains(&0) && went[0] != went[1], "{went:?}");
    let mut unlimited = Retry::new(policy("error", 0, Method::GET), Some(head()), false);
    assert_eq!(
        walk(&mut unlimited, &eps, &[error(); 5]).len(),
        2,
        "every endpoint once"
    );
    let mut service = Retry::new(policy("error", 3, Method::GET), Some(head()), true);
    assert_eq!(
        walk(&mut service, &endpoints(1), &[error(); 5]),
        [0, 0],
        "ClusterIP again"
    );
}

#[test]
fn a_sent_request_goes_on_only_when_it_can_be_sent_again() {
    let eps = endpoints(2);
    let on = "error http_502";
    let mut kept = Retry::new(policy(on, 3, Method::GET), Some(head()), false);
    assert_eq!(walk(&mut kept, &eps, &[sent(502)]), [1]);
    let mut gone = Retry::new(policy(on, 3, Method::GET), None, false);
    assert_eq!(walk(&mut gone, &eps, &[sent(502)]), [] as [usize; 0]);
    let mut post = Retry::new(policy(on, 3, Method::POST), Some(head()), false);
    assert_eq!(walk(&mut post, &eps, &[sent(502)]), [] as [usize; 0]);
    assert_eq!(
        walk(&mut post, &eps, &[error()]),
        [1],
        "never sent: free to go on"
    );
    let mut not_listed = Retry::new(policy("error", 3, Method::GET), Some(head()), false);
    assert_eq!(walk(&mut not_listed, &eps, &[sent(502)]), [] as [usize; 0]);
}

#[test]
fn a_pooled_connection_error_gets_one_fresh_try_on_the_same_endpoint() {
    let eps = endpoints(1);
    let closed = Failure {
        condition: NextUpstream::ERROR,
        sent: true,
        reused: true,
        status: 502,
    };
    let mut retry = Retry::new(policy("error", 1, Method::GET), Some(head()), false);
    assert_eq!(retry.target(&RoundRobin, &eps, closed, 0), Some((0, true)));
    assert_eq!(retry.target(&RoundRobin, &eps, closed, 0), None, "once");
}

#[test]
fn nothing_goes_on_past_the_deadline() {
    let eps = endpoints(2);
    let mut past = policy("error", 3, Method::GET);
    past.deadline = Some(Instant::now());
    let mut retry = Retry::new(past, Some(head()), false);
    assert_eq!(walk(&mut retry, &eps, &[error()]), [] as [usize; 0]);
}

#[test]
fn nothing_is_copied_when_nothing_could_be_sent_again() {
    let mut request = Request::new(RequestBody::replay(None).unwrap());
    let get = policy("error timeout", 3, Method::GET);
    assert!(matches!(
        Replay::prepare(&mut request, &get, true, false),
        Some(Replay::Copy { .. })
    ));
    // An HTTP/1.1 attempt leaves the head with the caller: a bodiless request needs no copy.
    assert!(matches!(
        Replay::prepare(&mut request, &get, true, true),
        Some(Replay::InPlace)
    ));
    let off = policy("off", 3, Method::GET);
    assert!(Replay::prepare(&mut request, &off, true, false).is_none());
    let once = policy("http_502", 1, Method::GET);
    assert!(
        Replay::prepare(&mut request, &once, true, false).is_none(),
        "no try left"
    );
    let alone = policy("http_502", 3, Method::GET);
    assert!(
        Replay::prepare(&mut request, &alone, false, false).is_none(),
        "no other endpoint"
    );
    let post = policy("error", 3, Method::POST);
    assert!(Replay::prepare(&mut request, &post, true, false).is_none());
}
