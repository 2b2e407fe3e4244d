//! Bounding strings that come from outside, and making them safe to show.

use std::borrow::Cow;
use std::fmt::Write;

/// Cuts `s` to at most `max` bytes, at a character boundary.
pub fn truncate_at_char_boundary(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `s` made safe to print on a terminal: every control character (C0, DEL
/// and C1, so ESC and CSI too: no escape sequence survives) but `\n` and
/// `\t`, and every bidirectional override or isolate (U+202A–U+202E,
/// U+2066–U+2069), becomes visible text: `\x1b` below U+0080, `\u{9b}`
/// above. Anything else, including every other UTF-8 character and the
/// backslash, is kept; a string with nothing to escape is borrowed as is.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(unsafe_on_terminal) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if unsafe_on_terminal(c) {
            push_escaped(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// True for a character a terminal would act on or reorder text by.
fn unsafe_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn push_escaped(c: char, out: &mut String) {
    let n = u32::from(c);
    let written = if n < 0x80 {
        write!(out, "\\x{n:02x}")
    } else {
        write!(out, "\\u{{{n:x}}}")
    };
    written.expect("writing to a String cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(s: &str) -> String {
        terminal_safe(s).into_owned()
    }

    #[test]
    fn escape_sequences_are_shown_not_run() {
        assert_eq!(safe("\x1b[31mred\x1b[0m"), r"\x1b[31mred\x1b[0m");
        assert_eq!(safe("\x1b[2J\x1b[H"), r"\x1b[2J\x1b[H");
        // A title set with OSC, ended by BEL.
        assert_eq!(safe("\x1b]0;owned\x07"), r"\x1b]0;owned\x07");
        assert_eq!(safe("ding\x07"), r"ding\x07");
    }

    #[test]
    fn osc_8_hyperlinks_are_shown_not_run() {
        let link = "\x1b]8;;https://evil.example/\x1b\\https://good.example/\x1b]8;;\x1b\\";
        assert_eq!(
            safe(link),
            r"\x1b]8;;https://evil.example/\x1b\https://good.example/\x1b]8;;\x1b\"
        );
    }

    #[test]
    fn carriage_returns_and_backspaces_cannot_overwrite() {
        assert_eq!(
            safe("job failed\rjob succeeded"),
            r"job failed\x0djob succeeded"
        );
        assert_eq!(safe("ok\x08\x08no"), r"ok\x08\x08no");
        assert_eq!(safe("a\r\nb"), "a\\x0d\nb");
    }

    #[test]
    fn every_c0_c1_and_del_character_is_escaped_but_newline_and_tab() {
        assert_eq!(safe("\0"), r"\x00");
        assert_eq!(safe("\x7f"), r"\x7f");
        assert_eq!(safe("\x0b\x0c"), r"\x0b\x0c");
        // C1: CSI (U+009B) and OSC (U+009D) act like ESC [ and ESC ].
        assert_eq!(safe("\u{9b}31mred"), r"\u{9b}31mred");
        assert_eq!(safe("\u{9d}0;x\u{9c}"), r"\u{9d}0;x\u{9c}");
        assert_eq!(safe("\u{80}\u{9f}"), r"\u{80}\u{9f}");
        assert_eq!(safe("a\tb\nc\n"), "a\tb\nc\n");
        for n in (0..0x20).chain(0x7f..0xa0) {
            let c = char::from_u32(n).expect("a control character");
            let shown = safe(&c.to_string());
            let kept = c == '\n' || c == '\t';
            assert_eq!(shown == c.to_string(), kept, "U+{n:04X} became {shown:?}");
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_escaped() {
        assert_eq!(safe("abc\u{202e}fed"), r"abc\u{202e}fed");
        assert_eq!(safe("\u{2066}x\u{2069}"), r"\u{2066}x\u{2069}");
        for n in (0x202a..=0x202e).chain(0x2066..=0x2069) {
            let c = char::from_u32(n).expect("a bidi control");
            assert_eq!(safe(&c.to_string()), format!("\\u{{{n:x}}}"));
        }
        // Their neighbours are ordinary text.
        for c in ['\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}', '\u{200f}'] {
            assert_eq!(
                safe(&c.to_string()),
                c.to_string(),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn clean_text_is_borrowed_untouched() {
        for s in [
            "",
            "job 0196 succeeded",
            "café ✓ 日本語 🎉 ünïcödé — «quotes» \\x1b as text",
            "line one\n\tindented\n",
        ] {
            let shown = terminal_safe(s);
            assert!(
                matches!(shown, Cow::Borrowed(b) if std::ptr::eq(b, s)),
                "{s:?}"
            );
        }
        assert_eq!(safe("é\x1bé"), r"é\x1bé");
    }

    #[test]
    fn nothing_unsafe_survives_any_character() {
        let all: String = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .collect();
        let shown = terminal_safe(&all);
        assert!(!shown.chars().any(unsafe_on_terminal));
        // Every scalar value (0x10f800 of them) but 63 controls (65 in C0,
        // DEL and C1, less `\n` and `\t`) and 9 bidi characters is kept.
        let kept = all.chars().filter(|c| !unsafe_on_terminal(*c)).count();
        assert_eq!(kept, 0x10f800 - 63 - 9);
    }
}
