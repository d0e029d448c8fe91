//! Fuzz target (bolero) for the SNI parser: arbitrary bytes never panic and a verdict never
//! changes once given (more bytes of the same connection cannot turn a hello into something
//! else); a real ClientHello re-fragmented at an arbitrary size keeps its name. See
//! `crate::fuzz` for budgets and commands.

use bolero::check;

use super::tests::{client_hello, refragment};
use super::*;
use crate::fuzz::budget;

fn consistent(input: &[u8]) {
    let whole = peek(input);
    if whole == Peek::Incomplete {
        return;
    }
    // Every verdict but Incomplete is final: a longer input gives the same one.
    let longer = [input, b"\x16\x03\x01\x00\x00"].concat();
    assert_eq!(peek(&longer), whole, "verdict changed with more bytes");
}

#[test]
fn client_hello_parser() {
    let hello = client_hello("pass.example.com");
    check!().with_test_time(budget()).for_each(|input: &[u8]| {
        consistent(input);
        let [size, flip, at @ ..] = input else {
            return;
        };
        // The real hello cut into records of `size` bytes (at least the handshake header,
        // which the parser wants whole in the first record), still the same name.
        let split = refragment(&hello, usize::from(*size).max(HANDSHAKE_HEADER));
        assert!(matches!(
            peek(&split),
            Peek::Hello { server_name: Some(n) } if n == "pass.example.com"
        ));
        // And with one byte changed, anything but a panic.
        let mut mutated = split;
        let i = at.first().map_or(0, |b| usize::from(*b) * 7) % mutated.len();
        mutated[i] ^= *flip;
        consistent(&mutated);
    });
}
