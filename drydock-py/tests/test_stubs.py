"""The type stubs describe the runtime module: every public name of
``drydock._drydock`` is in ``_drydock.pyi`` and the other way round, with the
same methods on each class."""

import ast
import inspect
import pathlib

import drydock
from drydock import _drydock


def stub_tree():
    path = pathlib.Path(drydock.__file__).with_name("_drydock.pyi")
    return ast.parse(path.read_text())


def test_stub_names_match_the_module():
    tree = stub_tree()
    stubbed = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    stubbed |= {target.id for node in tree.body if isinstance(node, ast.AnnAssign) for target in [node.target]}
    runtime = {name for name in dir(_drydock) if not name.startswith("_") or name == "__version__"}
    assert stubbed == runtime


def test_stub_methods_match_each_class():
    for node in stub_tree().body:
        if not isinstance(node, ast.ClassDef) or issubclass(getattr(_drydock, node.name), Exception):
            continue
        cls = getattr(_drydock, node.name)
        declared = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
        declared |= {item.target.id for item in node.body if isinstance(item, ast.AnnAssign)}
        present = {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")} | ({"__getattr__"} if hasattr(cls, "__getattr__") else set())
        assert declared <= present | {"__getattr__"}, (node.name, declared - present)
        assert {name for name in present if not name.startswith("_")} <= declared, (node.name, present - declared)


def test_types_are_exported_and_typeddicts():
    from drydock import types

    assert set(types.__all__) == {name for name in vars(types) if not name.startswith("_") and name[0].isupper()} - {
        "Any", "Dict", "List", "Optional", "Tuple", "TypedDict", "Union"
    }
    for name in types.__all__:
        kind = getattr(types, name)
        if name != "ValidationMessage":
            assert hasattr(kind, "__required_keys__"), name
