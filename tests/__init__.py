"""Tests of the Copier template: rendering, refusals, the rendered projects' own gates."""
