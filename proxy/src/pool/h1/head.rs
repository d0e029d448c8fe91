//! The heads of an upstream HTTP/1.1 exchange: the request head written from the prepared
//! request's parts, and the response head parsed (httparse) into an `http::Response` whose
//! header values share the bytes read, with the framing of the body that follows (RFC 9112
//! §6.3).

use std::io::Write as _;
use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};

use super::UpstreamError;
use crate::headers::content_length;

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

/// Writes the head of `request` into `out`: request line (origin-form target, HTTP/1.1) and
/// the fields as prepared, plus the framing field the body needs (any `Transfer-Encoding` of
/// its own is left out). `empty`: the body has nothing to send; `exact`: its declared length,
/// when known. The request is only read: a failed attempt leaves it whole for the next one.
pub(super) fn encode_request<B>(
    request: &Request<B>,
    empty: bool,
    exact: Option<u64>,
    out: &mut Vec<u8>,
) -> Outgoing {
    let headers = request.headers();
    let declared = content_length(headers).ok().flatten();
    let (outgoing, framing): (_, Option<&[u8]>) = match (empty, declared, exact) {
        (true, _, _) => (Outgoing::Empty, None),
        (false, Some(length), _) => (Outgoing::Length(length), None),
        (false, None, Some(length)) => (Outgoing::Length(length), Some(b"content-length")),
        (false, None, None) => (Outgoing::Chunked, Some(b"transfer-encoding")),
    };
    let uri = request.uri();
    // hyper's writing: an empty path (absolute-form `http://host?q`) goes as `/`.
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let query = uri.query();
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let target = path.len() + query.map_or(0, |q| q.len() + 1);
    let method = request.method().as_str();
    out.reserve(method.len() + target + fields + 64);
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    if let Some(query) = query {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        if name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match (framing, outgoing) {
        (Some(name), Outgoing::Length(length)) => {
            out.extend_from_slice(name);
            // Writing to a `Vec` cannot fail.
            let _ = write!(out, ": {length}\r\n");
        }
        (Some(name), _) => {
            out.extend_from_slice(name);
            out.extend_from_slice(b": chunked\r\n");
        }
        (None, _) => {}
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
///
/// The end of the head is found first (a scan for the empty line), and the head parsed once
/// it is split off the buffer, so that header values can be slices of it: no copy, and no
/// initialised scratch arrays.
pub(super) fn parse_response(
    read: &mut BytesMut,
    method: &Method,
) -> Result<Option<Parsed>, UpstreamError> {
    let Some(len) = head_end(read) else {
        if read.len() > MAX_HEAD {
            return Err(UpstreamError::HeadTooLarge);
        }
        return Ok(None);
    };
    if len > MAX_HEAD {
        return Err(UpstreamError::HeadTooLarge);
    }
    let head = read.split_to(len).freeze();
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        &head,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(parsed_len)) if parsed_len == len => {}
        Ok(_) => return Err(UpstreamError::Invalid("malformed response head")),
        Err(httparse::Error::TooManyHeaders) => return Err(UpstreamError::HeadTooLarge),
        Err(error) => return Err(UpstreamError::Parse(error)),
    }
    let (Some(code), Some(minor)) = (parsed.code, parsed.version) else {
        return Err(UpstreamError::Invalid("no status line"));
    };
    let status =
        StatusCode::from_u16(code).map_err(|_| UpstreamError::Invalid("invalid status code"))?;
    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Some(Parsed::Interim));
    }
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let headers = fields_of(&head, parsed.headers)?;
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

/// The length of the head at the front of `buf` (through the empty line that ends it), as
/// httparse reads line ends: CRLF or a bare LF.
pub(super) fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = buf[from..].iter().position(|b| *b == b'\n') {
        let lf = from + at;
        match buf.get(lf + 1..lf + 3) {
            Some([b'\n', _]) => return Some(lf + 2),
            Some([b'\r', b'\n']) => return Some(lf + 3),
            Some(_) => {}
            None if buf.get(lf + 1) == Some(&b'\n') => return Some(lf + 2),
            None => return None,
        }
        from = lf + 1;
    }
    None
}

/// A header map of parsed `fields` whose values are slices of `head`, the bytes they were
/// parsed from.
pub(super) fn fields_of(
    head: &Bytes,
    fields: &[httparse::Header<'_>],
) -> Result<HeaderMap, UpstreamError> {
    let mut headers = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| UpstreamError::Invalid("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice_ref(field.value))
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
