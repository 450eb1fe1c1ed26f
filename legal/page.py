"""A plain, readable HTML page: no scripts, no outside resources."""

from __future__ import annotations

from html import escape

STYLE = ("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
         "line-height:1.5;color:#242424}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;"
         "text-align:left;vertical-align:top}")


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def paragraphs(*texts: str) -> str:
    return "".join(f"<p>{escape(t)}</p>" for t in texts)


def bullets(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
