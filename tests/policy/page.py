"""A small reader of the /policy page for tests: ids, links, and the letters of each table."""

from __future__ import annotations

from html.parser import HTMLParser


class PageReader(HTMLParser):
    """Collects element ids, in-page links, tags used, and each table's rows of cell letters."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()
        self.tables: list[list[list[str]]] = []  # table -> row -> cell letters (td.c only)
        self._letter_cell = False
        self._in_bold = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "a" and (found.get("href") or "").startswith("#"):
            self.links.append(str(found["href"])[1:])
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag == "td":
            self._letter_cell = "c" in (found.get("class") or "").split()
        elif tag == "b" and self._letter_cell:
            self._in_bold = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "b":
            self._in_bold = False
        elif tag == "td":
            self._letter_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_bold and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(data)


def read_page(page: str) -> PageReader:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader
