//! The chunked transfer coding of an upstream response body (RFC 9112 §7.1), decoded in place
//! from the connection's read buffer: data is split off the buffer (no copy), chunk
//! extensions are skipped, trailer fields are parsed into a header map. Strict where
//! leniency would let a response mean two things: CRLF line ends only, hexadecimal sizes
//! that fit in 64 bits, bounded size lines and trailer sections.

use std::mem::MaybeUninit;

use bytes::BytesMut;
use http::HeaderMap;

use super::UpstreamError;
use super::head::{MAX_HEAD, MAX_HEADERS, fields_of};

/// Longest chunk-size line (size and extensions).
const MAX_SIZE_LINE: usize = 4096;

/// Where the decoder is in the body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Decoder {
    /// Expecting a chunk-size line.
    #[default]
    Size,
    /// This many bytes of the current chunk's data are left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: the trailer section.
    Trailers,
    /// The body is over.
    Done,
}

/// What one step of decoding gave.
#[derive(Debug)]
pub(crate) enum Step {
    Data(bytes::Bytes),
    Trailers(HeaderMap),
    /// The body has ended.
    End,
    /// More bytes are needed.
    More,
}

impl Decoder {
    /// Decodes from the front of `read`, consuming what it used.
    pub(crate) fn step(&mut self, read: &mut BytesMut) -> Result<Step, UpstreamError> {
        loop {
            match *self {
                Self::Done => return Ok(Step::End),
                Self::Size => {
                    let Some(end) = line_end(read, MAX_SIZE_LINE)? else {
                        return Ok(Step::More);
                    };
                    let size = chunk_size(&read[..end])?;
                    let _ = read.split_to(end + 2);
                    *self = if size == 0 {
                        Self::Trailers
                    } else {
                        Self::Data(size)
                    };
                }
                Self::Data(left) => {
                    if read.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(read.len());
                    let data = read.split_to(take).freeze();
                    let left = left - take as u64;
                    *self = if left == 0 {
                        Self::DataEnd
                    } else {
                        Self::Data(left)
                    };
                    // The chunk's end is often in the same read: step over it now, so the body
                    // can end with its last data.
                    if *self == Self::DataEnd && read.len() >= 2 {
                        self.data_end(read)?;
                    }
                    return Ok(Step::Data(data));
                }
                Self::DataEnd => {
                    if read.len() < 2 {
                        return Ok(Step::More);
                    }
                    self.data_end(read)?;
                }
                Self::Trailers => {
                    if read.starts_with(b"\r\n") {
                        let _ = read.split_to(2);
                        *self = Self::Done;
                        return Ok(Step::End);
                    }
                    let Some(len) = trailer_section(read)? else {
                        return Ok(Step::More);
                    };
                    let section = read.split_to(len).freeze();
                    *self = Self::Done;
                    return Ok(Step::Trailers(trailers(&section)?));
                }
            }
        }
    }

    fn data_end(&mut self, read: &mut BytesMut) -> Result<(), UpstreamError> {
        if !read.starts_with(b"\r\n") {
            return Err(UpstreamError::Invalid("chunk data not followed by CRLF"));
        }
        let _ = read.split_to(2);
        *self = Self::Size;
        Ok(())
    }
}

/// The index of the CR of the first CRLF in `read`, within `limit` bytes. A bare LF is an
/// error.
fn line_end(read: &[u8], limit: usize) -> Result<Option<usize>, UpstreamError> {
    match read.iter().position(|b| *b == b'\n') {
        Some(0) => Err(UpstreamError::Invalid("bare LF in chunked coding")),
        Some(lf) if read[lf - 1] == b'\r' => Ok(Some(lf - 1)),
        Some(_) => Err(UpstreamError::Invalid("bare LF in chunked coding")),
        None if read.len() > limit => Err(UpstreamError::Invalid("chunk-size line too long")),
        None => Ok(None),
    }
}

/// The hexadecimal size at the start of a chunk-size line; extensions (after `;`) are
/// ignored.
fn chunk_size(line: &[u8]) -> Result<u64, UpstreamError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(UpstreamError::Invalid("chunk size is not hexadecimal"));
    }
    let rest = line[digits..].trim_ascii_start();
    if !(rest.is_empty() || rest.starts_with(b";")) {
        return Err(UpstreamError::Invalid("chunk size is not hexadecimal"));
    }
    if rest.iter().any(|b| b.is_ascii_control() && *b != b'\t') {
        return Err(UpstreamError::Invalid(
            "control character in chunk extension",
        ));
    }
    let hex = &line[..digits];
    let significant = &hex[hex.iter().position(|b| *b != b'0').unwrap_or(digits)..];
    if significant.len() > 16 {
        return Err(UpstreamError::Invalid("chunk size over 64 bits"));
    }
    Ok(significant.iter().fold(0u64, |size, digit| {
        let value = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => *digit - b'A' + 10,
        };
        (size << 4) | u64::from(value)
    }))
}

/// The length of a complete trailer section (its fields and the empty line), `None` while
/// incomplete.
fn trailer_section(read: &[u8]) -> Result<Option<usize>, UpstreamError> {
    match read.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(at) => Ok(Some(at + 4)),
        None if read.len() > MAX_HEAD => Err(UpstreamError::HeadTooLarge),
        None => Ok(None),
    }
}

fn trailers(section: &bytes::Bytes) -> Result<HeaderMap, UpstreamError> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    // A trailer section is parsed as the fields of a head with a made-up status line would
    // be: httparse's field parser wants initialised storage, its response parser does not.
    let mut head = BytesMut::with_capacity(section.len() + 17);
    head.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    head.extend_from_slice(section);
    let head = head.freeze();
    match httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut parsed,
        &head,
        &mut fields,
    ) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(UpstreamError::Invalid("incomplete trailer section"));
        }
        Err(httparse::Error::TooManyHeaders) => return Err(UpstreamError::HeadTooLarge),
        Err(error) => return Err(UpstreamError::Parse(error)),
    }
    fields_of(&head, parsed.headers)
}
