"""MkDocs hook: the configuration and command references, generated from the code at build time.

A page that holds `<!-- reference:defaults -->` gets every shared default from
src/svdgan/defaults.py; `<!-- reference:config -->` gets a table of every config key, its default and
the comment beside it in src/svdgan/config.py; `<!-- reference:cli -->` gets every command's
usage and options from the argparse parsers in src/svdgan/cli.py. None can drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import tokenize
from pathlib import Path

from svdgan import config as config_module
from svdgan import defaults as defaults_module
from svdgan.cli import build_parser

CONFIG_SOURCE = Path(config_module.__file__)
DEFAULTS_SOURCE = Path(defaults_module.__file__)


def _field_comments() -> dict[tuple[str, str], str]:
    """(dataclass name, field) -> the comment after the field's line in config.py."""
    source = CONFIG_SOURCE.read_text()
    lines = source.splitlines()
    owner, current = [], ""
    for line in lines:  # the class each line belongs to
        if line.startswith("class "):
            current = line.split()[1].split("(")[0].rstrip(":")
        owner.append(current)
    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        row, col = token.start
        code = lines[row - 1][:col]
        if code.startswith("    ") and ":" in code and "=" in code:
            comments[(owner[row - 1], code.split(":")[0].strip())] = token.string.lstrip("# ").strip()
    return comments


def config_reference() -> str:
    comments = _field_comments()
    out = []
    for section in dataclasses.fields(config_module.Config):
        cls = section.default_factory  # type: ignore[misc]
        out += [f"### `{section.name}`", "", "| key | default | meaning |", "| --- | --- | --- |"]
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            if isinstance(default, tuple):
                default = list(default)
            meaning = comments.get((cls.__name__, f.name), "").replace("|", "\\|")
            out.append(f"| `{section.name}.{f.name}` | `{default!r}` | {meaning} |")
        out.append("")
    return "\n".join(out)


def defaults_reference() -> str:
    """Every constant in defaults.py, its value and the comment beside it (or the lines above it)."""
    out, above = ["| name | value | meaning |", "| --- | --- | --- |"], []
    for line in DEFAULTS_SOURCE.read_text().splitlines():
        if line.startswith("#"):
            above.append(line.lstrip("# ").strip())
        elif line[:1].isupper() and "=" in line:
            name = line.split("=")[0].strip()
            comment = line.partition("#")[2].strip() or " ".join(above)
            value = getattr(defaults_module, name)
            out.append(f"| `{name}` | `{value!r}` | {comment.replace('|', chr(92) + '|')} |")
            above = []
        else:
            above = []
    return "\n".join(out)


def cli_reference() -> str:
    os.environ["COLUMNS"] = "100"  # argparse wraps its help to the terminal: the same page everywhere
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in subparsers._choices_actions}
    out = []
    for name, sub in subparsers.choices.items():
        sub.prog = f"svdgan {name}"
        out += [f"### `svdgan {name}`", "", helps.get(name, ""), "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, **_: object) -> str:
    if "<!-- reference:config -->" in markdown:
        markdown = markdown.replace("<!-- reference:config -->", config_reference())
    if "<!-- reference:defaults -->" in markdown:
        markdown = markdown.replace("<!-- reference:defaults -->", defaults_reference())
    if "<!-- reference:cli -->" in markdown:
        markdown = markdown.replace("<!-- reference:cli -->", cli_reference())
    return markdown
