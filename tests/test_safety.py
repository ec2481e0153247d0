"""Safety: no unsafe deserialisation, no file read outside the scenario's folder, no network.

A scenario file is input from someone else: loading it must not run code (YAML tags, eval,
pickle), must not read files beside or above its folder, and no command may open a network
connection unless it is pointed at a Dask scheduler.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from sim.errors import ScenarioError, UserError
from sim.jobs import JobSpec, plan_job
from sim.scenario import load_scenario
from tests.conftest import DATA, ROOT, TINY, negsim_command

SIM = ROOT / "sim"

# --- a source scan for unsafe calls ------------------------------------------------------------

CODE_RUNNERS = {"eval", "exec", "compile", "__import__"}
PICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "joblib", "shelve", "jsonpickle"}
UNSAFE_YAML_NAMES = {"Loader", "FullLoader", "UnsafeLoader", "CLoader", "CFullLoader", "CUnsafeLoader",
                     "Constructor", "FullConstructor", "UnsafeConstructor", "unsafe_load", "unsafe_load_all",
                     "full_load", "full_load_all"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def unsafe_calls(source: str, module: str | None = None) -> list[str]:
    """Every unsafe construct in `source`: code runners, unpickling, YAML loaders that build objects.

    A `yaml.load(..., Loader=X)` is allowed only if X, looked up in `module`, is a SafeLoader kind
    (its constructor is SafeConstructor, not the Full or Unsafe one that builds Python objects).
    """
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            base, _, attr = name.rpartition(".")
            if name in CODE_RUNNERS:
                found.append(f"{where}: {name}()")
            if base.split(".")[-1] in PICKLERS or name in PICKLERS or attr in ("read_pickle", "to_pickle"):
                found.append(f"{where}: {name}()")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where}: {name}(allow_pickle=...)")
                if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where}: {name}(shell=...)")
            if name in ("os.system", "os.popen"):
                found.append(f"{where}: {name}()")
            if name in ("yaml.load", "yaml.load_all", "yaml.compose", "yaml.compose_all"):
                loader = next((kw.value for kw in node.keywords if kw.arg == "Loader"),
                              node.args[1] if len(node.args) > 1 else None)
                if loader is None or not _is_safe_loader(_dotted(loader), module):
                    found.append(f"{where}: {name}() without a SafeLoader")
        if isinstance(node, ast.Attribute) and _dotted(node.value) == "yaml" and node.attr in UNSAFE_YAML_NAMES:
            found.append(f"{where}: yaml.{node.attr}")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in PICKLERS for n in names):
                found.append(f"{where}: import {', '.join(n for n in names if n)}")
            imported = {a.name for a in node.names}
            if isinstance(node, ast.ImportFrom) and node.module == "yaml" and imported & UNSAFE_YAML_NAMES:
                found.append(f"{where}: from yaml import {', '.join(a.name for a in node.names)}")
    return found


def _is_safe_loader(dotted: str, module: str | None) -> bool:
    if module is None:
        return dotted in ("yaml.SafeLoader", "yaml.CSafeLoader")
    obj = importlib.import_module(module)
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return isinstance(obj, type) and _safe_kind(obj)


def _safe_kind(cls: type) -> bool:
    return issubclass(cls, yaml.constructor.SafeConstructor) and not issubclass(cls, yaml.constructor.FullConstructor)


def sources() -> list[Path]:
    return sorted(SIM.rglob("*.py"))


def test_the_scanner_catches_what_it_should():
    bad = textwrap.dedent("""
        import pickle
        import yaml
        from yaml import FullLoader
        x = eval("1 + 1")
        exec("y = 2")
        data = yaml.load(text)
        data = yaml.load(text, Loader=yaml.Loader)
        data = yaml.unsafe_load(text)
        obj = pickle.loads(blob)
        arr = np.load(path, allow_pickle=True)
        df = pd.read_pickle(path)
        subprocess.run(cmd, shell=True)
        os.system("rm -rf /")
    """)
    found = unsafe_calls(bad)
    assert len(found) == 13, found
    good = "import yaml\ndata = yaml.load(text, Loader=yaml.SafeLoader)\nd = yaml.safe_load(t)\nre.compile('x')\n"
    assert unsafe_calls(good) == []


def test_the_sources_use_only_safe_loading():
    files = sources()
    assert len(files) >= 20 and SIM / "scenario" / "yamlsrc.py" in files
    problems = []
    for path in files:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        problems += [f"{path.relative_to(ROOT)}: {p}" for p in unsafe_calls(path.read_text(), module)]
    assert problems == []


def test_every_yaml_loader_in_the_sources_is_a_safe_one():
    """Loader classes defined in sim/ derive from SafeLoader and know no python/* tags."""
    loaders = []
    for path in sources():
        tree = ast.parse(path.read_text())
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(tree):
            bases = [_dotted(b) for b in getattr(node, "bases", ())]
            if isinstance(node, ast.ClassDef) and any("yaml" in b or "Loader" in b for b in bases):
                loaders.append(getattr(importlib.import_module(module), node.name))
    assert loaders, "expected the scenario reader's loader class"
    for cls in loaders:
        assert issubclass(cls, yaml.SafeLoader) and _safe_kind(cls), cls
        tags = set(cls.yaml_constructors) | set(cls.yaml_multi_constructors)
        assert not [t for t in tags if t and "python/" in t], cls


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system [\"touch {marker}\"]",
    "!!python/object/new:os.system [\"touch {marker}\"]",
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:pathlib.Path {{}}",
])
def test_python_tags_in_a_scenario_run_nothing(tmp_path, tag):
    marker = tmp_path / "PWNED"
    shutil.copy(DATA / "tiny_source.txt", tmp_path / "tiny_source.txt")
    text = TINY.read_text().replace("  title: Tiny test scenario", "  title: " + tag.format(marker=marker))
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert not marker.exists()
    assert any(p.line == 4 for p in info.value.problems), info.value


# --- nothing outside the scenario's folder ------------------------------------------------------

QUOTE = "alpha wants land"  # quoted by tiny.yaml from source `notes`


class OpenRecorder:
    """Audit hook recording every file this process opens while `active`."""

    def __init__(self):
        self.active = False
        self.opened: list[str] = []
        sys.addaudithook(self)

    def __call__(self, event: str, args: tuple) -> None:
        if self.active and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            self.opened.append(os.fsdecode(args[0]))


@pytest.fixture(scope="module")
def recorder() -> OpenRecorder:
    return OpenRecorder()


@pytest.fixture
def layout(tmp_path):
    """tmp/outside/secret.txt (holds every quote, so a read would "pass"), tmp/scenario/ with the scenario."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text((DATA / "tiny_source.txt").read_text())
    folder = tmp_path / "scenario"
    folder.mkdir()
    shutil.copy(DATA / "tiny_source.txt", folder / "tiny_source.txt")
    return folder, secret


def scenario_with_source(folder: Path, source_path: str) -> Path:
    path = folder / "s.yaml"
    path.write_text(TINY.read_text().replace("path: tiny_source.txt", f"path: '{source_path}'"))
    return path


def escapes(folder: Path, secret: Path) -> dict[str, str]:
    (folder / "link.txt").symlink_to(secret)
    (folder / "linkdir").symlink_to(secret.parent, target_is_directory=True)
    (folder / "sub").mkdir()
    return {
        "parent": "../outside/secret.txt",
        "absolute": str(secret),
        "symlink to a file outside": "link.txt",
        "symlink to a folder outside": "linkdir/secret.txt",
        "down and back up": "sub/../../outside/secret.txt",
        "home": "~/.bashrc",
    }


def test_a_source_path_cannot_escape_the_scenario_folder(layout, recorder):
    folder, secret = layout
    recorder.active = True  # control: a source inside is opened (its quotes are checked), and seen
    try:
        load_scenario(scenario_with_source(folder, "tiny_source.txt"))
    finally:
        recorder.active = False
    assert str(folder / "tiny_source.txt") in recorder.opened
    for label, rel in escapes(folder, secret).items():
        path = scenario_with_source(folder, rel)
        recorder.opened.clear()
        recorder.active = True
        try:
            with pytest.raises(ScenarioError) as info:
                load_scenario(path)
        finally:
            recorder.active = False
        messages = [str(p) for p in info.value.problems]
        if label == "home":  # taken literally: a folder named "~" inside, which does not exist
            assert messages == [f"{path}:12: sources.notes.path: no file '~/.bashrc' next to the scenario"], messages
            continue
        assert messages == [f"{path}:12: sources.notes.path: {rel!r} points outside the scenario's folder"], label
        assert not any(Path(p).resolve() == secret.resolve() for p in recorder.opened), (label, recorder.opened)
        assert not any("quote" in m for m in messages)  # the quote was not checked against the outside file


def test_paths_that_stay_inside_are_fine(layout):
    folder, _ = layout
    (folder / "docs").mkdir()
    shutil.copy(DATA / "tiny_source.txt", folder / "docs" / "notes.txt")
    (folder / "inner.txt").symlink_to(folder / "docs" / "notes.txt")
    for rel in ("docs/notes.txt", "./docs/../tiny_source.txt", "inner.txt"):
        assert load_scenario(scenario_with_source(folder, rel)).scenario.sources["notes"].path == rel


def test_overrides_cannot_point_a_source_outside_either(layout):
    folder, secret = layout
    path = scenario_with_source(folder, "tiny_source.txt")
    with pytest.raises(UserError, match="points outside the scenario's folder"):
        plan_job(JobSpec(scenario=str(path), sets=(f"sources.notes.path={secret}",), runs=2))
    with pytest.raises(UserError, match="points outside the scenario's folder"):
        plan_job(JobSpec(scenario=str(path), grids=("sources.notes.path=tiny_source.txt,../outside/secret.txt",),
                         runs=2))


# --- no network ----------------------------------------------------------------------------------

SITECUSTOMIZE = '''
"""Installed by tests/test_safety.py: record and refuse every network connection (AF_UNIX is allowed)."""
import os
import socket

_LOG = os.environ["NEGSIM_NET_LOG"]
with open(os.environ["NEGSIM_NET_PIDS"], "a") as _f:
    _f.write(f"{os.getpid()}\\n")


def _refuse(what):
    with open(_LOG, "a") as f:
        f.write(f"pid {os.getpid()}: {what}\\n")
    raise ConnectionRefusedError(f"network disabled by the negsim safety test: {what}")


_connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
_create_connection, _getaddrinfo = socket.create_connection, socket.getaddrinfo
_LOCAL = (None, "", "localhost", "127.0.0.1", "::1")


def connect(self, address):
    if self.family != socket.AF_UNIX:
        _refuse(f"connect {self.family!r} {address!r}")
    return _connect(self, address)


def connect_ex(self, address):
    if self.family != socket.AF_UNIX:
        _refuse(f"connect_ex {self.family!r} {address!r}")
    return _connect_ex(self, address)


def sendto(self, *args):
    if self.family != socket.AF_UNIX:
        _refuse(f"sendto {self.family!r} {args[-1]!r}")
    return _sendto(self, *args)


def create_connection(address, *args, **kwargs):
    _refuse(f"create_connection {address!r}")


def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL:
        _refuse(f"getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo
'''


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """(env, log, pids): an environment whose Python processes refuse and log network connections."""
    site = tmp_path_factory.mktemp("site")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log, pids = site / "connections.log", site / "pids.log"
    # The numpy engine, whose local workers are processes (the compiled engine's are threads of the
    # guarded main process): the guard must be seen loaded in the forkserver and the workers too.
    env = dict(os.environ, NEGSIM_NET_LOG=str(log), NEGSIM_NET_PIDS=str(pids), MPLBACKEND="Agg", NEGSIM_ENGINE="numpy",
               PYTHONPATH=os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return env, log, pids


def test_the_network_guard_works(offline):
    env, log, pids = offline
    probe = subprocess.run([sys.executable, "-c", "import socket; socket.socket().connect(('192.0.2.1', 80))"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert probe.returncode != 0 and "network disabled by the negsim safety test" in probe.stderr
    assert "192.0.2.1" in log.read_text()
    log.unlink()
    pids.unlink()


def test_no_command_opens_a_network_connection(tmp_path, offline):
    env, log, pids = offline
    out = tmp_path / "run"

    def negsim(*args):
        result = subprocess.run(negsim_command() + [str(a) for a in args], capture_output=True, text=True,
                                env=env, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "network disabled" not in result.stderr, (args, result.stderr)
        return result

    negsim("validate", TINY)
    negsim("explain", TINY)
    negsim("evaluate", TINY, "--json")
    negsim("analyze", TINY)
    negsim("run", TINY, "--runs", 20, "--workers", 1, "--out", tmp_path / "serial")
    negsim("run", TINY, "--runs", 40, "--chunk", 10, "--workers", 2, "--out", out)
    negsim("sweep", TINY, "--grid", "protocol.temperature=0,0.05", "--runs", 10, "--workers", 2, "--out",
           tmp_path / "sweep")
    negsim("plot", out)
    report = negsim("report", out).stdout.strip().splitlines()[-1]
    negsim("rerun", tmp_path / "sweep", "--workers", 2)
    assert not log.exists() or log.read_text() == "", log.read_text()
    # the guard was loaded in the forkserver and the pool's workers too, not just the main processes
    assert len(set(pids.read_text().split())) >= 10 + 2 * 3
    # and the report is self-contained: it makes the reader's browser fetch nothing either
    html = Path(report).read_text()
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"<link[^>]*\shref=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"url\([\"']?(https?:)?//", html, re.I) and "@import" not in html
