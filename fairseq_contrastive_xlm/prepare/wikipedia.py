"""Plain text from a Wikipedia dump (pages-articles.xml.bz2): one paragraph per line.

The dump is streamed (it never sits in memory). Only articles are kept (namespace 0, no redirects), and the
wiki markup is removed: templates, tables, references, comments and HTML tags disappear; links keep their
label; file, category and interlanguage links disappear; headings, list markers and bold/italic quotes go.
"""

import bz2
import html
import re
import xml.etree.ElementTree as ET
from typing import Iterator, TextIO

_COMMENT = re.compile(r"<!--.*?-->", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_BLOCK_TAGS = re.compile(r"<(gallery|math|code|pre|syntaxhighlight|score|timeline|imagemap)[^>]*>.*?</\1>", re.S | re.I)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_TABLE = re.compile(r"\{\|[^{}]*?\|\}", re.S)
_NAMESPACED_LINK = re.compile(r"\[\[[^\]|\[]*:[^\]\[]*(\[\[[^\]]*\]\][^\]\[]*)*\]\]")
_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_EXTERNAL = re.compile(r"\[(?:https?|ftp)://\S+(?: ([^\]]*))?\]")
_QUOTES = re.compile(r"'{2,}")
_HEADING = re.compile(r"^=+.*=+$")


def _remove_nested(pattern: re.Pattern, text: str) -> str:
    """Innermost first, until nothing matches: templates and tables nest."""
    while True:
        text, n = pattern.subn("", text)
        if not n:
            return text


def strip_markup(wikitext: str) -> str:
    text = _COMMENT.sub("", wikitext)
    text = _REF.sub("", text)
    text = _BLOCK_TAGS.sub("", text)
    text = _remove_nested(_TEMPLATE, text)
    text = _remove_nested(_TABLE, text)
    text = _NAMESPACED_LINK.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _EXTERNAL.sub(lambda m: m.group(1) or "", text)
    text = _TAG.sub("", text)
    text = _QUOTES.sub("", text)
    return html.unescape(text)


def paragraphs(wikitext: str, min_chars: int) -> Iterator[str]:
    for line in strip_markup(wikitext).split("\n"):
        line = line.strip()
        if not line or _HEADING.match(line) or line.startswith(("{|", "|", "!")):
            continue
        line = " ".join(line.lstrip("*#:;").split())
        if len(line) >= min_chars:
            yield line


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def articles(dump) -> Iterator[str]:
    """The wikitext of each article (namespace 0, not a redirect) of an open dump."""
    namespace, redirect, text = None, False, None
    for event, element in ET.iterparse(dump, events=("end",)):
        tag = _local(element.tag)
        if tag == "ns":
            namespace = element.text
        elif tag == "redirect":
            redirect = True
        elif tag == "text":
            text = element.text or ""
        elif tag == "page":
            if namespace == "0" and not redirect and text:
                yield text
            namespace, redirect, text = None, False, None
            element.clear()  # keep memory flat on multi-gigabyte dumps


def extract(dump_path: str, out: TextIO, min_chars: int = 30, max_articles: int = 0) -> int:
    """Write the paragraphs of every article to out; returns the number of articles read."""
    opener = bz2.open if dump_path.endswith(".bz2") else open
    count = 0
    with opener(dump_path, "rb") as dump:
        for wikitext in articles(dump):
            for paragraph in paragraphs(wikitext, min_chars):
                out.write(paragraph + "\n")
            count += 1
            if max_articles and count >= max_articles:
                break
    return count
