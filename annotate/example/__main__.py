"""``python -m safecal.annotate.example OUT_DIR [--seed N]``: write the synthetic example."""

import argparse

from safecal.annotate.example import write_example

parser = argparse.ArgumentParser(prog="python -m safecal.annotate.example")
parser.add_argument("out_dir")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
paths = write_example(args.out_dir, seed=args.seed)
print(f"wrote the synthetic example to {paths.root}")
