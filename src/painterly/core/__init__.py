"""The render core, floor 2: options, the plan, the network, the objective and its evaluation, the
optimiser and the run loop; the data path image -> tensor -> features -> losses -> optimiser -> image.

May import: `painterly.media`, `painterly.errors`, `painterly.version`. Never jobs, the API or front doors.
"""
