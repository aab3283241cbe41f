"""Deliberate copies stay equal to their source (the `transformers` convention, utils/check_copies.py).

A file that travels to the Hub alone (modeling/, processing/, the pipeline files) cannot import from the package, so
a definition it shares is copied and marked on the line above it:

    # Copied from mcn_cl.processing.inputs_mcn_cl.MODALITIES
    MODALITIES = ("text", "audio", "visual")

    # Copied from mcn_cl.modeling.some_module.masked_mean with masked_mean->_masked_mean, values->x
    def _masked_mean(x, mask): ...

The marker names the source by its import path (`mcn_cl.<module>.<name>[.<method>]`, the module is imported to find
its file); `with A->B, C->D` lists renames (whole identifiers) applied to the source before comparing. Functions,
classes, methods and module-level assignments are compared as code (`ast`): comments, formatting and docstrings may
differ, nothing else.
"""

from __future__ import annotations

import ast
import importlib
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEARCHED = ("modeling", "processing", "src", "datasets_scripts")
MARKER = re.compile(r"^\s*# Copied from (mcn_cl(?:\.\w+)+)(?:\s+with\s+(.+?))?\s*$")
RENAME = re.compile(r"^(\w+)\s*->\s*(\w+)$")
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Assign | ast.AnnAssign


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def find_markers(source: str) -> list[tuple[int, str, list[tuple[str, str]], ast.AST | None]]:
    """(line, source path, renames, the marked definition or None) for each marker of a file's text."""
    tree = ast.parse(source)
    definitions = sorted(
        (n for n in ast.walk(tree) if isinstance(n, Definition)), key=lambda n: _first_line(n)
    )
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = MARKER.match(line)
        if not match:
            continue
        renames = []
        for part in (match[2] or "").split(","):
            if part.strip():
                rename = RENAME.match(part.strip())
                if rename is None:
                    raise ValueError(f"line {number}: bad rename {part.strip()!r} (expected Old->New)")
                renames.append((rename[1], rename[2]))
        marked = next((n for n in definitions if _first_line(n) > number), None)
        # the marker must sit right above the definition (comments / blank lines between are allowed)
        if marked is not None:
            between = source.splitlines()[number : _first_line(marked) - 1]
            if any(text.strip() and not text.strip().startswith("#") for text in between):
                marked = None
        found.append((number, match[1], renames, marked))
    return found


def resolve(path: str) -> ast.AST:
    """The definition named by `mcn_cl.<module>.<name>[.<attr>]`: the longest importable module prefix, then the
    names inside its file."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        break
    else:
        raise LookupError(f"no importable module in {path!r}")
    with open(module.__file__, encoding="utf-8") as f:
        body = ast.parse(f.read()).body
    node = None
    for name in parts[cut:]:
        node = next((n for n in body if isinstance(n, Definition) and name in _names(n)), None)
        if node is None:
            raise LookupError(f"{path}: {name!r} not defined in {module.__file__}")
        body = getattr(node, "body", [])
    return node


def _without_docstrings(node: ast.AST) -> ast.AST:
    node = ast.parse(ast.unparse(node)).body[0]  # a fresh copy
    for n in ast.walk(node):
        body = getattr(n, "body", None)
        if (
            isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            n.body = body[1:] or [ast.Pass()]
    return node


def normalised(node: ast.AST, renames: list[tuple[str, str]] = ()) -> str:
    text = ast.unparse(_without_docstrings(node))
    for old, new in renames:
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return ast.unparse(ast.parse(text))


def _marked_files() -> list[str]:
    files = []
    for top in SEARCHED:
        for root, dirs, names in os.walk(os.path.join(REPO, top)):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            files += [os.path.join(root, n) for n in names if n.endswith(".py")]
    return sorted(f for f in files if "# Copied from" in open(f, encoding="utf-8").read())


MARKED_FILES = _marked_files()


def test_the_repo_has_marked_copies():
    # the known ones: the pipelines' and model configs' copies of processing's shared constants
    names = {os.path.relpath(f, REPO) for f in MARKED_FILES}
    assert {
        "src/mcn_cl/pipeline_base.py",
        "modeling/configuration_mcn_cl.py",
        "modeling/configuration_mcihn.py",
    } <= names, names


@pytest.mark.parametrize("path", MARKED_FILES, ids=lambda f: os.path.relpath(f, REPO))
def test_every_marked_copy_equals_its_source(path):
    with open(path, encoding="utf-8") as f:
        markers = find_markers(f.read())
    assert markers, f"{path}: '# Copied from' in a form the checker does not read"
    for line, source_path, renames, copy in markers:
        where = f"{os.path.relpath(path, REPO)}:{line}"
        assert copy is not None, f"{where}: the marker is not right above a function, class or assignment"
        source = resolve(source_path)
        assert normalised(copy) == normalised(source, renames), (
            f"{where}: the copy of {source_path} differs from its source; update it (or the source) so that "
            f"they match, or remove the marker if the difference is intended\n--- source (renamed)\n"
            f"{normalised(source, renames)}\n--- copy\n{normalised(copy)}"
        )


# --------------------------------------------------------------------------------------- the checker itself

SOURCE = '''
def masked_mean(values, mask):
    """Mean over the real positions."""
    return (values * mask).sum() / mask.sum().clamp(min=1)
'''


def _copy(
    body: str, marker: str = "# Copied from mcn_cl.x.masked_mean with masked_mean->_mean, values->x"
) -> str:
    return f"import torch\n\n\n{marker}\n{body}"


def test_the_checker_accepts_a_renamed_copy_and_rejects_a_changed_one():
    source = ast.parse(SOURCE).body[0]
    same = _copy(
        "def _mean(x, mask):\n    # differently commented, no docstring\n    return (x * mask).sum() / mask.sum().clamp(min=1)\n"
    )
    ((_, path, renames, copy),) = find_markers(same)
    assert path == "mcn_cl.x.masked_mean" and renames == [("masked_mean", "_mean"), ("values", "x")]
    assert normalised(copy) == normalised(source, renames)

    changed = _copy("def _mean(x, mask):\n    return (x * mask).sum() / mask.sum().clamp(min=1e-6)\n")
    ((_, _, renames, copy),) = find_markers(changed)
    assert normalised(copy) != normalised(source, renames)
    # without the rename, the names differ
    ((_, _, _, copy),) = find_markers(_copy(SOURCE, "# Copied from mcn_cl.x.masked_mean"))
    assert normalised(copy) == normalised(source)
    assert normalised(copy) != normalised(source, [("values", "x")])


def test_a_marker_away_from_a_definition_is_reported():
    ((_, _, _, copy),) = find_markers("# Copied from mcn_cl.x.y\nprint(1)\ndef y():\n    pass\n")
    assert copy is None


def test_resolve_reads_the_module_named_in_the_marker():
    node = resolve("mcn_cl.processing.inputs_mcn_cl.MODALITIES")
    assert ast.literal_eval(node.value) == ("text", "audio", "visual")
    method = resolve("mcn_cl.processing.processing_mcn_cl.MCNCLProcessor.pad_dialogues")
    assert isinstance(method, ast.FunctionDef) and method.name == "pad_dialogues"
    with pytest.raises(LookupError):
        resolve("mcn_cl.processing.inputs_mcn_cl.NO_SUCH_NAME")
