"""One self-contained HTML report from the studies under a directory: every figure embedded (base64), every table
with the command that produced it, a "what this shows" line under each figure."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from imitlab.core.errors import InvalidInputError, MissingFileError
from imitlab.core.io import atomic_write
from imitlab.studies import SECTION_FILE, Section, catalogue, read_section

MIME = {".png": "image/png", ".gif": "image/gif"}

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
code { background: #f4f4f4; padding: 0.1em 0.3em; border-radius: 3px; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; } th { background: #f7f7f7; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; } .gifs { display: flex; flex-wrap: wrap; gap: 0.8em; }
.gifs figure { width: 170px; margin: 0; } .question { font-style: italic; color: #444; }
"""


def markdown_table_html(markdown: str) -> str:
    """Our markdown tables (``table.markdown_table``) as an HTML table."""
    rows = [
        [html.escape(c.strip()) for c in line.strip().strip("|").split("|")]
        for line in markdown.strip().splitlines()
        if not line.startswith("|---")
    ]
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def embedded_image(path: Path, alt: str) -> str:
    if path.suffix not in MIME:
        raise InvalidInputError(f"{path}: only {', '.join(MIME)} figures can be embedded")
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:{MIME[path.suffix]};base64,{data}" alt="{html.escape(alt)}">'


def section_html(section: Section, study_dir: Path) -> str:
    parts = [
        f'<h2 id="{section.name}">{html.escape(section.title)}</h2>',
        f'<p class="question">{html.escape(section.question)}</p>',
        f"<p>Command: <code>{html.escape(section.command)}</code></p>",
    ]
    for table in section.tables:
        parts += [f"<p><b>{html.escape(table.caption)}</b></p>", markdown_table_html(table.markdown)]
    stills = [f for f in section.figures if not f.file.endswith(".gif")]
    gifs = [f for f in section.figures if f.file.endswith(".gif")]
    for fig in stills:
        parts.append(
            f"<figure>{embedded_image(study_dir / fig.file, fig.caption)}"
            f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
        )
    if gifs:
        parts.append("<p><b>Rollouts: best and worst evaluation episode per head</b></p><div class='gifs'>")
        parts += [
            f"<figure>{embedded_image(study_dir / g.file, g.caption)}"
            f"<figcaption>{html.escape(g.caption)}</figcaption></figure>"
            for g in gifs
        ]
        parts.append("</div>")
    return "\n".join(parts)


def find_sections(runs_dir: Path) -> list[tuple[Section, Path]]:
    """The studies under ``runs_dir`` that have been analysed, in the catalogue's order."""
    order = {name: i for i, name in enumerate(catalogue())}
    dirs = sorted(
        (p.parent for p in Path(runs_dir).glob(f"*/{SECTION_FILE}")),
        key=lambda d: (order.get(d.name, len(order)), d.name),
    )
    return [(read_section(d), d) for d in dirs]


def write_report(runs_dir: Path, out: Path, title: str = "imitlab report") -> Path:
    """Render every study under ``runs_dir`` into one HTML file at ``out`` (written atomically)."""
    sections = find_sections(runs_dir)
    if not sections:
        raise MissingFileError(f"{runs_dir} holds no study results (no */{SECTION_FILE}); run `imitlab study` first")
    toc = "".join(f'<li><a href="#{s.name}">{html.escape(s.title)}</a></li>' for s, _ in sections)
    body = "\n".join(section_html(s, d) for s, d in sections)
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Every number below comes from the command shown with it; success intervals are 95%: Wilson "
        f"for one trained policy, and over several training seeds a bootstrap of the seeds, then of the episodes "
        f"within each (the caption of each table says which).</p><ul>{toc}</ul>{body}</body></html>"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return out
