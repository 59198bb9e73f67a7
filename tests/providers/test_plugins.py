"""Providers offered by installed packages through entry points are found by name."""

from pathlib import Path

import pytest

from leadgen.errors import ConfigurationError
from leadgen.providers import auditor, lead_source

PLUGIN = """
class EchoSource:
    name = "echo"

    def __init__(self, argument):
        self.argument = argument

    async def find(self, query, location, limit):
        return []


def make(argument):
    return EchoSource(argument)
"""


def install_plugin(root: Path, group: str, name: str) -> None:
    """Lay out an installed distribution offering ``name`` in entry-point ``group``."""
    (root / "leadgen_echo_plugin.py").write_text(PLUGIN)
    info = root / "leadgen_echo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: leadgen-echo-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = leadgen_echo_plugin:make\n")


def test_lead_source_from_an_installed_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lead source named in ``leadgen.lead_sources`` is built with the spec's argument."""
    install_plugin(tmp_path, "leadgen.lead_sources", "echo-test")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = lead_source("echo-test:hello")
    assert source.name == "echo"
    assert source.argument == "hello"  # type: ignore[attr-defined]


def test_plugin_group_is_per_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lead-source plugin is not an auditor: the name stays unknown there."""
    install_plugin(tmp_path, "leadgen.lead_sources", "echo-only-source")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigurationError, match="unknown auditor 'echo-only-source'"):
        auditor("echo-only-source")
