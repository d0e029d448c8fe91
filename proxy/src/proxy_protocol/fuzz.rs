//! Fuzz target (bolero) for the PROXY header reader: arbitrary bytes, delivered in chunks of
//! an arbitrary size, must give the same verdict as parsing them whole, and the stream must
//! replay exactly the bytes after the header. See `crate::fuzz` for budgets and commands.

use super::*;

use bolero::check;

use crate::fuzz::budget;

/// A reader that hands out `data` at most `chunk` bytes per read, as a slow client would.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        let (head, tail) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = tail;
        Poll::Ready(Ok(()))
    }
}

/// Headers from the module's tests (v1 TCP4/TCP6/UNKNOWN, v2 PROXY/LOCAL) and near misses.
const SEEDS: &[&[u8]] = &[
    b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n",
    b"PROXY UNKNOWN\r\n",
    b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ::1 65535 65535\r\n",
    b"PROXY TCP4 a b 51234 \r\n",
    b"PROXY TCP4\r\n",
    b"PROXYTCP4 192.0.2.1 192.0.2.2 1 2\r\n",
    b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\x0a\x00\x00\x01\x04\xd2\x01\xbb",
    b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00",
    b"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02\x0f\xa0\x00\x50",
    b"\r\n\r\n\0\r\nQUIT\n\x21\x11\xff\xff",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03",
    b"GET / HTTP/1.1\r\n\r\n",
];

/// Starts the random engine's inputs near a header, so that not every one is `Missing`.
const STARTS: [&[u8]; 4] = [b"", b"PROXY ", b"PROXY TCP4 ", V2_SIGNATURE];

/// `input[0]` picks the read size (0: all at once), `input[1]` one of [`STARTS`]; that start
/// and the rest are what the client sends.
fn reader_agrees_with_parse(runtime: &tokio::runtime::Runtime, input: &[u8]) {
    let [size, start, rest @ ..] = input else {
        return;
    };
    let chunk = match *size {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let stream = &[STARTS[usize::from(*start) % STARTS.len()], rest].concat()[..];
    let whole = parse(stream);
    let read = runtime.block_on(async {
        let (source, mut rest) = read_header(Chunked {
            data: stream,
            chunk,
        })
        .await?;
        let mut replayed = Vec::new();
        rest.read_to_end(&mut replayed).await?;
        Ok::<_, HeaderError>((source, replayed))
    });
    match (read, whole) {
        (Ok((source, replayed)), Ok(Parsed::Complete { source: s, len })) => {
            assert_eq!(source, s, "source differs from the whole parse");
            assert_eq!(replayed, stream[len..], "replayed bytes");
        }
        (Err(HeaderError::Eof), Ok(Parsed::Incomplete)) => assert!(stream.len() < MAX_HEADER_BYTES),
        (Err(HeaderError::Eof), whole) => panic!("EOF, yet the whole input parses as {whole:?}"),
        (Err(HeaderError::Io(e)), _) => panic!("a slice reader cannot fail: {e}"),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(whole)) => panic!("refused ({e}) in chunks, whole parse {whole:?}"),
        (Ok(_), Err(e)) => panic!("accepted in chunks, refused whole: {e}"),
        (Ok(_), Ok(Parsed::Incomplete)) => panic!("accepted in chunks, incomplete whole"),
    }
}

#[test]
fn proxy_header_reader() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let runtime = std::panic::AssertUnwindSafe(runtime);
    // The seeds reach the replay check: most of them are whole headers.
    let complete = SEEDS
        .iter()
        .filter(|s| matches!(parse(s), Ok(Parsed::Complete { .. })));
    assert!(complete.count() >= 5);
    for seed in SEEDS {
        for size in [0, 1, 2, 7, 16] {
            reader_agrees_with_parse(&runtime, &[&[size, 0][..], seed].concat());
        }
    }
    check!()
        .with_test_time(budget())
        .for_each(|input: &[u8]| reader_agrees_with_parse(&runtime, input));
}
