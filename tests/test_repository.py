"""The project's own files name no absolute path of the machine that produced them, and ship what they describe."""
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINARY = {".png", ".pt", ".jpg", ".pkl", ".ckpt"}
ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|tmp|mnt|scratch)/[\w.-]+")


def test_no_file_names_an_absolute_path_of_a_machine():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout  # git-ignored files are not the project's
    offenders = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.suffix not in BINARY and path.is_file():
            text = path.read_text(errors="ignore")
            offenders += [f"{name}: {m.group(0)}" for m in ABSOLUTE.finditer(text)]
    assert not offenders, "name these paths relative to the project or as a placeholder:\n" + "\n".join(offenders)


def test_every_generator_report_ships_its_generator():
    reports = sorted((ROOT / "generators").glob("*.json"))
    assert reports, "generators/ holds the shipped generators' reports"
    unshipped = []
    for report in reports:
        weights = report.with_suffix(".pt")
        ignored = subprocess.run(["git", "check-ignore", "-q", str(weights.relative_to(ROOT))], cwd=ROOT).returncode == 0
        if not weights.is_file() or ignored:
            unshipped.append(f"{weights.relative_to(ROOT)} ({'git-ignored' if ignored else 'missing'})")
    assert not unshipped, "a generator report without its shipped weights (unignore them in .gitignore):\n" + "\n".join(unshipped)
