"""The documentation's generated references cover every config key and every command."""

import dataclasses
import importlib.util
from pathlib import Path

from svdgan.cli import build_parser
from svdgan.config import Config

ROOT = Path(__file__).resolve().parents[1]


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_lists_every_key_with_its_comment():
    text = _hooks().config_reference()
    for section in dataclasses.fields(Config):
        for f in dataclasses.fields(section.default_factory):
            assert f"`{section.name}.{f.name}`" in text
    assert "bf16 where the hardware has it natively" in text  # the comment beside train.precision


def test_cli_reference_lists_every_command():
    text = _hooks().cli_reference()
    commands = build_parser()._subparsers._group_actions[0].choices
    assert all(f"### `svdgan {name}`" in text for name in commands) and "--precision" in text


def test_every_page_is_in_the_navigation_and_the_readme_is_short():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages and all(page in nav for page in pages)
    assert len((ROOT / "README.md").read_text().splitlines()) <= 80


def test_defaults_reference_lists_every_shared_default():
    from svdgan import defaults

    text = _hooks().defaults_reference()
    names = [n for n in vars(defaults) if n.isupper()]
    assert names and all(f"| `{n}` | `{getattr(defaults, n)!r}` |" in text for n in names)
    assert "2 s at 5 frames/s" in text  # END_FRAMES's comment, written on the lines above it
