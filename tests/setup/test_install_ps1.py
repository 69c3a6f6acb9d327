"""installers/install.ps1 cannot run here (no PowerShell in Debian), so it is parsed instead with
the tree-sitter PowerShell grammar: no syntax errors, and nothing that Windows PowerShell 5.1
(the one every Windows 10/11 machine has) lacks."""

from __future__ import annotations

from pathlib import Path

import tree_sitter
import tree_sitter_powershell

INSTALL_PS1 = Path(__file__).resolve().parents[2] / "installers" / "install.ps1"
POWERSHELL_7_ONLY = {"pipeline_chain_tail": "'&&' / '||' between commands"}


def parse(source: bytes) -> tree_sitter.Node:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    return parser.parse(source).root_node


def problems(node: tree_sitter.Node) -> list[str]:
    """Each syntax error, missing token or PowerShell-7-only construct, with its line."""
    found = []
    if node.type == "ERROR" or node.is_missing:
        found.append(f"line {node.start_point.row + 1}: cannot parse {node.text!r}")
    if node.type in POWERSHELL_7_ONLY:
        found.append(f"line {node.start_point.row + 1}: {POWERSHELL_7_ONLY[node.type]}")
    for child in node.children:
        found += problems(child)
    return found


def test_install_ps1_parses_as_windows_powershell() -> None:
    assert problems(parse(INSTALL_PS1.read_bytes())) == []


def test_the_parse_finds_a_broken_script_and_a_powershell_7_operator() -> None:
    source = INSTALL_PS1.read_bytes()
    unclosed = source.replace(b"function Find-Uv {", b"function Find-Uv {{", 1)
    assert problems(parse(unclosed))
    assert any("'&&'" in p for p in problems(parse(source + b"\nuv --version && exit 0\n")))
