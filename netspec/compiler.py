"""The compiler's pipeline up to shapes: load -> validate -> resolve -> infer. No torch here."""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import NetspecError, Problem
from .guard import batch_size, memory_problem, trains_on_cpu
from .infer import LayerInfo, infer
from .loader import Document, load
from .registry import Tensor
from .resolve import model_input, resolve
from .validate import validate

@dataclass
class Report:
    """The outcome of checking one spec: its errors, or its layers and totals."""

    file: str
    doc: Document | None = None
    errors: list[Problem] = field(default_factory=list)
    input: Tensor | None = None
    layers: list[LayerInfo] = field(default_factory=list)
    exit_code: int = 0

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def output(self) -> Tensor | None:
        return self.layers[-1].output if self.valid and self.layers else None

    @property
    def total_params(self) -> int:
        return sum(info.params for info in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(info.macs for info in self.layers)

    @property
    def param_bytes(self) -> int:
        return 4 * self.total_params

    @property
    def activation_bytes(self) -> int:
        """Memory of every layer's output for one sample, as a forward pass keeps it."""
        return sum(info.output.nbytes() + info.inner_bytes for info in self.layers)


def check(spec: str | dict | Document, max_params: int | None = None, device: str | None = None,
          batch: int | None = None) -> Report:
    """Check a spec file (path), plain dict or loaded Document; never raises for a bad spec.

    A model that cannot fit in the memory available is an error, refused here before anything is
    allocated: its weights, and when it trains on the CPU (its train.device, or `device` when given) its
    layer outputs for a batch too (`batch`: another size; 0 for the weights alone, as eval and predict
    need). `max_params` overrides that, and refuses more parameters instead."""
    report = Report(spec if isinstance(spec, str) else getattr(spec, "file", "<dict>"))
    try:
        doc = spec if isinstance(spec, Document) else load(spec) if isinstance(spec, str) else Document(spec, "<dict>")
        report.doc = doc
        problems = validate(doc)
        if problems:
            raise NetspecError(problems)
        report.input = model_input(doc.data)
        report.layers = infer(resolve(doc.data), report.input)
        if batch is None:
            batch = batch_size(doc.data) if trains_on_cpu(doc.data, device) else 0
        too_big = memory_problem(report, max_params, batch=batch)
        if too_big:
            raise NetspecError(too_big)
    except NetspecError as e:
        report.doc = report.doc or e.doc
        report.errors = [report.doc.place(p) if report.doc else p for p in e.problems]
        report.exit_code = e.exit_code
    return report
