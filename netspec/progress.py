"""Progress while training: a bar that redraws on a terminal, one plain line per epoch elsewhere."""
from __future__ import annotations

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

    def batch(self, epoch: int, done: int, total: int, loss: float) -> None:
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
