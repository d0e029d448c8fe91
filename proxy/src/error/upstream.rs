//! How an exchange with an upstream broke once the request may have been sent.

use std::io;

/// The source of [`super::ProxyError::Upstream`] and of a response body cut by the upstream.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Reading or writing the connection failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The upstream closed the connection before its response was complete.
    #[error("the upstream closed the connection before the response was complete")]
    Closed,
    /// The response head is not HTTP/1.1.
    #[error("invalid response head: {0}")]
    Parse(httparse::Error),
    /// The response breaks HTTP/1.1's rules (framing, header text).
    #[error("invalid response: {0}")]
    Invalid(&'static str),
    /// The response head (or trailer section) is too large.
    #[error("response head too large")]
    HeadTooLarge,
    /// An HTTP/2 exchange failed (hyper's client).
    #[error(transparent)]
    Http2(#[from] hyper::Error),
}

impl UpstreamError {
    /// The upstream's response head could not be read as HTTP (`proxy_next_upstream
    /// invalid_header`).
    pub fn is_invalid_header(&self) -> bool {
        match self {
            Self::Parse(_) | Self::Invalid(_) | Self::HeadTooLarge => true,
            Self::Http2(error) => {
                error.is_parse() || error.is_parse_status() || error.is_parse_too_large()
            }
            Self::Io(_) | Self::Closed => false,
        }
    }
}
