"""The documentation cannot drift from the API: every fenced ``python`` block of README.md and
docs/**/*.md runs here (the blocks of one page in order, in one namespace, in a temporary folder),
every example in a public docstring runs as a doctest, and every public name has an entry in the
API reference.  A block preceded by ``<!-- docs-test: script -->`` is a script (it spawns worker
processes under ``if __name__ == "__main__"``) and runs as one in a subprocess, marked slow."""
import doctest
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"(?:<!-- docs-test: (?P<mark>[\w ]+) -->\n)?```python\n(?P<code>.*?)```", re.S)
OPTIONAL = {"torch", "dask", "distributed", "h5py", "matplotlib"}


def blocks(page: Path):
    return [(m.group("mark") or "", m.group("code")) for m in FENCE.finditer(page.read_text())]


def _ids(pages):
    return [str(p.relative_to(ROOT)) for p in pages]


def test_pages_found():
    assert (ROOT / "docs" / "index.md") in PAGES and len(PAGES) > 10


@pytest.mark.parametrize("page", [p for p in PAGES if any(not m for m, _ in blocks(p))],
                         ids=_ids([p for p in PAGES if any(not m for m, _ in blocks(p))]))
def test_page_examples_run(page, tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "docs_example"}
    for i, (mark, code) in enumerate(blocks(page)):
        if mark:
            assert mark.strip() == "script", f"{page.name}: unknown docs-test mark {mark!r}"
            continue
        try:
            exec(compile(code, f"{page.name}[block {i + 1}]", "exec"), ns)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.split(".")[0] in OPTIONAL:
                pytest.skip(f"{page.name}: needs {exc.name}")
            raise
    import matplotlib.pyplot as plt
    plt.close("all")


SCRIPTS = [(p, i) for p in PAGES for i, (m, _) in enumerate(blocks(p)) if "script" in m]


@pytest.mark.slow
@pytest.mark.parametrize("page,index", SCRIPTS, ids=[f"{p.name}-{i + 1}" for p, i in SCRIPTS])
def test_script_examples_run(page, index, tmp_path):
    script = tmp_path / "example.py"
    script.write_text(blocks(page)[index][1])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]


def documented_objects():
    """Every ``::: dotted.name`` of the API reference pages."""
    names = []
    for page in sorted((ROOT / "docs" / "api").glob("*.md")):
        names += re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M)
    return names


def test_api_entries_are_functions_and_classes():
    """A re-exported name that is also the name of its module (``fastcca.cca`` is the function
    ``cca`` of the module ``fastcca.measures.cca``) makes mkdocstrings document the module; such
    entries must name the object's own path (with a ``heading`` option for the short name)."""
    import inspect
    for name in documented_objects():
        obj = resolve(name)
        assert not inspect.ismodule(obj), f"{name} is a module"
        own = f"{obj.__module__}.{obj.__qualname__}"
        if obj.__module__.rsplit(".", 1)[-1] == obj.__qualname__:
            assert name == own, f"{name}: write '::: {own}' (its module has the same name)"


def resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def public_names():
    import fastcca
    names = {f"fastcca.{n}" for n in fastcca.__all__}
    for mod in ("fastcca.torch", "fastcca.dask", "fastcca.plot"):
        m = importlib.import_module(mod)
        names |= {f"{mod}.{n}" for n, o in vars(m).items()
                  if not n.startswith("_") and callable(o) and getattr(o, "__module__", "") == mod}
    return names


def test_every_public_name_is_in_the_api_reference():
    pytest.importorskip("torch")
    pytest.importorskip("dask")
    documented = {id(resolve(name)) for name in documented_objects()}   # no stale entry
    missing = sorted(n for n in public_names() if id(resolve(n)) not in documented)
    assert not missing, f"public names without an API reference entry: {missing}"


def test_docstring_examples_run(monkeypatch, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("dask")
    import matplotlib
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    finder, runner = doctest.DocTestFinder(recurse=True), doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0
    for name in documented_objects():
        obj = resolve(name)
        for test in finder.find(obj, name, globs={}):
            if test.examples:
                runner.run(test)
                ran += len(test.examples)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring examples failed (see the output above)"
    assert ran > 0


def _sections(doc: str) -> set:
    return set(re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, re.M))


def test_every_api_entry_has_a_numpy_docstring():
    """No empty entry in the API reference: functions state Parameters, Returns, Raises, Notes
    and Examples; classes their Parameters or Attributes, Notes and Examples; every public
    method and property of a documented class has a docstring."""
    import inspect
    pytest.importorskip("torch")
    pytest.importorskip("dask")
    problems = []
    for name in documented_objects():
        obj = resolve(name)
        doc = inspect.getdoc(obj) or ""
        have = _sections(doc)
        if inspect.isclass(obj) and issubclass(obj, (Exception, Warning)):
            need = {"Notes", "Examples"}
        elif inspect.isclass(obj):
            need = {"Notes", "Examples"}
            if not have & {"Parameters", "Attributes"}:
                problems.append(f"{name}: no Parameters or Attributes section")
        else:
            need = {"Parameters", "Returns", "Raises", "Notes", "Examples"}
        if need - have:
            problems.append(f"{name}: missing {sorted(need - have)}")
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                fn = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
                if (callable(fn) or isinstance(member, property)) and not (inspect.getdoc(fn) or "").strip():
                    problems.append(f"{name}.{attr}: no docstring")
    assert not problems, "\n".join(problems)


def test_shared_docstring_entries_expand_in_place():
    """A placeholder line stands for its shared entry, indented as the line; an unknown name is
    an error that names it; the public functions read the full text (``help()``), and the
    static docstrings the API reference reads expand to the same text (the griffe hook)."""
    import inspect

    import fastcca
    from fastcca._docstrings import SHARED, expand
    doc = "Summary.\n\n    Parameters\n    ----------\n    %(backend)s\n    k : int\n        Count.\n"
    want = "\n".join("    " + line for line in SHARED["backend"].split("\n"))
    assert expand(doc) == doc.replace("    %(backend)s", want)
    assert expand("a\n%(conv_layout)s") == "a\n" + SHARED["conv_layout"]
    with pytest.raises(KeyError, match="nope"):
        expand("    %(nope)s")
    for name in documented_objects():
        assert "%(" not in (inspect.getdoc(resolve(name)) or ""), name
    for fn, key in [(fastcca.cca, "precision"), (fastcca.svcca, "xy"), (fastcca.conv_svcca, "conv_mode")]:
        assert SHARED[key] in inspect.getdoc(fn)
        source_doc = inspect.cleandoc(ast_docstring(fn))
        assert f"%({key})s" in source_doc and expand(source_doc) == inspect.getdoc(fn)


def ast_docstring(fn) -> str:
    """The docstring as written in the source (what griffe reads), before any expansion."""
    import ast
    import inspect
    tree = ast.parse(Path(inspect.getsourcefile(fn)).read_text())
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == fn.__name__)
    return ast.get_docstring(node, clean=False)
