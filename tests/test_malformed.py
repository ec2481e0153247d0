"""The malformed-scenario corpus (tests/malformed/): every file is refused with a located,
one-line message, through the installed `negsim validate` and through the library.

Each corpus file is tiny.yaml with one kind of problem and a header naming what must be
reported: `# expect: <substring of the message>`, optionally followed by `# line: N` and
`# field: dotted.path` (a file may list several expectations; each `# line:`/`# field:`
belongs to the `# expect:` above it). Files that cannot carry a header (empty,
whitespace-only) are listed in HEADERLESS. Positive cases (a byte-order mark, Windows line
endings, options called `no`/`off`) live apart, in tests/malformed/valid/, and must load.
A file over the size limit is generated into a temporary folder rather than committed.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.scenario.yamlsrc import MAX_BYTES
from tests.conftest import TINY, negsim_command

CORPUS = Path(__file__).resolve().parent / "malformed"
VALID = CORPUS / "valid"
FILES = sorted(CORPUS.glob("*.yaml"))
HEADERLESS = {"empty.yaml": ["file is empty"], "whitespace_only.yaml": ["file is empty"]}

# "Within a second": the loader must refuse any of these files in well under a second. These
# are wall-clock bounds on a shared machine, so they are generous (typical: 0.01-0.1 s per file
# in-process, ~0.5 s start-up for the console script).
IN_PROCESS_LIMIT = 1.0
SUBPROCESS_LIMIT = 2.0  # one `negsim validate` process: start-up plus the work
PER_FILE_ALLOWANCE = 0.05  # ...plus this much per file, since all files go through one process


@dataclass(frozen=True)
class Expect:
    message: str
    line: int | None = None
    field: str | None = None


def expectations(path: Path) -> list[Expect]:
    """The `# expect:` / `# line:` / `# field:` header of a corpus file."""
    if path.name in HEADERLESS:
        return [Expect(m) for m in HEADERLESS[path.name]]
    out: list[dict] = []
    for raw in path.read_bytes()[:4000].decode("utf-8", "replace").lstrip("\ufeff").splitlines():
        m = re.match(r"# (expect|line|field): (.*?)\s*$", raw)
        if not m:
            if raw.startswith("#"):
                continue
            break
        key, value = m.groups()
        if key == "expect":
            out.append({"message": value})
        else:
            assert out, f"{path.name}: # {key}: before any # expect:"
            out[-1][key] = int(value) if key == "line" else value
    return [Expect(**e) for e in out]


@pytest.fixture(scope="module")
def huge_file(tmp_path_factory) -> Path:
    """A scenario just over the size limit (generated, not committed)."""
    path = tmp_path_factory.mktemp("huge") / "huge.yaml"
    body = TINY.read_text()
    filler = "# " + "x" * 98 + "\n"
    path.write_text("# expect: the limit is\n" + body + filler * ((MAX_BYTES - len(body)) // len(filler) + 10))
    assert path.stat().st_size > MAX_BYTES
    return path


@pytest.fixture(scope="module")
def cli_run(huge_file):
    """ONE `negsim validate` over the whole corpus (and the huge file): it reports every problem
    of every file, and costs one process start-up instead of one per file."""
    files = [*FILES, huge_file]
    start = time.perf_counter()
    proc = subprocess.run([*negsim_command(), "validate", *map(str, files)], capture_output=True, text=True,
                          timeout=120)
    elapsed = time.perf_counter() - start
    return files, proc, elapsed


@pytest.fixture(scope="module", autouse=True)
def _warm_up():
    # The first load imports the strategy registry (numpy and friends); time only the loader.
    load_scenario(TINY)


def test_corpus_is_large_and_annotated():
    assert len(FILES) >= 40, f"only {len(FILES)} malformed scenario files"
    for path in FILES:
        assert expectations(path), f"{path.name} has no '# expect:' header"
    assert (CORPUS / "tiny_source.txt").is_file()


def test_cli_refuses_the_whole_corpus(cli_run):
    files, proc, elapsed = cli_run
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stdout == "", f"a malformed file validated:\n{proc.stdout}"
    names = [str(f) for f in files]
    for line in proc.stderr.splitlines():  # every line of output is one problem of one file
        assert any(line.startswith(name + ":") for name in names), f"stray output: {line!r}"
    assert elapsed < SUBPROCESS_LIMIT + PER_FILE_ALLOWANCE * len(files), f"negsim validate took {elapsed:.2f} s"


def problem_lines(stderr: str, path: Path) -> list[tuple[int | None, str]]:
    """(line, rest) for each line `path:LINE: rest` or `path: rest` of the output."""
    out = []
    for text in stderr.splitlines():
        if text.startswith(f"{path}:"):
            rest = text[len(str(path)) + 1:]
            m = re.match(r"(\d+): (.+)$", rest)
            out.append((int(m.group(1)), m.group(2)) if m else (None, rest.removeprefix(" ")))
    return out


def check_reported(path: Path, reported: list[tuple[int | None, str, str]]) -> None:
    """Each expectation is met by one reported (line, field, message)."""
    assert reported, f"{path.name}: nothing reported"
    for exp in expectations(path):
        hits = [(line, field, msg) for line, field, msg in reported if exp.message in f"{field}: {msg}"]
        assert hits, f"{path.name}: no problem mentions {exp.message!r}; got {reported}"
        if exp.line is not None:
            assert any(line == exp.line for line, _, _ in hits), f"{path.name}: expected line {exp.line}; got {hits}"
        if exp.field is not None:
            assert any(field == exp.field for _, field, _ in hits), f"{path.name}: expected {exp.field}; got {hits}"


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_cli_reports_the_file(cli_run, path):
    _, proc, _ = cli_run
    lines = problem_lines(proc.stderr, path)
    assert lines, f"negsim validate said nothing about {path.name}"
    for line, rest in lines:
        assert rest.strip(), f"{path.name}: empty message"
        assert line is None or line >= 1
    # `file:LINE: field: message` when a field is declared (fields never contain ': ').
    reported = []
    for line, rest in lines:
        field, sep, msg = rest.partition(": ")
        reported.append((line, field, msg) if sep else (line, "", rest))
    check_reported(path, reported)
    if any(e.line is not None for e in expectations(path)):
        assert any(line is not None for line, _ in lines)


def test_cli_reports_the_huge_file(cli_run, huge_file):
    _, proc, _ = cli_run
    assert problem_lines(proc.stderr, huge_file) == [
        (None, f"file is {huge_file.stat().st_size:,} bytes; the limit is {MAX_BYTES:,}")]


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_library_refuses_the_file_within_a_second(path):
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    elapsed = time.perf_counter() - start
    assert elapsed < IN_PROCESS_LIMIT, f"{path.name}: load_scenario took {elapsed:.2f} s"
    problems = info.value.problems
    for problem in problems:
        assert problem.file == str(path) and problem.message.strip()
        assert "\n" not in str(problem) and "\r" not in str(problem)
    check_reported(path, [(p.line, p.field, p.message) for p in problems])


def test_library_refuses_the_huge_file_within_a_second(huge_file):
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="the limit is"):
        load_scenario(huge_file)
    assert time.perf_counter() - start < IN_PROCESS_LIMIT


def test_two_problems_are_two_lines(cli_run):
    _, proc, _ = cli_run
    lines = problem_lines(proc.stderr, CORPUS / "two_problems.yaml")
    assert len(lines) == 2 and lines[0][0] != lines[1][0]


# --- positive cases: these must load --------------------------------------------------------

VALID_FILES = sorted(VALID.glob("*.yaml"))


def test_valid_variants_pass_negsim_validate():
    assert {f.name for f in VALID_FILES} >= {"bom.yaml", "crlf.yaml", "option_no_off.yaml"}
    proc = subprocess.run([*negsim_command(), "validate", *map(str, VALID_FILES)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert [line.split(": OK: ")[0] for line in proc.stdout.splitlines()] == [str(f) for f in VALID_FILES]


@pytest.mark.parametrize("name", ["bom.yaml", "crlf.yaml"])
def test_bom_and_windows_line_endings_load_like_tiny(name):
    loaded = load_scenario(VALID / name)
    assert loaded.scenario == load_scenario(TINY).scenario
    # Line numbers count the same with CRLF and after a BOM (the header adds no line: it
    # replaces tiny.yaml's own first comment line).
    tiny = load_scenario(TINY).srcmap.lines
    assert loaded.srcmap.lines == tiny


def test_options_called_no_and_off_stay_strings():
    sc = load_scenario(VALID / "option_no_off.yaml").scenario
    assert list(sc.issues["guarantees"].options) == ["no", "off", "yes", "on"]
    assert sc.issues["guarantees"].default == "no"
    assert sc.proposals["split"].options["guarantees"] == "yes"
    assert sc.actors["alpha"].interactions[0].when.options == ("no", "off")
