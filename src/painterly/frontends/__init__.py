"""The front doors: thin layers that turn what a user typed or clicked into `Options`, hand them
to the core (`painterly.api`) and show the `Step`s that come back. No maths lives here.

- `cli`: the `painterly` command and its subcommands
- `web`: the Gradio page (`painterly web`)
- `reproduce`: the paper's figures as contact sheets (`painterly reproduce`)

Floor 4 with `painterly.api`: may import every floor (`api`, `jobs`, `core`, `media`, `errors`,
`version`); nothing below imports a front door.
"""
