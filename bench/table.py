#!/usr/bin/env python3
"""Ratio tables (.NET / PyTorch) from the JSON lines of torch_ref.py and `LoraService.Cli bench`.

Medians over all rounds of each (config, mode), the per-round figures, the LoRA-vs-full peak memory check,
and the fastest single step of each side (the figure least disturbed by other jobs on a shared machine).
Used by bench/compare.sh; run it by hand to combine runs: table.py <(cat a/pytorch.jsonl b/pytorch.jsonl) ...
"""
import json, statistics, sys
def load(paths):
    runs = {}
    for path in paths:
        for line in open(path):
            r = json.loads(line)
            runs.setdefault((r["config"], r["mode"]), []).append(r)
    return runs
if len(sys.argv) != 3:
    sys.exit("usage: table.py PYTORCH.jsonl DOTNET.jsonl   (JSON lines of torch_ref.py and of LoraService.Cli bench)")
py, net = load([sys.argv[1]]), load([sys.argv[2]])
med = lambda rs, k: statistics.median(r[k] for r in rs)
print("| config | mode | PyTorch tok/s | .NET tok/s | **.NET/PyTorch tok/s** | PyTorch peak MB | .NET peak MB | .NET/PyTorch peak |")
print("|---|---|---|---|---|---|---|---|")
for key in sorted(py, key=lambda k: (k[0] != "small", k[1])):
    p, n = py[key], net[key]
    pt, nt = med(p, "tokens_per_s"), med(n, "tokens_per_s")
    pm, nm = med(p, "peak_rss_mb"), med(n, "peak_rss_mb")
    print(f"| {key[0]} | {key[1]} | {pt:.0f} | {nt:.0f} | **{nt / pt:.2f}** | {pm:.0f} | {nm:.0f} | {nm / pm:.2f} |")
print()
print("Per round (tokens/s PyTorch / .NET, ratio .NET/PyTorch, CPU pressure avg60 where recorded):")
print()
rounds = max(py.values(), key=len)
print("| config | mode | " + " | ".join(f"round {r.get('round', i + 1)}" for i, r in enumerate(rounds)) + " |")
print("|---|---|" + "---|" * len(rounds))
for key in sorted(py, key=lambda k: (k[0] != "small", k[1])):
    cells = []
    for a, b in zip(py[key], net[key]):
        pr = f", cpu {b['cpu_pressure_avg60']:.0f}%" if "cpu_pressure_avg60" in b else ""
        cells.append(f"{a['tokens_per_s']:.0f} / {b['tokens_per_s']:.0f} ({b['tokens_per_s']/a['tokens_per_s']:.2f}{pr})")
    print(f"| {key[0]} | {key[1]} | " + " | ".join(cells + [""] * (len(rounds) - len(cells))) + " |")
print()
for name, runs in ((".NET", net), ("PyTorch", py)):
    for c in ("small", "medium"):
        if (c, "full") in runs and (c, "lora") in runs:
            f, l = med(runs[(c, "full")], "peak_rss_mb"), med(runs[(c, "lora")], "peak_rss_mb")
            print(f"* {name} {c}: LoRA peak {l:.0f} MB vs full {f:.0f} MB ({'below' if l < f else 'NOT below'} full FT)")
print()
print("Fastest single step over all rounds (tokens/s = batch·seq / min step time; least disturbed by other jobs):")
print()
print("| config | mode | PyTorch best s/step | .NET best s/step | .NET/PyTorch (best-step tokens/s) |")
print("|---|---|---|---|---|")
for key in sorted(py, key=lambda k: (k[0] != "small", k[1])):
    pb, nb = min(r["s_per_step_min"] for r in py[key]), min(r["s_per_step_min"] for r in net[key])
    print(f"| {key[0]} | {key[1]} | {pb:.3f} | {nb:.3f} | **{pb / nb:.2f}** |")
