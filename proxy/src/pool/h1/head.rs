//! The heads of an upstream HTTP/1.1 exchange: the request head written from the prepared
//! request's parts, and the response head parsed (httparse) into an `http::Response` whose
//! header values share the bytes read, with the framing of the body that follows (RFC 9112
//! §6.3).

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, Method, Response, StatusCode, Version};

use super::UpstreamError;

/// Most header fields read in one response head; more is a broken upstream (502), as a
/// response head larger than [`MAX_HEAD`].
pub(super) const MAX_HEADERS: usize = 128;

/// Most bytes of a response head (status line and fields), and of a chunked body's trailer
/// section.
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// How the request body goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outgoing {
    /// No body.
    Empty,
    /// Exactly this many bytes (the request's `Content-Length`).
    Length(u64),
    /// Chunked transfer coding: the length is not known in advance.
    Chunked,
}

/// Writes the request head into `out`: request line (origin-form target, HTTP/1.1) and the
/// fields as prepared, plus the framing field the body needs. `empty`: the body has nothing
/// to send; `exact`: its declared length, when known.
pub(super) fn encode_request(
    parts: &mut Parts,
    empty: bool,
    exact: Option<u64>,
    out: &mut Vec<u8>,
) -> Outgoing {
    parts.headers.remove(TRANSFER_ENCODING);
    let declared = content_length(&parts.headers).ok().flatten();
    let outgoing = match (empty, declared, exact) {
        (true, _, _) => Outgoing::Empty,
        (false, Some(length), _) => Outgoing::Length(length),
        (false, None, Some(length)) => {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(length));
            Outgoing::Length(length)
        }
        (false, None, None) => {
            parts
                .headers
                .insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
            Outgoing::Chunked
        }
    };
    // hyper's writing: an empty path (absolute-form `http://host?q`) goes as `/`.
    let path = match parts.uri.path() {
        "" => "/",
        path => path,
    };
    let query = parts.uri.query();
    let fields: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let target = path.len() + query.map_or(0, |q| q.len() + 1);
    out.reserve(parts.method.as_str().len() + target + fields + 13);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    if let Some(query) = query {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    outgoing
}

/// How the response body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// No body (HEAD, 1xx, 204, 304), or the body has been read.
    Empty,
    /// This many bytes are left.
    Length(u64),
    /// Chunked transfer coding, in this state.
    Chunked(super::chunked::Decoder),
    /// Until the upstream closes the connection.
    UntilClose,
}

/// A response head read off the connection.
pub(super) enum Parsed {
    /// An interim (1xx other than 101) response: skipped.
    Interim,
    /// The final response, its body's framing, and whether the connection may carry another
    /// exchange after this one.
    Final {
        response: Response<()>,
        body: Incoming,
        keep_alive: bool,
    },
}

/// Parses a response head from the front of `read`, removing it. `Ok(None)`: the head is not
/// complete yet.
pub(super) fn parse_response(
    read: &mut BytesMut,
    method: &Method,
) -> Result<Option<Parsed>, UpstreamError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(read) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if read.len() > MAX_HEAD => {
            return Err(UpstreamError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(UpstreamError::HeadTooLarge),
        Err(error) => return Err(UpstreamError::Parse(error)),
    };
    let (Some(code), Some(minor)) = (parsed.code, parsed.version) else {
        return Err(UpstreamError::Invalid("no status line"));
    };
    let status =
        StatusCode::from_u16(code).map_err(|_| UpstreamError::Invalid("invalid status code"))?;
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    // Where each field sits in the head, so that the values can share its bytes once the head
    // is split off the buffer.
    let mut spans = [(0usize, 0usize, 0usize, 0usize); MAX_HEADERS];
    let count = parsed.headers.len();
    for (slot, field) in spans.iter_mut().zip(parsed.headers.iter()) {
        *slot = span(read, field);
    }
    let head = read.split_to(len).freeze();
    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Some(Parsed::Interim));
    }
    let headers = fields_of(&head, &spans[..count])?;
    let (body, keep_alive) = framing(method, status, version, &headers)?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Some(Parsed::Final {
        response,
        body,
        keep_alive,
    }))
}

/// Where a parsed field's name and value sit in `buf`, the buffer it was parsed from (an empty
/// value is the empty span).
pub(super) fn span(buf: &[u8], field: &httparse::Header<'_>) -> (usize, usize, usize, usize) {
    let base = buf.as_ptr() as usize;
    let name = field.name.as_ptr() as usize - base;
    let (value, value_len) = if field.value.is_empty() {
        (0, 0)
    } else {
        (field.value.as_ptr() as usize - base, field.value.len())
    };
    (name, name + field.name.len(), value, value + value_len)
}

/// A header map whose values are slices of `head`.
pub(super) fn fields_of(
    head: &Bytes,
    spans: &[(usize, usize, usize, usize)],
) -> Result<HeaderMap, UpstreamError> {
    let mut headers = HeaderMap::with_capacity(spans.len());
    for &(name_start, name_end, value_start, value_end) in spans {
        let name = HeaderName::from_bytes(&head[name_start..name_end])
            .map_err(|_| UpstreamError::Invalid("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value_start..value_end))
            .map_err(|_| UpstreamError::Invalid("invalid header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The body's framing (RFC 9112 §6.3) and whether the connection stays open after it.
fn framing(
    method: &Method,
    status: StatusCode,
    version: Version,
    headers: &HeaderMap,
) -> Result<(Incoming, bool), UpstreamError> {
    let mut keep_alive = version == Version::HTTP_11;
    for value in headers.get_all(CONNECTION) {
        for token in value.as_bytes().split(|b| *b == b',') {
            let token = token.trim_ascii();
            if token.eq_ignore_ascii_case(b"close") {
                keep_alive = false;
            } else if token.eq_ignore_ascii_case(b"keep-alive") && version == Version::HTTP_10 {
                keep_alive = true;
            }
        }
    }
    if status == StatusCode::SWITCHING_PROTOCOLS {
        // The connection becomes the tunnel.
        return Ok((Incoming::Empty, false));
    }
    if *method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Incoming::Empty, keep_alive));
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        // A message with both is a smuggling risk: the coding wins and the connection is not
        // reused (RFC 9112 §6.3, item 3).
        let keep_alive = keep_alive && !headers.contains_key(CONTENT_LENGTH);
        let last = headers
            .get_all(TRANSFER_ENCODING)
            .iter()
            .flat_map(|value| value.as_bytes().split(|b| *b == b','))
            .map(<[u8]>::trim_ascii)
            .rfind(|coding| !coding.is_empty());
        return Ok(match last {
            Some(coding)
                if coding.eq_ignore_ascii_case(b"chunked") && version == Version::HTTP_11 =>
            {
                (
                    Incoming::Chunked(super::chunked::Decoder::default()),
                    keep_alive,
                )
            }
            _ => (Incoming::UntilClose, false),
        });
    }
    match content_length(headers) {
        Ok(Some(0)) => Ok((Incoming::Empty, keep_alive)),
        Ok(Some(length)) => Ok((Incoming::Length(length), keep_alive)),
        Ok(None) => Ok((Incoming::UntilClose, false)),
        Err(detail) => Err(UpstreamError::Invalid(detail)),
    }
}

/// The `Content-Length`, when present: one decimal number, or a list of the same one.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, &'static str> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|b| *b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() || !item.iter().all(u8::is_ascii_digit) || item.len() > 19 {
                return Err("invalid Content-Length");
            }
            let parsed = item
                .iter()
                .fold(0u64, |n, digit| n * 10 + u64::from(digit - b'0'));
            if length.is_some_and(|known| known != parsed) {
                return Err("conflicting Content-Length values");
            }
            length = Some(parsed);
        }
    }
    Ok(length)
}
