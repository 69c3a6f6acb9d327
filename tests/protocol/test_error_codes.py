"""Every error code written anywhere in the source is an ``ErrorCode`` member, and the spec
documents each member with what the user should do."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xdub.protocol.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("xdub", "daemon", "gui", "plugins")
"""The trees whose Python carries error codes (the tests only compare against them)."""


def _strings(node: ast.expr | None) -> Iterator[str]:
    """String constants an expression can evaluate to (``"a" if x else "b"`` gives both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def _is_code(node: ast.expr) -> bool:
    """``x.code``, ``x["code"]`` or a variable ``code``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "code"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "code"
    return isinstance(node, ast.Name) and node.id == "code"


def _code_first_classes(tree: ast.Module) -> set[str]:
    """Names of the classes whose ``__init__`` takes ``code`` first (importable anywhere)."""
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                params = item.args.posonlyargs + item.args.args
                if len(params) > 1 and params[1].arg == "code":
                    names.add(node.name)
    return names


def _code_first_functions(tree: ast.Module) -> set[str]:
    """Names of the module's functions whose first parameter is ``code``."""
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and (node.args.posonlyargs + node.args.args)[:1]
        and (node.args.posonlyargs + node.args.args)[0].arg == "code"
    }


def _callee(call: ast.Call) -> str:
    if isinstance(call.func, ast.Name):
        return call.func.id
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def error_codes_in(tree: ast.Module, code_first: set[str]) -> Iterator[tuple[str, int]]:
    """(code, line) of every error-code string: ``code="x"``, ``{"code": "x"}``,
    ``code = "x"`` in a class body, ``x.code == "x"``, ``.get("code", "x")`` and the first
    argument of a callable in ``code_first``."""
    for node in ast.walk(tree):
        found: list[str] = []
        if isinstance(node, ast.keyword) and node.arg == "code":
            found += _strings(node.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    found += _strings(value)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.Assign) and any(_is_code(t) for t in item.targets):
                    found += _strings(item.value)
        elif isinstance(node, ast.Compare) and _is_code(node.left):
            for comparator in node.comparators:
                found += _strings(comparator)
        elif isinstance(node, ast.Call):
            args = node.args
            if _callee(node) == "get" and len(args) == 2 and next(_strings(args[0]), "") == "code":
                found += _strings(args[1])
            elif _callee(node) in code_first and args:
                found += _strings(args[0])
        for code in found:
            yield code, getattr(node, "lineno", 0)


def _source_files() -> list[Path]:
    files = []
    for folder in SOURCE_DIRS:
        files += [path for path in (ROOT / folder).rglob("*.py") if "__pycache__" not in path.parts]
    return sorted(files)


def _all_codes() -> dict[str, list[str]]:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in _source_files()}
    classes = set().union(*(_code_first_classes(tree) for tree in trees.values()))
    places: dict[str, list[str]] = {}
    for path, tree in trees.items():
        for code, line in error_codes_in(tree, classes | _code_first_functions(tree)):
            places.setdefault(code, []).append(f"{path.relative_to(ROOT)}:{line}")
    return places


def test_every_error_code_in_the_source_is_an_error_code_member() -> None:
    places = _all_codes()
    members = {code.value for code in ErrorCode}
    loose = {code: where for code, where in places.items() if code not in members}
    assert not loose, f"error codes that are not ErrorCode members: {loose}"
    assert {"no_face", "internal", "out_of_memory", "bad_settings"} <= set(places)


def test_the_scan_finds_each_way_a_code_is_written() -> None:
    source = """
class LinkError(Exception):
    def __init__(self, code, message): ...
class Odd(Exception):
    code = "class_code"
def report(code, text): ...
raise MediaError("m", code="keyword_code" if ok else "other_code")
reply = {"code": "dict_code"}
same = error.code == "compared_code"
got = error.get("code", "default_code")
report("positional_code", "text")
LinkError("init_code", "message")
"""
    tree = ast.parse(source)
    code_first = _code_first_classes(tree) | _code_first_functions(tree)
    codes = {code for code, _ in error_codes_in(tree, code_first)}
    assert codes == {
        "class_code",
        "keyword_code",
        "other_code",
        "dict_code",
        "compared_code",
        "default_code",
        "positional_code",
        "init_code",
    }


@pytest.fixture
def documented(doc_table: Callable[[str], list[list[str]]]) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in doc_table("### Error codes")}


def test_every_member_is_documented_with_what_the_user_should_do(
    documented: dict[str, list[str]],
) -> None:
    assert set(documented) == {code.value for code in ErrorCode}
    undocumented = [code for code, cells in documented.items() if len(cells) < 2 or not all(cells)]
    assert not undocumented, f"codes without a meaning and an action: {undocumented}"
