"""Every row of docs/bad-inputs.md, tested from the document: a row with a command runs it and finds its message
on stderr; a row without one names tests that exist."""
import importlib
import re
import shlex
from pathlib import Path

import pytest

from conftest import smoke_stream

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "bad-inputs.md").read_text()
REQUIRED = {  # what each script needs beside the row's options: the small stream and its generator
    "split_cifar100": ["--preset", "smoke", "--dataset", "{dataset}", "--generator", "{generator}", "--experiences",
                       "2", "--out-dir", "{out}", "--no-progress"],
    "pretrain_generator": ["--dataset", "{dataset}", "--out", "{out}/g.pt", "--no-progress"],
    "score_generators": [],
    "condense_dataset": ["--dataset", "{dataset}", "--generator", "{generator}", "--out", "{out}/m.pt"],
    "synthetic_training": ["--dataset", "{dataset}", "--generator", "{generator}", "--out", "{out}"],
    "budget_sweep": ["--dataset", "{dataset}", "--generator", "{generator}", "--out-dir", "{out}"],
    "preset_sweep": ["--dataset", "{dataset}", "--generator", "{generator}", "--setting", "a="],
    "generator_dtype": ["--dataset", "{dataset}", "--generator", "{generator}", "--out", "{out}"],
    "import_generator": [],
    "import_latents": [],
}


def rows(doc: str) -> list[dict[str, str]]:
    """Every row of every four-column table: bad input, command, message, test (a "same" test repeats the row's
    above)."""
    found, last_test = [], None
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if not line.startswith("| ") or len(cells) != 4 or cells[0] == "bad input" or set(cells[0]) <= {"-"}:
            continue
        test = last_test if cells[3] == "same" else cells[3]
        found.append({"input": cells[0], "command": cells[1], "message": cells[2], "test": test})
        last_test = test
    return found


ROWS = rows(DOC)
COMMANDS = [r for r in ROWS if r["command"] != "–"]


def test_the_document_has_its_rows_and_each_names_a_command_or_a_test():
    assert len(ROWS) >= 40 and len(COMMANDS) >= 20
    assert all(r["command"] == "–" or re.fullmatch(r"`\w+ .+`", r["command"]) for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r["input"][:40] for r in ROWS])
def test_every_named_test_exists(row):
    names = re.findall(r"`(test_\w+)`", row["test"])
    assert names, f"row '{row['input']}' names no test"
    sources = "".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    for name in names:
        assert re.search(rf"^def {name}\(", sources, re.M), f"{name} (docs/bad-inputs.md) is not a test in tests/"


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    return smoke_stream(tmp_path_factory.mktemp("bad-inputs"))


@pytest.mark.parametrize("row", COMMANDS, ids=[r["command"].strip("`")[:50] for r in COMMANDS])
def test_every_command_row_stops_with_its_message(row, stream, tmp_path, capsys):
    root, dataset, generator = stream
    script, *options = shlex.split(row["command"].strip("`"))
    values = {"dataset": dataset, "generator": str(generator), "out": str(tmp_path)}
    argv = [a.format(**values) for a in REQUIRED[script] + options]
    assert importlib.import_module(f"experiments.{script}").main(argv) == 2
    err = capsys.readouterr().err
    for part in re.findall(r"`([^`]+)`", row["message"]):
        assert part.format(**values) in err, f"docs/bad-inputs.md promises {part!r}; the script printed {err!r}"
    assert not any(Path(tmp_path).iterdir()) or script == "score_generators"  # nothing written
