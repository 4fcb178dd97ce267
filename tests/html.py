"""Pages read as a DOM, so a test checks what a person or a screen reader would meet.

Built on Beautiful Soup with the standard library's tokenizer ("html.parser"): the tree is what
the browser-independent parser sees, and the few look-ups below are all the page tests need.
Attribute keywords use underscores for dashes (`data_client=` means `data-client`, `class_=`
means the whole `class` attribute); `cls=` matches one class among several.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString


def parse(html: str) -> Node:
    """The document node of `html`."""
    # Attributes stay plain strings (`class` too), as the page wrote them.
    document = BeautifulSoup(html, "html.parser", multi_valued_attributes=None)
    return Node(document, {})


class Node:
    """One element of a parsed page (the document itself at the root)."""

    __slots__ = ("_element", "_nodes")

    def __init__(self, element: Tag, nodes: dict[int, Node]) -> None:
        self._element = element
        # One Node per element of a document, so `is` and `==` mean "the same element".
        self._nodes = nodes
        nodes[id(element)] = self

    def _node(self, element: Tag) -> Node:
        return self._nodes.get(id(element)) or Node(element, self._nodes)

    def __repr__(self) -> str:
        return f"<Node {self.tag} {self.attrs}>"

    @property
    def tag(self) -> str:
        """The element's name, lower case (`[document]` at the root)."""
        return self._element.name

    @property
    def attrs(self) -> dict[str, str]:
        """The attributes as written; a bare attribute (`selected`) has the value "".

        The mapping is the tree's own: a test may change a value before submitting a form.
        """
        return cast(dict[str, str], self._element.attrs)

    @property
    def classes(self) -> set[str]:
        """The element's classes."""
        return set(self.attrs.get("class", "").split())

    @property
    def parent(self) -> Node | None:
        """The enclosing element (None at the document)."""
        parent = self._element.parent
        return self._node(parent) if parent is not None else None

    @property
    def text(self) -> str:
        """Every piece of text inside, as written (script and style contents included)."""
        # Comments, doctypes and other markup declarations are not text a reader meets.
        return "".join(
            str(piece)
            for piece in self._element.descendants
            if isinstance(piece, NavigableString) and not isinstance(piece, PreformattedString)
        )

    def words(self) -> str:
        """The text with whitespace collapsed, as a person reads it."""
        return " ".join(self.text.split())

    def own_words(self) -> str:
        """The element's own text, not its child elements', whitespace collapsed (a chip's
        flag name without its level and tooltip)."""
        return " ".join(
            "".join(
                str(piece)
                for piece in self._element.children
                if isinstance(piece, NavigableString) and not isinstance(piece, PreformattedString)
            ).split()
        )

    def iter(self) -> Iterator[Node]:
        """Every element inside, in document order."""
        for descendant in self._element.descendants:
            if isinstance(descendant, Tag):
                yield self._node(descendant)

    def find_all(
        self, tag: str | None = None, *, cls: str | None = None, **attrs: str
    ) -> list[Node]:
        """Elements inside by tag, one class and exact attribute values."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag)
            and (cls is None or cls in node.classes)
            and all(node.attrs.get(key) == value for key, value in wanted.items())
        ]

    def find(self, tag: str | None = None, *, cls: str | None = None, **attrs: str) -> Node:
        """The first match; asserts there is one."""
        found = self.find_all(tag, cls=cls, **attrs)
        assert found, f"no <{tag or '*'}> with class={cls} {attrs}"
        return found[0]

    def one(self, tag: str | None = None, *, cls: str | None = None, **attrs: str) -> Node:
        """The only match; asserts there is exactly one."""
        found = self.find_all(tag, cls=cls, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def by_id(self, element_id: str) -> Node:
        """The element with this id; asserts there is exactly one."""
        return self.one(id=element_id)
