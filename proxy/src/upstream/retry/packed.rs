//! A request's header map packed into one buffer, for the rare resend ([`super::Replay`]).
//!
//! Cloning a `HeaderMap` costs an allocation per table plus a reference-count update (or, for
//! a value built from a `Vec`, an allocation) per value, and the same again to drop it — paid
//! by every request that could be resent, for a copy almost never used. Packing the names and
//! values into one byte buffer costs one allocation and a copy of the bytes; the map is built
//! again only when a resend happens.
//!
//! Layout per field: name length (u8: header names are at most 255 bytes here, longer ones
//! are kept aside), name, sensitive flag (u8), value length (u32, little-endian), value.

use http::header::{HeaderMap, HeaderName, HeaderValue};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackedHeaders {
    bytes: Vec<u8>,
    /// Fields whose name does not fit the one-byte length (rare): kept as they are.
    long: Vec<(HeaderName, HeaderValue)>,
}

impl PackedHeaders {
    pub(crate) fn pack(headers: &HeaderMap) -> Self {
        let size: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 6)
            .sum();
        let mut bytes = Vec::with_capacity(size);
        let mut long = Vec::new();
        for (name, value) in headers {
            let name_bytes = name.as_str().as_bytes();
            let (Ok(name_len), Ok(value_len)) =
                (u8::try_from(name_bytes.len()), u32::try_from(value.len()))
            else {
                long.push((name.clone(), value.clone()));
                continue;
            };
            bytes.push(name_len);
            bytes.extend_from_slice(name_bytes);
            bytes.push(u8::from(value.is_sensitive()));
            bytes.extend_from_slice(&value_len.to_le_bytes());
            bytes.extend_from_slice(value.as_bytes());
        }
        Self { bytes, long }
    }

    /// The map again, fields in their original order (a repeated name's values stay in their
    /// order; the long-named fields come last).
    pub(crate) fn unpack(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut rest = &self.bytes[..];
        while let Some((&name_len, after)) = rest.split_first() {
            let (name, after) = after.split_at(usize::from(name_len));
            let (&sensitive, after) = after.split_first().expect("packed by pack");
            let (len, after) = after.split_at(4);
            let len = u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
            let (value, after) = after.split_at(len);
            rest = after;
            // Both were valid in the map they were packed from.
            if let (Ok(name), Ok(mut value)) =
                (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
            {
                value.set_sensitive(sensitive == 1);
                headers.append(name, value);
            }
        }
        for (name, value) in &self.long {
            headers.append(name.clone(), value.clone());
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_comes_back_whole_and_in_order() {
        let mut headers = HeaderMap::new();
        headers.append("host", HeaderValue::from_static("app.test"));
        headers.append("x-b", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.append("x-b", HeaderValue::from_static("3"));
        headers.append("empty", HeaderValue::from_static(""));
        let mut secret = HeaderValue::from_static("Basic c2VjcmV0");
        secret.set_sensitive(true);
        headers.append("authorization", secret);
        let long = HeaderName::from_bytes("x-".repeat(200).as_bytes()).unwrap();
        headers.append(
            long.clone(),
            HeaderValue::from_bytes(&[b'v'; 70_000]).unwrap(),
        );
        let back = PackedHeaders::pack(&headers).unpack();
        assert_eq!(back, headers);
        let order = |m: &HeaderMap| {
            m.iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&back), order(&headers));
        assert!(back["authorization"].is_sensitive());
        assert!(!back["host"].is_sensitive());
        assert_eq!(back[&long].len(), 70_000);
    }

    #[test]
    fn an_empty_map_packs_to_nothing() {
        let packed = PackedHeaders::pack(&HeaderMap::new());
        assert!(packed.bytes.is_empty() && packed.long.is_empty());
        assert!(packed.unpack().is_empty());
    }
}
