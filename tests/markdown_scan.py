"""A static scan of the UI code for strings that reach Markdown without `cnnlab.text.md`.

Streamlit renders Markdown in the body of `st.markdown`, `st.caption`, headers, alerts,
toasts, and in the labels and help of widgets, expanders, tabs and page links. Any value
computed at run time (a name, a message, a config value) that reaches one of them must go
through `md(...)` (or be a number, or an entry of ALLOWED below, each with its reason).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Calls whose first positional argument is Markdown.
BODY_CALLS = {
    "markdown", "caption", "subheader", "header", "title", "info", "warning", "error",
    "success", "toast", "write", "expander", "popover", "status", "button", "download_button",
    "link_button", "checkbox", "toggle", "radio", "selectbox", "multiselect", "slider",
    "select_slider", "text_input", "text_area", "number_input", "file_uploader", "metric",
    "pills", "segmented_control", "form_submit_button", "color_picker", "date_input",
    "time_input", "feedback", "chat_input", "spinner",
}
# Calls with Markdown only in keyword arguments (an image's caption, a progress bar's text).
KEYWORD_CALLS = {"page_link", "progress", "image", "dialog"}
# Keyword arguments that are Markdown (`label` of page_link, `help` tooltips, progress text).
MARKDOWN_KEYWORDS = {"body", "label", "help", "text", "caption", "captions"}
# Calls whose first positional argument is a list of Markdown labels.
LIST_CALLS = {"tabs"}
# Receivers whose methods of those names are not Streamlit's (logging.warning, file.write).
NOT_STREAMLIT = {"logging", "logger", "log", "warnings", "sys", "handle", "file", "stream"}
# Calls whose result is safe Markdown, with the reason.
ESCAPERS = {
    "md": "the helper (cnnlab.text.md)", "code": "a code span (cnnlab.text.code)",
    "len": "a number", "int": "a number", "format_count": "a number", "format_bytes": "a number",
    "field_help": "the lab's own field documentation (cnnlab.config.fields)",
    "schedule_formula": "LaTeX the lab writes from a schedule's numbers",
}
# Names allowed as they are, with the reason: run-time values the lab wrote itself.
ALLOWED = {
    "icon": "a status icon from ui.resources.STATUS_ICONS (':material/...:' constants)",
    "lesson": "the lab's lesson catalog (cnnlab/lessons/catalog.py), Markdown by design",
    "alert": "health alerts (cnnlab.analysis.alerts): the lab's words and numbers",
    "phase": "transfer phases (cnnlab.training.transfer): the lab's words and numbers",
}
# The allow-list comment, with its reason in brackets.
PRAGMA = re.compile(r"# text: lab-written \(.+\)")
# UPPER_CASE names are module constants the lab wrote (labels, notes, tab titles).


def _is_safe(node: ast.AST) -> bool:
    """Whether an expression reaching Markdown is safe as it is."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(_is_safe_part(part) for part in node.values)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ESCAPERS:
        return True
    if isinstance(node, ast.Name) and (node.id in ALLOWED or node.id.isupper()):
        return True
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return _is_safe_root(node)
    if isinstance(node, ast.IfExp):
        return _is_safe(node.body) and _is_safe(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_safe(node.left) and _is_safe(node.right)
    if isinstance(node, ast.BoolOp):
        return all(_is_safe(value) for value in node.values)
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_safe(element) for element in node.elts)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return _is_safe(node.elt)
    # ", ".join(md(name) for name in names): a constant separator between safe parts.
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join" \
            and isinstance(node.func.value, ast.Constant) and len(node.args) == 1:
        return _is_safe(node.args[0])
    return False


def _is_safe_root(node: ast.AST) -> bool:
    """Whether an attribute or item is read from an allowed name or a constant."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Name) and (node.id in ALLOWED or node.id.isupper())


def _is_safe_part(part: ast.AST) -> bool:
    if isinstance(part, ast.Constant):
        return True
    assert isinstance(part, ast.FormattedValue)
    # A number's format ("{x:.2f}", "{n:,}") prints digits only.
    if part.format_spec is not None and any(
            isinstance(piece, ast.Constant) and any(c in str(piece.value) for c in "fdeg%,")
            for piece in part.format_spec.values):
        return True
    return _is_safe(part.value)


def _receiver(func: ast.Attribute) -> str:
    value = func.value
    while isinstance(value, ast.Attribute):
        value = value.value
    return value.id if isinstance(value, ast.Name) else ""


def _markdown_arguments(call: ast.Call):
    """The argument expressions of `call` that Streamlit renders as Markdown."""
    func = call.func
    if isinstance(func, ast.IfExp):  # (st.warning if diverged else st.error)(message)
        func = func.body
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if isinstance(func, ast.Attribute) and _receiver(func) in NOT_STREAMLIT:
        return
    if name in BODY_CALLS or name in KEYWORD_CALLS:
        if name in BODY_CALLS and call.args:
            yield call.args[0]
        for keyword in call.keywords:
            if keyword.arg in MARKDOWN_KEYWORDS:
                yield keyword.value
        # Options of radio buttons, pills and segmented controls are Markdown too.
        if name in {"radio", "pills", "segmented_control"}:
            for keyword in call.keywords:
                if keyword.arg == "format_func" and isinstance(keyword.value, ast.Lambda):
                    yield keyword.value.body
    elif name in LIST_CALLS and call.args:
        arg = call.args[0]
        if isinstance(arg, (ast.List, ast.Tuple)):
            yield from arg.elts
        elif isinstance(arg, ast.ListComp):
            yield arg.elt
        else:
            yield arg


def ui_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py"))]


def offenders(paths=None) -> list[str]:
    """"file:line: source" of every Markdown argument that is not safe.

    A call whose first line carries the comment `# text: lab-written (why)` is skipped:
    the allow-list for text the lab writes itself, each entry with its reason in place.
    """
    found = []
    for path in paths or ui_files():
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            if PRAGMA.search(lines[node.lineno - 1]):
                continue
            for arg in _markdown_arguments(node):
                if not _is_safe(arg):
                    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    found.append(f"{shown}:{arg.lineno}: {ast.get_source_segment(source, arg)}")
    return found


if __name__ == "__main__":
    print("\n".join(offenders()))
