"""Messages in the user's language. The English sentence in the code is the gettext message id;
`_("the {name} files are not in {folder}", name=..., folder=...)` makes a Msg, which is that English
text (a str) and also remembers its id and arguments, so that the renderer alone says it in another
language from the shipped catalogue (netspec/i18n/<lang>/LC_MESSAGES/netspec.mo, compiled from the .po
beside it by tools/i18n.py). Layer names, argument names and lines to paste are arguments, never
translated.
"""
from __future__ import annotations

import gettext
import os
from functools import lru_cache
from importlib import resources
from typing import Mapping

LANGUAGES = ("en", "zh")
DOMAIN = "netspec"
_chosen: str | None = None


class Msg(str):
    """An English message that keeps its gettext id and arguments (which may be Msgs themselves)."""

    __slots__ = ("id", "args")

    def __new__(cls, msgid: str, /, **args) -> "Msg":
        self = super().__new__(cls, msgid.format(**args) if args else msgid)
        self.id, self.args = msgid, args
        return self

    def __reduce__(self):  # a Msg sent to another process (torchrun's ranks) stays translatable
        return _rebuild, (self.id, self.args)


def _rebuild(msgid: str, args: dict) -> Msg:
    return Msg(msgid, **args)


_ = Msg


def N_(msgid: str) -> str:
    """Marks a string for the catalogue where it is translated later (argparse's own words)."""
    return msgid


def either(names: list[str]):
    """"a or b or c" (a Msg, so that "or" is said in the user's language); one name as it is."""
    if len(names) == 1:
        return names[0]
    return _("{first} or {rest}", first=names[0], rest=either(names[1:]))


def language(choice: str | None = None, environ: Mapping[str, str] = os.environ) -> str:
    """`zh` or `en`: from --lang, else NETSPEC_LANG, else the locale (LC_ALL, LC_MESSAGES, LANG)."""
    for value in (choice, environ.get("NETSPEC_LANG")):
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def use(lang: str | None) -> None:
    """The language of everything rendered from now on in this process (None: from the environment)."""
    global _chosen
    _chosen = None if lang is None else language(lang)


def current() -> str:
    return _chosen or language()


@lru_cache(maxsize=None)
def catalog(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    path = resources.files(__name__).joinpath(lang, "LC_MESSAGES", f"{DOMAIN}.mo")
    with path.open("rb") as f:
        return gettext.GNUTranslations(f)


def tr(text, lang: str | None = None) -> str:
    """The text in `lang` (default: the current language): a Msg through the catalogue, with its
    arguments translated first; any other str as it is."""
    if not isinstance(text, Msg):
        return text
    lang = lang or current()
    if lang == "en" and not any(isinstance(v, Msg) for v in text.args.values()):
        return str.__str__(text)
    template = catalog(lang).gettext(text.id)
    return template.format(**{k: tr(v, lang) for k, v in text.args.items()}) if text.args else template
