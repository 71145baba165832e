"""Speed benchmarks (run them as files: python benchmarks/NAME.py --help); results in benchmarks/results/."""
