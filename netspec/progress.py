"""Progress while training: a bar that redraws on a terminal, one plain line per epoch elsewhere."""
from __future__ import annotations

import time
from typing import TextIO


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
        self.stream.write(f"\repoch {epoch}/{self.epochs} [{bar}] {done}/{total} loss {loss:.4f}")
        self.stream.flush()

    def epoch(self, row: dict) -> None:
        if not self.stream:
            return
        acc = f"  accuracy {100 * row['test_accuracy']:.2f}%" if row.get("test_accuracy") is not None else ""
        line = (f"epoch {row['epoch']}/{self.epochs}  train loss {row['train_loss']:.4f}  "
                f"test loss {row['test_loss']:.4f}{acc}  {row['seconds']:.1f} s  {row['images_per_s']:,.0f} img/s")
        self.stream.write(("\r\x1b[K" if self.tty else "") + line + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        if self.stream:
            self.stream.write(text + "\n")
            self.stream.flush()
