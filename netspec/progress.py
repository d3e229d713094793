"""Progress while training: a bar that redraws on a terminal, one plain line per epoch elsewhere; or, with
`--progress json`, one JSON object per line for a program that follows the run (the studio)."""
from __future__ import annotations

import json
import time
from typing import TextIO

from .i18n import _, tr


class Progress:
    """Draws at most a few times a second; `due()` tells the loop when a figure is worth fetching."""

    def __init__(self, stream: TextIO | None, epochs: int):
        self.stream, self.epochs = stream, epochs
        self.tty = bool(stream and hasattr(stream, "isatty") and stream.isatty())
        self.last = 0.0

    def due(self) -> bool:
        return self.tty and time.perf_counter() - self.last > 0.25

    def start(self, folder: str, epoch: int) -> None:
        """Training begins at `epoch` in `folder` (the runner says so in words itself)."""

    def end(self) -> None:
        """Training ended: every epoch asked for is done."""

    def batch(self, epoch: int, done: int, total: int, loss: float, lr: float) -> None:
        self.last = time.perf_counter()
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "=" * filled + (">" if filled < width else "") + " " * (width - filled - 1)
        self.stream.write("\r" + tr(_("epoch {epoch}/{epochs} [{bar}] {done}/{total} loss {loss:.4f}", epoch=epoch,
                                       epochs=self.epochs, bar=bar, done=done, total=total, loss=loss)))
        self.stream.flush()

    def epoch(self, row: dict) -> None:
        if not self.stream:
            return
        figures = dict(epoch=row["epoch"], epochs=self.epochs, train_loss=row["train_loss"],
                       test_loss=row["test_loss"], seconds=row["seconds"], speed=row["images_per_s"])
        if row.get("test_accuracy") is None:
            line = _("epoch {epoch}/{epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
                     "{seconds:.1f} s  {speed:,.0f} img/s", **figures)
        else:
            line = _("epoch {epoch}/{epochs}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  "
                     "accuracy {accuracy:.2f}%  {seconds:.1f} s  {speed:,.0f} img/s",
                     accuracy=100 * row["test_accuracy"], **figures)
        self.stream.write(("\r\x1b[K" if self.tty else "") + tr(line) + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """One line, in the user's language."""
        if self.stream:
            self.stream.write(tr(text) + "\n")
            self.stream.flush()


class JsonProgress(Progress):
    """`netspec train --progress json`: events as JSON lines on `stream` (start, batch at most 4 a second,
    epoch with the metrics row, end); the lines meant for a person go to `errors`."""

    def __init__(self, stream: TextIO | None, epochs: int, errors: TextIO):
        super().__init__(stream, epochs)
        self.errors = errors

    def due(self) -> bool:
        return self.stream is not None and time.perf_counter() - self.last > 0.25

    def _event(self, event: str, **fields) -> None:
        if self.stream:
            self.stream.write(json.dumps({"event": event, **fields}) + "\n")
            self.stream.flush()

    def start(self, folder: str, epoch: int) -> None:
        self._event("start", folder=folder, epochs=self.epochs, epoch=epoch)

    def end(self) -> None:
        self._event("end")

    def batch(self, epoch: int, done: int, total: int, loss: float, lr: float) -> None:
        self.last = time.perf_counter()
        self._event("batch", epoch=epoch, done=done, total=total, loss=loss, lr=lr)

    def epoch(self, row: dict) -> None:
        self._event("epoch", **row)

    def say(self, text: str) -> None:
        if self.stream:
            self.errors.write(tr(text) + "\n")
            self.errors.flush()
