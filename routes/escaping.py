"""Escaping of provider-controlled text for each place a sink puts it, as Jinja filters.

Everything in an event that a provider sent (video URLs, error messages, model, task id,
provider status) and every label is data, never markup: in Slack's mrkdwn `&`, `<` and `>` are
escaped, so `<!channel>` or `<https://evil|Click>` prints as text; in HTML the template is
autoescaped; in a mail subject CR, LF and other control characters become spaces. A URL becomes
a link only when its scheme is http or https: `javascript:` or `data:` is shown as text.

Filters, for the default templates and users' own:
    slack_escape   text safe inside Slack mrkdwn
    slack_link     `<url|label>` for an http(s) URL, else the URL as escaped text
    html_link      `<a href="url">label</a>` for an http(s) URL, else the URL as escaped text
    one_line       control characters (CR, LF, tab, ...) as spaces, for a subject or header
    markdown_escape  text safe inside Markdown: its markup characters backslash-escaped
    markdown_link  `[label](url)` for an http(s) URL, else the URL as escaped text
and the test `web_url` (`{% if url is web_url %}`): the URL is absolute http or https.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from markupsafe import Markup, escape

__all__ = [
    "html_link",
    "is_web_url",
    "markdown_escape",
    "markdown_link",
    "one_line",
    "slack_escape",
    "slack_link",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def slack_escape(text: object) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_web_url(url: object) -> bool:
    """Whether `url` is an absolute http:// or https:// URL with a host, and nothing a link
    could be split by (whitespace or control characters)."""
    text = str(url)
    if _CONTROL.search(text) or any(c.isspace() for c in text):
        return False
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def slack_link(url: object, label: object = None) -> str:
    """A Slack link to an http(s) URL (`<url|label>`, or `<url>` without a label); any other
    URL is shown as escaped text, never as a link."""
    if not is_web_url(url):
        return slack_escape(url)
    # `|` and `>` would end the URL part of the markup; percent-encoded they mean the same URL.
    target = slack_escape(str(url).replace("|", "%7C").replace("<", "%3C").replace(">", "%3E"))
    if label is None:
        return f"<{target}>"
    return f"<{target}|{slack_escape(str(label).replace('|', '/'))}>"


def html_link(url: object, label: object = None) -> Markup:
    """An HTML link to an http(s) URL, labelled with `label` (default the URL); any other URL
    is shown as escaped text, never as a link."""
    if not is_web_url(url):
        return escape(str(url))
    text = str(url) if label is None else str(label)
    return Markup('<a href="{}">{}</a>').format(str(url), text)


def one_line(text: object) -> str:
    """The text on one line: each run of control characters (CR, LF, ...) becomes a space."""
    return _CONTROL.sub(" ", str(text))


def markdown_escape(text: object) -> str:
    """Backslash-escape every character Markdown may read as markup, so provider text shows
    as written (no links, emphasis, headings or HTML)."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def markdown_link(url: object, label: object = None) -> str:
    """A Markdown link to an http(s) URL, labelled with `label` (default the URL); any other
    URL is shown as escaped text, never as a link."""
    if not is_web_url(url):
        return markdown_escape(url)
    target = str(url).replace("(", "%28").replace(")", "%29")
    return f"[{markdown_escape(url if label is None else label)}]({target})"
