"""What the editor completes: the layer types and each one's arguments, from the registry."""
from __future__ import annotations

from ..i18n import tr
from ..registry import layers
from ..render import _state


def layer_table(lang: str) -> dict[str, dict]:
    """{layer: {summary, args: [{name, about}]}} in `lang`, as `netspec layers NAME` says them."""
    return {name: {"summary": tr(lt.summary, lang),
                   "args": [{"name": arg_name, "about": tr(arg.kind, lang) + "; " + tr(_state(arg), lang)}
                            for arg_name, arg in lt.args.items()]}
            for name, lt in sorted(layers().items())}
