"""Session files: writing them compactly and atomically, reading them as untrusted input.

Format version 2 (written since 0.x; a zip archive, every member deflated):

===========================  ====================================================================
member                       content
===========================  ====================================================================
``session.json``             UTF-8 JSON: ``format`` ("bpttviz-session"), ``version`` (2),
                             ``app_version``, ``preset``, ``cursor``, ``config`` (RunConfig fields
                             without ``text``), ``state`` (``iteration, pointer, smooth_loss``;
                             for a compacted history also ``history_stride`` and
                             ``history_pending``: see :class:`~bpttviz.engine.history.History`)
``corpus.txt``               the corpus (``config.text``), UTF-8; absent when empty
``param_<name>.npy``         float64 parameters (exact)
``opt_<name>.npy``           float64 optimizer state (exact)
``state_h.npy, state_c.npy`` float64 (H,) carried state (exact)
``history_<field>.npy``      uint8 (4, n): the byte planes of the little-endian **float32** history
                             series (byte shuffling makes the floats compress; a 100,000-iteration
                             session is ~1.5 MB instead of v1's 31 MB); (8, n) float64 planes
                             for a series with values beyond float32's range
===========================  ====================================================================

Version 1 (``np.savez`` of ``meta_json`` holding config, state and history as one JSON string,
plus ``state_h, state_c, param_*, opt_*``) still opens.

Reading never trusts the file: it is refused by type before it is opened (a FIFO, device or
socket never blocks), its zip directory is bounded before it is parsed, every member is
checked before anything is decompressed (known names only, others ignored unread; declared
sizes within :mod:`bpttviz.engine.limits`; ``.npy`` headers parsed and declared shapes and
dtypes checked before the data is read), the JSON's size and nesting depth are bounded, and
everything loaded is validated (``RunConfig.validate()``, then ``Run.load_state_dict``).
Every problem is one :class:`SessionFileError` naming the file and the problem.
"""
from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import tempfile
import time
import zipfile
import zlib
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import numpy as np

from .engine import limits as L
from .engine.run import HISTORY_FIELDS, RunConfig, config_from_dict

SESSION_FORMAT = "bpttviz-session"
SESSION_VERSION = 2
READABLE_VERSIONS = (1, 2)
TEMP_PREFIX, TEMP_SUFFIX = ".bpttviz-", ".tmp"

_ARRAY_NAME = re.compile(r"^(param|opt)_[A-Za-z0-9_]{1,40}\.npy$")
_V2_FIXED = {"session.json", "corpus.txt", "state_h.npy", "state_c.npy"} | \
    {f"history_{k}.npy" for k in HISTORY_FIELDS}
_V1_FIXED = {"meta_json.npy", "state_h.npy", "state_c.npy"}


class SessionFileError(ValueError):
    """A session file cannot be read; the message names the file and the problem."""

    def __init__(self, path, problem: str):
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"{self.path}: {problem}")


@dataclass
class LoadedSession:
    """What a session file holds, checked: ``config`` (validated), ``state`` (the
    :meth:`~bpttviz.engine.run.RunBase.state_dict` layout), ``preset`` (name or None),
    ``cursor`` (>= 0), ``version`` of the file and the ``app_version`` that wrote it."""

    path: str
    config: RunConfig
    state: dict
    preset: Optional[str] = None
    cursor: int = 0
    version: int = SESSION_VERSION
    app_version: str = ""

    def make_run(self):
        """Build the run and load the state into it; SessionFileError if they disagree
        (parameters or optimizer state of the wrong shape, a position outside the corpus)."""
        from .engine.data import CorpusError
        from .engine.train import make_run
        try:
            run = make_run(self.config, self.state["params"])
            run.load_state_dict(self.state)
        except (ValueError, CorpusError) as e:  # validation failures (CorpusError is one)
            raise SessionFileError(self.path, str(e)) from None
        return run


# --- writing --------------------------------------------------------------------------------
def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


_F32_MAX = float(np.finfo(np.float32).max)


def _shuffle(values: np.ndarray) -> np.ndarray:
    """(n,) -> uint8 (4, n): the byte planes of the little-endian float32 values; (8, n) of
    float64 if a value is beyond float32's range (an exploding gradient norm)."""
    v = np.asarray(values, dtype=np.float64)
    dtype = "<f4" if v.size == 0 or float(np.max(np.abs(v))) <= _F32_MAX else "<f8"
    f = np.ascontiguousarray(v.astype(dtype))
    return f.view(np.uint8).reshape(-1, f.itemsize).T.copy()


def _unshuffle(planes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_shuffle`: uint8 (4 or 8, n) -> (n,) float64."""
    dtype = "<f4" if planes.shape[0] == 4 else "<f8"
    return np.ascontiguousarray(planes.T).view(dtype).reshape(-1).astype(np.float64)


def session_bytes(config: RunConfig, state: dict, preset: Optional[str] = None, cursor: int = 0,
                  app_version: str = "") -> bytes:
    """The bytes of a version 2 session file (see the module docstring)."""
    cfg = asdict(config)
    text = cfg.pop("text", "")
    meta = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "app_version": app_version,
            "preset": preset, "cursor": int(cursor), "config": cfg,
            "state": {"iteration": int(state["iteration"]), "pointer": int(state["pointer"]),
                      "smooth_loss": float(state["smooth_loss"])}}
    hist = state["history"]
    if int(hist.get("stride", 1)) != 1 or np.any(np.asarray(hist.get("pending", 0)) != 0):
        meta["state"]["history_stride"] = int(hist["stride"])
        meta["state"]["history_pending"] = [float(v) for v in hist["pending"]]
    keep = int(L.HISTORY_LENGTH.high)  # a longer history keeps its most recent entries
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("session.json", json.dumps(meta, allow_nan=False).encode("utf-8"))
        if text:
            z.writestr("corpus.txt", text.encode("utf-8", "surrogatepass"))
        for k, v in state["params"].items():
            z.writestr(f"param_{k}.npy", _npy_bytes(np.asarray(v, dtype=np.float64)))
        for k, v in state["optimizer"].items():
            z.writestr(f"opt_{k}.npy", _npy_bytes(np.asarray(v, dtype=np.float64)))
        z.writestr("state_h.npy", _npy_bytes(np.asarray(state["h"], dtype=np.float64)))
        z.writestr("state_c.npy", _npy_bytes(np.asarray(state["c"], dtype=np.float64)))
        for k in HISTORY_FIELDS:
            z.writestr(f"history_{k}.npy", _npy_bytes(_shuffle(np.asarray(state["history"][k])[-keep:])))
    return buf.getvalue()


def write_session(path, config: RunConfig, state: dict, preset: Optional[str] = None,
                  cursor: int = 0, app_version: str = "") -> None:
    """Write a version 2 session file atomically (the old file stays intact on failure).
    OSError if the folder cannot be written."""
    atomic_write(path, session_bytes(config, state, preset, cursor, app_version))


def atomic_write(path, data: bytes) -> None:
    """Write bytes to ``path`` via a temporary file in the same folder and a rename, so the
    target is either the old file or the complete new one. OSError with the reason if the
    folder cannot be written.  An interrupted write can leave ``.bpttviz-*.tmp`` behind; see
    :func:`clean_stale_temp_files`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    try:
        # mkstemp makes the file private (0600); a saved session or slide should get the
        # permissions any other new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def clean_stale_temp_files(folder, older_than_s: float = 3600.0) -> List[str]:
    """Delete ``.bpttviz-*.tmp`` files (left by interrupted atomic writes) in ``folder``
    that were last modified more than ``older_than_s`` seconds ago; only regular files, not
    followed through symlinks.  Returns the paths removed; a missing folder removes nothing."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for e in entries:
        if not (e.name.startswith(TEMP_PREFIX) and e.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            st = e.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than_s:
                os.unlink(e.path)
                removed.append(e.path)
        except OSError:
            continue
    return removed


# --- reading --------------------------------------------------------------------------------
def check_regular_file(path, what: str = "file", error=None):
    """``os.stat`` ``path`` and return the result if it is a regular file; otherwise raise
    ``error(message)`` (default OSError-free SessionFileError) saying what it is.  Nothing is
    opened, so a FIFO never blocks."""
    path = os.fspath(path)

    def fail(problem):
        if error is None:
            raise SessionFileError(path, problem)
        raise error(f"{what} {path}: {problem}")

    try:
        st = os.stat(path)
    except FileNotFoundError:
        fail("not found")
    except OSError as e:
        fail(f"cannot be read ({e.strerror or e})")
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return st
    kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    fail(f"is {kind}, not a regular {what}")


def open_regular(path, what: str = "file", error=None):
    """Open a regular file for reading without ever blocking: refused by type first, opened
    non-blocking, and checked again on the open descriptor (it may have been swapped)."""
    check_regular_file(path, what, error)
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        msg = f"cannot be opened ({e.strerror or e})"
        if error is None:
            raise SessionFileError(path, msg) from None
        raise error(f"{what} {path}: {msg}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        if error is None:
            raise SessionFileError(path, "is not a regular file")
        raise error(f"{what} {path}: is not a regular file")
    return os.fdopen(fd, "rb")


class _Reader:
    """One read of one session file (see :func:`read_session`)."""

    #: Exceptions the zip, zlib and npy libraries raise for damaged input.
    FORMAT_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, OSError,
                     ValueError, UnicodeDecodeError)

    def __init__(self, path):
        self.path = os.fspath(path)

    def fail(self, problem: str):
        raise SessionFileError(self.path, problem)

    def read(self) -> LoadedSession:
        st = check_regular_file(self.path, "session file")
        if st.st_size == 0:
            self.fail("is empty (0 bytes), not a bpttviz session")
        if st.st_size > L.SESSION_FILE_BYTES.high:
            self.fail(f"is {st.st_size / 1e6:.0f} MB; a session file is at most "
                      f"{L.SESSION_FILE_BYTES.high / 1e6:.0f} MB ({L.SESSION_FILE_BYTES.reason})")
        with open_regular(self.path, "session file") as f:
            head = f.read(8)
            if head.startswith(b"\x93NUMPY"):
                self.fail("is a single numpy array (.npy), not a bpttviz session")
            if not head.startswith(b"PK\x03\x04"):
                self.fail("is not a bpttviz session (not a zip archive)")
            self._check_directory(f, st.st_size)
            f.seek(0)
            try:
                zf = zipfile.ZipFile(f)
                infos = zf.infolist()
            except self.FORMAT_ERRORS as e:
                self.fail(f"is damaged or truncated (the zip directory is unreadable: {e})")
            with zf:
                return self._read_members(zf, infos)

    def _check_directory(self, f, size: int):
        """Bound the central directory from the end record before zipfile parses it."""
        tail_len = min(size, 65536 + 22)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            self.fail("is damaged or truncated (no zip end record)")
        entries, cd_size = struct.unpack("<HI", tail[at + 10:at + 16])
        if entries == 0:
            self.fail("is an empty archive, not a bpttviz session")
        if entries > L.SESSION_MEMBERS.high:
            self.fail(f"holds {entries} members; a session holds at most {L.SESSION_MEMBERS.high}")
        if cd_size > L.SESSION_MEMBERS.high * 1024:
            self.fail(f"has a {cd_size}-byte zip directory; far larger than a session's")

    def _read_members(self, zf: zipfile.ZipFile, infos) -> LoadedSession:
        names = {i.filename: i for i in infos}
        if "session.json" in names:
            version_members = _V2_FIXED
        elif "meta_json.npy" in names:
            version_members = _V1_FIXED
        else:
            self.fail("is not a bpttviz session (it has no session metadata)")
        wanted = {n: i for n, i in names.items() if n in version_members or _ARRAY_NAME.match(n)}
        total = 0
        for name, info in wanted.items():
            if info.flag_bits & 0x1:
                self.fail(f"member {name} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                self.fail(f"member {name} uses an unsupported compression method")
            if info.file_size > L.SESSION_MEMBER_BYTES.high:
                self.fail(f"member {name} declares {info.file_size / 1e6:.0f} MB uncompressed; the "
                          f"limit is {L.SESSION_MEMBER_BYTES.high / 1e6:.0f} MB "
                          f"({L.SESSION_MEMBER_BYTES.reason})")
            total += info.file_size
        if total > L.SESSION_TOTAL_BYTES.high:
            self.fail(f"declares {total / 1e6:.0f} MB uncompressed; the limit is "
                      f"{L.SESSION_TOTAL_BYTES.high / 1e6:.0f} MB ({L.SESSION_TOTAL_BYTES.reason})")
        if "session.json" in names:
            return self._read_v2(zf, wanted)
        return self._read_v1(zf, wanted)

    # --- members ----------------------------------------------------------------------------
    def _raw(self, zf, info, limit: int) -> bytes:
        if info.file_size > limit:
            self.fail(f"member {info.filename} is {info.file_size} bytes; the limit is {limit}")
        try:
            with zf.open(info) as m:
                data = m.read(limit + 1)
        except self.FORMAT_ERRORS as e:
            self.fail(f"member {info.filename} is damaged ({type(e).__name__}: {e})")
        if len(data) != info.file_size:
            self.fail(f"member {info.filename} holds {len(data)} bytes, not the {info.file_size} "
                      "it declares")
        return data

    def _array(self, zf, info, kinds: str = "fiu", ndim: Optional[int] = None) -> np.ndarray:
        """An .npy member: header parsed and shape/dtype checked before the data is read."""
        name = info.filename
        try:
            with zf.open(info) as m:
                version = np.lib.format.read_magic(m)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(m, max_header_size=10000)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(m, max_header_size=10000)
                else:
                    self.fail(f"member {name} has an unknown .npy version {version}")
                header_len = m.tell()
                if dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None \
                        or dtype.subdtype is not None:
                    self.fail(f"member {name} holds {dtype} data; expected "
                              f"{'numbers' if kinds == 'fiu' else 'text' if kinds == 'U' else kinds}")
                if ndim is not None and len(shape) != ndim:
                    self.fail(f"member {name} has {len(shape)} dimensions; expected {ndim}")
                count = 1
                for s in shape:
                    count *= int(s)
                if count > L.ARRAY_ELEMENTS.high and kinds != "U":
                    self.fail(f"member {name} declares {count} elements (shape {shape}); the limit is "
                              f"{L.ARRAY_ELEMENTS.high:.0f} ({L.ARRAY_ELEMENTS.reason})")
                nbytes = count * dtype.itemsize
                if header_len + nbytes != info.file_size:
                    self.fail(f"member {name} declares shape {shape} ({nbytes} bytes) but holds "
                              f"{info.file_size - header_len} bytes")
                data = m.read(nbytes)
        except SessionFileError:
            raise
        except self.FORMAT_ERRORS as e:
            self.fail(f"member {name} is not a readable array ({type(e).__name__}: {str(e)[:100]})")
        if len(data) != nbytes:
            self.fail(f"member {name} is truncated")
        arr = np.frombuffer(data, dtype=dtype)
        return arr.reshape(shape, order="F" if fortran else "C").copy()

    def _json(self, text: str, what: str):
        if len(text) > L.JSON_BYTES.high:
            self.fail(f"{what} is {len(text)} characters; the limit is {L.JSON_BYTES.high:.0f}")
        depth = _json_depth(text)
        if depth > L.JSON_DEPTH.high:
            self.fail(f"{what} is nested {depth} levels deep; the limit is {L.JSON_DEPTH.high} "
                      f"({L.JSON_DEPTH.reason})")
        try:
            meta = json.loads(text)
        except (ValueError, RecursionError) as e:
            self.fail(f"{what} is not valid JSON ({str(e)[:100]})")
        if not isinstance(meta, dict):
            self.fail(f"{what} is not a JSON object")
        if meta.get("format") != SESSION_FORMAT:
            self.fail("is not a bpttviz session file")
        return meta

    def _float_arrays(self, zf, wanted, prefix: str) -> Dict[str, np.ndarray]:
        out = {}
        for name, info in wanted.items():
            if name.startswith(prefix) and _ARRAY_NAME.match(name):
                out[name[len(prefix):-len(".npy")]] = self._array(zf, info).astype(np.float64)
        return out

    def _state_arrays(self, zf, wanted) -> dict:
        for k in ("state_h.npy", "state_c.npy"):
            if k not in wanted:
                self.fail(f"lacks the member {k}")
        return {"params": self._float_arrays(zf, wanted, "param_"),
                "optimizer": self._float_arrays(zf, wanted, "opt_"),
                "h": self._array(zf, wanted["state_h.npy"]).astype(np.float64),
                "c": self._array(zf, wanted["state_c.npy"]).astype(np.float64)}

    def _read_v2(self, zf, wanted) -> LoadedSession:
        raw = self._raw(zf, wanted["session.json"], int(L.JSON_BYTES.high))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail("session.json is not UTF-8 text")
        meta = self._json(text, "session.json")
        self._check_version(meta)
        cfg = meta.get("config")
        if not isinstance(cfg, dict):
            self.fail("session.json has no config")
        corpus = ""
        if "corpus.txt" in wanted:
            data = self._raw(zf, wanted["corpus.txt"], 4 * int(L.CORPUS_BYTES.high))
            try:
                corpus = data.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                self.fail("corpus.txt is not UTF-8 text")
        cfg = dict(cfg, text=corpus)
        scalars = meta.get("state")
        if not isinstance(scalars, dict):
            self.fail("session.json has no run state")
        state = self._state_arrays(zf, wanted)
        history = {}
        for k in HISTORY_FIELDS:
            name = f"history_{k}.npy"
            if name not in wanted:
                self.fail(f"lacks the member {name}")
            planes = self._array(zf, wanted[name], kinds="u", ndim=2)
            if planes.dtype.itemsize != 1 or planes.shape[0] not in (4, 8):
                self.fail(f"member {name} must be uint8 byte planes of shape (4, n) or (8, n); "
                          f"got {planes.dtype} {planes.shape}")
            history[k] = _unshuffle(planes)
        return self._finish(meta, cfg, scalars, state, history, 2)

    def _read_v1(self, zf, wanted) -> LoadedSession:
        arr = self._array(zf, wanted["meta_json.npy"], kinds="U", ndim=0)
        meta = self._json(str(arr[()]), "the session metadata")
        self._check_version(meta)
        cfg = meta.get("config")
        if not isinstance(cfg, dict):
            self.fail("the session metadata has no config")
        state = self._state_arrays(zf, wanted)
        hist = meta.get("history", {})
        if not isinstance(hist, dict):
            self.fail("the saved history is not a mapping of series")
        history = {}
        for k in HISTORY_FIELDS:
            values = hist.get(k, [])
            if not isinstance(values, list) or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
                self.fail(f"the saved history {k} is not a list of numbers")
            history[k] = np.array(values, dtype=np.float64)
        return self._finish(meta, cfg, meta, state, history, 1)

    def _check_version(self, meta):
        v = meta.get("version")
        if isinstance(v, bool) or v not in READABLE_VERSIONS:
            self.fail(f"has session format version {v!r}; this bpttviz reads versions "
                      f"{', '.join(map(str, READABLE_VERSIONS))}")

    def _finish(self, meta, cfg, scalars, state, history, version) -> LoadedSession:
        try:
            config = config_from_dict(cfg)
            config.validate()
        except ValueError as e:
            self.fail(f"its settings are invalid: {e}")
        for k in ("iteration", "pointer"):
            v = scalars.get(k)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= L.ITERATION.high:
                self.fail(f"its {k} must be a whole number from 0 to {L.ITERATION.high:g}; got "
                          f"{str(v)[:40]}")
        smooth = scalars.get("smooth_loss")
        if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) \
                or not np.isfinite(float(smooth)):
            self.fail(f"its smoothed loss must be a finite number; got {smooth!r}")
        lengths = {v.shape for v in history.values()}
        if len(lengths) != 1 or len(lengths.pop()) != 1:
            self.fail("its training history is ragged (the four series differ in length)")
        for k, v in history.items():
            if not np.all(np.isfinite(v)):
                self.fail(f"its training history {k} holds non-finite values (inf or NaN)")
        n = len(history["loss"])
        if n > L.HISTORY_LENGTH.high:
            self.fail(f"its history has {n} entries; the limit is {L.HISTORY_LENGTH.high:.0f}")
        for group in ("params", "optimizer"):
            for k, v in state[group].items():
                if not np.all(np.isfinite(v)):
                    self.fail(f"its {'parameter' if group == 'params' else 'optimizer state'} {k} "
                              "holds non-finite values (inf or NaN)")
        for k in ("h", "c"):
            if not np.all(np.isfinite(state[k])):
                self.fail(f"its carried state {k} holds non-finite values (inf or NaN)")
        if not state["params"]:
            self.fail("holds no parameters")
        # (checked with the rest of the history by Run.load_state_dict)
        history["stride"] = scalars.get("history_stride", 1)
        if "history_pending" in scalars:
            history["pending"] = scalars["history_pending"]
        state.update(iteration=int(scalars["iteration"]), pointer=int(scalars["pointer"]),
                     smooth_loss=float(smooth), history=history)
        preset = meta.get("preset")
        if preset is not None and not isinstance(preset, str):
            preset = None
        cursor = meta.get("cursor", 0)
        cursor = cursor if isinstance(cursor, int) and not isinstance(cursor, bool) and cursor >= 0 else 0
        app = meta.get("app_version", "")
        return LoadedSession(path=self.path, config=config, state=state, preset=preset,
                             cursor=cursor, version=version, app_version=app if isinstance(app, str) else "")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _json_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings (fast: strings removed by a regex,
    the depth a cumulative sum)."""
    stripped = _JSON_STRING.sub('""', text)
    b = np.frombuffer(stripped.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    if b.size == 0:
        return 0
    delta = (b == ord("[")).astype(np.int64) + (b == ord("{")) - (b == ord("]")) - (b == ord("}"))
    return int(np.cumsum(delta).max(initial=0))


def read_session(path) -> LoadedSession:
    """Read and check a session file (version 1 or 2); :class:`SessionFileError` naming the
    file and the problem for anything that is not a usable session (see the module
    docstring for what is checked).  The state is checked for internal consistency here; that
    it fits the model is checked by :meth:`LoadedSession.make_run`."""
    return _Reader(path).read()
