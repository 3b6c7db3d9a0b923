"""Real processes: a SIGKILLed indexer never leaves a half-indexed file; --watch follows changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from citebot.sources import file_digest
from tests.conftest import SHARED, make_engine

NEWS = SHARED / "benchmarks" / "realtimeqa" / "docs"


def _indexer(data_dir: Path, folder: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data_dir)}
    return subprocess.Popen([sys.executable, "-m", "citebot.bot", "index", "--json", str(folder), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_after(process: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL the process after `seconds`; False when it finished first."""
    try:
        process.wait(seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def _check_consistent(data_dir: Path, folder: Path, versions: dict[str, set[str]]) -> dict:
    """Every committed file is one whole version of it; nothing uncommitted is visible."""
    engine = make_engine(data_dir, folder)
    manifest = engine.store.load_manifest()
    present = engine.store.existing_ids(sorted(manifest.chunk_ids()))
    for key, entry in manifest.files.items():
        assert entry.sha256 in versions[key], key
        assert set(manifest.ids_of(key)) <= present, f"{key}: committed chunks missing from Chroma"
    if manifest.files:
        answer = engine.ask("What did the Federal Reserve do to interest rates?")
        assert all(c.source in manifest.files for c in answer.citations)
    return manifest.files


def test_sigkill_at_any_point_leaves_whole_files(tmp_path):
    folder, data = tmp_path / "docs", tmp_path / "data"
    folder.mkdir()
    versions: dict[str, set[str]] = {}
    for path in sorted(NEWS.glob("*.md"))[:240]:
        target = folder / path.name
        target.write_text(path.read_text()[:1500])
        versions[target.name] = {file_digest(target)}

    kills = 0
    for delay in (4, 7, 10):
        kills += _kill_after(_indexer(data, folder), delay)
        _check_consistent(data, folder, versions)
    assert kills >= 2, "the indexer finished before it could be killed; the test proves nothing"

    # A second generation: change, delete and add files, kill mid-run, then finish.
    for i, path in enumerate(sorted(folder.iterdir())[:60]):
        if i % 3 == 0:
            path.unlink()  # its old version may still be committed until a run finishes
        else:
            path.write_text(path.read_text() + f"\nUpdate {i}: figures were revised.\n")
            versions[path.name].add(file_digest(path))
    for i in range(20):
        extra = folder / f"extra-{i}.md"
        extra.write_text(f"# Extra {i}\n\nThe extra note number {i} mentions cobalt and nickel.\n")
        versions[extra.name] = {file_digest(extra)}
    for delay in (3.5, 5):
        _kill_after(_indexer(data, folder), delay)
        _check_consistent(data, folder, versions)

    final = _indexer(data, folder)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    report = json.loads(out)
    files = _check_consistent(data, folder, versions)
    assert set(files) == {p.name for p in folder.iterdir()}
    assert all(files[name].sha256 == file_digest(folder / name) for name in files)
    engine = make_engine(data, folder)
    assert engine.store.collection.count() == report["total_chunks"] == len(engine.store.load_manifest().chunk_ids())


def test_watch_reindexes_and_a_running_engine_sees_it(tmp_path, corpus):
    data = tmp_path / "data"
    reader = make_engine(data, corpus)
    env = {**os.environ, "CITEBOT_DATA_DIR": str(data)}
    watcher = subprocess.Popen([sys.executable, "-m", "citebot.bot", "index", "--json", "--watch", str(corpus)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert json.loads(watcher.stdout.readline())["added"]  # the first pass
        assert not reader.ask("What colour is the Quxville lighthouse?").answerable
        (corpus / "lighthouse.md").write_text("# Quxville\n\nThe Quxville lighthouse is painted bright green.\n")
        report = json.loads(watcher.stdout.readline())
        assert report["added"] == ["lighthouse.md"]
        answer = reader.ask("What colour is the Quxville lighthouse?")  # same engine object, no restart
        assert answer.answerable and "bright green" in answer.text
        (corpus / "lighthouse.md").unlink()
        assert json.loads(watcher.stdout.readline())["removed"] == ["lighthouse.md"]
        assert "lighthouse.md" not in {s.source for s in reader.sources()}
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(30)
        except subprocess.TimeoutExpired:
            watcher.kill()


def test_a_full_disk_is_a_clear_error_and_the_old_index_still_answers(tmp_path, corpus):
    """RLIMIT_FSIZE makes every write that grows a file fail, as a full disk does."""
    import resource

    data = tmp_path / "data"
    first = make_engine(data, corpus).reindex()
    (corpus / "big.md").write_text("# Cobalt\n\n" + "Cobalt output in Katanga rose sharply. " * 400)

    def full_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))

    env = {**os.environ, "CITEBOT_DATA_DIR": str(data)}
    result = subprocess.run([sys.executable, "-m", "citebot.bot", "index", str(corpus)], env=env, capture_output=True,
                            text=True, timeout=300, preexec_fn=full_disk)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("citebot: ") and "Traceback" not in result.stderr
    engine = make_engine(data, corpus)
    manifest = engine.store.load_manifest()
    assert "big.md" not in manifest.files and manifest.chunk_count == first.total_chunks
    assert "tellurium" in engine.ask("Which five minerals did Beijing put under export controls?").text
    assert engine.reindex().added == ["big.md"]  # and with room again, the next run finishes the job
