#!/usr/bin/env python3
"""Copies config/siphon.toml into README.md's "Configuration reference" toml block.
A unit test (config::readme_tests) fails when they differ; run this after editing the config."""
import re, pathlib
root = pathlib.Path(__file__).resolve().parent.parent
cfg = (root / "config/siphon.toml").read_text()
readme = (root / "README.md").read_text()
head, sep, rest = readme.partition("## Configuration reference")
assert sep, "README.md has no '## Configuration reference' section"
start = rest.index("```toml\n") + len("```toml\n")
end = rest.index("```", start)
(root / "README.md").write_text(head + sep + rest[:start] + cfg + rest[end:])
