"""markdown-html: Markdown in, an HTML fragment out (Python Markdown 3.7).

Params: `extensions` (comma-separated Python-Markdown extension names among
`tables`, `fenced_code`, `footnotes`, `toc`; default `tables,fenced_code`).
Output: `text/html; charset=utf-8`. Fails with `invalid_input` when the input
is not UTF-8 and `invalid_params` for an unknown extension.

Built by `cargo xtask build-plugin markdown-html` with componentize-py; the
host functions and types come from the `processor` world (wit/processor.wit).
"""

import wit_world
from wit_world.imports import host, types
from componentize_py_types import Err
import markdown
from markdown.extensions.fenced_code import FencedCodeExtension
from markdown.extensions.footnotes import FootnoteExtension
from markdown.extensions.tables import TableExtension
from markdown.extensions.toc import TocExtension

# Extensions by name, as instances: looking names up goes through package
# entry points (importlib.metadata), which the component's stdlib lacks.
ALLOWED = {
    "tables": TableExtension,
    "fenced_code": FencedCodeExtension,
    "footnotes": FootnoteExtension,
    "toc": TocExtension,
}
READ = 256 * 1024


def fail(code, message):
    return Err(types.Failure(code=code, message=message))


def extensions(params):
    raw = dict(params).get("extensions", "tables,fenced_code")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALLOWED]
    if unknown:
        raise fail("invalid_params", f'param "extensions": unknown {unknown}; allowed: {sorted(ALLOWED)}')
    return [ALLOWED[n]() for n in names]


class WitWorld(wit_world.WitWorld):
    def process(self, params):
        exts = extensions(params)
        for key, _ in params:
            if key != "extensions":
                host.log(host.Level.WARN, f"unknown param {key!r} ignored")
        chunks = []
        while True:
            chunk = host.read(READ)
            if not chunk:
                break
            chunks.append(chunk)
        try:
            text = b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError as e:
            raise fail("invalid_input", f"the input is not UTF-8: {e}")
        html = markdown.markdown(text, extensions=exts).encode("utf-8")
        host.write(html)
        host.log(host.Level.INFO, f"{len(text)} characters of Markdown, {len(html)} bytes of HTML")
        return types.Summary(
            content_type="text/html; charset=utf-8",
            stats=[("html_bytes", str(len(html)))],
        )
