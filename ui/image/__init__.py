"""The image side: state (objects, prompts, masks), engine (the model), controller (actions on
a session under its lock), view (what the canvas shows), exports, find, tab and api (Gradio)."""
