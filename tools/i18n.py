#!/usr/bin/env python3
"""The message catalogues: extract every `_("...")` and `N_("...")` id from netspec/ with Babel, merge
them into each language's .po (translations kept, new ids empty, ids gone from the code dropped), and
compile each .po into the .mo that netspec ships.

usage: python tools/i18n.py update    # after changing messages: then translate the empty entries
       python tools/i18n.py merge LANG FILE.json   # fill entries from a JSON {id: translation}
       python tools/i18n.py compile   # after translating: writes the .mo files
       python tools/i18n.py check     # what the tests check: nothing missing, stale or untranslated
"""
from __future__ import annotations

import gettext
import io
import re
from datetime import datetime, timezone
import sys
import warnings
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netspec"
I18N = PACKAGE / "i18n"
LANGUAGES = {"zh": "zh_Hans_CN"}
KEYWORDS = {"_": None, "N_": None}
_HEADER = dict(project="netspec", version="1", copyright_holder="the netspec authors",
               msgid_bugs_address="the netspec issue tracker", language_team="netspec",
               creation_date=datetime(2026, 11, 28, tzinfo=timezone.utc),
               revision_date=datetime(2026, 11, 28, tzinfo=timezone.utc), last_translator="netspec",
               header_comment="# netspec's messages in Simplified Chinese. Made by tools/i18n.py update;\n"
                              "# translate the empty msgstr entries, then run tools/i18n.py compile.")
_FIELD = re.compile(r"\{([^{}:!]*)[^{}]*\}|(%(?:\([^)]*\))?[sdr])")


def po_path(lang: str) -> Path:
    return I18N / lang / "LC_MESSAGES" / "netspec.po"


def extract() -> dict[str, list[str]]:
    """Every message id in the package, with where it is used. An f-string inside _() is an error:
    it cannot be looked up in a catalogue."""
    found: dict[str, list[str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for file, line, msgid, _comments, _context in extract_from_dir(
                str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS):
            if isinstance(msgid, tuple):
                raise SystemExit(f"netspec/{file}:{line}: plural forms are not used; write two _() calls")
            found.setdefault(msgid, []).append(f"netspec/{file}:{line}")
    return found


def read(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=LANGUAGES[lang], domain="netspec", **_HEADER)
    with open(path, "rb") as f:
        return read_po(f, locale=LANGUAGES[lang], domain="netspec")


def fields(text: str) -> list[str]:
    """The {name} fields (as a set) and %-conversions (in order) a message must keep."""
    found = _FIELD.findall(text)
    return sorted({name for name, _ in found if not _}) + [pct for _, pct in found if pct]


def update() -> None:
    found = extract()
    for lang in LANGUAGES:
        old = read(lang)
        new = Catalog(locale=LANGUAGES[lang], domain="netspec", fuzzy=False, **_HEADER)
        for msgid, places in sorted(found.items()):
            previous = old.get(msgid)
            new.add(msgid, previous.string if previous else "",
                    locations=[(f, int(n)) for f, n in (p.rsplit(":", 1) for p in places)])
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        write_po(buf, new, width=100, sort_output=True, include_lineno=False)
        path.write_bytes(buf.getvalue())
        print(f"{path.relative_to(ROOT)}: {len(new)} messages, "
              f"{sum(1 for m in new if m.id and not m.string)} to translate")


def write(lang: str, cat: Catalog) -> None:
    buf = io.BytesIO()
    write_po(buf, cat, width=100, sort_output=True, include_lineno=False)
    po_path(lang).write_bytes(buf.getvalue())


def merge(lang: str, translations: dict[str, str]) -> None:
    """Fill the catalogue's entries from {id: translation}; ids not in the catalogue are reported."""
    cat = read(lang)
    unknown = [i for i in translations if i not in cat]
    for m in cat:
        if m.id and m.id in translations and translations[m.id]:
            m.string = translations[m.id]
    write(lang, cat)
    print(f"{len(translations) - len(unknown)} merged; not in the catalogue: {len(unknown)}")
    for i in unknown:
        print(f"  {i!r}")


def compiled(lang: str) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, read(lang))
    return buf.getvalue()


def shipped(mo: Path) -> dict[str, str]:
    """The translations a compiled catalogue holds (not its bytes: Babel versions differ in headers)."""
    with open(mo, "rb") as f:
        return {k: v for k, v in gettext.GNUTranslations(f)._catalog.items() if k}


def compile_all() -> None:
    for lang in LANGUAGES:
        path = po_path(lang).with_suffix(".mo")
        path.write_bytes(compiled(lang))
        print(path.relative_to(ROOT))


def problems() -> list[str]:
    """What keeps a catalogue from covering every message netspec can show."""
    found = extract()
    out = []
    for lang in LANGUAGES:
        cat = read(lang)
        ids = {m.id for m in cat if m.id}
        out += [f"{lang}: no entry for {i!r} ({found[i][0]})" for i in sorted(set(found) - ids)]
        out += [f"{lang}: {i!r} is no longer in the code" for i in sorted(ids - set(found))]
        for m in cat:
            if not m.id:
                continue
            if not m.string:
                out.append(f"{lang}: {m.id!r} has no translation")
            elif m.fuzzy:
                out.append(f"{lang}: {m.id!r} is marked fuzzy")
            elif fields(m.id) != fields(m.string):
                out.append(f"{lang}: {m.id!r}: the translation's {{fields}} differ: {sorted(fields(m.string))}")
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists() or shipped(mo) != {m.id: m.string for m in cat if m.id}:
            out.append(f"{lang}: {mo.relative_to(ROOT)} is not compiled from the .po (run tools/i18n.py compile)")
    return out


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "update":
        update()
    elif command == "merge" and len(sys.argv) == 4:
        import json

        merge(sys.argv[2], json.loads(Path(sys.argv[3]).read_text(encoding="utf-8")))
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = problems()
        print("\n".join(found) or "every message has a translation")
        sys.exit(1 if found else 0)
    else:
        print(__doc__)
        sys.exit(2)
