"""Presets are data files (``resources/presets/*.json``); this module only reads them.

Each file names the task, the model, the training settings, optionally exact weights (the
notebook's printed ones) or a trained ``snapshot`` (a session file under
``resources/snapshots/`` whose parameters become the preset's weights), and the view that
makes its point.  ``training`` may set ``loss_steps`` ("all" | "last") and
``train_truncation`` (null | k), see :class:`~bpttviz.engine.run.RunConfig`.  ``at``
(optional, e.g. ``"backward:0"``) is the event the preset opens on, where a lesson's point
needs the whole pass (the default is the first forward step).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from .data import read_corpus
from .train import RunConfig


from ..resources_path import resources_dir  # noqa: E402  (pure Python, no Qt)


def presets_dir() -> Path:
    return resources_dir() / "presets"


def snapshots_dir() -> Path:
    return resources_dir() / "snapshots"


def _snapshot_weights(name: str, file: str) -> Dict[str, np.ndarray]:
    """The parameters of the preset's shipped snapshot (a session file, read as untrusted
    input like any other); ValueError naming the preset and the problem."""
    from ..session_file import read_session  # no Qt; imported here to keep engine imports light
    parts = str(file).replace("\\", "/").split("/")
    if not isinstance(file, str) or ".." in parts or Path(file).is_absolute():
        raise ValueError(f"preset {name}: snapshot must be a file name under resources/snapshots; "
                         f"got {file!r}")
    loaded = read_session(snapshots_dir() / file)
    return {k: np.array(v, dtype=float) for k, v in loaded.state["params"].items()}


@dataclass
class Preset:
    """A loaded preset. ``kind`` is "char" (the character model) or "captioning";
    ``config`` is its RunConfig (``make_run(config, weights)`` builds the run); ``raw`` is
    the file's JSON."""

    name: str
    title: str
    teaches: str
    view: str
    kind: str
    config: Optional[RunConfig]
    weights: Optional[Dict[str, np.ndarray]]
    raw: dict
    #: the event it opens on (``forward:N``, ``backward:N``, ``clip``, ``update``...)
    at: str = "start"


def list_presets() -> List[str]:
    """Names of every preset, in a teaching order (the simplest first)."""
    order = ["notebook-one-step", "min-char-rnn", "dinosaurs", "vanishing", "exploding",
             "long-range", "lstm-gates", "cs231n-captioning-rnn", "cs231n-captioning-lstm"]
    names = sorted(p.stem for p in presets_dir().glob("*.json"))
    return [n for n in order if n in names] + [n for n in names if n not in order]


def load_preset(name: str) -> Preset:
    """Load a preset by name; ValueError naming the known presets if there is none."""
    names = list_presets()
    if name not in names:
        raise ValueError(f"preset must be one of {', '.join(names)}; got {name!r}")
    raw = json.loads((presets_dir() / f"{name}.json").read_text(encoding="utf-8"))
    task, model, training = raw["task"], raw["model"], raw["training"]
    weights = None
    if "weights" in raw:
        weights = {k: np.array(v, dtype=float) for k, v in raw["weights"].items()}
    elif "snapshot" in raw:
        weights = _snapshot_weights(name, raw["snapshot"])
    kind = "captioning" if task["kind"] == "captioning" else "char"
    config = None
    if kind == "char":
        text = ""
        if "corpus" in task:
            text = read_corpus(resources_dir() / task["corpus"])
        clip = training.get("clip", "value")
        config = RunConfig(
            task=task["kind"], text=text, cell=model.get("cell", "rnn"),
            hidden_size=int(model["hidden_size"]), seq_length=int(model.get("seq_length", 25)),
            seed=int(model.get("seed", 0)), init_scale=float(model.get("init_scale", 0.01)),
            whh_radius=model.get("whh_radius"), clip=None if clip == "none" else clip,
            clip_value=float(training.get("clip_value", 5.0)),
            optimizer=training.get("optimizer", "adagrad"), lr=float(training.get("lr", 0.1)),
            delay=int(task.get("delay", 8)), symbols=int(task.get("symbols", 4)),
            inputs=tuple(task.get("inputs", ())), targets=tuple(task.get("targets", ())),
            vocab=tuple(task.get("vocab", ())), truncation=training.get("truncation"),
            loss_steps=training.get("loss_steps", "all"),
            train_truncation=training.get("train_truncation"),
        )
    else:
        clip = training.get("clip", "none")
        from .captioning import load_caption_dataset
        data_path = resources_dir() / task["dataset"]
        T = load_caption_dataset(str(data_path)).T
        config = RunConfig(
            task="captioning", dataset=task["dataset"], cell=model.get("cell", "rnn"),
            hidden_size=int(model["hidden_size"]), wordvec_dim=int(model.get("wordvec_dim", 16)),
            batch_size=int(task.get("batch_size", 25)), seq_length=T, seed=int(model.get("seed", 0)),
            clip=None if clip == "none" else clip, clip_value=float(training.get("clip_value", 5.0)),
            optimizer=training.get("optimizer", "adam"), lr=float(training.get("lr", 0.005)),
        )
    at = raw.get("at", "start")
    if not isinstance(at, str):
        raise ValueError(f"preset {name}: 'at' must be an event such as \"backward:0\"; got {at!r}")
    return Preset(name=raw["name"], title=raw["title"], teaches=raw["teaches"],
                  view=raw.get("view", "hidden"), kind=kind, config=config, weights=weights,
                  raw=raw, at=at)
