"""Generator of hostile and odd files for tests/test_hostile_files.py (and for trying by hand:
``python tests/hostile_files.py FOLDER`` writes them all and lists them).

Sessions: a real zip bomb (a few MB of deflate that expands to 1.5 GiB), a bomb whose zip
directory lies about its size, an unknown bomb member next to a valid session, huge declared
.npy shapes, deeply nested JSON, a renamed .npy, wrong-shaped and NaN optimizer state, a
negative iteration, ragged and inf histories, out-of-limit configs, a directory, a FIFO and
/dev/zero.  Corpora: a FIFO, /dev/zero, a directory, UTF-16 text, a NUL after 64 KiB.

Also ``write_v1_session``: today's (version 1) session format, kept here so the tests can
prove old files still open.
"""
from __future__ import annotations

import functools
import io
import json
import os
import struct
import sys
import zipfile
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Dict, Tuple

import numpy as np


# --- version 1: the format Session.save wrote before version 2 ------------------------------
def v1_bytes(session) -> bytes:
    """A version 1 session file of ``session`` (the code Session.save had before v2)."""
    run = session.run
    history = {k: [float(x) for x in getattr(run.history, k)]
               for k in ("loss", "smooth_loss", "grad_norm_before_clip", "grad_norm_after_clip")}
    meta = {"format": "bpttviz-session", "version": 1, "app_version": "0.1",
            "preset": session.preset.name if session.preset else None, "cursor": session.cursor,
            "iteration": run.iteration, "pointer": run.pointer,
            "smooth_loss": run.smooth_loss, "history": history,
            "config": asdict(session.config)}
    arrays = {"meta_json": np.array(json.dumps(meta)), "state_h": run.h, "state_c": run.c}
    arrays.update({f"param_{k}": v for k, v in run.params.items()})
    arrays.update({f"opt_{k}": v for k, v in run.optimizer.state.items()})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def write_v1_session(session, path) -> Path:
    Path(path).write_bytes(v1_bytes(session))
    return Path(path)


# --- zip surgery ----------------------------------------------------------------------------
def members(data: bytes) -> Dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def zip_bytes(items: Dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in items.items():
            z.writestr(n, b)
    return buf.getvalue()


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npy_header_only(shape, dtype="<f8", payload: bytes = b"") -> bytes:
    """An .npy whose header declares ``shape`` but which holds only ``payload``."""
    return _magic_header(shape, dtype) + payload


def _magic_header(shape, dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False,
                                               "shape": tuple(shape)})
    return buf.getvalue()


def _raw_zip(entries) -> bytes:
    """A zip from ``(name, compressed bytes, crc, declared uncompressed size, method)``,
    written by hand so the declared sizes can be anything (no zip64: sizes < 4 GiB)."""
    out = io.BytesIO()
    central = []
    for name, comp, crc, size, method in entries:
        nb = name.encode()
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc,
                              len(comp), size, len(nb), 0))
        out.write(nb)
        out.write(comp)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                                   crc, len(comp), size, len(nb), 0, 0, 0, 0, 0, offset) + nb)
    cd_start = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), cd_size,
                          cd_start, 0))
    return out.getvalue()


@functools.lru_cache(maxsize=4)
def _deflate_zeros(n_mib: int) -> Tuple[bytes, int]:
    """Raw deflate of ``n_mib`` MiB of zero bytes, built from one repeated full-flush block
    (a few ms, not seconds), and its CRC-32."""
    chunk = b"\x00" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    mid = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    last = c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(n_mib):
        crc = zlib.crc32(chunk, crc)
    return first + mid * (n_mib - 1) + last, crc


def zip_bomb(valid: bytes, member: str = "param_Whh.npy", n_mib: int = 1500,
             lie: bool = False) -> bytes:
    """``valid``'s members with ``member`` replaced by deflate expanding to ``n_mib`` MiB.
    ``lie``: the zip directory declares only 1000 bytes for it (the stream is still 1.5 GiB)."""
    items = members(valid)
    entries = []
    for name, data in items.items():
        if name == member:
            continue
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = comp.compress(data) + comp.flush()
        entries.append((name, body, zlib.crc32(data), len(data), 8))
    body, crc = _deflate_zeros(n_mib)
    entries.append((member, body, crc, 1000 if lie else n_mib << 20, 8))
    return _raw_zip(entries)


# --- the hostile sessions -------------------------------------------------------------------
def make_hostile_sessions(folder: Path, session) -> Dict[str, Tuple[Path, str]]:
    """name -> (path, a word the refusal must contain).  ``session``: a trained Session
    (its saved file is the base every case corrupts)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    good_path = folder / "good.npz"
    session.save(good_path)
    good = good_path.read_bytes()
    base = members(good)
    meta = json.loads(base["session.json"])
    out: Dict[str, Tuple[Path, str]] = {}

    def put(name, data, word):
        p = folder / f"{name}.npz"
        p.write_bytes(data)
        out[name] = (p, word)

    def with_meta(**changes):
        return dict(base, **{"session.json": json.dumps(dict(meta, **changes)).encode()})

    put("zip bomb", zip_bomb(good), "uncompressed")
    put("lying zip bomb", zip_bomb(good, lie=True), "param_Whh")
    put("huge declared shape", zip_bytes(dict(base, **{
        "param_Whh.npy": npy_header_only((10 ** 6, 10 ** 6), payload=b"\x00" * 64)})), "elements")
    put("huge declared shape, consistent size", zip_bytes(dict(base, **{
        "history_loss.npy": npy_header_only((4, 10 ** 12), dtype="|u1")})), "elements")
    nested = '{"format": "bpttviz-session", "version": 2, "config": ' + "[" * 100_000 + "]" * 100_000 + "}"
    put("deeply nested JSON", zip_bytes(dict(base, **{"session.json": nested.encode()})), "nested")
    p = folder / "renamed.npz"
    np.save(p.with_suffix(".npy"), np.zeros((3, 3)))
    os.replace(p.with_suffix(".npy"), p)
    out["renamed .npy"] = (p, ".npy")
    opt_key = next(k for k in base if k.startswith("opt_"))
    put("wrong-shaped optimizer state", zip_bytes(dict(base, **{opt_key: npy(np.zeros((2, 2)))})), "shape")
    put("NaN optimizer state", zip_bytes(dict(base, **{opt_key: npy(np.full(
        np.load(io.BytesIO(base[opt_key])).shape, np.nan))})), "non-finite")
    put("unknown optimizer state", zip_bytes(dict(base, **{"opt_mystery.npy": npy(np.zeros(3))})),
        "mystery")
    put("negative iteration", zip_bytes(with_meta(state=dict(meta["state"], iteration=-3))), "iteration")
    hist = {k: v for k, v in base.items() if k.startswith("history_")}
    loss = np.load(io.BytesIO(hist["history_loss.npy"]))
    put("ragged history", zip_bytes(dict(base, **{"history_loss.npy": npy(loss[:, :-1])})), "ragged")
    planes = np.ascontiguousarray(loss.T).view("<f4").reshape(-1).copy()
    planes[0] = np.inf
    put("inf history", zip_bytes(dict(base, **{
        "history_loss.npy": npy(planes.view(np.uint8).reshape(-1, 4).T.copy())})), "non-finite")
    put("hidden size over the limit", zip_bytes(with_meta(config=dict(meta["config"], hidden_size=2048))),
        "hidden_size")
    put("window over the limit", zip_bytes(with_meta(config=dict(meta["config"], seq_length=200_000))),
        "seq_length")
    put("config of the wrong kind", zip_bytes(with_meta(config=dict(meta["config"], cell=["rnn"]))),
        "cell")
    put("dataset outside resources", zip_bytes(with_meta(config=dict(
        meta["config"], task="captioning", dataset="/dev/zero"))), "dataset")
    put("pointer outside the corpus", zip_bytes(with_meta(state=dict(meta["state"], pointer=10 ** 9))),
        "pointer")
    put("version 99", zip_bytes(with_meta(version=99)), "version")
    put("history stride 0", zip_bytes(with_meta(state=dict(meta["state"], history_stride=0))),
        "stride")
    put("history stride of the wrong kind", zip_bytes(with_meta(state=dict(
        meta["state"], history_stride="2"))), "stride")
    put("history pending block too long", zip_bytes(with_meta(state=dict(
        meta["state"], history_stride=4, history_pending=[9, 1, 1, 1, 1]))), "pending")
    put("history pending block not numbers", zip_bytes(with_meta(state=dict(
        meta["state"], history_stride=4, history_pending=[1, "x", 1, 1, 1]))), "pending")
    d = folder / "a folder.npz"
    d.mkdir(exist_ok=True)
    out["directory"] = (d, "folder")
    f = folder / "fifo.npz"
    if not f.exists():
        os.mkfifo(f)
    out["FIFO"] = (f, "FIFO")
    out["/dev/zero"] = (Path("/dev/zero"), "device")
    return out


def make_odd_corpora(folder: Path) -> Dict[str, Tuple[Path, str]]:
    """name -> (path, a word the refusal must contain; "" if it must load)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    f = folder / "fifo.txt"
    if not f.exists():
        os.mkfifo(f)
    out["FIFO"] = (f, "FIFO")
    out["/dev/zero"] = (Path("/dev/zero"), "device")
    out["directory"] = (folder, "folder")
    p = folder / "nul-late.txt"
    p.write_bytes(b"hello world\n" * 6000 + b"\x00" + b"more text\n")
    out["NUL after 64 KiB"] = (p, "binary")
    p = folder / "utf16.txt"
    p.write_bytes(("the quick brown fox jumps over the lazy dog\n" * 20).encode("utf-16"))
    out["UTF-16"] = (p, "")
    p = folder / "utf16-broken.txt"
    p.write_bytes(b"\xff\xfe" + "abc".encode("utf-16-le") + b"\x00\xd8")  # lone surrogate
    out["broken UTF-16"] = (p, "UTF-16")
    return out


if __name__ == "__main__":  # pragma: no cover - a helper for trying the files by hand
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from bpttviz.session import Session
    s = Session("min-char-rnn")
    s.train(3)
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-files")
    for name, (path, word) in {**make_hostile_sessions(target / "sessions", s),
                               **make_odd_corpora(target / "corpora")}.items():
        print(f"{name:40s} {path}  (expect: {word or 'loads'})")
