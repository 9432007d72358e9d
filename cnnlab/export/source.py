"""Writing `train.py`'s source: sections, calls and functions, and code copied from the lab.

Why apart: every section of the script (`cnnlab.export.script`, `cnnlab.export.data_code`,
`cnnlab.export.training_code`) is written with these, so the script reads as one file in
one style; code copied from cnnlab with `inspect` follows the lab as it changes.
"""

from __future__ import annotations

import inspect
import textwrap


def dataset_info(name):
    """The registry entry of the data set `name`."""
    from cnnlab.data.registry import get_info

    return get_info(name)


def source_of(function) -> str:
    """The source of a function or class of the lab, dedented, to copy into the script."""
    return textwrap.dedent(inspect.getsource(function))


def class_source(cls) -> str:
    """A class's source, headed by the file it is copied from."""
    return f"# Copied from {cls.__module__.replace('.', '/')}.py.\n" + source_of(cls)


def module_source(module) -> str:
    """A module's source without its `from __future__` line (the script has its own)."""
    lines = inspect.getsource(module).splitlines()
    return "\n".join(line for line in lines if line != "from __future__ import annotations")


def section(title: str, parts: list[str]) -> str:
    """A titled section of the script: its parts two blank lines apart, as PEP 8 has it."""
    header = f"# -- {title} ".ljust(88, "-")
    return header + "\n\n" + "\n\n\n".join(part.strip("\n") for part in parts)


def call(function: str, arguments: list[str], indent: str = "") -> str:
    """`function(arguments)` on one line if it fits in 88 columns, else one argument a line."""
    line = f"{function}({', '.join(arguments)})"
    if len(indent) + len(line) <= 88:
        return line
    inner = "".join(f"{indent}    {argument},\n" for argument in arguments)
    return f"{function}(\n{inner}{indent})"


def function(name: str, body: str, arguments: str = "") -> str:
    """`def name(arguments):` with `body` (dedented) as its body."""
    return f"def {name}({arguments}):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
