"""SQL fingerprints: the statement with its values taken out, so that runs group together."""

import hashlib
import re

_COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_PLACEHOLDER = re.compile(r"%s|\?|\$\d+")
# IN (?, ?, ?) and VALUES (?, ?), (?, ?) of any length are one statement.
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
_ROWS = re.compile(r"(\(\?\.\.\.\))(?:\s*,\s*\(\?\.\.\.\))+")
_SPACE = re.compile(r"\s+")


def normalize(sql: str) -> str:
    """``SELECT … WHERE id = 42 AND name IN ('a','b')`` -> ``SELECT … WHERE id = ? AND name IN (?...)``."""
    text = _COMMENT.sub(" ", sql)
    text = _STRING.sub("?", text)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _LIST.sub("(?...)", text)
    text = _ROWS.sub(r"\1", text)
    return _SPACE.sub(" ", text).strip()


def fingerprint(normalized_sql: str) -> str:
    return hashlib.sha1(normalized_sql.encode(), usedforsecurity=False).hexdigest()
