//! Arbitrary bytes as kernel log lines: the frame parser must never panic, and every span it
//! returns lies inside its line, in order, without overlap.

use kbuild_lineinfo::frames::Scanner;

pub fn check(data: &[u8]) {
    let mut scanner = Scanner::new();
    for line in data.split(|&b| b == b'\n') {
        let mut done = 0;
        for frame in scanner.line(line) {
            assert!(done <= frame.name.start && frame.name.start < frame.name.end);
            assert!(frame.name.end < frame.end && frame.end <= line.len());
            let name = &line[frame.name.clone()];
            assert!(line[frame.name.end..].starts_with(b"+0x"), "{name:?}");
            for r in [&frame.module, &frame.build_id].into_iter().flatten() {
                assert!(frame.name.end < r.start && r.end <= frame.end);
            }
            done = frame.end;
            if let Some(a) = &frame.annotation {
                assert_eq!(a.span.start, frame.end);
                assert!(a.file.start < a.file.end && a.file.end < a.span.end);
                assert!(a.span.end <= line.len() && line[a.span.end - 1] == b')');
                done = a.span.end;
            }
        }
    }
}
