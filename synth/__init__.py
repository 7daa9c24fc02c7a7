"""The sample-export generator behind `pcr samples`: deterministic synthetic program exports (no
real people) in every shipped layout (synth/generator.py). Nothing at run time imports it."""
