//! Stack frames in kernel log text: where `printk`'s `%pS`/`%pB` (and `%pSb`/`%pBb`) output sits
//! in a line, and what kind of trace line holds it.
//!
//! Pure: bytes in, spans out. No symbol is resolved here and nothing is trusted: any bytes
//! (non-UTF-8, binary garbage, lines of any length) parse in one linear pass without a panic,
//! and a line with no frame yields none. A frame is `name+0xOFF/0xSIZE`, optionally followed by
//! ` [module]` or ` [module build-id]`, optionally followed by an annotation ` (file:line)`.
//! [`Scanner`] keeps the one piece of state that spans lines: whether the lines belong to an
//! x86-style `Call Trace:` block, whose frames are printed with `%pB` (return address − 1 is
//! looked up) where the register lines and most other traces use `%pS` (the address itself).

use std::ops::Range;

/// One frame found in a line. Every range indexes the line given to [`Scanner::line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The symbol name.
    pub name: Range<usize>,
    /// The printed offset into the symbol.
    pub offset: u64,
    /// The printed size of the symbol (kallsyms: distance to the next symbol).
    pub size: u64,
    /// The module name inside ` [...]`, when there is one.
    pub module: Option<Range<usize>>,
    /// The build-id after the module name (`[mod 0123abcd…]`), hex digits.
    pub build_id: Option<Range<usize>>,
    /// One past the frame's last byte (the size's last digit or the `]`): where the kernel
    /// appends ` (file:line)`.
    pub end: usize,
    /// The annotation already there, right at `end`.
    pub annotation: Option<Annotation>,
    /// What kind of line holds the frame.
    pub context: Context,
}

/// An annotation ` (file:line)` as the kernel prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// From the leading space to the `)` included.
    pub span: Range<usize>,
    pub file: Range<usize>,
    pub line: u32,
}

/// The kind of line a frame sits on, which tells which `printk` format printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// A trace line (only the frame, maybe `? ` or `[<addr>] ` before it) inside a
    /// `Call Trace:` block: x86's `show_trace_log_lvl` prints these with `%pBb`.
    CallTrace,
    /// A trace line outside such a block: `stack_trace_print` (KASAN, kmemleak, …), ftrace's
    /// ` => `, arm64 and RISC-V traces: `%pS`.
    Trace,
    /// `/proc/PID/stack`: `[<0>] frame`, printed with `%pB`.
    ProcStack,
    /// A register line: `RIP: 0010:`, `EIP: `, arm64 `pc : `/`lr : `, RISC-V `epc : `/` ra : `
    /// (`%pS`).
    Register,
    /// In a KTAP line of KUnit (`ok 19 name # SKIP …`, `# …`): the series' own KUnit suite
    /// formats its frames with `sprint_backtrace` (`%pB`).
    Ktap,
    /// Anywhere else in a line (`WARNING: … at func+0x1c/0x40`, `in func+…`): `%pS`.
    Inline,
}

/// Reads log lines one after the other; see the module documentation.
#[derive(Debug, Default, Clone)]
pub struct Scanner {
    in_call_trace: bool,
}

/// The longest symbol name kallsyms prints (`KSYM_NAME_LEN` − 1 in 6.12).
const MAX_NAME: usize = 511;
/// The most hex digits of an offset or a size (64-bit).
const MAX_HEX: usize = 16;
/// The longest module name (`MODULE_NAME_LEN` − 1 on 32-bit, the larger one).
const MAX_MODULE: usize = 59;
/// The longest build-id in hex (`BUILD_ID_SIZE_MAX` = 20 bytes; allow up to 32).
const MAX_BUILD_ID: usize = 64;
/// The longest file name of an annotation we accept back.
const MAX_FILE: usize = 4096;

impl Scanner {
    pub fn new() -> Scanner {
        Scanner::default()
    }

    /// The frames of one line (without its `\n`), in order; updates the `Call Trace:` state.
    pub fn line(&mut self, line: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        self.line_into(line, &mut frames);
        frames
    }

    /// [`line`](Self::line) into a reused vector (cleared first).
    pub fn line_into(&mut self, line: &[u8], frames: &mut Vec<Frame>) {
        frames.clear();
        let body = strip_prefixes(line);
        // One past the last non-blank byte: a frame ending there is alone on its line.
        let content_end = line.len()
            - line
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let mut at = 0;
        while let Some(found) = find(&line[at..], b"+0x") {
            let plus = at + found;
            match parse_frame(line, at, plus) {
                Some(mut frame) => {
                    frame.context = context(line, body, content_end, &frame, self.in_call_trace);
                    at = frame.annotation.as_ref().map_or(frame.end, |a| a.span.end);
                    frames.push(frame);
                }
                None => at = plus + 3,
            }
        }
        self.in_call_trace = next_in_call_trace(self.in_call_trace, &line[body..], frames);
    }
}

/// Whether the line after this one is still inside a `Call Trace:` block.
fn next_in_call_trace(current: bool, body: &[u8], frames: &[Frame]) -> bool {
    if find(body, b"Call Trace:").is_some() || find(body, b"Call trace:").is_some() {
        return true;
    }
    if !current {
        return false;
    }
    let trace_line = frames
        .iter()
        .any(|f| matches!(f.context, Context::CallTrace | Context::Register));
    trace_line
        || is_marker(body)
        || is_register_dump(body)
        || is_bare_address(body)
        || trim(body).is_empty()
}

/// ` ? 0xffffffffc0270000`: a trace entry kallsyms had no symbol for (`%pB` prints the
/// address).
fn is_bare_address(body: &[u8]) -> bool {
    let t = trim(body);
    let t = t.strip_prefix(b"? ").unwrap_or(t);
    t.strip_prefix(b"0x")
        .is_some_and(|h| !h.is_empty() && h.iter().all(u8::is_ascii_hexdigit))
}

/// `<TASK>`, `</IRQ>`, `<NMI>`, … on a line of their own.
fn is_marker(body: &[u8]) -> bool {
    let t = trim(body);
    t.len() >= 3
        && t[0] == b'<'
        && t[t.len() - 1] == b'>'
        && t[1..t.len() - 1]
            .iter()
            .all(|&b| b == b'/' || b.is_ascii_uppercase())
}

/// A line of x86's register dump inside a trace (`RSP: 0018:…`, `R13: …`, `Code: …`,
/// `FS:  0000…`): up to 5 upper-case letters or digits and a colon.
fn is_register_dump(body: &[u8]) -> bool {
    let t = trim_start(body);
    let Some(colon) = t.iter().take(6).position(|&b| b == b':') else {
        return false;
    };
    colon >= 2
        && t[0].is_ascii_uppercase()
        && t[..colon]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        || t.starts_with(b"Code: ")
}

/// Where the message starts: after every leading timestamp, caller id, `dmesg -T` time,
/// syslog level `<N>`, `/dev/kmsg` record header, syslog `… kernel: ` and `CPU: N PID: M `.
fn strip_prefixes(line: &[u8]) -> usize {
    let mut at = 0;
    loop {
        let rest = &line[at..];
        let step = bracket_prefix(rest)
            .or_else(|| level_prefix(rest))
            .or_else(|| kmsg_prefix(rest))
            .or_else(|| syslog_prefix(rest))
            .or_else(|| cpu_pid_prefix(rest));
        match step {
            Some(n) if n > 0 => at += n,
            _ => return at,
        }
    }
}

/// `[    0.123456]`, `[  T123]`, `[Thu Nov 26 14:57:32 2026]` plus one space; not `[<…>]`.
fn bracket_prefix(rest: &[u8]) -> Option<usize> {
    if rest.first() != Some(&b'[') || rest.get(1) == Some(&b'<') {
        return None;
    }
    let close = rest.iter().take(48).position(|&b| b == b']')?;
    let inside = &rest[1..close];
    let ok = !inside.is_empty()
        && inside
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'.' | b':' | b'-' | b'+'));
    ok.then(|| close + 1 + usize::from(rest.get(close + 1) == Some(&b' ')))
}

/// A syslog level `<4>` at the start (raw `dmesg -r`).
fn level_prefix(rest: &[u8]) -> Option<usize> {
    let digits = rest
        .get(1..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    (rest[0] == b'<' && (1..=3).contains(&digits) && rest.get(1 + digits) == Some(&b'>'))
        .then_some(digits + 2)
}

/// A `/dev/kmsg` record header `6,1234,5678,-;`.
fn kmsg_prefix(rest: &[u8]) -> Option<usize> {
    let semi = rest.iter().take(64).position(|&b| b == b';')?;
    let head = &rest[..semi];
    let fields = head.split(|&b| b == b',').count();
    let ok = fields >= 4
        && head
            .split(|&b| b == b',')
            .take(3)
            .all(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit));
    ok.then_some(semi + 1)
}

/// `Nov 26 14:57:32 host kernel: ` (syslog, `journalctl`): up to `kernel: ` in the first 96
/// bytes when no frame comes before it.
fn syslog_prefix(rest: &[u8]) -> Option<usize> {
    let head = &rest[..rest.len().min(96)];
    let at = find(head, b" kernel: ")?;
    (find(&head[..at], b"+0x").is_none()).then_some(at + b" kernel: ".len())
}

/// `CPU: 3 PID: 1234 ` before a message.
fn cpu_pid_prefix(rest: &[u8]) -> Option<usize> {
    let mut at = rest.strip_prefix(b"CPU: ").map(|_| 5)?;
    at += digits(&rest[at..]);
    let r = rest.get(at..)?.strip_prefix(b" PID: ")?;
    let n = digits(r);
    if n == 0 {
        return None;
    }
    at += 6 + n;
    Some(at + usize::from(rest.get(at) == Some(&b' ')))
}

/// The kind of line `frame` sits on, from the text before and after it.
fn context(
    line: &[u8],
    body: usize,
    content_end: usize,
    frame: &Frame,
    in_call_trace: bool,
) -> Context {
    let before = line.get(body..frame.name.start).unwrap_or_default();
    let after_end = frame.annotation.as_ref().map_or(frame.end, |a| a.span.end);
    let alone = after_end >= content_end;
    let lead = trim_start(before);
    if is_register_lead(before) {
        return Context::Register;
    }
    if is_ktap(lead) {
        return Context::Ktap;
    }
    if !alone {
        return Context::Inline;
    }
    let lead = lead.strip_prefix(b"=> ").unwrap_or(lead);
    if lead == b"[<0>] " {
        return Context::ProcStack;
    }
    let lead = strip_address(lead);
    let lead = lead.strip_prefix(b"? ").unwrap_or(lead);
    match (lead.is_empty(), in_call_trace) {
        (true, true) => Context::CallTrace,
        (true, false) => Context::Trace,
        _ => Context::Inline,
    }
}

/// A KTAP result or diagnostic line (`ok 3 name …`, `not ok 3 …`, `# …`), maybe indented.
fn is_ktap(lead: &[u8]) -> bool {
    let digits_after = |rest: &[u8]| rest.first().is_some_and(u8::is_ascii_digit);
    lead.starts_with(b"# ")
        || lead.strip_prefix(b"ok ").is_some_and(digits_after)
        || lead.strip_prefix(b"not ok ").is_some_and(digits_after)
}

/// `[<ffffffff81234567>] ` at the start of `lead` removed.
fn strip_address(lead: &[u8]) -> &[u8] {
    let Some(rest) = lead.strip_prefix(b"[<") else {
        return lead;
    };
    let hex = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    rest[hex..].strip_prefix(b">] ").unwrap_or(lead)
}

/// The text before a frame ends like a register line's label.
fn is_register_lead(before: &[u8]) -> bool {
    let t = trim_start(before);
    // The longest lead: `RIP: ffff:` or a label and `[<` 16 hex digits `>] `.
    if t.len() > 40 {
        return false;
    }
    // `RIP: 0010:func…` / `EIP: func…`, maybe `[<addr>] ` between (old arm64 `pc : [<…>] `).
    let t = match t.strip_suffix(b"] ") {
        Some(s) => match s.iter().rposition(|&b| b == b'[') {
            Some(open) if s.get(open + 1) == Some(&b'<') => &t[..open],
            _ => t,
        },
        None => t,
    };
    let labels: [&[u8]; 8] = [
        b"pc : ",
        b"lr : ",
        b"epc : ",
        b"ra : ",
        b"PC is at ",
        b"LR is at ",
        b"EIP: ",
        b"RIP: ",
    ];
    if labels.contains(&t) {
        return true;
    }
    // `RIP: 0010:` (the segment selector in hex).
    t.strip_prefix(b"RIP: ")
        .and_then(|r| r.strip_suffix(b":"))
        .is_some_and(|sel| !sel.is_empty() && sel.iter().all(u8::is_ascii_hexdigit))
}

/// Parses the frame whose `+0x` is at `plus`, or `None` when the bytes there are no frame.
fn parse_frame(line: &[u8], from: usize, plus: usize) -> Option<Frame> {
    // Look back no further than the longest name (plus the byte before it), nor into the
    // previous frame (`from`): a name must start after a non-name byte or at the line start.
    let window = plus.saturating_sub(MAX_NAME + 1).max(from);
    let start = match line[window..plus].iter().rposition(|&b| !is_symbol_byte(b)) {
        Some(p) => window + p + 1,
        None if window == 0 => 0,
        None if window == from && !is_symbol_byte(line[from - 1]) => from,
        None => return None,
    };
    if start == plus {
        return None;
    }
    let mut at = plus + 3;
    let offset = hex(line, &mut at)?;
    at = expect(line, at, b"/0x")?;
    let size = hex(line, &mut at)?;
    // A hex digit or name byte right after the size: not the end of a frame.
    if line.get(at).is_some_and(|&b| is_symbol_byte(b)) {
        return None;
    }
    let mut frame = Frame {
        name: start..plus,
        offset,
        size,
        module: None,
        build_id: None,
        end: at,
        annotation: None,
        context: Context::Inline,
    };
    if let Some((module, build_id, end)) = module_part(line, at) {
        frame.module = Some(module);
        frame.build_id = build_id;
        frame.end = end;
    }
    frame.annotation = annotation(line, frame.end);
    Some(frame)
}

/// ` [name]` or ` [name buildid]` at `at`: the ranges and one past the `]`.
fn module_part(line: &[u8], at: usize) -> Option<(Range<usize>, Option<Range<usize>>, usize)> {
    let start = expect(line, at, b" [")?;
    let len = line[start..]
        .iter()
        .take(MAX_MODULE + 1)
        .take_while(|&&b| is_module_byte(b))
        .count();
    if len == 0 || len > MAX_MODULE {
        return None;
    }
    let module = start..start + len;
    let mut at = module.end;
    let mut build_id = None;
    if line.get(at) == Some(&b' ') {
        let n = line[at + 1..]
            .iter()
            .take(MAX_BUILD_ID + 1)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if n == 0 || n > MAX_BUILD_ID {
            return None;
        }
        build_id = Some(at + 1..at + 1 + n);
        at += 1 + n;
    }
    let end = expect(line, at, b"]")?;
    Some((module, build_id, end))
}

/// ` (file:line)` at `at`.
fn annotation(line: &[u8], at: usize) -> Option<Annotation> {
    let start = expect(line, at, b" (")?;
    let close = start
        + line[start..]
            .iter()
            .take(MAX_FILE + 12)
            .position(|&b| b == b')' || b == b'(' || b.is_ascii_whitespace())?;
    if line[close] != b')' {
        return None;
    }
    let colon = start + line[start..close].iter().rposition(|&b| b == b':')?;
    let digits = &line[colon + 1..close];
    if colon == start || digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let number = digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })?;
    Some(Annotation {
        span: at..close + 1,
        file: start..colon,
        line: u32::try_from(number).ok()?,
    })
}

/// Lower-case or upper-case hex digits at `*at` (1 to 16), advancing past them.
fn hex(line: &[u8], at: &mut usize) -> Option<u64> {
    let n = line[*at..]
        .iter()
        .take(MAX_HEX + 1)
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    if n == 0 || n > MAX_HEX {
        return None;
    }
    let text = std::str::from_utf8(&line[*at..*at + n]).ok()?;
    *at += n;
    u64::from_str_radix(text, 16).ok()
}

/// One past `token` when the line has it at `at`.
fn expect(line: &[u8], at: usize, token: &[u8]) -> Option<usize> {
    line.get(at..)?.starts_with(token).then(|| at + token.len())
}

/// Bytes of kallsyms names: C identifiers plus the `.` of `.cold`/`.isra.0`/`.llvm.123` and `$`.
fn is_symbol_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$')
}

fn is_module_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn digits(s: &[u8]) -> usize {
    s.iter().take_while(|b| b.is_ascii_digit()).count()
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn trim(s: &[u8]) -> &[u8] {
    let s = trim_start(s);
    let n = s
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(scanner: &mut Scanner, line: &str) -> Frame {
        let frames = scanner.line(line.as_bytes());
        assert_eq!(frames.len(), 1, "{line:?}: {frames:?}");
        frames.into_iter().next().unwrap()
    }

    fn text<'a>(line: &'a str, r: &Range<usize>) -> &'a str {
        &line[r.clone()]
    }

    #[test]
    fn x86_call_trace() {
        let mut s = Scanner::new();
        assert!(s.line(b"[    1.234567] Call Trace:").is_empty());
        assert!(s.line(b"[    1.234567]  <TASK>").is_empty());
        let l = "[    1.234567]  dump_stack_lvl+0x5d/0x80";
        let f = one(&mut s, l);
        assert_eq!(text(l, &f.name), "dump_stack_lvl");
        assert_eq!((f.offset, f.size, f.end), (0x5d, 0x80, l.len()));
        assert_eq!(f.context, Context::CallTrace);
        let l = "[    1.234567]  ? lkdtm_do_action+0x18/0x1b [lkdtm 0123456789abcdef0123456789abcdef01234567] (drivers/misc/lkdtm/core.c:164)";
        let f = one(&mut s, l);
        assert_eq!(f.context, Context::CallTrace);
        assert_eq!(text(l, f.module.as_ref().unwrap()), "lkdtm");
        assert_eq!(text(l, f.build_id.as_ref().unwrap()).len(), 40);
        let a = f.annotation.unwrap();
        assert_eq!(text(l, &a.file), "drivers/misc/lkdtm/core.c");
        assert_eq!(a.line, 164);
        assert_eq!(text(l, &a.span), " (drivers/misc/lkdtm/core.c:164)");
        // A register dump inside the trace keeps the block; RIP is a register line.
        let l = "[    1.2] RIP: 0010:vfs_write+0x1c6/0xff0";
        assert_eq!(one(&mut s, l).context, Context::Register);
        assert!(s
            .line(b"[    1.2] RSP: 0018:ffffc9000001fe58 EFLAGS: 00000246")
            .is_empty());
        assert_eq!(
            one(&mut s, " ksys_write+0x6d/0xf0").context,
            Context::CallTrace
        );
        assert!(s.line(b" </TASK>").is_empty());
        assert!(s.line(b"---[ end trace 0000000000000000 ]---").is_empty());
        assert_eq!(one(&mut s, " ksys_write+0x6d/0xf0").context, Context::Trace);
    }

    #[test]
    fn contexts() {
        let mut s = Scanner::new();
        let cases = [
            ("pc : do_undefinstr+0x1c/0x40", Context::Register),
            ("[  2.5] lr : el1_undef+0x2c/0x48", Context::Register),
            (" epc : kfree+0x10/0x120", Context::Register),
            ("  ra : kfree+0x10/0x120", Context::Register),
            (
                "RIP: 0010:__x64_sys_write+0x19/0x20 [foo]",
                Context::Register,
            ),
            ("[<0>] do_sys_poll+0x3c6/0x5a0", Context::ProcStack),
            (" => __schedule+0x1c/0x40", Context::Trace),
            (
                "[ 3.1] [<ffffffff80001234>] kfree+0x10/0x120",
                Context::Trace,
            ),
            (
                "WARNING: CPU: 0 PID: 1 at fs/x.c:12 func+0x1c/0x40",
                Context::Inline,
            ),
            ("6,1234,5678,-; kfree+0x10/0x120", Context::Trace),
            (
                "Nov 26 14:57:32 host kernel:  kfree+0x10/0x120",
                Context::Trace,
            ),
            (
                "[Thu Nov 26 14:57:32 2026]  kfree+0x10/0x120",
                Context::Trace,
            ),
            ("<4>[    0.1][    T1]  kfree+0x10/0x120\r", Context::Trace),
            ("CPU: 1 PID: 23  kfree+0x10/0x120", Context::Trace),
            ("x kfree+0x10/0x120 y", Context::Inline),
            (
                "[ 1.0]     ok 19 t # SKIP _text has lineinfo (C entry?): startup_64+0x1/0x56",
                Context::Ktap,
            ),
            ("    # t: got kfree+0x10/0x120 (mm/slub.c:1)", Context::Ktap),
        ];
        for (line, want) in cases {
            assert_eq!(one(&mut s, line).context, want, "{line}");
        }
    }

    #[test]
    fn not_frames() {
        let mut s = Scanner::new();
        for line in [
            "a+0x/0x10",
            "+0x10/0x20",
            "f+0x10/0x",
            "f+0x10/0x20g",
            "f+0x12345678123456789/0x20",
            "f+0x10/0x20 [",
            "RIP: 0033:0x7f12345678",
        ] {
            let frames = s.line(line.as_bytes());
            let ok = frames.is_empty() || frames.iter().all(|f| f.module.is_none());
            assert!(ok, "{line}: {frames:?}");
        }
        assert!(s.line(b"f+0x10/0x20g").is_empty());
        // The size of one frame is no name of the next (fuzz find).
        let frames = s.line(b"f+0x1/0x2+0x3/0x4 (a:1)");
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0].annotation, None);
        assert!(s.line(b"f+0x10/0x").is_empty());
        // A broken module part leaves a frame without module.
        let f = one(&mut s, "f+0x10/0x20 [mod");
        assert_eq!((f.module, f.end), (None, 11));
        // A broken annotation is not an annotation.
        for l in [
            "f+0x1/0x2 (a.c:)",
            "f+0x1/0x2 (a.c:x)",
            "f+0x1/0x2 (:1)",
            "f+0x1/0x2 (a c:1)",
        ] {
            assert_eq!(one(&mut s, l).annotation, None, "{l}");
        }
    }

    #[test]
    fn several_frames_and_garbage() {
        let mut s = Scanner::new();
        let l = b"x f+0x1/0x2 (a.c:1) g+0x3/0x4 [m] \xff\xfe h+0x5/0x6";
        let frames = s.line(l);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].module, Some(31..32));
        let garbage: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let _ = s.line(&garbage);
        let long = "a".repeat(100_000) + "+0x1/0x2";
        assert!(
            s.line(long.as_bytes()).is_empty(),
            "name longer than kallsyms allows"
        );
    }
}
