#!/usr/bin/env python3
"""Compares the modules our tool embedded with those the series' flow embedded (bench/modules.sh).

    bench/modules-compare.py ORIGINALS OURS THEIRS ORDER TOOL

For every module of ORDER: whether each side wrote .mod_lineinfo and whether the bytes are the
same. Where they differ, the decoded answers: `TOOL lookup --module` on both copies at up to 40
function starts of .text (the same reader for both, so only the tables differ), and
llvm-symbolizer on the original as the referee of the answers that differ. Prints a summary and
a few differing answers; exits 0 (a benchmark reports, the tests judge).
"""
import subprocess
import sys
from pathlib import Path

QUERIES_PER_MODULE = 40


def run(args, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True, text=True).stdout


def section(ko):
    out = subprocess.run(["objcopy", "-O", "binary", "-j", ".mod_lineinfo", str(ko), "/dev/stdout"],
                         capture_output=True)
    has = ".mod_lineinfo" in run(["readelf", "-SW", str(ko)])
    return out.stdout if has else None


def text_functions(ko):
    """Offsets of FUNC symbols in .text, at most QUERIES_PER_MODULE spread over the section."""
    index = None
    for line in run(["readelf", "-SW", str(ko)]).splitlines():
        fields = line.replace("[ ", "[").split()
        if len(fields) > 2 and fields[1] == ".text":
            index = fields[0].strip("[]")
    offsets = set()
    for line in run(["readelf", "-sW", str(ko)]).splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "FUNC" and f[6] == index:
            offsets.add(int(f[1], 16))
    offsets = sorted(offsets)
    step = max(1, len(offsets) // QUERIES_PER_MODULE)
    return offsets[::step][:QUERIES_PER_MODULE]


def lookup(tool, ko, offsets):
    out = run([tool, "lookup", "--module", str(ko)] + [hex(o) for o in offsets]).splitlines()
    return [l.split(" ", 1)[1] if " " in l else "??" for l in out] + ["(no answer)"] * (len(offsets) - len(out))


def symbolizer(ko, offsets):
    out = run(["llvm-symbolizer", "--no-inlines", f"--obj={ko}"], "\n".join(hex(o) for o in offsets) + "\n")
    lines = [l for l in out.splitlines() if l]
    return [lines[i + 1].rsplit(":", 1)[0] for i in range(0, len(lines) - 1, 2)]


def same_place(answer, reference):
    """`lib/crc7.c:66` against llvm-symbolizer's `debian/build/.../lib/crc7.c:66`."""
    if reference.startswith("??"):  # no line
        return answer == "??"
    reference = reference.replace("/./", "/")
    if answer == "??" or ":" not in answer or ":" not in reference:
        return False
    file, line = answer.rsplit(":", 1)
    rfile, rline = reference.rsplit(":", 1)
    return line == rline and (rfile == file or rfile.endswith("/" + file))


def compile_units(ko):
    out = run(["readelf", "--debug-dump=info", "--dwarf-depth=1", str(ko)])
    return out.count("DW_TAG_compile_unit")


def main():
    originals, ours, theirs, order, tool = sys.argv[1:6]
    modules = [l.strip() for l in Path(order).read_text().splitlines() if l.strip()]
    both = identical = only_ours = only_theirs = neither = 0
    queries = agree = 0
    differing_modules = []
    referee = {"ours": 0, "theirs": 0, "neither": 0}
    examples = {"ours": [], "theirs": [], "neither": []}  # the first of each verdict
    for m in modules:
        a, b = section(Path(ours, m)), section(Path(theirs, m))
        if a is None or b is None:
            only_ours += a is not None and b is None
            only_theirs += a is None and b is not None
            neither += a is None and b is None
            continue
        both += 1
        if a == b:
            identical += 1
            continue
        offsets = text_functions(Path(originals, m))
        ans_o = lookup(tool, Path(ours, m), offsets)
        ans_t = lookup(tool, Path(theirs, m), offsets)
        queries += len(offsets)
        diff = [i for i in range(len(offsets)) if ans_o[i] != ans_t[i]]
        agree += len(offsets) - len(diff)
        if not diff:
            continue
        differing_modules.append((m, compile_units(Path(originals, m))))
        ref = symbolizer(Path(originals, m), [offsets[i] for i in diff])
        for i, r in zip(diff, ref):
            good_o, good_t = same_place(ans_o[i], r), same_place(ans_t[i], r)
            verdict = "ours" if good_o and not good_t else "theirs" if good_t and not good_o else "neither"
            if r.endswith(":0") and not r.startswith("??"):
                verdict = "neither"  # line 0 of some file: another section's offset, no referee
            referee[verdict] += 1
            if len(examples[verdict]) < 2:
                examples[verdict].append(
                    f"    {verdict:>7}: {m} .text+{offsets[i]:#x}: ours {ans_o[i]}, series {ans_t[i]}, llvm-symbolizer {r}")
    print(f"outputs, {len(modules)} modules: both wrote .mod_lineinfo in {both} ({identical} byte-identical), "
          f"only ours in {only_ours}, only the series' in {only_theirs}, neither in {neither}")
    if both > identical:
        cus = sorted({n for _, n in differing_modules})
        print(f"answers where the bytes differ ({both - identical} modules): {queries} function starts of .text "
              f"looked up in both by our reader: {agree} agree, {queries - agree} differ in "
              f"{len(differing_modules)} modules (compile units per such module: {cus[0] if cus else 0}"
              f"-{cus[-1] if cus else 0}; every module has at least its .mod.c besides its sources)")
        if queries > agree:
            print(f"  llvm-symbolizer on the original, where they differ: ours right {referee['ours']}, "
                  f"the series' right {referee['theirs']}, neither, both or no referee {referee['neither']}; first of each:")
            print("\n".join(examples["ours"] + examples["theirs"] + examples["neither"]))
            print("  (llvm-symbolizer on a .ko takes the first section holding an offset, not always .text:\n"
                  "  a rough referee; tests/real_modules.rs is the real check of our answers)")


if __name__ == "__main__":
    main()
