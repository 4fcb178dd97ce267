"""QR codes drawn on the server as inline SVG (segno): the check-in link to scan in session."""

from __future__ import annotations

import io

from markupsafe import Markup


def qr_svg(text: str, *, label: str) -> Markup:
    """`text` as an accessible inline SVG QR code (error correction M, 4 px modules)."""
    # Loaded here: only a check-in link's page and MFA enrolment draw one, and loaded with the
    # app segno cost every worker about 1 MiB and a few milliseconds of its start.
    import segno

    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, svgclass="qr")
    svg = out.getvalue().decode()
    # Escaped label; the SVG itself is segno's own output (no text from outside inside it).
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{Markup.escape(label)}" ', 1))
