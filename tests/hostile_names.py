"""A hostile-names corpus: strings a student could type or upload to make a classmate's
browser fetch, link or show something the lab did not write.

`NAMES` are accepted wherever a free name is (run names; class folders where the name
fits a path part: `FOLDER_NAMES`); every page must show them literally. `REFUSED` hold a
hidden character (control, bidirectional override, zero-width) and must be refused with
a message naming it. (tests/hostile_corpus.py is the companion corpus of hostile zips.)
"""

from __future__ import annotations

import re

NAMES = [
    "![pwn](https:example.invalid|x.png)",  # the issue's own: an image without a slash
    "![pwn](https://example.invalid/x.png)",
    "[click me](javascript:alert(1))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "javascript:alert(document.cookie)",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "<img src=x onerror=alert(1)>",
    "<a href='https://example.invalid'>link</a>",
    "<b>bold</b><br>second line",
    "www.example.invalid",
    "https://example.invalid/track?id=1",
    "ada@example.invalid",
    "<https://example.invalid>",
    "# heading",
    "- list item",
    "1. numbered",
    "> quoted",
    "| a | b |",
    "**bold** _it_ ~~gone~~ `code`",
    "$x^2$ and $$y$$",
    ":red[alarm] :material/warning: :smile:",
    "&lt;b&gt; &amp; &#60;",
    "back\\slash \\*",
    "line one\nline two",
    "e\u0301cole",  # a combining accent
    "Café crème",
    "蜜蜂と蟻",
    "🐜 ants 🐝",
    "x" * 200,  # very long
]
# Class folder names: a path part (no "/" and no "\" in a zip member, no newline).
FOLDER_NAMES = [name for name in NAMES if not set(name) & {"/", "\\", "\n"} and len(name) < 120]
REFUSED = [
    "evil\u202etxt.exe",  # right-to-left override
    "\u2066isolate\u2069",
    "ant\u200bs",  # zero-width space
    "bee\u200d",  # a zero-width joiner not between emoji
    "\ufeffbom",
    "word\u2060joiner",
    "bell\x07",
    "tab\there",
    "c1\x85control",
]

_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescaped(markdown: str) -> str:
    """Markdown that went through `cnnlab.text.md` with its backslash escapes resolved, as
    a renderer's text nodes hold it (the invisible word joiners stay)."""
    return _ESCAPE.sub(r"\1", markdown)


def shown_literally(name: str, markdown: str) -> bool:
    """Whether `markdown` (an element's body) holds `name` escaped by `md`, so it reads
    as exactly the name (newlines as spaces)."""
    from cnnlab.text import md

    reads = unescaped(markdown).replace("\u2060", "")  # the invisible autolink breaker
    return md(name) in markdown and " ".join(name.split("\n")) in reads
