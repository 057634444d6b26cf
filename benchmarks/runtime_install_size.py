"""What the deployed runtime costs to install, against torch: the installed size (from each distribution's RECORD)
of onnxruntime + numpy and everything they require, and of torch and everything it requires, in this environment.
Usage: python benchmarks/runtime_install_size.py"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement

STACKS = {
    "deployed runtime (imitlab.deploy.runtime)": ["onnxruntime", "numpy"],
    "torch (imitlab's eager policies)": ["torch", "numpy"],
}


def closure(names: list[str]) -> dict[str, int]:
    """{distribution: installed bytes} for ``names`` and their requirements (markers evaluated, no extras)."""
    sizes: dict[str, int] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in sizes:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        sizes[name] = sum(f.size or 0 for f in dist.files or [])
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sizes


def main() -> None:
    print("| stack | distributions | installed MB |")
    print("|---|---|---|")
    for label, names in STACKS.items():
        sizes = closure(names)
        listed = ", ".join(f"{n} {s / 1e6:.1f}" for n, s in sorted(sizes.items(), key=lambda kv: -kv[1]))
        print(f"| {label} | {listed} | {sum(sizes.values()) / 1e6:.0f} |")


if __name__ == "__main__":
    main()
