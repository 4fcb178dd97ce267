"""Dashboard forms: typed text in, schema input out, and every problem as a per-field message.

A form is a tuple of `FieldSpec`s (fields.py), defined once in `registry.py` with ranges read
from the Pydantic input schemas (ranges.py). `parse_fields` turns the submitted strings into
Python values (a date-time pair typed in the practice time zone becomes an aware UTC datetime;
parsing.py documents the daylight-saving rule), `validate` hands them to the input schema, and
`messages_from_validation` / `messages_from_invalid` (messages.py) turn a `ValidationError` or a
service's `Invalid` into `{field name: message}`. `FormState` (state.py) carries what a
template needs to draw the form again: the values exactly as typed and the messages.
"""

from practice_dashboard.web.forms.fields import Choice, FieldSpec, Kind, from_schema
from practice_dashboard.web.forms.messages import (
    field_key,
    messages_from_invalid,
    messages_from_validation,
    readable,
)
from practice_dashboard.web.forms.parsing import (
    FieldProblem,
    local_input_values,
    parse_after,
    parse_fields,
    parse_local_datetime,
    parse_pair,
    validate,
)
from practice_dashboard.web.forms.state import FormState, SummaryLine

__all__ = [
    "Choice",
    "FieldProblem",
    "FieldSpec",
    "FormState",
    "Kind",
    "SummaryLine",
    "field_key",
    "from_schema",
    "local_input_values",
    "messages_from_invalid",
    "messages_from_validation",
    "parse_after",
    "parse_fields",
    "parse_local_datetime",
    "parse_pair",
    "readable",
    "validate",
]
