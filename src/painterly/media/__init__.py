"""Media, floor 1: image and video files in and out, colour management, atomic writes, checkpoints on
disk, the sample photos. No network, no optimisation.

May import: `painterly.errors`, `painterly.version`. Never the core, jobs, the API or front doors.
"""
