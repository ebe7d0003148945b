#!/usr/bin/env python3
"""Keeps the imports of src/ flowing one way (CONTRIBUTING.md, "Layout of
the code"): run by .ci/run, exits 1 and names each offending line.

Two rules, over every path a file names in code (`use crate::...`,
`use super::...`, a submodule's `use child::...`, and `crate::a::b` paths
inside code; comments are skipped):
1. a module may use only modules of its own layer or of the layers listed
   before it in LAYERS (the data flow: select -> parse -> route -> encode ->
   engine -> write -> destination ...); a use of a later layer is a
   back edge;
2. no two files use each other, within a layer too.
"""

import pathlib
import re
import sys

# The data flow, first to last. A module's layer is the first entry that
# is its top-level module name.
LAYERS = [
    ["model", "heap"],  # the data every stage shares; allocator tuning
    ["timestamp"],  # RFC 3339
    ["range", "store"],  # select: ranges, then the files of the stores
    ["tape", "row"],  # parse: one line -> a tape -> a borrowed row
    ["route"],  # route: log, span or metric
    ["encode"],  # encode: records -> bytes
    ["report"],  # problems and the summary
    ["engine"],  # order: chunks on the workers, in order
    ["write"],  # envelope layouts, metric series, entry sinks
    ["output"],  # atomic staging, --force rules, the manifest
    ["config"],  # the validated description of a run
    ["deliver"],  # the send layers: split, journal, retry, compress, transport
    ["destination"],  # where records go: one trait, three destinations
    ["export"],  # one run into a destination
    ["harness"],  # the test harness: one line through every stage
    ["lib"],
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}

ROOT = pathlib.Path(__file__).resolve().parent.parent / "src"
PATH_RE = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)")


def module_of(path):
    """engine/mod.rs -> ["engine"], engine/worker.rs -> ["engine", "worker"]."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    return parts


def main():
    files = {}
    for p in sorted(ROOT.rglob("*.rs")):
        mod = module_of(p)
        if mod[0] in ("main", "cli"):
            continue  # the binary: it may use anything in the library
        files[tuple(mod)] = p
    modules = set(files)

    def resolve(names):
        """The longest prefix of `names` that is a file's module."""
        for n in range(len(names), 0, -1):
            if tuple(names[:n]) in modules:
                return tuple(names[:n])
        return None

    edges = {}
    problems = []
    for mod, path in files.items():
        children = {m[-1] for m in modules if len(m) == len(mod) + 1 and m[:-1] == mod}
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            # `pub(super)`, `pub(crate)` and `pub(in path)` are visibility, not use.
            code = re.sub(r"pub\((?:crate|super|self|in [^)]*)\)", "pub", line.split("//", 1)[0])
            if not code.strip():
                continue
            if code.strip().startswith("#[cfg(test)]"):
                break  # unit tests at the end of a file: `super` is the file there
            targets = []
            for base, rest in PATH_RE.findall(code):
                names = rest.split("::")[1:]
                if base == "crate":
                    targets.append(names)
                else:
                    # `super` is the parent module (for a mod.rs too: the
                    # folder's parent); each further `super` one more up.
                    parent = list(mod[:-1])
                    while names and names[0] == "super":
                        names, parent = names[1:], parent[:-1]
                    targets.append(parent + names)
            # A submodule named by a bare path (`use journal::X`, `grpc::f()`).
            for child in re.findall(r"(?<![:\w])([a-z_][a-z0-9_]*)::", code):
                if child in children:
                    targets.append(list(mod) + [child])
            for names in targets:
                target = resolve(names)
                if target is None or target == mod:
                    continue
                if target[0] == mod[0] or mod[0] == "lib":
                    pass
                elif target[0] not in RANK or mod[0] not in RANK:
                    problems.append(f"{path}:{lineno}: {'::'.join(mod)} uses {'::'.join(target)}, not in LAYERS")
                elif RANK[target[0]] > RANK[mod[0]]:
                    problems.append(
                        f"{path}:{lineno}: {'::'.join(mod)} uses {'::'.join(target)}, a later stage (back edge)"
                    )
                edges.setdefault(mod, {}).setdefault(target, (path, lineno))
    for a, outs in edges.items():
        for b, (path, lineno) in outs.items():
            if a < b and a in edges.get(b, {}):
                problems.append(f"{path}:{lineno}: {'::'.join(a)} and {'::'.join(b)} use each other")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} import(s) against the flow (scripts/check-imports.py)", file=sys.stderr)
        return 1
    print(f"imports flow one way: {len(files)} files, {sum(len(o) for o in edges.values())} module edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
