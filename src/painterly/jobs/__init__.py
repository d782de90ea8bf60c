"""Jobs built on a render, floor 3: a video frame by frame (with its temporal maths), and batches of
renders run locally or on Ray.

May import: `painterly.core`, `painterly.media`, `painterly.errors`, `painterly.version`. Never the API
or front doors.
"""
