//! A mock API server for tests (STYLE item 7): a kube [`Client`] over a
//! `tower_test::mock::pair`, and a scenario side that receives each request in order, checks
//! it, and answers. Every wait has a deadline, so a call that never comes fails the test
//! instead of hanging it.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock::{Handle, SendResponse};

/// How long a scenario waits for each expected request.
pub(crate) const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// A client whose requests arrive at the returned [`ApiServer`].
pub(crate) fn pair() -> (Client, ApiServer) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (Client::new(service, "default"), ApiServer { handle })
}

/// The scenario's side of the mock.
pub(crate) struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
}

/// One request received by the mock, waiting for its answer.
pub(crate) struct Call {
    pub method: Method,
    /// Path without the query.
    pub path: String,
    /// The query string (empty when none).
    pub query: String,
    /// The request body as JSON (`Null` when empty).
    pub body: Value,
    /// The `Content-Type` sent (patch bodies say which patch kind they are).
    pub content_type: Option<String>,
    send: SendResponse<Response<Body>>,
}

impl ApiServer {
    /// The next request; panics (failing the test) when none arrives within
    /// [`CALL_DEADLINE`]. `expected` names the call in that message.
    pub(crate) async fn next(&mut self, expected: &str) -> Call {
        let next = tokio::time::timeout(CALL_DEADLINE, self.handle.next_request()).await;
        let Ok(Some((request, send))) = next else {
            panic!("expected call never came: {expected}");
        };
        read_call(request, send).await
    }

    /// The next request, or `None` when none arrives within `wait` (or the client is gone).
    pub(crate) async fn try_next(&mut self, wait: Duration) -> Option<Call> {
        let next = tokio::time::timeout(wait, self.handle.next_request()).await;
        let Ok(Some((request, send))) = next else {
            return None;
        };
        Some(read_call(request, send).await)
    }

    /// The next request, checked to be `method path` (query not compared).
    pub(crate) async fn expect(&mut self, method: Method, path: &str) -> Call {
        let call = self.next(&format!("{method} {path}")).await;
        assert_eq!(
            (&call.method, call.path.as_str()),
            (&method, path),
            "unexpected call (query {:?}, body {})",
            call.query,
            call.body
        );
        call
    }

    /// Asserts that no request arrives within `quiet`.
    pub(crate) async fn expect_none(&mut self, quiet: Duration) {
        if let Ok(Some((request, _))) =
            tokio::time::timeout(quiet, self.handle.next_request()).await
        {
            panic!("unexpected call: {} {}", request.method(), request.uri());
        }
    }
}

impl Call {
    /// Whether the query string carries `key=value` (value compared after URL-decoding).
    pub(crate) fn has_query(&self, key: &str, value: &str) -> bool {
        form_pairs(&self.query).any(|(k, v)| k == key && v == value)
    }

    /// The value of a query parameter, URL-decoded.
    pub(crate) fn query_value(&self, key: &str) -> Option<String> {
        form_pairs(&self.query)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Answers with `status` and a JSON body.
    pub(crate) fn respond(self, status: StatusCode, body: &Value) {
        let bytes = serde_json::to_vec(body).expect("serialises");
        let response = Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .expect("valid response");
        self.send.send_response(response);
    }

    /// Answers 200 with a JSON body.
    pub(crate) fn ok(self, body: &Value) {
        self.respond(StatusCode::OK, body);
    }

    /// Answers 200 with raw bytes (a watch stream: one JSON event per line).
    pub(crate) fn ok_raw(self, bytes: Vec<u8>) {
        let response = Response::builder()
            .status(StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(bytes))
            .expect("valid response");
        self.send.send_response(response);
    }

    /// Fails the call without an answer, as a connection refused or reset does while the
    /// API server is down.
    pub(crate) fn unreachable(self) {
        self.send
            .send_error("connection refused (mock API server down)");
    }

    /// Answers with a Kubernetes `Status` failure (404 NotFound, 409 Conflict, ...).
    pub(crate) fn fail(self, status: StatusCode, reason: &str, message: &str) {
        let body = json!({
            "apiVersion": "v1", "kind": "Status", "status": "Failure",
            "message": message, "reason": reason, "code": status.as_u16(),
        });
        self.respond(status, &body);
    }
}

async fn read_call(request: Request<Body>, send: SendResponse<Response<Body>>) -> Call {
    let (parts, body) = request.into_parts();
    let bytes = body.collect_bytes().await.expect("request body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("request body is JSON")
    };
    Call {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        body,
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        send,
    }
}

/// A watch stream body: one `{"type": ..., "object": ...}` line per event.
pub(crate) fn watch_events(events: &[(&str, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, object) in events {
        serde_json::to_writer(&mut out, &json!({"type": kind, "object": object}))
            .expect("serialises");
        out.push(b'\n');
    }
    out
}

/// Runs a scenario task to its end within `deadline`; its panics (failed expectations)
/// become the test's failure.
pub(crate) async fn verify(scenario: tokio::task::JoinHandle<()>, deadline: Duration) {
    match tokio::time::timeout(deadline, scenario).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Ok(Err(err)) => panic!("scenario task failed: {err}"),
        Err(_) => panic!("scenario did not finish within {deadline:?}"),
    }
}

fn form_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}
