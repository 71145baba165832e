"""The project's experiment scripts (run them as files: python experiments/NAME.py --help)."""
