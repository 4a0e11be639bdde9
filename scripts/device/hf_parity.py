"""Checks this engine's tiny checkpoints, PEFT adapters and merged exports against transformers and PEFT.

    python3 scripts/device/hf_parity.py FIXTURES_DIR RESULTS.json

FIXTURES_DIR is what `LoraService.Cli parity-fixtures --out FIXTURES_DIR` wrote: one folder a case, each with base/,
adapter/, merged/ and expected.json (token ids, and the engine's logits for the base model, the base model with the
adapter, and the merged export). For each case, transformers loads base/ and merged/ (float32, eager attention) and
PEFT loads adapter/ onto base; every load must report no missing or unexpected keys, every LoRA B must have arrived
(B starts at zero in PEFT, so a key that did not load stays zero), and each logit must match the engine's to TOLERANCE.
Exit status 0 only if every case passes.
"""
import json
import os
import sys
import traceback

import torch
import transformers
from peft import PeftModel
from transformers import AutoModelForCausalLM

TOLERANCE = 2e-5


def load(path):
    loaded = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model, info = loaded if isinstance(loaded, tuple) else (loaded, {"loading_info": ["not reported by this release"]})
    problems = {k: sorted(map(str, v)) for k, v in info.items() if v}
    return model.eval(), problems


def max_diff(logits, expected):
    return (logits[0] - torch.tensor(expected, dtype=torch.float32)).abs().max().item()


def check(case_dir):
    expected = json.load(open(os.path.join(case_dir, "expected.json")))
    ids = torch.tensor([expected["ids"]], dtype=torch.long)
    row = {"model_type": expected["model_type"]}
    with torch.no_grad():
        base, row["base_loading_problems"] = load(os.path.join(case_dir, "base"))
        row["base"] = max_diff(base(ids).logits, expected["base_logits"])

        adapted = PeftModel.from_pretrained(base, os.path.join(case_dir, "adapter")).eval()
        lora_b = [m for n, m in adapted.named_parameters() if "lora_B" in n]
        row["lora_modules"] = len(lora_b)
        row["lora_b_left_at_zero"] = sum(int(not b.any()) for b in lora_b)
        row["adapter"] = max_diff(adapted(ids).logits, expected["adapted_logits"])

        merged, row["merged_loading_problems"] = load(os.path.join(case_dir, "merged"))
        row["merged"] = max_diff(merged(ids).logits, expected["merged_logits"])
    row["passed"] = (not row["base_loading_problems"] and not row["merged_loading_problems"]
                     and row["lora_modules"] > 0 and row["lora_b_left_at_zero"] == 0
                     and max(row["base"], row["adapter"], row["merged"]) <= TOLERANCE)
    return row


def main(fixtures, results_path):
    import peft
    results = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
               "tolerance": TOLERANCE, "cases": {}}
    for case in sorted(os.listdir(fixtures)):
        try:
            row = check(os.path.join(fixtures, case))
        except Exception as e:  # one broken case must not hide the others
            row = {"passed": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        results["cases"][case] = row
        if "error" in row:
            print(f"{case:34} ERROR {row['error']}", flush=True)
        else:
            print(f"{case:34} {'ok  ' if row['passed'] else 'FAIL'} max |Δlogit| base {row['base']:.2e} "
                  f"adapter {row['adapter']:.2e} merged {row['merged']:.2e}; lora modules {row['lora_modules']}, "
                  f"B left at zero {row['lora_b_left_at_zero']}; loading problems "
                  f"{row['base_loading_problems'] or row['merged_loading_problems'] or 'none'}", flush=True)
    with open(results_path, "w") as f:
        json.dump(results, f, indent=2)
    return 0 if all(r["passed"] for r in results["cases"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
