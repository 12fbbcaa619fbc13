"""Gradio building blocks both tabs use: the handler guard that turns exceptions into messages,
number inputs that leave odd values to the handler's check, the model dropdown."""
