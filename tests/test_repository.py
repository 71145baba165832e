"""The project's own files name no absolute path of the machine that produced them."""
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_THE_PROJECT = {".git", ".venv", "runs", "data", ".pytest_cache", "__pycache__"}  # ignored or third-party
BINARY = {".png", ".pt", ".jpg", ".pkl", ".ckpt"}
ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|tmp|mnt|scratch)/[\w.-]+")


def test_no_file_names_an_absolute_path_of_a_machine():
    offenders = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in NOT_THE_PROJECT and not d.endswith(".egg-info")]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in BINARY:
                text = path.read_text(errors="ignore")
                offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in ABSOLUTE.finditer(text)]
    assert not offenders, "name these paths relative to the project or as a placeholder:\n" + "\n".join(offenders)
