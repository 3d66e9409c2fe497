"""YAML in and out, with the scalar meanings Kubernetes tooling gives them.

kpt and kustomize read YAML with go-yaml v3 (YAML 1.2 core schema plus a few
compatibility rules); ``kubectl``/Argo CD convert YAML to JSON with go-yaml v2
(YAML 1.1 booleans such as ``on``/``yes``/``y``).  PyYAML's default resolver
is YAML 1.1 and would turn a user's ``on`` into ``true``.  So:

* Loading resolves plain scalars the way go-yaml v3 does.  ``on``, ``yes``,
  ``y`` stay strings.  Numbers, timestamps and other non-string, non-bool,
  non-null scalars are kept as :class:`RawScalar`, which remembers the exact
  text (``0755``, ``1e3``, ``2024-01-01``, 30-digit integers all come back
  as they went in).
* Dumping quotes every string that *any* of those readers would take for
  something else, and writes a :class:`RawScalar` back as its original text.
* Output is block style with no anchors or aliases (kustomize fails on them).

Malformed YAML raises :class:`YamlError` carrying a line number; nothing else
escapes this module.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterator

import yaml
from yaml.nodes import MappingNode, ScalarNode

from . import limits

try:  # libyaml-backed classes; the pure-Python ones behave the same, slower.
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML wheels ship libyaml
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

STR = "tag:yaml.org,2002:str"
NULL = "tag:yaml.org,2002:null"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
MERGE = "tag:yaml.org,2002:merge"


class YamlError(Exception):
    """The input is not YAML we accept. ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class RawScalar:
    """A non-string scalar kept as the text it was written as.

    Equality and hashing use the text, so data parsed from the output equals
    data parsed from the input exactly when the text did not change.
    """

    __slots__ = ("tag", "text")

    def __init__(self, tag: str, text: str):
        self.tag = tag
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawScalar) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("RawScalar", self.text))

    def __repr__(self) -> str:
        return f"RawScalar({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> Any:
        """Best-effort JSON value (numbers as numbers, anything else as text)."""
        try:
            return json.loads(self.text)
        except ValueError:
            return self.text


# --- scalar resolution -----------------------------------------------------

# go-yaml v3 (resolve.go): null, bool and the special floats by exact text.
_GO_NULL = {"", "~", "null", "Null", "NULL"}
_GO_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_GO_SPECIAL_FLOAT = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
# Texts that may be numbers to go-yaml (strconv.ParseInt/ParseUint base 0 after
# removing "_", its float pattern, 0b/0o prefixes): a superset, the syntax
# only (fastio sends every item holding one to this module); whether one is a
# number, and which, is :func:`_go_number`'s to say.
_GO_NUMBER = re.compile(
    r"^(?:[-+]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9_]+)?)"
    r"|0[bo][-+][0-9_]+)$"  # go-yaml's own 0b/0o branches hand strconv what follows the prefix, a sign too
)
_GO_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?)?$"
)
# YAML 1.1 readers (go-yaml v2 in sigs.k8s.io/yaml, PyYAML) add these.
_YAML11_BOOL = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
)
_YAML11_NUMBER = re.compile(
    r"^(?:[-+]?(?:0b[0-1_]+|0[0-7_]+|(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
    r"|[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?"
    r"|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


# go-yaml v3's number syntax (resolve.go): strconv's base-0 integers (a sign, then a 0x/0b/0o prefix, a
# leading 0 for octal, or decimal digits), its yamlStyleFloat, its own 0b/0o branches (strconv reads what
# follows the prefix in base 2 or 8: "0b-1" is -1), and what strconv.ParseFloat reads of a text starting
# with "." (go-yaml keeps its "_": ParseFloat allows one only between digits).
_GO_INT = re.compile(r"^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|0([0-7]*)|([1-9][0-9]*))$")
_GO_INT_BASES = (16, 2, 8, 8, 10)
_GO_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_GO_PREFIXED = re.compile(r"^0(?:b([-+]?[01]+)|o([-+]?[0-7]+))$")
_GO_DOT_FLOAT = re.compile(r"^\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?$")


def resolve_plain(text: str) -> str:
    """The tag go-yaml v3 gives an untagged plain scalar."""
    if text in _GO_NULL:
        return NULL
    if text in _GO_BOOL:
        return BOOL
    if text == "<<":
        return MERGE
    first = text[0]
    if first in "0123456789+-.":
        if _GO_TIMESTAMP.match(text):
            return TIMESTAMP
        if _GO_SPECIAL_FLOAT.match(text):
            return FLOAT
        # go-yaml removes every "_" from a text starting with a digit or a sign before reading it as a number
        plain = text if first == "." else text.replace("_", "")
        if _GO_NUMBER.match(plain):
            return _go_number(plain, first)
    return STR


def _go_number(plain: str, first: str) -> str:
    """INT, FLOAT or STR, as go-yaml v3 reads a text :data:`_GO_NUMBER` matches (``_`` removed unless it
    starts with "."): an integer strconv reads in 64 bits (signed, or unsigned without a sign), else a
    finite float; anything else, such as ``0x1FFFFFFFFFFFFFFFF``, ``1e999`` or ``._5``, is a string."""
    if first == ".":
        return FLOAT if _GO_DOT_FLOAT.match(plain) and _finite(plain.replace("_", "")) else STR
    found = _GO_INT.match(plain)
    if found is not None:
        sign = found.group(1)
        index, digits = next((i, g) for i, g in enumerate(found.groups()[1:]) if g is not None)
        if _in_64_bits(sign, digits, _GO_INT_BASES[index], unsigned=not sign):
            return INT
    if _GO_FLOAT.match(plain) and _finite(plain):
        return FLOAT
    found = _GO_PREFIXED.match(plain)
    if found is not None:  # (ParseInt only: what follows may carry a sign; without one ParseUint came first)
        rest = found.group(1) or found.group(2)
        sign = rest[0] if rest[0] in "+-" else ""
        if _in_64_bits(sign, rest.lstrip("+-"), 2 if found.group(1) else 8, unsigned=False):
            return INT
    return STR


def _in_64_bits(sign: str, digits: str, base: int, unsigned: bool) -> bool:
    """Whether strconv.ParseInt (or, ``unsigned``, ParseUint) reads ``sign`` + ``digits`` in 64 bits."""
    digits = digits.lstrip("0") or "0"
    if len(digits) > 64:  # more digits than 64 bits hold in any base (and int() is never slow)
        return False
    value = int(digits, base)
    return value <= 2 ** 63 if sign == "-" else value < (2 ** 64 if unsigned else 2 ** 63)


def _finite(text: str) -> bool:
    """Whether strconv.ParseFloat reads ``text`` (a float's syntax) without overflowing."""
    return math.isfinite(float(text))


def needs_quotes(text: str) -> bool:
    """Would some Kubernetes YAML reader take this plain text for a non-string?"""
    if resolve_plain(text) != STR:
        return True
    return bool(_YAML11_BOOL.match(text) or _YAML11_NUMBER.match(text) or text == "=")


# --- loading -----------------------------------------------------------------


class _Loader(_BaseLoader):
    def resolve(self, kind, value, implicit):  # noqa: D401 - PyYAML hook
        if kind is ScalarNode and implicit[0]:
            return resolve_plain(value)
        if kind is ScalarNode:
            return STR
        return super().resolve(kind, value, implicit)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if key_node.tag == MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        "found an unhashable key", key_node.start_mark) from None
                if duplicate:  # (a key is a name, not a value: quoted)
                    shown = repr(key_node.value) if isinstance(key_node, ScalarNode) else "(a collection)"
                    raise _OwnError(None, None, f"duplicate mapping key {shown}", key_node.start_mark)  # as written
        return super().construct_mapping(node, deep=deep)


def _construct_raw(loader: _Loader, node: ScalarNode) -> RawScalar:
    return RawScalar(node.tag, node.value)


def _construct_bool(loader: _Loader, node: ScalarNode) -> Any:
    value = _GO_BOOL.get(node.value)
    return value if value is not None else RawScalar(node.tag, node.value)


def _construct_undefined(loader: _Loader, node: Any) -> Any:
    # PyYAML's own message quotes the tag: an unquoted value starting with "!" (a password) is one.
    raise _OwnError(None, None, "unknown tag: only YAML's core tags are read (quote a value that starts "
                    "with '!')", node.start_mark)


for _tag in (INT, FLOAT, TIMESTAMP):
    _Loader.add_constructor(_tag, _construct_raw)
_Loader.add_constructor(BOOL, _construct_bool)
_Loader.add_constructor(None, _construct_undefined)


def _construct_binary(loader: _Loader, node: ScalarNode) -> bytes:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_binary(loader, node)
    except yaml.constructor.ConstructorError:  # (its message quotes a character of the value)
        raise _OwnError(None, None, "a !!binary value that is not base64", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:binary", _construct_binary)


def _construct_yaml11_collection(loader: _Loader, node: Any) -> Any:
    # PyYAML would turn them into lists of pairs or a mapping of nulls: the item would be written back changed.
    name = node.tag.rsplit(":", 1)[-1]
    raise _OwnError(None, None, f"!!{name} is a YAML 1.1 type Kubernetes tools do not read: write a plain mapping "
                    "or sequence", node.start_mark)


for _tag in ("omap", "pairs", "set"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct_yaml11_collection)


class _OwnError(yaml.constructor.ConstructorError):
    """A message of this module's, which quotes nothing but a key."""


# Quoted text in PyYAML's messages that is never a value's: a token's name ('<block end>'), an indicator
# (',' or ']') or a control character ('\t').  Anything else quoted (an alias, a tag handle, a character
# of a value) may be part of a secret value and is not repeated.
_KEPT_QUOTE = re.compile(r"'(?:<[a-z ]+>|[-?:,\[\]{}#&*!|>%@`]|\\[tnr0]|\\x[01][0-9a-f]|\\x7f)'|\"<[a-z ]+>\"")
_QUOTED = re.compile(r"(?<![A-Za-z])(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")(?![A-Za-z])")


def _unquoted(message: str) -> str:
    return _QUOTED.sub(lambda m: m.group(0) if _KEPT_QUOTE.fullmatch(m.group(0)) else "'...'", message)


def _yaml_error(exc: yaml.YAMLError) -> YamlError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    first = getattr(exc, "context_mark", None)
    if context and context.startswith("found duplicate anchor") and first is not None:
        context, problem = None, (f"an anchor defined a second time (first on line {first.line + 1}): this reader "
                                  "does not take a redefined anchor (go-yaml does): rename one")
    message = f"{context}: {problem}" if context and problem and context not in problem else problem
    if not isinstance(exc, _OwnError):
        message = _unquoted(message)
    return YamlError(f"invalid YAML: {message}", mark.line + 1 if mark is not None else None)


def _json_object_hook_pairs(pairs: list) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise YamlError(f"invalid JSON: duplicate key {key!r}")
        out[key] = value
    return out


def _json_number(text: str) -> Any:
    """A JSON number as go-yaml reads it (JSON is YAML to kpt): ``1e999`` is a string there, and an
    integer beyond 64 bits a float; the text is kept."""
    tag = resolve_plain(text)
    return text if tag == STR else RawScalar(tag, text)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # (Go's encoder writes \u003c for "<": common, and cheap)


def _load_json(text: str) -> Any:
    try:
        data = json.loads(
            text,
            object_pairs_hook=_json_object_hook_pairs,
            parse_int=_json_number,
            parse_float=_json_number,
            parse_constant=str,  # NaN, Infinity: not JSON; plain strings to a YAML reader (go-yaml, kpt)
        )
    except json.JSONDecodeError as exc:
        raise YamlError(f"invalid JSON: {exc.msg}", exc.lineno) from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        # A UTF-16 surrogate escape: go-yaml (kpt reads JSON as YAML) refuses it, paired or not, and Python's
        # json reads a lone one into a string UTF-8 cannot hold.  The YAML reader reports it, with its line.
        raise YamlError("invalid JSON: a \\u escape of a UTF-16 surrogate")
    return data


def decode(data: bytes) -> str:
    """Bytes to text: UTF-8 (a leading byte-order mark is dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = "; it starts with a UTF-16 or UTF-32 byte-order mark: convert it to UTF-8" \
            if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")) else ""
        raise YamlError(f"input is not UTF-8 (invalid byte at offset {exc.start}){hint}") from None
    return text[1:] if text.startswith("\ufeff") else text


def load_all(text: str, measure: limits.Measure | None = None) -> list[Any]:
    """Every document of a YAML stream (JSON accepted), as plain data.

    Each document is measured (``measure``, or a throw-away one) before it is
    built, and refused when it crosses a hard cap of :mod:`krm_fn.limits`.
    """
    measure = measure if measure is not None else limits.Measure()
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            try:
                data = _load_json(stripped)
            except (YamlError, RecursionError):
                pass  # flow-style YAML (or too deep for json); let the YAML parser report on it
            else:
                limits.measure_data(data, measure)
                return [data]
        return _load_yaml(text, measure)
    except limits.LimitError as exc:
        raise YamlError(str(exc), exc.line) from None


def _load_yaml(text: str, measure: limits.Measure) -> list[Any]:
    loader = _Loader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            limits.measure_node(node, measure)
            docs.append(loader.construct_document(node))
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):  # libyaml stops at 1000 levels
            raise limits.LimitError(limits.problem("maxDepth", "over 1000", limits.CAPS.maxDepth, True)) from None
        if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):  # (a position, no line)
            what = "control characters are not allowed" if exc.character < 0x20 else "a character YAML does not allow"
            at = text.find(chr(exc.character))  # (the first one stops the reader; its position counts bytes)
            raise YamlError(f"invalid YAML: character #x{exc.character:04x}: {what}",
                            text.count("\n", 0, at) + 1 if at >= 0 else None) from None
        raise _yaml_error(exc) from None
    except RecursionError:
        raise YamlError("invalid YAML: nesting is too deep") from None
    finally:
        loader.dispose()
    return docs


# --- dumping -----------------------------------------------------------------


class _Dumper(_BaseDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True

    def resolve(self, kind, value, implicit):  # noqa: D401 - PyYAML hook
        if kind is ScalarNode and implicit[0]:
            tag = resolve_plain(value)
            if tag == STR and needs_quotes(value):
                return BOOL  # any non-str tag: the emitter then quotes the string
            return tag
        return super().resolve(kind, value, implicit)


def _represent_raw(dumper: _Dumper, data: RawScalar) -> ScalarNode:
    return ScalarNode(data.tag, data.text)


def _represent_str(dumper: _Dumper, data: str) -> ScalarNode:
    if "\n" in data and not data.endswith((" ", "\t")) and "\r" not in data:
        return dumper.represent_scalar(STR, data, style="|")
    return dumper.represent_scalar(STR, data)


_Dumper.add_representer(RawScalar, _represent_raw)
_Dumper.add_representer(str, _represent_str)

_DUMP_OPTIONS = dict(
    Dumper=_Dumper,
    default_flow_style=False,
    sort_keys=False,
    allow_unicode=True,
    width=1 << 30,
    indent=2,
)


def dump(data: Any) -> str:
    """One YAML document, block style, no anchors."""
    return yaml.dump(data, **_DUMP_OPTIONS)


def dump_all(docs: list[Any]) -> str:
    """A multi-document stream ("---" between documents)."""
    return yaml.dump_all(docs, explicit_start=False, **_DUMP_OPTIONS) if docs else ""


def to_json_data(data: Any) -> Any:
    """Plain data with RawScalars turned into JSON values (for --format json)."""
    if isinstance(data, dict):
        return {str(k): to_json_data(v) for k, v in data.items()}
    if isinstance(data, list):
        return [to_json_data(v) for v in data]
    if isinstance(data, RawScalar):
        return data.to_json()
    return data


def iter_documents(text: str) -> Iterator[Any]:
    """Documents of a stream, skipping empty ones."""
    for doc in load_all(text):
        if doc is not None:
            yield doc
