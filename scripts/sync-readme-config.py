#!/usr/bin/env python3
"""Copies config/siphon.toml into docs/configuration.md's toml block (the configuration
reference). A unit test (config::readme_tests) fails when they differ; run this after editing
the config."""
import re, pathlib
root = pathlib.Path(__file__).resolve().parent.parent
cfg = (root / "config/siphon.toml").read_text()
readme = (root / "docs/configuration.md").read_text()
head, sep, rest = readme.partition("# Configuration reference")
assert sep, "docs/configuration.md has no '# Configuration reference' heading"
start = rest.index("```toml\n") + len("```toml\n")
end = rest.index("```", start)
(root / "docs/configuration.md").write_text(head + sep + rest[:start] + cfg + rest[end:])
