"""Reading pages in tests: elements by `data-testid`, with their attributes and visible text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed (what a reader sees, roughly)."""
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else f" {child.text} ")
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def find_all(self, testid: str) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                if child.attrs.get("data-testid") == testid:
                    found.append(child)
                found.extend(child.find_all(testid))
        return found

    def find(self, testid: str) -> Element:
        found = self.find_all(testid)
        assert len(found) == 1, f"{len(found)} elements with data-testid={testid!r}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if self.stack[-1].tag not in ("script", "style"):
            self.stack[-1].children.append(data)


def page(content: bytes | str) -> Element:
    builder = _TreeBuilder()
    builder.feed(content.decode() if isinstance(content, bytes) else content)
    return builder.root


def offers(content: bytes | str) -> dict[str, tuple[str, str]]:
    """Each SKU offer on a page: code -> (its text, its stock status)."""
    result = {}
    for offer in page(content).find_all("offer"):
        badge = offer.find_all("stock-badge")
        result[offer.attrs["data-sku"]] = (
            offer.text,
            badge[0].attrs["data-stock"] if badge else "",
        )
    return result
