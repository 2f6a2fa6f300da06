"""Message templates: ``{name}``, ``{offer}``, ``{area}``... checked before launch, rendered per member."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from collector.marketing import MarketingError

PARAMETERS = ("name", "offer", "price", "area", "community", "subscriber_id", "evidence", "event_date")
MAX_LENGTH = 1000


class TemplateError(MarketingError):
    """A template that cannot be rendered; the message names the parameter."""


def check_template(template: str, where: str = "template") -> list[str]:
    """The parameters ``template`` uses; :class:`TemplateError` names an unknown one."""
    if not template.strip():
        raise TemplateError(f"{where} is empty")
    if len(template) > MAX_LENGTH:
        raise TemplateError(f"{where} is longer than {MAX_LENGTH} characters")
    used: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"{where}: {exc} (write {{{{ and }}}} for literal braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PARAMETERS:
            raise TemplateError(f"{where}: unknown parameter {{{name}}}; known: {', '.join(PARAMETERS)}")
        if spec or conversion:
            raise TemplateError(f"{where}: {{{name}}} takes no format or conversion")
        used.append(name)
    return used


def render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with every parameter filled (missing values become empty text)."""
    check_template(template)
    return template.format(**{p: "" if values.get(p) is None else str(values[p]) for p in PARAMETERS})
