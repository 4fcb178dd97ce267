"""What a template needs to draw a form again: its fields, the values as typed, the messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from practice_dashboard.web.forms.fields import FieldSpec
from practice_dashboard.web.forms.messages import find_spec
from practice_dashboard.web.forms.parsing import TRUE_WORDS


@dataclass(frozen=True, slots=True)
class SummaryLine:
    anchor: str
    label: str
    message: str


@dataclass
class FormState:
    """One form as drawn: its fields, the values as typed, messages, and its one-time id."""

    specs: tuple[FieldSpec, ...]
    values: Mapping[str, str]
    form_id: str
    errors: dict[str, str] = field(default_factory=dict)
    # Where the summary links a message that belongs to no single input: {name: (id, label)}.
    anchors: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # Fields marked at the field only: a general message in the summary already covers them.
    quiet: frozenset[str] = frozenset()

    def spec(self, name: str) -> FieldSpec:
        found = find_spec(self.specs, name)
        if found is None:
            raise KeyError(name)
        return found

    def has(self, name: str) -> bool:
        return find_spec(self.specs, name) is not None

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def checked(self, name: str) -> bool:
        return self.value(name).strip().lower() in TRUE_WORDS

    def described_by(self, name: str, *, hint: bool) -> str:
        """The ids of the field's hint and message, for `aria-describedby`."""
        ids = []
        if hint:
            ids.append(f"{name}-hint")
        if name in self.errors:
            ids.append(f"{name}-error")
        return " ".join(ids)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def first(self) -> str:
        return self.specs[0].name if self.specs else ""

    def autofocus(self, name: str) -> bool:
        """The first field gets the focus, unless the error summary needs it."""
        return not self.has_errors and name == self.first

    def summary(self) -> list[SummaryLine]:
        """Every message, each linking to its input: general ones first, then form order."""
        known = {s.name for s in self.specs}
        lines = [
            SummaryLine(*self.anchors.get(name, ("log-form", "")), message)
            for name, message in self.errors.items()
            if name not in known
        ]
        for spec in self.specs:
            message = self.errors.get(spec.name)
            if message and spec.name not in self.quiet:
                lines.append(SummaryLine(spec.anchor, spec.label, message))
        return lines
