"""Architecture search in one command: DARTS (second order) and random search on the MLP
space for scikit-learn's two moons, the same budget for both, each result retrained and
plotted (losses, alpha, decision boundary) under nas_runs/quickstart/.

Run: python examples/nas_quickstart.py         (about a minute on a laptop CPU)
Same from the shell:
    bilevel-mp nas --space mlp --method darts2 --dataset moons --budget-epochs 20 \
        --resource params:6000 --out nas_runs/quickstart/darts2
"""

from nas_frontend import run_search

if __name__ == "__main__":
    for method in ("darts2", "random"):
        r = run_search(method, "mlp", "moons", budget={"epochs": 20}, seed=0,
                       resource="params:6000", retrain_epochs=40,
                       out_dir=f"nas_runs/quickstart/{method}")
        print(f"{method}: {'|'.join(r.genotype)}, {r.info['params']} params "
              f"(budget met: {r.info['resource_ok']}), test accuracy "
              f"{r.info['retrain']['test_acc']:.3f} -> {r.info['out_dir']}")
