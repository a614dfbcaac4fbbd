#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only OR MIT
"""Judge a booted kernel's console log (tests/kernel/run.sh).

Every backtrace frame the kernel printed with %pB (x86-64 `Call Trace:` entries, arm64 and
x86-64 `/proc/PID/stack` entries; with --layout v1 also the %pS frames of arm64's
`Call trace:` and of `RIP:`/`pc :` lines, which v1 annotates too) is looked up independently:
the symbol and its size from the ELF symbol table of vmlinux or of the module's .ko, then
`llvm-symbolizer --no-inlines` at

  * %pB frames: symbol + offset - 1 (sprint_backtrace() looks up the return address - 1),
  * %pS frames: symbol + offset,

for a module at that offset of the symbol's section (the .ko is linked with that section at
0x100000, the relocations of its DWARF applied by ld; v7 anchors each section at its load
address, so a module frame is a section offset). The frame is

  * right:        the kernel printed DWARF's file:line, or nothing where DWARF has no line,
  * wrong:        another line or file, or a line where DWARF has none,
  * unannotated:  DWARF has a line, the kernel printed none.

The KTAP output of the `lineinfo` KUnit suite is counted too (ok / not ok / skip, with each
skip's reason). Prints a JSON summary on stdout; details go to --report.
"""
import argparse
import json
import os
import random
import re
import struct
import subprocess
import sys

TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
SYM = r"(?P<sym>[A-Za-z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
MOD = r"(?: \[(?P<mod>[A-Za-z0-9_]+)(?: [0-9a-f]+)?\])?"
LINE = r"(?: \((?P<file>[^():]+):(?P<line>\d+)\))?"
# x86-64 Call Trace entry (%pBb), possibly "? " (unreliable); /proc/PID/stack "[<0>] %pB".
FRAME_B = re.compile(r"^\s*(?:\[<[0-9a-f]+>\] )?(?P<q>\? )?" + SYM + MOD + LINE + r"\s*$")
# %pS: x86-64 "RIP: 0010:" line, arm64 "pc : "/"lr : " lines and arm64 Call trace entries;
# powerpc "NIP [..] "/"LR [..] " and its trace "[sp] [ip] %pS", s390 "([<ip>] %pSR)", 32-bit ARM
# "callee from %pS". (riscv's "[<ip>] %pS" matches FRAME_B's shape: told apart by --arch.)
FRAME_S = re.compile(r"^\s*(?:RIP: [0-9a-f]{4}:|pc : |lr : |(?:NIP|LR) +\[[0-9a-f]+\] |"
                     r"\[[0-9a-f]+\] \[[0-9a-f]+\] |\(\[<[0-9a-f]+>\] |\S+ from )"
                     + SYM + MOD + LINE + r"(?: \(unreliable\))?\)?\s*$")
# The architectures whose own traces print %pB (x86's "Call Trace:"); elsewhere only
# /proc/PID/stack's "[<0>] %pB" entries are %pB and every other frame line is %pS.
PRINTS_PB = ("x86_64", "i386")
KTAP = re.compile(r"^(?P<ind>\s*)(?P<not>not )?ok (?P<n>\d+) (?P<name>[^#]+?)\s*(?:# (?P<dir>SKIP|TODO)\s*(?P<why>.*))?$")


def fold(p):
    parts = []
    for c in p.split("/"):
        if c in ("", "."):
            continue
        if c == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(c)
    return "/".join(parts)


def symbolize(elf_path, addrs):
    """`llvm-symbolizer --no-inlines` at each address of `elf_path`: (folded file, line) or None."""
    q = "".join("%#x\n" % a for a in addrs)
    out = subprocess.run(["llvm-symbolizer", "--no-inlines", "--obj=" + elf_path], input=q,
                         capture_output=True, text=True, check=True).stdout
    lines = [l for l in out.splitlines() if l]
    res = []
    for i in range(0, len(lines), 2):
        f, n, _c = lines[i + 1].rsplit(":", 2)
        res.append(None if f == "??" or n == "0" else (fold(f), int(n)))
    return res


def lookup(tool, args, queries):
    """`kbuild-lineinfo lookup ARGS` for `queries`: (file, line) or None for each."""
    out = subprocess.run([tool, "lookup"] + args, input="".join(q + "\n" for q in queries),
                         capture_output=True, text=True, check=True).stdout
    res = []
    for l in out.splitlines():
        ans = l.split(" ", 2)[2]  # QUERY SYMBOL ANSWER
        if ans == "??":
            res.append(None)
        else:
            f, n = ans.rsplit(":", 1)
            res.append((f, int(n)))
    return res


def compare(keys, want, got, srctree=None):
    """Our answers `got` against llvm-symbolizer's `want` where it has one: (compared, agree,
    unannotated, bad names, [(key, want, got) for each disagreement], lines printed where
    llvm-symbolizer has none (format §1 rule 7: line 0 or no sequence)). A name is bad if it is not
    relative and folded, but with `srctree` given a file outside that tree prints as its full
    path (format.md §2: an out-of-tree module, the core library Rust builds from RUST_LIB_SRC)."""
    c = a = u = b = x = 0
    wrong = []
    for k, w, g in zip(keys, want, got):
        if w is None:
            x += g is not None
            continue
        c += 1
        if g is None:
            u += 1
            continue
        if (srctree and g[0].startswith("/") and not g[0].startswith(srctree.rstrip("/") + "/")
                and fold(g[0]) == g[0][1:]):
            g = (g[0][1:], g[1])  # llvm-symbolizer's name is folded the same way
        if g[0].startswith("/") or fold(g[0]) != g[0]:
            b += 1
        if (w[0] == g[0] or w[0].endswith("/" + g[0])) and w[1] == g[1]:
            a += 1
        else:
            wrong.append((k, w, g))
    return c, a, u, b, wrong, x


class Elf:
    """Function symbols (name -> [(section, value, size)]) and section names of one ELF file."""

    def __init__(self, path):
        self.path = path
        self.sections = {}
        out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True, check=True).stdout
        for m in re.finditer(r"^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+([0-9a-f]+)", out, re.M):
            self.sections[int(m.group(1))] = m.group(2)
        self.syms = {}
        out = subprocess.run(["readelf", "-sW", path], capture_output=True, text=True, check=True).stdout
        for l in out.splitlines():
            f = l.split()
            if len(f) < 8 or not f[0].endswith(":") or f[3] not in ("FUNC", "NOTYPE"):
                continue
            if not f[6].isdigit():
                continue
            self.syms.setdefault(f[7], []).append((int(f[6]), int(f[1], 16), int(f[2], 0), f[3]))

    def find(self, name, size):
        cands = self.syms.get(name, [])
        exact = [c for c in cands if c[2] == size]
        pick = exact or cands
        return pick[0] if pick else None


class Oracle:
    def __init__(self, workdir, arch=None):
        self.workdir = workdir
        # The module loader never moves code; on RISC-V ld deletes the padding an R_RISCV_ALIGN
        # marks (clang emits them even with -mno-relax) whatever --no-relax says: the oracle
        # links a copy whose ALIGN relocations are made R_RISCV_NONE.
        self.riscv = arch == "riscv64"
        self.linked = {}
        os.makedirs(workdir, exist_ok=True)

    def module_section(self, ko, section):
        """The .ko linked with `section` at 0x100000 (DWARF relocations applied by ld)."""
        key = (ko, section)
        if key not in self.linked:
            tag = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(ko) + section)
            lds = os.path.join(self.workdir, tag + ".lds")
            out = os.path.join(self.workdir, tag + ".elf")
            with open(lds, "w") as f:
                f.write("SECTIONS {\n  . = 0x100000;\n  .judged : { *(%s) }\n}\n" % section)
            src = ko
            if self.riscv:
                src = os.path.join(self.workdir, tag + ".noalign.o")
                with open(ko, "rb") as f:
                    data = bytearray(f.read())
                disarm_riscv_align(data)
                with open(src, "wb") as f:
                    f.write(data)
            r = subprocess.run([os.environ.get("LD", "ld"), "-o", out, "-T", lds,
                                "--unresolved-symbols=ignore-all", "-e", "0",
                                "--no-warn-rwx-segments", src], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("judge: cannot link %s for %s: %s" % (ko, section, r.stderr.strip()))
            self.linked[key] = out
        return self.linked[key]


def disarm_riscv_align(elf):
    """Turns every R_RISCV_ALIGN (43) of a little-endian ELF64 relocatable into R_RISCV_NONE, in
    place: ld would otherwise delete alignment padding the module loader keeps."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", elf, 0x3a)
    for i in range(shnum):
        sh = shoff + i * shentsize
        sh_type, = struct.unpack_from("<I", elf, sh + 4)
        if sh_type != 4:  # SHT_RELA
            continue
        offset, size, _, _, _, entsize = struct.unpack_from("<QQIIQQ", elf, sh + 0x18)
        for at in range(offset, offset + size, entsize or 24):
            info, = struct.unpack_from("<Q", elf, at + 8)
            if info & 0xffffffff == 43:
                struct.pack_into("<Q", elf, at + 8, info & ~0xffffffff)


def text_bounds(vmlinux):
    """(_text, _etext) of a linked vmlinux."""
    syms = {}
    for l in subprocess.run(["nm", vmlinux], capture_output=True, text=True, check=True).stdout.splitlines():
        f = l.split()
        if len(f) == 3 and f[2] in ("_text", "_etext"):
            syms[f[2]] = int(f[0], 16)
    return syms["_text"], syms["_etext"]


def sample_vmlinux(tool, vmlinux, table, count, seed=2, srctree=None):
    """`count` random addresses of [_text, _etext): llvm-symbolizer on `vmlinux` against
    `lookup --vmlinux table` (the linked image itself: absolute addresses; a table object:
    offsets from _text). compare()'s tuple, with the text size."""
    text, etext = text_bounds(vmlinux)
    absolute = os.path.samefile(table, vmlinux)
    rng = random.Random(seed)
    addrs = [text + rng.randrange(etext - text) for _ in range(count)]
    want = symbolize(vmlinux, addrs)
    got = lookup(tool, ["--vmlinux", table], ["%#x" % (x - (0 if absolute else text)) for x in addrs])
    return compare(addrs, want, got, srctree) + (etext - text,)


def sample_modules(tool, kos, oracle, per_module, seed=1, srctree=None):
    """Up to `per_module` random offsets of each module's .text: llvm-symbolizer on the .ko
    linked by `oracle` against `lookup --module KO .text+OFF`. [(ko, .text size, compare()'s
    tuple)]."""
    rng = random.Random(seed)
    res = []
    for ko in kos:
        sections = section_sizes(ko)
        size = next((size for name, size in sections if name == ".text"), 0)
        if not any(name == ".mod_lineinfo" for name, _ in sections):
            # No table embedded (v1 on s390: the loader's GOT/PLT comes before .text, the
            # tool says so and leaves it out): `lookup` would build one from DWARF, which is
            # not what the kernel reads.
            res.append((ko, None, (0, 0, 0, 0, [], 0)))
            continue
        if size == 0:
            res.append((ko, 0, (0, 0, 0, 0, [], 0)))
            continue
        offs = sorted(rng.sample(range(size), min(size, per_module)))
        want = symbolize(oracle.module_section(ko, ".text"), [0x100000 + o for o in offs])
        got = lookup(tool, ["--module", ko], [".text+%#x" % o for o in offs])
        res.append((ko, size, compare(offs, want, got, srctree)))
    return res


def section_sizes(path):
    out = subprocess.run(["readelf", "-SW", path], capture_output=True, text=True, check=True).stdout
    return [(m.group(1), int(m.group(2), 16)) for m in
            re.finditer(r"^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)", out, re.M)]


def check_tables(a, oracle, kos):
    """--sample: the embedded tables of the booted vmlinux and of every module, sampled."""
    tool = a.tool
    c, ag, u, b, wrong, x, text_size = sample_vmlinux(tool, a.vmlinux, a.vmlinux, a.sample,
                                                       srctree=a.srctree)
    out = {"vmlinux": {"sampled": a.sample, "text_kib": text_size >> 10, "compared": c,
                       "agree": ag, "unannotated": u, "bad_names": b, "line_where_dwarf_has_none": x,
                       "wrong": ["%#x: DWARF %s:%d, ours %s:%d" % (k, w[0], w[1], g[0], g[1])
                                 for k, w, g in wrong[:10]]}}
    tot = [0, 0, 0, 0, 0]
    mwrong = []
    untabled = 0
    for ko, size, (c, ag, u, b, wrong, x) in sample_modules(tool, sorted(set(kos.values())), oracle,
                                                          max(1, a.sample // 10), srctree=a.srctree):
        untabled += size is None
        for i, v in enumerate((c, ag, u, b, x)):
            tot[i] += v
        mwrong += ["%s .text+%#x: DWARF %s:%d, ours %s:%d" % (os.path.basename(ko), k, w[0], w[1], g[0], g[1])
                   for k, w, g in wrong[:3]]
    out["modules"] = {"count": len(set(kos.values())) - untabled, "without_table": untabled,
                      "compared": tot[0], "agree": tot[1],
                      "unannotated": tot[2], "bad_names": tot[3],
                      "line_where_dwarf_has_none": tot[4], "wrong": mwrong[:20]}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--vmlinux", required=True)
    ap.add_argument("--modules", required=True, help="directory searched for NAME.ko")
    ap.add_argument("--layout", choices=("v1", "v7"), required=True)
    ap.add_argument("--arch", default="x86_64", help="the cell's ARCH (tests/kernel/run.sh)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--sample", type=int, default=0, metavar="N",
                    help="also check the embedded tables offline: N random vmlinux text addresses "
                         "and N/10 per module's .text, against llvm-symbolizer")
    ap.add_argument("--tool", default="kbuild-lineinfo", help="for --sample: our lookup")
    ap.add_argument("--srctree", help="for --sample: the kernel's source tree (a file outside it "
                                      "prints as a full path)")
    a = ap.parse_args()

    kos = {}
    for root, _dirs, files in os.walk(a.modules):
        for f in files:
            if f.endswith(".ko"):
                kos.setdefault(f[:-3].replace("-", "_"), os.path.join(root, f))
    vml = Elf(a.vmlinux)
    elfs = {}
    oracle = Oracle(a.work, a.arch)

    frames = []  # (lineno, text, kind, mod, sym, off, size, printed)
    ktap = []
    context = "boot"
    for n, raw in enumerate(open(a.console, errors="replace"), 1):
        raw = raw.rstrip("\r\n")
        line = TS.sub("", raw)
        if line.startswith("E2E-TRACE") or line.startswith("E2E-STACK"):
            context = line
        m = FRAME_B.match(line)
        kind = "B"
        if m and a.arch not in PRINTS_PB and not line.lstrip().startswith("[<0>] "):
            kind = "S"
        if not m:
            m = FRAME_S.match(line)
            kind = "S"
        if not m and a.layout == "v1" and context.startswith("E2E-TRACE"):
            # arm64 "Call trace:" entries are %pSb: " func+0x1c/0x30 [mod]" like %pB frames;
            # told apart by the header they follow (handled below).
            pass
        if m:
            printed = (fold(m.group("file")), int(m.group("line"))) if m.group("file") else None
            frames.append([n, raw, kind, m.group("mod"), m.group("sym"), int(m.group("off"), 16),
                           int(m.group("size"), 16), printed, context])
        k = KTAP.match(line)
        if k:
            ktap.append((len(k.group("ind")), k.group("not") is not None, k.group("name"),
                         k.group("dir"), (k.group("why") or "").strip(), n))

    # arm64 prints "Call trace:" with %pSb: in a block that follows "Call trace:", frames
    # are %pS (no -1). x86-64 prints "Call Trace:" with %pBb.
    lines = open(a.console, errors="replace").read().splitlines()
    in_arm64_trace = set()
    cur = False
    for n, raw in enumerate(lines, 1):
        l = TS.sub("", raw)
        if l.strip() == "Call trace:":
            cur = True
            continue
        if cur and not FRAME_B.match(l):
            cur = False
        if cur:
            in_arm64_trace.add(n)
    for f in frames:
        if f[0] in in_arm64_trace:
            f[2] = "S"

    # Group lookups per object.
    queries = {}
    results = []
    for f in frames:
        n, raw, kind, mod, sym, off, size, printed, ctx = f
        if kind == "S" and a.layout == "v7":
            continue  # v7 annotates %pB only: a %pS frame carries no line with any tool
        delta = 1 if kind == "B" else 0
        if mod is None:
            s = vml.find(sym, size)
            if s is None:
                results.append((f, "nosym", None))
                continue
            obj = a.vmlinux
            addr = s[1] + off - delta
        else:
            ko = kos.get(mod)
            if ko is None:
                results.append((f, "noko", None))
                continue
            if ko not in elfs:
                elfs[ko] = Elf(ko)
            s = elfs[ko].find(sym, size)
            if s is None:
                results.append((f, "nosym", None))
                continue
            section = elfs[ko].sections[s[0]]
            obj = oracle.module_section(ko, section)
            addr = 0x100000 + s[1] + off - delta
        queries.setdefault(obj, []).append((addr, f))
    want = {}
    for obj, qs in queries.items():
        answers = symbolize(obj, [q[0] for q in qs])
        for (addr, f), w in zip(qs, answers):
            want[id(f)] = (w, addr, obj)

    right = wrong = unann = 0
    bad = []
    per_context = {}
    for f in frames:
        if id(f) not in want:
            continue
        w, addr, obj = want[id(f)]
        g = f[7]
        if w is None and g is None:
            verdict = "right"
        elif w is None:
            verdict = "wrong"
        elif g is None:
            verdict = "unannotated"
        elif g[1] == w[1] and (g[0] == w[0] or w[0].endswith("/" + g[0])):
            verdict = "right"
        else:
            verdict = "wrong"
        if verdict == "right":
            right += 1
        elif verdict == "wrong":
            wrong += 1
        else:
            unann += 1
        c = per_context.setdefault(f[8].split(" ")[0] if f[8].startswith("E2E-STACK") else f[8], [0, 0, 0])
        c[("right", "wrong", "unannotated").index(verdict)] += 1
        bad.append((verdict, f, w, addr, obj))
    unresolved = [r for r in results]

    # KTAP: the lineinfo suite's cases are the lines one level below "ok N lineinfo".
    suites = []
    i = 0
    cases = []
    for ind, notok, name, d, why, n in ktap:
        if name == "lineinfo" and ind <= 4:
            suites.append({"ok": not notok, "line": n, "cases": cases})
            cases = []
            continue
        if ind >= 4 and name.startswith("test_"):
            cases.append({"name": name, "ok": not notok, "skip": d == "SKIP", "why": why, "line": n})
        elif ind < 4:
            cases = []

    with open(a.report, "w") as rep:
        rep.write("frames: %d right, %d wrong, %d unannotated\n" % (right, wrong, unann))
        for ctx, c in per_context.items():
            rep.write("  %-60s right %d wrong %d unannotated %d\n" % (ctx[:60], *c))
        for verdict, f, w, addr, obj in bad:
            rep.write("%-11s %s:%d %s | DWARF %s (at %#x in %s)\n" % (
                verdict, os.path.basename(a.console), f[0], TS.sub("", f[1]).strip(),
                "%s:%d" % w if w else "none", addr, os.path.basename(obj)))
        for f, why, _ in unresolved:
            rep.write("UNRESOLVED (%s) line %d: %s\n" % (why, f[0], f[1]))
        for s in suites:
            rep.write("KUnit lineinfo suite at line %d: %s\n" % (s["line"], "ok" if s["ok"] else "not ok"))
            for c in s["cases"]:
                rep.write("  %s %s%s\n" % ("not ok" if not c["ok"] else "ok", c["name"],
                                           " # SKIP " + c["why"] if c["skip"] else ""))
    out = {
        "frames": len([f for f in frames if id(f) in want]),
        "right": right, "wrong": wrong, "unannotated": unann,
        "unresolved": len(unresolved),
        # %pS frames (the architecture's own trace lines): v7 prints no line there, by design.
        "pS_bare": sum(1 for f in frames if f[2] == "S") if a.layout == "v7" else 0,
        "frames_with_line_printed": sum(1 for f in frames if f[7]),
        "kunit": [{"ok": sum(1 for c in s["cases"] if c["ok"] and not c["skip"]),
                   "fail": sum(1 for c in s["cases"] if not c["ok"]),
                   "skip": sum(1 for c in s["cases"] if c["skip"]),
                   "skips": sorted({c["name"] + ": " + c["why"] for c in s["cases"] if c["skip"]})}
                  for s in suites],
    }
    if a.sample:
        out["tables"] = check_tables(a, oracle, kos)
        with open(a.report, "a") as rep:
            rep.write("tables (offline, against llvm-symbolizer): %s\n" % json.dumps(out["tables"], indent=1))
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
