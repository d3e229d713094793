"""The compiler's pipeline up to shapes: load -> validate -> resolve -> infer. No torch here."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .advice import advise
from .errors import NetspecError, Problem
from .fit import input_problems, output_problems
from .guard import batch_size, memory_problem, trains_on_cpu
from .infer import LayerInfo, infer
from .loader import Document, load, loads
from .registry import Tensor
from .resolve import model_input, resolve
from .validate import validate

@dataclass
class Report:
    """The outcome of checking one spec: its errors, or its layers and totals."""

    file: str
    doc: Document | None = None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # a valid spec's likely mistakes (advice.py)
    input: Tensor | None = None
    layers: list[LayerInfo] = field(default_factory=list)
    exit_code: int = 0
    batch: int = 0  # the batch the memory estimate is for (0: the weights alone)

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
          batch: int | None = None, allocate: bool = False, verify: bool = True, overrides=()) -> Report:
    """Check a spec file (path), plain dict or loaded Document; never raises for a bad spec.

    Its memory: the weights, and when it trains on the CPU (its train.device, or `device` when given) its
    layer outputs for a batch too (`batch`: another size; 0 for the weights alone, as eval and predict
    need). A model that would not fit in this machine's available memory is a warning, so that a check
    gives the same verdict on the same spec; with `allocate` (the model is about to be built) it is an
    error. `max_params` replaces the machine's memory by that many parameters, an error either way.
    `verify`: keep an error's fix only if the spec it makes gets further (see _verified). `overrides`:
    `--set KEY=VALUE` items."""
    report = Report(spec if isinstance(spec, str) else getattr(spec, "file", "<dict>"))
    try:
        doc = spec if isinstance(spec, Document) else load(spec) if isinstance(spec, str) else Document(spec, "<dict>")
        if overrides:  # `--set KEY=VALUE` (and `--scale`), as train applies them
            from .overrides import apply

            doc = apply(doc, list(overrides))
        report.doc = doc
        problems = validate(doc)
        if problems:
            raise NetspecError(problems)
        report.input = model_input(doc.data)
        nodes = resolve(doc.data)
        problems = input_problems(doc.data, report.input)
        if problems:
            raise NetspecError(problems)
        report.layers = infer(nodes, report.input)
        problems = output_problems(doc.data, report.layers, report.input)
        if problems:
            raise NetspecError(problems)
        if batch is None:
            batch = batch_size(doc.data) if trains_on_cpu(doc.data, device) else 0
        report.batch = batch
        too_big = memory_problem(report, max_params, batch=batch)
        if too_big and not too_big.code and (allocate or max_params is not None):  # code: only a warning
            raise NetspecError(too_big)
        warnings = advise(report.layers, doc.data)
        if too_big and "memory" not in (doc.data.get("silence") or ()):
            warnings.append(replace(too_big, code="memory"))
        report.warnings = [doc.place(w) for w in warnings]
    except NetspecError as e:
        report.doc = report.doc or e.doc
        report.errors = [report.doc.place(p) if report.doc else p for p in e.problems]
        report.exit_code = e.exit_code
        if verify and report.doc is not None:
            report.errors = [_verified(p, report.doc) if i < 5 else replace(p, fix=None)
                             for i, p in enumerate(report.errors)]
    return report


def _verified(problem: Problem, doc: Document) -> Problem:
    """The problem, its fix kept only where the fixed spec gets further: valid, or its first error later
    in the file. A hint may say what to consider; a fix is an edit that is known to work."""
    if problem.fix is None or problem.fix.line is None or not doc.text:
        return problem
    try:
        fixed = check(loads(problem.fix.apply(doc.text), doc.file), verify=False)
    except NetspecError:
        fixed = None
    if fixed is not None and (fixed.valid or (fixed.errors[0].line or 0) > (problem.line or 0)):
        return problem
    return replace(problem, fix=None)
