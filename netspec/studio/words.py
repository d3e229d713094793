"""The page's own words, as messages of netspec's catalogue; the server sends them in the page's language."""
from __future__ import annotations

from ..i18n import _, tr

WORDS = {
    "title": _("netspec studio"),
    "edit": _("Edit"),
    "save": _("Save"),
    "saved": _("Saved {path}"),
    "checking": _("checking…"),
    "valid": _("valid"),
    "errors": _("{n} errors"),
    "error1": _("1 error"),
    "warnings": _("{n} warnings"),
    "warning1": _("1 warning"),
    "hint": _("hint"),
    "fix": _("Fix it"),
    "problems": _("Problems"),
    "no_problems": _("No problems: the spec is valid."),
    "table": _("Shapes"),
    "diagram": _("Diagram"),
    "input": _("input"),
    "not_valid": _("The table and the diagram show the last valid version of the spec."),
    "click_row": _("Click a row or a box to go to its line."),
    "server_gone": _("The studio's server does not answer; your text is still here. Start `netspec studio` "
                     "again and save."),
    "conflict": _("{path} changed on disk since you opened it."),
    "overwrite": _("Overwrite it with my text"),
    "theirs": _("Open the file from disk (my text is kept as a copy)"),
    "cancel": _("Cancel (keep editing)"),
    "kept_copy": _("Your text was saved as {path}; the editor shows the file from disk."),
    "leave": _("You have unsaved changes."),
    "pick": _("Choose a spec to open:"),
    "none_found": _("No .yaml specs in this folder."),
}


def words(lang: str) -> dict[str, str]:
    """Every word of the page in `lang` (the {placeholders} are filled in by the page)."""
    return {key: tr(message, lang) for key, message in WORDS.items()}
