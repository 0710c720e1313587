#!/usr/bin/env python3
"""Agreement benchmark (`cargo xtask bench suite`): each of our attacks beside its Foolbox 3
counterpart, same weights, same images, same hyper-parameters, one scoring for both.

  python run_suite.py --model-dir D --spec spec.json --json out.json [--threads 2]

Runs in the Foolbox 3 venv (setup.sh's venv-fb3). spec.json (written by the xtask):

  {"inputs": "<an adversarial.safetensors of ours: x, label>",
   "n": N,
   "attacks": [{"id": "pgd-linf-0.1", "kind": "bounded" | "minimum",
                "norm": "l2" | "linf", "epsilon": 0.1 (bounded only),
                "foolbox": {"class": "LinfPGD", "kwargs": {...}},
                "ours": "<the directory `blindspot attack --dir` wrote>",
                "n": M (optional: only the first M <= N images, e.g. for C&W)}, ...]}

For every attack, ours is read from its directory (adversarial.safetensors, summary.json)
and Foolbox's runs here (fb.PyTorchModel(bounds=(0, 1)), criterion Misclassification(label),
the whole batch at once, `epsilons=[epsilon]` for the bounded ones and `epsilons=None` for
the minimum-norm ones, torch.manual_seed(0) before each). Both outputs are scored alike:

* an output is adversarial when its attack claims it (our `success`, Foolbox's `success`)
  AND a float32 PyTorch forward of the output clipped to [0, 1] puts some wrong logit
  strictly above the label's (ties count for the label) AND, for a bounded attack, it lies
  within epsilon (+1e-5) of the clean image in the ball's norm. Claims the forward does not
  confirm are counted (`unconfirmed`).
* bounded attacks: robust accuracy = share of ALL n images that are classified correctly and
  for which the output is not adversarial (a misclassified clean image counts as broken).
* minimum-norm attacks: success rate over the correctly classified images, and the mean
  distance in the attack's norm (L2 or L-inf, not RMS) over the images BOTH attacks broke,
  with its ratio ours / Foolbox.
* img/s: images given / wall-clock seconds of the attack (ours from summary.json, model
  loading excluded for both).
"""

import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", help="comma-separated attack ids to run (default: all)")
    args = ap.parse_args(argv)

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see run_peers.py

    import numpy as np
    import torch
    import foolbox as fb
    from safetensors.numpy import load_file

    import run_peers

    torch.set_num_threads(args.threads)
    with open(args.spec) as f:
        spec = json.load(f)
    model, model_name, config = run_peers.load_model(args.model_dir)
    inputs = load_file(spec["inputs"])
    n = min(int(spec["n"]), inputs["x"].shape[0])
    x = np.ascontiguousarray(inputs["x"][:n].astype(np.float32).reshape(n, -1))
    label = inputs["label"][:n].astype(np.int64)
    with torch.no_grad():
        clean_logits = model(torch.from_numpy(x)).numpy()
    correct = clean_logits.argmax(1) == label

    def score(adv, claimed, a, m):
        """Scores one attack's output [m, 784] on the first m images (NaN rows: nothing returned)."""
        xs, ls, cs = x[:m], label[:m], correct[:m]
        returned = ~np.isnan(adv).any(axis=1)
        adv = np.where(returned[:, None], np.clip(np.nan_to_num(adv), 0, 1), xs).astype(np.float32)
        with torch.no_grad():
            logits = model(torch.from_numpy(adv)).numpy()
        # argmax != label with ties resolved for the label: some wrong logit strictly above it.
        rival = np.where(np.arange(logits.shape[1])[None, :] == ls[:, None], -np.inf, logits).max(1)
        forward = rival > logits[np.arange(m), ls]
        d = adv.astype(np.float64) - xs
        dist = np.abs(d).max(1) if a["norm"] == "linf" else np.sqrt((d * d).sum(1))
        ok = claimed & returned & forward & cs
        out = {"n": m, "unconfirmed": int(np.sum(claimed & cs & ~forward))}
        if a["kind"] == "bounded":
            inside = dist <= a["epsilon"] + 1e-5
            out["outside_ball"] = int(np.sum(ok & ~inside))
            ok &= inside
            out["robust_accuracy"] = float(np.mean(cs & ~ok))
        out["success_rate"] = float(ok.sum() / max(1, cs.sum()))
        out["n_success"] = int(ok.sum())
        out["mean_distance_own"] = float(dist[ok].mean()) if ok.any() else None
        return out, ok, dist

    fmodel = fb.PyTorchModel(model.eval(), bounds=(0, 1), device="cpu")
    only = set(args.only.split(",")) if args.only else None
    results = []
    for a in spec["attacks"]:
        if only and a["id"] not in only:
            continue
        # Ours: its output and its own claim.
        t = load_file(os.path.join(a["ours"], "adversarial.safetensors"))
        with open(os.path.join(a["ours"], "summary.json")) as f:
            summary = json.load(f)
        m = min(int(a.get("n") or n), n)
        if int(summary["images"]) != m or t["x"].shape[0] != m:
            raise SystemExit(f"run_suite.py: {a['ours']} attacked {summary['images']} images, not {m}")
        if not np.array_equal(t["x"].reshape(m, -1), x[:m]):
            raise SystemExit(f"run_suite.py: {a['ours']} attacked other images than {spec['inputs']}")
        ours_adv = t["x_adv"].reshape(m, -1).astype(np.float32)
        ours_claim = t["success"].reshape(m) > 0.5
        ours, ours_ok, ours_dist = score(ours_adv, ours_claim, a, m)
        ours.update({"seconds": float(summary["seconds"]), "images_per_second": float(summary["images_per_second"]),
                     "config": summary.get("config")})

        # Foolbox 3.
        cls = getattr(fb.attacks, a["foolbox"]["class"])
        attack = cls(**a["foolbox"]["kwargs"])
        torch.manual_seed(0)
        eps = [a["epsilon"]] if a["kind"] == "bounded" else None
        start = time.perf_counter()
        criterion = fb.criteria.Misclassification(torch.from_numpy(label[:m]))
        _, clipped, success = attack(fmodel, torch.from_numpy(x[:m]), criterion, epsilons=eps)
        seconds = time.perf_counter() - start
        if a["kind"] == "bounded":
            clipped, success = clipped[0], success[0]
        fb_adv = clipped.detach().numpy().astype(np.float32).reshape(m, -1)
        fb_claim = success.detach().numpy().astype(bool).reshape(m)
        theirs, fb_ok, fb_dist = score(fb_adv, fb_claim, a, m)
        kwargs = ", ".join(f"{k}={v}" for k, v in a["foolbox"]["kwargs"].items())
        theirs.update({"seconds": seconds, "images_per_second": m / seconds,
                       "peer": f"Foolbox {fb.__version__} {a['foolbox']['class']}({kwargs})"})

        row = {"id": a["id"], "kind": a["kind"], "norm": a["norm"], "epsilon": a.get("epsilon"), "n": m,
               "ours": ours, "foolbox": theirs}
        if a["kind"] == "minimum":
            both = ours_ok & fb_ok
            row["both_broke"] = int(both.sum())
            if both.any():
                mo, mf = float(ours_dist[both].mean()), float(fb_dist[both].mean())
                row.update({"ours_mean_distance": mo, "foolbox_mean_distance": mf, "ratio": mo / mf})
            row["success_difference"] = ours["success_rate"] - theirs["success_rate"]
        else:
            row["robust_accuracy_difference"] = ours["robust_accuracy"] - theirs["robust_accuracy"]
        results.append(row)
        print(f"{model_name} {a['id']}: ours {json.dumps({k: v for k, v in ours.items() if k != 'config'})} "
              f"| foolbox {json.dumps({k: v for k, v in theirs.items() if k != 'peer'})}", flush=True)

    out = {"model": model_name, "kind": config.get("kind"), "n": n, "clean_accuracy": float(correct.mean()),
           "torch_version": torch.__version__, "foolbox_version": fb.__version__,
           "torch_threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
           "loadavg_1min_end": os.getloadavg()[0], "attacks": results}
    with open(args.json, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
