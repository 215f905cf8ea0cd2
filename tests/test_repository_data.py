"""Real RAF data is read in place from ../shared/data and never committed: no tracked file of the repository has
the bytes of a file there (sha256 of every tracked file against every shared data file)."""
import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_file_of_shared_data_is_committed(shared_data):
    shared = {_sha256(path): path.name for path in shared_data.iterdir() if path.is_file()}
    assert shared
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    paths = [ROOT / name for name in tracked.decode().split("\0") if name]
    assert len(paths) > 50  # the repository's files were listed
    copies = {str(path.relative_to(ROOT)): shared[digest] for path in paths if path.is_file()
              and (digest := _sha256(path)) in shared}
    assert copies == {}


def test_the_bundled_data_folder_is_gone():
    assert not (ROOT / "raf_network" / "data").exists()
