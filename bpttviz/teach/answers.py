"""The answers log: one CSV row per answered question, ``answers.csv`` in the user's data
folder (:func:`bpttviz.paths.data_dir`), for self-assessment.  No Qt."""
from __future__ import annotations

import csv
import io
import os
import time
from typing import List, Optional

ANSWER_COLUMNS = ("time", "kind", "prompt", "response", "answer", "correct", "score", "preset",
                  "iteration", "event", "mode")


def answers_path() -> str:
    from ..paths import data_dir
    return os.path.join(data_dir(), "answers.csv")


class AnswerLog:
    """Appends one CSV row per answered question to ``path`` (default: ``answers.csv`` in
    the data folder), header first when the file is new.  Each row is written in one call
    and flushed to disk, so an interrupted session loses at most the row being written."""

    def __init__(self, path: Optional[str] = None):
        self.path = path or answers_path()

    def record(self, question, response, preset: str = "", iteration: int = 0,
               mode: str = "predict") -> dict:
        row = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "kind": question.kind,
               "prompt": question.prompt, "response": question.response_text(response),
               "answer": question.answer_text(), "correct": int(question.is_correct(response)),
               "score": f"{question.score(response):.3f}", "preset": preset or "",
               "iteration": int(iteration), "event": question.ask_at, "mode": mode}
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=ANSWER_COLUMNS, lineterminator="\n")
        new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        if new:
            writer.writeheader()
        writer.writerow(row)
        with open(self.path, "a", encoding="utf-8", newline="") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        return row

    def rows(self) -> List[dict]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
