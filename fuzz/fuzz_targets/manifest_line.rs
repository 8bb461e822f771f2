//! Fuzzes the manifest-line parser and the line reader: no panic, no NUL or empty name ever
//! accepted, and every accepted entry survives a write → parse round trip.
#![no_main]

use b3tree::names::escape::Escaping;
use b3tree::manifest::write::format_line;
use b3tree::manifest::read::{Line, LineReader, parse_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Line::Entry(e) = parse_line(data) {
        assert!(!e.name.is_empty() && !e.name.contains(&0));
        let mut line = Vec::new();
        let tag = e.tag.map(|a| a.tag());
        format_line(&mut line, &e.name, &e.hash, tag, Escaping::Manifest);
        match parse_line(&line) {
            Line::Entry(again) => assert_eq!(again, e),
            other => panic!("re-parse of {line:?} gave {other:?}"),
        }
    }
    let mut reader = LineReader::new(data);
    while let Ok(Some(_)) = reader.next_line() {}
});
